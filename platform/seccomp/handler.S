# The seccomp platform's stub code page. Assemble with gen.sh, which
# writes handler_gen.go; never edit that file by hand.
#
# The page is mapped read+execute at CODE_PAGE in every stub. Under the
# stub's seccomp filter only the system calls at the gate_* labels are
# allowed (each for specific call numbers); every other system call of
# the stub thread traps with SIGSYS into handler.
#
# handler runs on the stub's alternate signal stack for SIGSYS (a trapped
# system call) and for the synchronous fault signals. It publishes the
# signal number, siginfo and ucontext addresses in the sysmsg page, sets
# state to EVENT and wakes the sentry, then waits (a bounded spin, then
# FUTEX_WAIT) until the sentry sets state to RESUME (return through the
# restorer's rt_sigreturn, with whatever registers the sentry wrote into
# the ucontext) or SYSCALL (run the system call described in sysmsg for
# the sentry, e.g. mmap of the memory file, store the result, and report
# EVENT again).

	.intel_syntax noprefix
	.set SYSMSG, 0x7fffffffd000

	.set ST_EVENT, 1
	.set ST_RESUME, 2
	.set ST_SYSCALL, 3

	.set OFF_STATE, 0
	.set OFF_SIGNO, 8
	.set OFF_INFO, 16
	.set OFF_UCTX, 24
	.set OFF_NR, 32
	.set OFF_ARGS, 40
	.set OFF_RET, 88
	.set OFF_SPIN, 96

	.set SYS_rt_sigreturn, 15
	.set SYS_futex, 202
	.set FUTEX_WAIT, 0
	.set FUTEX_WAKE, 1

	.text
	.globl inject, handler, restorer, gate_wake, gate_wait, gate_call, gate_sigreturn
inject:				# for system calls injected under ptrace during setup
	syscall
	int3

	.balign 16
handler:			# rdi = signo, rsi = siginfo, rdx = ucontext
	movabs r12, SYSMSG
	mov [r12+OFF_SIGNO], rdi
	mov [r12+OFF_INFO], rsi
	mov [r12+OFF_UCTX], rdx
notify:
	mov eax, ST_EVENT
	xchg [r12+OFF_STATE], eax	# a store with a full barrier
	lea rdi, [r12+OFF_STATE]
	mov esi, FUTEX_WAKE
	mov edx, 1
	mov eax, SYS_futex
gate_wake:
	syscall
wait:
	mov ecx, [r12+OFF_SPIN]
spin:
	mov eax, [r12+OFF_STATE]
	cmp eax, ST_EVENT
	jne got
	pause
	dec ecx
	jg spin
	lea rdi, [r12+OFF_STATE]
	mov esi, FUTEX_WAIT
	mov edx, ST_EVENT
	xor r10d, r10d
	mov eax, SYS_futex
gate_wait:
	syscall
	jmp wait
got:
	cmp eax, ST_RESUME
	je resume
	cmp eax, ST_SYSCALL
	jne wait
	mov rax, [r12+OFF_NR]
	mov rdi, [r12+OFF_ARGS]
	mov rsi, [r12+OFF_ARGS+8]
	mov rdx, [r12+OFF_ARGS+16]
	mov r10, [r12+OFF_ARGS+24]
	mov r8, [r12+OFF_ARGS+32]
	mov r9, [r12+OFF_ARGS+40]
gate_call:
	syscall
	mov [r12+OFF_RET], rax
	jmp notify
resume:
	ret				# to restorer: the kernel pushed sa_restorer

	.balign 16
restorer:
	mov eax, SYS_rt_sigreturn
gate_sigreturn:
	syscall
	ud2
