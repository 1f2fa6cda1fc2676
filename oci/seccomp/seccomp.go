// Package seccomp compiles an OCI container's linux.seccomp (config.json)
// into a classic BPF seccomp filter program, as runc does with libseccomp,
// for moat's kernel to enforce on the container's first process
// (kernel.ProcessArgs.Seccomp).
//
// The program checks the architecture first: x86_64 always, x32 and x86
// (i386) if the spec lists them; other architectures' calls cannot occur
// in moat and are ignored. A call of an architecture the filter does not
// allow gets SECCOMP_RET_KILL_THREAD, libseccomp's default bad-arch
// action; so does an x32 call (a number with __X32_SYSCALL_BIT) when x32
// is not listed. Then the call's number is found by a binary search over
// the syscalls that have rules, and its rules are tried: those with
// argument conditions first, in the spec's order (the conditions of one
// rule must all hold), then one without conditions; the first that
// matches gives the action, and if none does the default action applies.
// Rules whose action is the default action are dropped, and names the
// architecture does not have are skipped, as runc does.
//
// Argument comparisons are on 64-bit values, compared as their two 32-bit
// halves (high first) as libseccomp does; SCMP_CMP_MASKED_EQ is
// (arg & value) == valueTwo.
//
// The package has no state and no locks.
package seccomp

import (
	"fmt"
	"sort"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"moat/abi/linux"
)

// Offsets in struct seccomp_data.
const (
	offNr   = 0
	offArch = 4
	offArgs = 16
)

// badArchAction is what a call of an architecture the filter does not
// allow gets (libseccomp's default, SCMP_ACT_KILL).
const badArchAction = linux.SECCOMP_RET_KILL_THREAD

// Build compiles s into a seccomp filter program. It fails on what moat
// cannot enforce (user notification: SCMP_ACT_NOTIFY, a listenerPath,
// SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV) and on what runc refuses
// (unknown actions, operators or flags, an errnoRet on an action other
// than SCMP_ACT_ERRNO and SCMP_ACT_TRACE, an argument index above 5), and
// when the program would be longer than BPF_MAXINSNS. A nil s builds
// nothing (nil, nil): no filter.
func Build(s *specs.LinuxSeccomp) ([]linux.SockFilter, error) {
	if s == nil {
		return nil, nil
	}
	if s.ListenerPath != "" {
		return nil, fmt.Errorf("seccomp: listenerPath: user notification is not supported by moat")
	}
	for _, f := range s.Flags {
		switch f {
		case specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow:
		case specs.LinuxSeccompFlagWaitKillableRecv:
			return nil, fmt.Errorf("seccomp: flag %s needs user notification, which moat does not support", f)
		default:
			return nil, fmt.Errorf("seccomp: unknown flag %q", f)
		}
	}
	def, err := action(s.DefaultAction, s.DefaultErrnoRet)
	if err != nil {
		return nil, fmt.Errorf("seccomp: defaultAction: %w", err)
	}
	var x32, x86 bool
	for _, a := range s.Architectures {
		switch a {
		case specs.ArchX32:
			x32 = true
		case specs.ArchX86:
			x86 = true
		}
	}

	// The rules of each architecture, by system call number.
	native := map[uint32]*group{}
	var rx32, rx86 map[uint32]*group
	if x32 {
		rx32 = map[uint32]*group{}
	}
	if x86 {
		rx86 = map[uint32]*group{}
	}
	for i, sc := range s.Syscalls {
		act, err := action(sc.Action, sc.ErrnoRet)
		if err != nil {
			return nil, fmt.Errorf("seccomp: syscalls[%d]: %w", i, err)
		}
		if act == def {
			continue // runc ignores rules that do what the default does
		}
		conds, err := conditions(sc.Args)
		if err != nil {
			return nil, fmt.Errorf("seccomp: syscalls[%d]: %w", i, err)
		}
		for _, name := range sc.Names {
			if nr, ok := linux.SyscallNumber(name); ok {
				addRule(native, uint32(nr), act, conds)
			}
			if x32 {
				if nr, ok := x32Number(name); ok {
					addRule(rx32, nr, act, conds)
				}
			}
			if x86 {
				if nr, ok := syscalls386[name]; ok {
					addRule(rx86, nr, act, conds)
				}
			}
		}
	}

	a := newAsm()
	a.load(offArch)
	if x86 {
		a.jump(linux.BPF_JEQ, linux.AUDIT_ARCH_I386, "x86", "")
	}
	a.jump(linux.BPF_JEQ, linux.AUDIT_ARCH_X86_64, "", "badarch")
	a.load(offNr)
	if x32 {
		a.jump(linux.BPF_JGE, linux.X32_SYSCALL_BIT, "x32", "")
	} else {
		a.jump(linux.BPF_JGE, linux.X32_SYSCALL_BIT, "badarch", "")
	}
	a.dispatch("x86_64", native, def)
	if x32 {
		a.label("x32")
		a.dispatch("x32", rx32, def)
	}
	if x86 {
		a.label("x86")
		a.load(offNr)
		a.dispatch("x86", rx86, def)
	}
	a.label("default")
	a.ret(def)
	a.label("badarch")
	a.ret(badArchAction)
	prog, err := a.assemble()
	if err != nil {
		return nil, err
	}
	if len(prog) > linux.BPF_MAXINSNS {
		return nil, fmt.Errorf("seccomp: the filter needs %d instructions, more than the kernel's limit of %d", len(prog), linux.BPF_MAXINSNS)
	}
	return prog, nil
}

// action returns the filter return value for a spec action.
func action(act specs.LinuxSeccompAction, errnoRet *uint) (uint32, error) {
	data := uint32(unix.EPERM) // runc's default errno for ERRNO and TRACE
	if errnoRet != nil {
		if act != specs.ActErrno && act != specs.ActTrace {
			return 0, fmt.Errorf("errnoRet is only supported with SCMP_ACT_ERRNO and SCMP_ACT_TRACE, not %s", act)
		}
		if *errnoRet > linux.SECCOMP_RET_DATA {
			return 0, fmt.Errorf("errnoRet %d does not fit in a seccomp return value", *errnoRet)
		}
		data = uint32(*errnoRet)
	}
	switch act {
	case specs.ActKill, specs.ActKillThread:
		return linux.SECCOMP_RET_KILL_THREAD, nil
	case specs.ActKillProcess:
		return linux.SECCOMP_RET_KILL_PROCESS, nil
	case specs.ActTrap:
		return linux.SECCOMP_RET_TRAP, nil
	case specs.ActErrno:
		return linux.SECCOMP_RET_ERRNO | data, nil
	case specs.ActTrace:
		return linux.SECCOMP_RET_TRACE | data, nil
	case specs.ActAllow:
		return linux.SECCOMP_RET_ALLOW, nil
	case specs.ActLog:
		return linux.SECCOMP_RET_LOG, nil
	case specs.ActNotify:
		return 0, fmt.Errorf("SCMP_ACT_NOTIFY: user notification is not supported by moat")
	}
	return 0, fmt.Errorf("unknown action %q", act)
}

// cond is one argument comparison.
type cond struct {
	idx    uint32
	op     specs.LinuxSeccompOperator
	v1, v2 uint64
}

// rule is one rule of a system call: its conditions must all hold.
type rule struct {
	act   uint32
	conds []cond
}

// group is the rules of one system call number.
type group struct {
	nr          uint32
	conditional []rule  // in spec order
	always      *uint32 // the first rule without conditions, if any
}

// conditions turns a rule's args into comparisons. As runc does, several
// comparisons of the same argument make separate rules (any may match)
// instead of one.
func conditions(args []specs.LinuxSeccompArg) ([][]cond, error) {
	if len(args) == 0 {
		return [][]cond{nil}, nil
	}
	var all []cond
	count := map[uint]int{}
	for _, a := range args {
		if a.Index > 5 {
			return nil, fmt.Errorf("argument index %d: system calls have 6 arguments", a.Index)
		}
		switch a.Op {
		case specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual, specs.OpEqualTo,
			specs.OpGreaterEqual, specs.OpGreaterThan, specs.OpMaskedEqual:
		default:
			return nil, fmt.Errorf("unknown operator %q", a.Op)
		}
		count[a.Index]++
		all = append(all, cond{idx: uint32(a.Index), op: a.Op, v1: a.Value, v2: a.ValueTwo})
	}
	for _, n := range count {
		if n > 1 {
			out := make([][]cond, len(all))
			for i, c := range all {
				out[i] = []cond{c}
			}
			return out, nil
		}
	}
	return [][]cond{all}, nil
}

func addRule(m map[uint32]*group, nr, act uint32, rules [][]cond) {
	g := m[nr]
	if g == nil {
		g = &group{nr: nr}
		m[nr] = g
	}
	for _, cs := range rules {
		if len(cs) == 0 {
			if g.always == nil {
				a := act
				g.always = &a
			}
			continue
		}
		g.conditional = append(g.conditional, rule{act: act, conds: cs})
	}
}

// x32Only are the x32 system calls with numbers of their own (512 + index,
// with __X32_SYSCALL_BIT); every other x32 call has the x86_64 number.
var x32Only = []string{
	"rt_sigaction", "rt_sigreturn", "ioctl", "readv", "writev", "recvfrom", "sendmsg", "recvmsg",
	"execve", "ptrace", "rt_sigpending", "rt_sigtimedwait", "rt_sigqueueinfo", "sigaltstack",
	"timer_create", "mq_notify", "kexec_load", "waitid", "set_robust_list", "get_robust_list",
	"vmsplice", "move_pages", "preadv", "pwritev", "rt_tgsigqueueinfo", "recvmmsg", "sendmmsg",
	"process_vm_readv", "process_vm_writev", "setsockopt", "getsockopt", "io_setup", "io_submit",
	"execveat", "preadv2", "pwritev2",
}

// x32Number returns the x32 number of a system call.
func x32Number(name string) (uint32, bool) {
	for i, n := range x32Only {
		if n == name {
			return linux.X32_SYSCALL_BIT | uint32(512+i), true
		}
	}
	nr, ok := linux.SyscallNumber(name)
	if !ok {
		return 0, false
	}
	return linux.X32_SYSCALL_BIT | uint32(nr), true
}

// asm assembles a program with labels. Conditional jumps reach their
// labels through BPF_JA (32-bit offsets), so no jump is ever too far.
type asm struct {
	insns  []linux.SockFilter
	labels map[string]int
	refs   map[int]string // BPF_JA instruction -> its label
	n      int            // for unique labels
}

func newAsm() *asm { return &asm{labels: map[string]int{}, refs: map[int]string{}} }

func (a *asm) emit(in linux.SockFilter) { a.insns = append(a.insns, in) }
func (a *asm) label(l string)           { a.labels[l] = len(a.insns) }
func (a *asm) load(off uint32) {
	a.emit(linux.BPFStmt(linux.BPF_LD|linux.BPF_W|linux.BPF_ABS, off))
}
func (a *asm) ret(v uint32) { a.emit(linux.BPFStmt(linux.BPF_RET|linux.BPF_K, v)) }
func (a *asm) ja(l string) {
	a.refs[len(a.insns)] = l
	a.emit(linux.BPFStmt(linux.BPF_JMP|linux.BPF_JA, 0))
}
func (a *asm) newLabel(prefix string) string {
	a.n++
	return fmt.Sprintf("%s.%d", prefix, a.n)
}

// jump emits a conditional jump on A (op is BPF_JEQ, BPF_JGT, BPF_JGE or
// BPF_JSET against k) to label t if true and f if false; "" falls
// through to what comes next.
func (a *asm) jump(op uint16, k uint32, t, f string) {
	code := linux.BPF_JMP | op | linux.BPF_K
	switch {
	case t == "" && f == "":
	case f == "":
		a.emit(linux.BPFJump(code, k, 0, 1))
		a.ja(t)
	case t == "":
		a.emit(linux.BPFJump(code, k, 1, 0))
		a.ja(f)
	default:
		a.emit(linux.BPFJump(code, k, 0, 1))
		a.ja(t)
		a.ja(f)
	}
}

func (a *asm) assemble() ([]linux.SockFilter, error) {
	for pc, l := range a.refs {
		target, ok := a.labels[l]
		if !ok || target <= pc {
			return nil, fmt.Errorf("seccomp: internal error: bad jump to %q", l)
		}
		a.insns[pc].K = uint32(target - pc - 1)
	}
	return a.insns, nil
}

// span is a run of system call numbers [lo, hi] that the filter treats
// alike: one number with argument rules (g), or numbers that all end in
// act (the default for numbers without rules).
type span struct {
	lo, hi uint32
	g      *group // rules with conditions for lo (== hi), or nil
	act    uint32
}

// spans covers every number from 0 up with the groups' rules, merging
// neighbours that end alike: an allow-list of hundreds of calls becomes a
// few dozen ranges, as the filter then searches.
func spans(groups []*group, def uint32) []span {
	var out []span
	add := func(sp span) {
		if n := len(out); n > 0 && sp.g == nil && out[n-1].g == nil && out[n-1].act == sp.act && out[n-1].hi+1 == sp.lo {
			out[n-1].hi = sp.hi
			return
		}
		out = append(out, sp)
	}
	next := uint32(0)
	for _, g := range groups {
		if g.nr > next {
			add(span{lo: next, hi: g.nr - 1, act: def})
		}
		if len(g.conditional) > 0 {
			add(span{lo: g.nr, hi: g.nr, g: g})
		} else {
			add(span{lo: g.nr, hi: g.nr, act: *g.always})
		}
		next = g.nr + 1
	}
	add(span{lo: next, hi: ^uint32(0), act: def})
	return out
}

// dispatch emits the search for the call's number (in A) among the spans
// of the groups, each span's leaf ending in a return.
func (a *asm) dispatch(prefix string, m map[uint32]*group, def uint32) {
	groups := make([]*group, 0, len(m))
	for _, g := range m {
		groups = append(groups, g)
	}
	sort.Slice(groups, func(i, j int) bool { return groups[i].nr < groups[j].nr })
	a.search(spans(groups, def))
}

// search emits a binary search of A among spans, sorted and covering
// every number, and each span's leaf.
func (a *asm) search(sp []span) {
	if len(sp) == 1 {
		a.leaf(sp[0])
		return
	}
	mid := len(sp) / 2
	right := a.newLabel("right")
	a.jump(linux.BPF_JGE, sp[mid].lo, right, "")
	a.search(sp[:mid])
	a.label(right)
	a.search(sp[mid:])
}

// leaf returns a span's action, or for a call with argument rules tries
// them in order, then its unconditional rule or the default.
func (a *asm) leaf(sp span) {
	if sp.g == nil {
		a.ret(sp.act)
		return
	}
	for _, r := range sp.g.conditional {
		next := a.newLabel("next")
		for _, c := range r.conds {
			a.compare(c, next)
		}
		a.ret(r.act)
		a.label(next)
	}
	if sp.g.always != nil {
		a.ret(*sp.g.always)
	} else {
		a.ja("default")
	}
}

// compare emits one argument comparison: it falls through if it holds
// and jumps to fail if not.
func (a *asm) compare(c cond, fail string) {
	lo, hi := offArgs+8*c.idx, offArgs+8*c.idx+4
	v1lo, v1hi := uint32(c.v1), uint32(c.v1>>32)
	ok := a.newLabel("ok")
	switch c.op {
	case specs.OpEqualTo:
		a.load(hi)
		a.jump(linux.BPF_JEQ, v1hi, "", fail)
		a.load(lo)
		a.jump(linux.BPF_JEQ, v1lo, "", fail)
	case specs.OpNotEqual:
		a.load(hi)
		a.jump(linux.BPF_JEQ, v1hi, "", ok)
		a.load(lo)
		a.jump(linux.BPF_JEQ, v1lo, fail, "")
	case specs.OpGreaterThan, specs.OpGreaterEqual:
		a.load(hi)
		a.jump(linux.BPF_JGT, v1hi, ok, "")
		a.jump(linux.BPF_JEQ, v1hi, "", fail)
		a.load(lo)
		op := uint16(linux.BPF_JGT)
		if c.op == specs.OpGreaterEqual {
			op = linux.BPF_JGE
		}
		a.jump(op, v1lo, "", fail)
	case specs.OpLessThan, specs.OpLessEqual:
		// arg < v is !(arg >= v); arg <= v is !(arg > v).
		a.load(hi)
		a.jump(linux.BPF_JGT, v1hi, fail, "")
		a.jump(linux.BPF_JEQ, v1hi, "", ok)
		a.load(lo)
		op := uint16(linux.BPF_JGE)
		if c.op == specs.OpLessEqual {
			op = linux.BPF_JGT
		}
		a.jump(op, v1lo, fail, "")
	case specs.OpMaskedEqual:
		v2lo, v2hi := uint32(c.v2), uint32(c.v2>>32)
		a.load(hi)
		a.emit(linux.BPFStmt(linux.BPF_ALU|linux.BPF_AND|linux.BPF_K, v1hi))
		a.jump(linux.BPF_JEQ, v2hi, "", fail)
		a.load(lo)
		a.emit(linux.BPFStmt(linux.BPF_ALU|linux.BPF_AND|linux.BPF_K, v1lo))
		a.jump(linux.BPF_JEQ, v2lo, "", fail)
	}
	a.label(ok)
}
