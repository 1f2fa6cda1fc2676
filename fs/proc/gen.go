package proc

import (
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"moat/vfs"
)

const (
	// commLen is the longest command name (TASK_COMM_LEN - 1).
	commLen = 15
	// clockTicks is USER_HZ, the unit of the times in /proc/PID/stat.
	clockTicks = 100
	// ngroupsMax is Linux's NGROUPS_MAX.
	ngroupsMax = 65536
	// capLastCap is CAP_LAST_CAP (CAP_CHECKPOINT_RESTORE).
	capLastCap = 40
	// capFull has every capability up to CAP_LAST_CAP set.
	capFull = 1<<(capLastCap+1) - 1
	// maxMapCount is vm.max_map_count, the VMA limit moat's mm enforces.
	maxMapCount = 65530
	// rlimInfinity is RLIM_INFINITY as /proc prints it.
	rlimInfinity = ^uint64(0)
	// maxNumNodes is the width of the Mems_allowed bitmap of a distribution
	// kernel (CONFIG_NODES_SHIFT=10).
	maxNumNodes = 1024
)

// generate returns the text of file in, as it is at the time of the call.
func (f *filesystem) generate(ctx vfs.Context, in *file) ([]byte, error) {
	k := in.kind
	if perProcess(fileSpecs[k].dir) {
		p, th, err := f.processAndThread(in.pid, in.tid)
		if err != nil {
			return nil, err
		}
		switch k {
		case fileCmdline:
			return p.Cmdline(), nil
		case fileComm:
			return []byte(comm(p) + "\n"), nil
		case fileEnviron:
			return p.Environ(), nil
		case fileMaps:
			return []byte(p.Maps()), nil
		case filePIDMounts:
			return []byte(f.mounts(ctx)), nil
		case fileStat:
			return f.pidStat(p, p), nil
		case fileStatus:
			return f.pidStatus(p, p), nil
		case fileTIDStat:
			return f.pidStat(p, th), nil
		case fileTIDStatus:
			return f.pidStatus(p, th), nil
		case fileTIDComm:
			return []byte(comm(th) + "\n"), nil
		case fileStatm:
			// size resident shared text lib data dt, in pages.
			return fmt.Appendf(nil, "%d %d 0 0 0 0 0\n", p.VMSizeKB()/4, p.VMRSSKB()/4), nil
		case fileLimits:
			return limits(p), nil
		case fileMountinfo:
			return []byte(f.mountinfo(ctx)), nil
		case fileCgroup:
			return []byte("0::/\n"), nil // cgroup v2, at the namespace's root
		case fileOOMScoreAdj:
			if o, ok := p.(ProcessOOMScoreAdj); ok {
				return []byte(strconv.Itoa(o.OOMScoreAdj()) + "\n"), nil
			}
			return []byte("0\n"), nil
		case fileOOMScore:
			return []byte("0\n"), nil
		case fileFDInfo:
			return fdinfo(p, in.fd)
		}
	}
	if fileSpecs[k].dir == dirNet {
		return []byte(f.net(fileSpecs[k].name)), nil
	}
	switch k {
	case fileCPUInfo:
		return f.cpuinfo(), nil
	case fileMeminfo:
		// The host's meminfo, bounded by the container's memory limit.
		data, err := f.readHost("meminfo")
		if err != nil || f.limits.MemoryBytes <= 0 {
			return data, err
		}
		inUse := int64(-1)
		if f.memInUse != nil {
			inUse = f.memInUse()
		}
		return limitMeminfo(data, f.limits.MemoryBytes, inUse), nil
	case fileFilesystems:
		return []byte(strings.Join(f.filesystems, "\n") + "\n"), nil
	case fileLoadavg:
		return f.loadavg(), nil
	case fileMounts:
		return []byte(f.mounts(ctx)), nil
	case fileUptime:
		// moat does not account idle time; the second field (the sum
		// of all CPUs' idle time) is reported as 0.
		up := f.k.Uptime()
		return fmt.Appendf(nil, "%d.%02d 0.00\n", int64(up/time.Second), int64(up%time.Second/(10*time.Millisecond))), nil
	case fileVersion:
		return fmt.Appendf(nil, "Linux version %s (moat@moat) (moat) %s\n", f.release, f.version), nil
	case fileHostname:
		name := "localhost"
		if f.hostname != nil {
			name = f.hostname(ctx)
		}
		return []byte(name + "\n"), nil
	case fileNgroupsMax:
		return []byte(strconv.Itoa(ngroupsMax) + "\n"), nil
	case fileOsrelease:
		return []byte(f.release + "\n"), nil
	case fileOstype:
		return []byte("Linux\n"), nil
	case filePIDMax:
		return []byte(strconv.Itoa(int(f.pidMax)) + "\n"), nil
	case fileOvercommit:
		return []byte("0\n"), nil // heuristic overcommit, Linux's default
	case fileSysStat:
		return f.sysStat(), nil
	case fileCapLastCap:
		return []byte(strconv.Itoa(capLastCap) + "\n"), nil
	case fileMaxMapCount:
		return []byte(strconv.Itoa(maxMapCount) + "\n"), nil
	case fileFileMax:
		// moat bounds no system-wide number of open files: Linux's
		// default maximum.
		return []byte("9223372036854775807\n"), nil
	case fileNrOpen:
		return []byte(strconv.Itoa(vfs.MaxFDs) + "\n"), nil
	}
	return nil, unix.EIO
}

// readHost reads a file of the host's /proc through the hostProc callback.
func (f *filesystem) readHost(name string) ([]byte, error) {
	if f.hostProc == nil {
		return nil, unix.EIO
	}
	data, err := f.hostProc(name)
	if err != nil {
		var errno unix.Errno
		if errors.As(err, &errno) {
			return nil, errno
		}
		return nil, unix.EIO
	}
	return data, nil
}

// cpuinfo is the host's /proc/cpuinfo, or, if that cannot be read, a
// minimal one listing the sandbox's CPUs.
func (f *filesystem) cpuinfo() []byte {
	if data, err := f.readHost("cpuinfo"); err == nil {
		return data
	}
	var b []byte
	for i := range f.cpus {
		b = fmt.Appendf(b, "processor\t: %d\nvendor_id\t: unknown\nmodel name\t: unknown\n\n", i)
	}
	return b
}

// loadavg reports no load (moat does not compute load averages), the
// number of runnable processes and of threads, and the highest pid (Linux
// shows the last pid allocated).
func (f *filesystem) loadavg() []byte {
	var running, threads int
	var last int32
	for _, pid := range f.k.PIDs() {
		p := f.k.Process(pid)
		if p == nil {
			continue
		}
		threads += p.Threads()
		if p.State() == 'R' {
			running++
		}
		last = max(last, pid)
	}
	return fmt.Appendf(nil, "0.00 0.00 0.00 %d/%d %d\n", running, threads, last)
}

// comm is p's command name cut to commLen bytes.
func comm(p Process) string {
	c := p.Comm()
	return c[:min(len(c), commLen)]
}

// stateNames are the State lines of /proc/PID/status.
var stateNames = map[byte]string{
	'R': "R (running)",
	'S': "S (sleeping)",
	'D': "D (disk sleep)",
	'T': "T (stopped)",
	't': "t (tracing stop)",
	'X': "X (dead)",
	'Z': "Z (zombie)",
	'P': "P (parked)",
	'I': "I (idle)",
}

// session returns p's process group and session.
func session(p Process) (pgid, sid int32) {
	if s, ok := p.(ProcessSession); ok {
		return s.PGID(), s.SID()
	}
	return p.PID(), p.PID()
}

// signals returns p's queued-signal count and limit and its masks.
func signals(p Process) (queued, limit, pending, shared, blocked, ignored, caught uint64) {
	s, ok := p.(ProcessSignals)
	if !ok {
		return 0, rlimInfinity, 0, 0, 0, 0, 0
	}
	queued, limit = s.SigQueue()
	pending, shared, blocked, ignored, caught = s.SigMasks()
	return
}

func ticks(d time.Duration) uint64 {
	if d < 0 {
		return 0
	}
	return uint64(d / (time.Second / clockTicks))
}

// pidStat is /proc/PID/stat: the 52 fields of proc(5). Fields moat does
// not track are 0; the addresses Linux hides from readers without ptrace
// access are shown as such a reader sees them (startcode and endcode 1,
// the others 0).
//
// th is the process itself or, for /proc/PID/task/TID/stat, one of its
// threads, whose id, name, state and CPU times the file shows.
func (f *filesystem) pidStat(p, th Process) []byte {
	pgid, sid := session(p)
	var start, utime, stime time.Duration
	if t, ok := th.(ProcessTimes); ok {
		start = t.StartTime()
		utime, stime = t.CPUTime()
	}
	_, _, pending, shared, blocked, ignored, caught := signals(p)
	ttyNr, tpgid := uint64(0), int32(-1)
	if pt, ok := p.(ProcessTerminal); ok {
		if dev, fg, ok := pt.Terminal(); ok {
			// new_encode_dev: minor's low byte, major, minor's high bits.
			major, minor := uint64(unix.Major(dev)), uint64(unix.Minor(dev))
			ttyNr, tpgid = minor&0xff|major<<8|(minor&^0xff)<<12, fg
		}
	}
	const legacy = 0x7fffffff // stat shows only the classic signals
	var b []byte
	b = fmt.Appendf(b, "%d (%s) %c %d %d %d %d %d 0 0 0 0 0 %d %d 0 0 20 0 %d 0 %d %d %d %d 1 1 0 0 0 %d %d %d %d 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
		th.PID(), comm(th), th.State(), p.PPID(), pgid, sid, ttyNr, tpgid,
		ticks(utime), ticks(stime),
		p.Threads(), ticks(start),
		p.VMSizeKB()*1024, p.VMRSSKB()/4, rlimInfinity,
		(pending|shared)&legacy, blocked&legacy, ignored&legacy, caught&legacy)
	return b
}

// escapeName escapes a process name for status, as Linux does: the
// backslash and the whitespace controls become C escapes.
func escapeName(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		case '\r':
			b.WriteString(`\r`)
		case '\f':
			b.WriteString(`\f`)
		case '\v':
			b.WriteString(`\v`)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// bitmap formats the lowest n bits of a mask with the given bits set as
// Linux's "%*pb": 32-bit groups of hex digits separated by commas, most
// significant first, the first group only as wide as it needs to be.
func bitmap(n int, set func(bit int) bool) string {
	var b strings.Builder
	for hi := (n - 1) / 32 * 32; hi >= 0; hi -= 32 {
		var word uint32
		for i := 0; i < 32 && hi+i < n; i++ {
			if set(hi + i) {
				word |= 1 << i
			}
		}
		digits := 8
		if b.Len() == 0 {
			digits = (min(32, n-hi) + 3) / 4
		} else {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%0*x", digits, word)
	}
	return b.String()
}

// pidStatus is /proc/PID/status, in Linux's field order and format.
// Values the Process interfaces do not give are Linux's for a process
// without them (no locked memory, no context switches
// counted...). Without ProcessCreds, capabilities are those Linux gives a
// process after execve: all for effective uid 0, none otherwise.
//
// th is the process itself or, for /proc/PID/task/TID/status, one of its
// threads, whose id, name and state the file shows.
func (f *filesystem) pidStatus(p, th Process) []byte {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }

	umask := uint32(0o022)
	var groups []uint32
	uids, gids := p.UIDs(), p.GIDs()
	var capInh, capPrm, capEff, capBnd, capAmb uint64 = 0, 0, 0, capFull, 0
	if uids[1] == 0 {
		capPrm, capEff = capFull, capFull
	}
	if c, ok := p.(ProcessCreds); ok {
		umask, groups = c.Umask(), c.Groups()
		capInh, capPrm, capEff, capBnd, capAmb = c.Caps()
	}
	state, ok := stateNames[th.State()]
	if !ok {
		state = string(th.State()) + " (unknown)"
	}
	pid, tid := p.PID(), th.PID()
	pgid, sid := session(p)
	fds := p.FDs()
	fdSize := 64 // the fd table's size: a multiple of 64 above the highest fd
	if ft, ok := p.(ProcessFDTable); ok {
		fdSize = ft.FDTableSize()
	} else if len(fds) > 0 {
		fdSize = max(64, (int(fds[len(fds)-1].FD)/64+1)*64)
	}
	vmSize, vmRSS := p.VMSizeKB(), p.VMRSSKB()
	queued, limit, pending, shared, blocked, ignored, caught := signals(p)

	w("Name:\t%s\n", escapeName(comm(th)))
	w("Umask:\t%04o\n", umask)
	w("State:\t%s\n", state)
	w("Tgid:\t%d\n", pid)
	w("Ngid:\t0\n")
	w("Pid:\t%d\n", tid)
	w("PPid:\t%d\n", p.PPID())
	w("TracerPid:\t0\n")
	w("Uid:\t%d\t%d\t%d\t%d\n", uids[0], uids[1], uids[2], uids[3])
	w("Gid:\t%d\t%d\t%d\t%d\n", gids[0], gids[1], gids[2], gids[3])
	w("FDSize:\t%d\n", fdSize)
	b.WriteString("Groups:\t")
	for i, g := range groups {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.FormatUint(uint64(g), 10))
	}
	b.WriteString(" \n") // Linux's trailing space
	w("NStgid:\t%d\n", pid)
	w("NSpid:\t%d\n", tid)
	w("NSpgid:\t%d\n", pgid)
	w("NSsid:\t%d\n", sid)
	w("Kthread:\t0\n")
	kb := func(name string, v uint64) { w("%s:\t%8d kB\n", name, v) }
	kb("VmPeak", vmSize)
	kb("VmSize", vmSize)
	kb("VmLck", 0)
	kb("VmPin", 0)
	kb("VmHWM", vmRSS)
	kb("VmRSS", vmRSS)
	kb("RssAnon", vmRSS)
	kb("RssFile", 0)
	kb("RssShmem", 0)
	kb("VmData", 0)
	kb("VmStk", 0)
	kb("VmExe", 0)
	kb("VmLib", 0)
	kb("VmPTE", 0)
	kb("VmSwap", 0)
	kb("HugetlbPages", 0)
	w("CoreDumping:\t0\n")
	w("THP_enabled:\t0\n")
	w("Threads:\t%d\n", p.Threads())
	w("SigQ:\t%d/%d\n", queued, limit)
	w("SigPnd:\t%016x\n", pending)
	w("ShdPnd:\t%016x\n", shared)
	w("SigBlk:\t%016x\n", blocked)
	w("SigIgn:\t%016x\n", ignored)
	w("SigCgt:\t%016x\n", caught)
	w("CapInh:\t%016x\n", capInh)
	w("CapPrm:\t%016x\n", capPrm)
	w("CapEff:\t%016x\n", capEff)
	w("CapBnd:\t%016x\n", capBnd)
	w("CapAmb:\t%016x\n", capAmb)
	var nnp, scMode, scFilters int
	if s, ok := th.(ProcessSeccomp); ok {
		if s.NoNewPrivs() {
			nnp = 1
		}
		scMode, scFilters = s.Seccomp()
	}
	w("NoNewPrivs:\t%d\n", nnp)
	w("Seccomp:\t%d\n", scMode)
	w("Seccomp_filters:\t%d\n", scFilters)
	cpus := f.cpus
	w("Cpus_allowed:\t%s\n", bitmap(cpus, func(int) bool { return true }))
	if cpus == 1 {
		w("Cpus_allowed_list:\t0\n")
	} else {
		w("Cpus_allowed_list:\t0-%d\n", cpus-1)
	}
	w("Mems_allowed:\t%s\n", bitmap(maxNumNodes, func(bit int) bool { return bit == 0 }))
	w("Mems_allowed_list:\t0\n")
	w("voluntary_ctxt_switches:\t0\n")
	w("nonvoluntary_ctxt_switches:\t0\n")
	return []byte(b.String())
}

// rlimitNames are the rows of /proc/PID/limits, by RLIMIT_* number: the
// name and the unit ("" for none).
var rlimitNames = [16][2]string{
	{"Max cpu time", "seconds"},
	{"Max file size", "bytes"},
	{"Max data size", "bytes"},
	{"Max stack size", "bytes"},
	{"Max core file size", "bytes"},
	{"Max resident set", "bytes"},
	{"Max processes", "processes"},
	{"Max open files", "files"},
	{"Max locked memory", "bytes"},
	{"Max address space", "bytes"},
	{"Max file locks", "locks"},
	{"Max pending signals", "signals"},
	{"Max msgqueue size", "bytes"},
	{"Max nice priority", ""},
	{"Max realtime priority", ""},
	{"Max realtime timeout", "us"},
}

// limits is /proc/PID/limits, formatted as Linux's proc_pid_limits.
func limits(p Process) []byte {
	var lim [16]Rlimit
	for i := range lim {
		lim[i] = Rlimit{rlimInfinity, rlimInfinity}
	}
	if l, ok := p.(ProcessLimits); ok {
		lim = l.Rlimits()
	}
	val := func(v uint64) string {
		if v == rlimInfinity {
			return "unlimited"
		}
		return strconv.FormatUint(v, 10)
	}
	b := fmt.Appendf(nil, "%-25s %-20s %-20s %-10s\n", "Limit", "Soft Limit", "Hard Limit", "Units")
	for i, n := range rlimitNames {
		b = fmt.Appendf(b, "%-25s %-20s %-20s ", n[0], val(lim[i].Cur), val(lim[i].Max))
		if n[1] != "" {
			b = fmt.Appendf(b, "%-10s", n[1])
		}
		b = append(b, '\n')
	}
	return b
}

// kernelOLargefile is the kernel's O_LARGEFILE, which the 64-bit kernel
// sets on every file open(2) opens (x/sys's unix.O_LARGEFILE is
// userspace's, 0 on 64-bit).
var kernelOLargefile = map[string]uint32{"amd64": 0o100000, "arm64": 0o400000}[runtime.GOARCH]

// fdinfo is /proc/PID/fdinfo/N: position, flags in octal (with
// O_CLOEXEC for a close-on-exec fd and the O_LARGEFILE Linux forces on
// files opened by path and pipes), mount id and inode number.
func fdinfo(p Process, fd int32) ([]byte, error) {
	fi, ok := findFD(p, fd)
	if !ok {
		return nil, unix.ENOENT
	}
	var d FDDetail
	if dp, ok := p.(ProcessFDDetails); ok {
		if d, ok = dp.FDDetail(fd); !ok {
			return nil, unix.ENOENT
		}
	}
	flags := fi.Flags
	if strings.HasPrefix(fi.Target, "/") || strings.HasPrefix(fi.Target, "pipe:") {
		flags |= kernelOLargefile
	}
	if d.CloExec {
		flags |= unix.O_CLOEXEC
	}
	return fmt.Appendf(nil, "pos:\t%d\nflags:\t0%o\nmnt_id:\t%d\nino:\t%d\n", d.Pos, flags, d.MntID, d.Ino), nil
}

// sysStat is /proc/stat. The CPU lines add up the CPU time of the live
// processes (as far as ProcessTimes tells it), spread evenly over the
// sandbox's CPUs; idle time is the rest of the time since boot. moat
// counts neither interrupts nor context switches (0), nor forks:
// "processes" shows the highest live pid.
func (f *filesystem) sysStat() []byte {
	var user, sys uint64
	var running int
	var last int32
	for _, pid := range f.k.PIDs() {
		p := f.k.Process(pid)
		if p == nil {
			continue
		}
		if t, ok := p.(ProcessTimes); ok {
			u, s := t.CPUTime()
			user += ticks(u)
			sys += ticks(s)
		}
		if p.State() == 'R' {
			running++
		}
		last = max(last, pid)
	}
	up := f.k.Uptime()
	cpus := uint64(max(1, f.cpus))
	var idle uint64
	if total := ticks(up) * cpus; total > user+sys {
		idle = total - user - sys
	}
	line := func(b []byte, name string, user, sys, idle uint64) []byte {
		return fmt.Appendf(b, "%s %d 0 %d %d 0 0 0 0 0 0\n", name, user, sys, idle)
	}
	b := line(nil, "cpu ", user, sys, idle)
	share := func(v uint64, i uint64) uint64 { // cpu i's part of v
		n := v / cpus
		if i < v%cpus {
			n++
		}
		return n
	}
	for i := range cpus {
		b = line(b, "cpu"+strconv.FormatUint(i, 10), share(user, i), share(sys, i), share(idle, i))
	}
	boot := time.Now().Add(-up).Unix()
	b = fmt.Appendf(b, "intr 0\nctxt 0\nbtime %d\nprocesses %d\nprocs_running %d\nprocs_blocked 0\nsoftirq 0 0 0 0 0 0 0 0 0 0 0\n",
		boot, last, max(1, running))
	return b
}

// limitMeminfo rewrites a meminfo text for a memory limit of limit bytes
// of which inUse are in use (-1: unknown), if the limit is below the
// host's MemTotal: MemTotal is the limit, MemFree and MemAvailable at
// most what the limit leaves, and Buffers and Cached 0 (the host's page
// cache is not the container's, and older free(1) counts "used" as total
// - free - buffers - cached). Other lines are the host's.
func limitMeminfo(data []byte, limit, inUse int64) []byte {
	lines := strings.Split(string(data), "\n")
	vals := map[string]int64{}
	for _, l := range lines {
		name, rest, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		if v, ok := strings.CutSuffix(strings.TrimSpace(rest), " kB"); ok {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				vals[name] = n
			}
		}
	}
	total, ok := vals["MemTotal"]
	limitKB := limit / 1024
	if !ok || limitKB >= total {
		return data
	}
	free := limitKB
	if inUse >= 0 {
		free = max(0, limitKB-inUse/1024)
	}
	set := map[string]int64{"MemTotal": limitKB}
	for _, n := range []string{"MemFree", "MemAvailable"} {
		if v, ok := vals[n]; ok {
			set[n] = min(v, free)
		}
	}
	for _, n := range []string{"Buffers", "Cached"} {
		if _, ok := vals[n]; ok {
			set[n] = 0
		}
	}
	for i, l := range lines {
		name, _, ok := strings.Cut(l, ":")
		if v, found := set[name]; ok && found {
			lines[i] = fmt.Sprintf("%-16s%8d kB", name+":", v) // Linux's layout
		}
	}
	return []byte(strings.Join(lines, "\n"))
}
