package linux

import "sync"

// seccomp(2) and classic BPF, as in <linux/seccomp.h>, <linux/filter.h>,
// <linux/bpf_common.h> and <linux/audit.h>.

// seccomp(2) operations.
const (
	SECCOMP_SET_MODE_STRICT  = 0
	SECCOMP_SET_MODE_FILTER  = 1
	SECCOMP_GET_ACTION_AVAIL = 2
	SECCOMP_GET_NOTIF_SIZES  = 3
)

// Seccomp modes (prctl(PR_SET_SECCOMP), /proc/PID/status Seccomp:).
const (
	SECCOMP_MODE_DISABLED = 0
	SECCOMP_MODE_STRICT   = 1
	SECCOMP_MODE_FILTER   = 2
)

// SECCOMP_SET_MODE_FILTER flags.
const (
	SECCOMP_FILTER_FLAG_TSYNC              = 1 << 0
	SECCOMP_FILTER_FLAG_LOG                = 1 << 1
	SECCOMP_FILTER_FLAG_SPEC_ALLOW         = 1 << 2
	SECCOMP_FILTER_FLAG_NEW_LISTENER       = 1 << 3
	SECCOMP_FILTER_FLAG_TSYNC_ESRCH        = 1 << 4
	SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV = 1 << 5
)

// Filter return values: the action in the high 16 bits (SECCOMP_RET_ACTION_FULL),
// its data in the low 16.
const (
	SECCOMP_RET_KILL_PROCESS = 0x80000000
	SECCOMP_RET_KILL_THREAD  = 0x00000000
	SECCOMP_RET_KILL         = SECCOMP_RET_KILL_THREAD
	SECCOMP_RET_TRAP         = 0x00030000
	SECCOMP_RET_ERRNO        = 0x00050000
	SECCOMP_RET_USER_NOTIF   = 0x7fc00000
	SECCOMP_RET_TRACE        = 0x7ff00000
	SECCOMP_RET_LOG          = 0x7ffc0000
	SECCOMP_RET_ALLOW        = 0x7fff0000

	SECCOMP_RET_ACTION_FULL = 0xffff0000
	SECCOMP_RET_DATA        = 0x0000ffff
)

// SYS_SECCOMP is SIGSYS's si_code for a seccomp SECCOMP_RET_TRAP.
const SYS_SECCOMP = 1

// Audit architectures (seccomp_data.arch).
const (
	AUDIT_ARCH_X86_64 = 0xc000003e
	AUDIT_ARCH_I386   = 0x40000003
)

// X32_SYSCALL_BIT marks x32 system call numbers (which share
// AUDIT_ARCH_X86_64).
const X32_SYSCALL_BIT = 0x40000000

// Classic BPF limits.
const (
	BPF_MAXINSNS        = 4096
	BPF_MEMWORDS        = 16
	MAX_ERRNO           = 4095
	SKF_AD_OFF          = -0x1000
	SeccompMaxProgInsns = 32768 // MAX_INSNS_PER_PATH: all of a task's filters, 4 extra per filter
)

// Classic BPF instruction classes and fields.
const (
	BPF_LD   = 0x00
	BPF_LDX  = 0x01
	BPF_ST   = 0x02
	BPF_STX  = 0x03
	BPF_ALU  = 0x04
	BPF_JMP  = 0x05
	BPF_RET  = 0x06
	BPF_MISC = 0x07

	BPF_W = 0x00
	BPF_H = 0x08
	BPF_B = 0x10

	BPF_IMM = 0x00
	BPF_ABS = 0x20
	BPF_IND = 0x40
	BPF_MEM = 0x60
	BPF_LEN = 0x80
	BPF_MSH = 0xa0

	BPF_ADD = 0x00
	BPF_SUB = 0x10
	BPF_MUL = 0x20
	BPF_DIV = 0x30
	BPF_OR  = 0x40
	BPF_AND = 0x50
	BPF_LSH = 0x60
	BPF_RSH = 0x70
	BPF_NEG = 0x80
	BPF_MOD = 0x90
	BPF_XOR = 0xa0

	BPF_JA   = 0x00
	BPF_JEQ  = 0x10
	BPF_JGT  = 0x20
	BPF_JGE  = 0x30
	BPF_JSET = 0x40

	BPF_K = 0x00
	BPF_X = 0x08
	BPF_A = 0x10

	BPF_TAX = 0x00
	BPF_TXA = 0x80
)

// SockFilter is struct sock_filter, one classic BPF instruction.
type SockFilter struct {
	Code uint16
	Jt   uint8
	Jf   uint8
	K    uint32
}

// SizeofSockFilter and SizeofSockFprog are the structs' sizes on x86-64.
const (
	SizeofSockFilter = 8
	SizeofSockFprog  = 16 // unsigned short len; (padding); struct sock_filter *filter
)

// SeccompData is struct seccomp_data, what a filter reads.
type SeccompData struct {
	Nr                 int32
	Arch               uint32
	InstructionPointer uint64
	Args               [6]uint64
}

// SizeofSeccompData is sizeof(struct seccomp_data).
const SizeofSeccompData = 64

// BPFStmt and BPFJump build instructions as the BPF_STMT and BPF_JUMP
// macros do.
func BPFStmt(code uint16, k uint32) SockFilter { return SockFilter{Code: code, K: k} }

// BPFJump is BPF_JUMP.
func BPFJump(code uint16, k uint32, jt, jf uint8) SockFilter {
	return SockFilter{Code: code, Jt: jt, Jf: jf, K: k}
}

// SyscallNumber returns the x86-64 number of the system call called name,
// and false for a name x86-64 does not have.
func SyscallNumber(name string) (uintptr, bool) {
	syscallNumbersOnce.Do(func() {
		syscallNumbers = make(map[string]uintptr, len(SyscallNames))
		for nr, n := range SyscallNames {
			if n != "" {
				syscallNumbers[n] = uintptr(nr)
			}
		}
	})
	nr, ok := syscallNumbers[name]
	return nr, ok
}

var (
	syscallNumbersOnce sync.Once
	syscallNumbers     map[string]uintptr
)
