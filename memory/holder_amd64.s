#include "textflag.h"

// func holderClone(args unsafe.Pointer, size uintptr, memfd, pidfd int32) (pid int64, errno uintptr)
//
// clone3(args, size) with args asking for CLONE_VM: the child shares this
// process's address space and runs on the stack args gives it, in the
// code below only. It leaves the process group, closes every fd but
// memfd and pidfd, waits until pidfd is readable and exits.
TEXT ·holderClone(SB), NOSPLIT, $0-40
	MOVQ args+0(FP), DI
	MOVQ size+8(FP), SI
	MOVLQSX memfd+16(FP), R12
	MOVLQSX pidfd+20(FP), R13
	MOVQ $435, AX // SYS_clone3
	SYSCALL
	CMPQ AX, $0
	JEQ child
	CMPQ AX, $0xfffffffffffff001
	JLS ok
	NEGQ AX
	MOVQ $-1, pid+24(FP)
	MOVQ AX, errno+32(FP)
	RET
ok:
	MOVQ AX, pid+24(FP)
	MOVQ $0, errno+32(FP)
	RET

child:
	// setpgid(0, 0): out of moat's process group, clear of the
	// terminal's signals.
	MOVQ $0, DI
	MOVQ $0, SI
	MOVQ $109, AX
	SYSCALL
	// BX = the lower of the two fds, R15 = the higher.
	MOVQ R12, BX
	MOVQ R13, R15
	CMPQ BX, R15
	JLS ordered
	XCHGQ BX, R15
ordered:
	// close_range(0, lo-1, 0)
	TESTQ BX, BX
	JEQ below
	MOVQ $0, DI
	LEAQ -1(BX), SI
	MOVQ $0, DX
	MOVQ $436, AX // SYS_close_range
	SYSCALL
below:
	// close_range(lo+1, hi-1, 0)
	LEAQ 1(BX), DI
	LEAQ -1(R15), SI
	CMPQ DI, SI
	JHI between
	MOVQ $0, DX
	MOVQ $436, AX
	SYSCALL
between:
	// close_range(hi+1, ~0U, 0)
	LEAQ 1(R15), DI
	MOVQ $0xffffffff, SI
	MOVQ $0, DX
	MOVQ $436, AX
	SYSCALL
	// struct pollfd{fd: pidfd, events: POLLIN} on the stack
	SUBQ $16, SP
	MOVL R13, 0(SP)
	MOVL $1, 4(SP)
wait:
	MOVQ SP, DI
	MOVQ $1, SI
	MOVQ $-1, DX
	MOVQ $7, AX // SYS_poll
	SYSCALL
	CMPQ AX, $-4 // EINTR
	JEQ wait
	MOVQ $0, DI
	MOVQ $231, AX // SYS_exit_group
	SYSCALL
	INT $3
