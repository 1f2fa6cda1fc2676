// Package arch describes the x86-64 machine state of an application thread
// as the sentry sees it: general registers, the FP/xsave area, and the
// system-call calling convention.
package arch

import "golang.org/x/sys/unix"

// Registers are the general-purpose registers in the layout of the kernel's
// struct user_regs_struct (what PTRACE_GETREGS returns), including fs_base.
type Registers = unix.PtraceRegs

// User-mode segment selectors of a 64-bit Linux process.
const (
	UserCS = 0x33
	UserSS = 0x2b
)

// TaskSize is the end of the user address range (Linux's TASK_SIZE_MAX
// on x86-64 with 4-level page tables).
const TaskSize = 0x7ffffffff000

// SyscallInsnLen is the length of the `syscall` instruction.
const SyscallInsnLen = 2

// SyscallArgs are the six system-call arguments in order.
type SyscallArgs [6]uintptr

// SyscallNo returns the number of the system call the registers describe
// at a system-call stop.
func SyscallNo(r *Registers) uintptr { return uintptr(r.Orig_rax) }

// Args returns the system-call arguments from the registers (rdi, rsi, rdx,
// r10, r8, r9).
func Args(r *Registers) SyscallArgs {
	return SyscallArgs{uintptr(r.Rdi), uintptr(r.Rsi), uintptr(r.Rdx), uintptr(r.R10), uintptr(r.R8), uintptr(r.R9)}
}

// SetReturn stores a system call's result in rax.
func SetReturn(r *Registers, v uintptr) { r.Rax = uint64(v) }

// RestartSyscall rewinds the registers so that the system call at the stop
// executes again when the thread resumes.
func RestartSyscall(r *Registers) {
	r.Rip -= SyscallInsnLen
	r.Rax = r.Orig_rax
}

// InitialRegisters returns the register state of a freshly exec'd thread:
// everything zero but the instruction and stack pointers, with user-mode
// segments and the interrupt flag set as Linux starts a process.
func InitialRegisters(entry, sp uintptr) Registers {
	return Registers{
		Rip:    uint64(entry),
		Rsp:    uint64(sp),
		Cs:     UserCS,
		Ss:     UserSS,
		Eflags: 0x202, // IF and the always-one bit
	}
}

// FPState is a thread's x87/SSE/AVX state in XSAVE layout, as the kernel's
// NT_X86_XSTATE regset reports it.
type FPState []byte

// Clone returns an independent copy of the state.
func (s FPState) Clone() FPState { return append(FPState(nil), s...) }
