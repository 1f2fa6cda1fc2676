# The seccomp platform's stub code page. Assemble with gen.sh, which
# writes handler_gen.go; never edit that file by hand.
#
# The page is mapped read+execute at the code page in every stub. Under the
# stub's seccomp filter only the system calls at the gate_* labels are
# allowed (each for specific call numbers); every other system call of a
# stub thread traps with SIGSYS into handler.
#
# Each stub thread has a slot: a 128 KiB-aligned region whose first page is
# its sysmsg page and whose upper 64 KiB is its alternate signal stack, so
# the handler finds its thread's sysmsg by masking rsp.
#
# handler runs on the alternate stack for SIGSYS (a trapped system call),
# the synchronous fault signals and the sentry's kick signal. It publishes
# the signal number, siginfo and ucontext addresses in sysmsg, sets state
# to EVENT and wakes the sentry, then waits (a bounded spin, then
# FUTEX_WAIT) until the sentry sets state to RESUME (return through the
# restorer's rt_sigreturn, with whatever registers the sentry wrote into
# the ucontext), SYSCALL (run the system call described in sysmsg, store
# the result, report EVENT again) or CLONE (the same for clone, whose child
# is a new stub thread starting at thread_start).

	.intel_syntax noprefix

	.set SLOT_MASK, -0x20000

	.set ST_EVENT, 1
	.set ST_RESUME, 2
	.set ST_SYSCALL, 3
	.set ST_CLONE, 4

	.set OFF_STATE, 0
	.set OFF_SIGNO, 8
	.set OFF_INFO, 16
	.set OFF_UCTX, 24
	.set OFF_NR, 32
	.set OFF_ARGS, 40
	.set OFF_RET, 88
	.set OFF_SPIN, 96
	.set OFF_SETUP_STACK, 256

	.set SYS_rt_sigreturn, 15
	.set SYS_sigaltstack, 131
	.set SYS_futex, 202
	.set FUTEX_WAIT, 0
	.set FUTEX_WAKE, 1

	.text
	.globl inject, handler, restorer, thread_start
	.globl gate_wake, gate_wait, gate_call, gate_clone, gate_altstack, gate_sigreturn
inject:				# for system calls injected under ptrace during setup
	syscall
	int3

	.balign 16
handler:			# rdi = signo, rsi = siginfo, rdx = ucontext
	mov r12, rsp
	and r12, SLOT_MASK	# this thread's sysmsg
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
	je call
	cmp eax, ST_CLONE
	jne wait
	call load_args
gate_clone:
	syscall
	test rax, rax
	jz thread_start
	mov [r12+OFF_RET], rax
	jmp notify
call:
	call load_args
gate_call:
	syscall
	mov [r12+OFF_RET], rax
	jmp notify
resume:
	ret				# to restorer: the kernel pushed sa_restorer

load_args:
	mov rax, [r12+OFF_NR]
	mov rdi, [r12+OFF_ARGS]
	mov rsi, [r12+OFF_ARGS+8]
	mov rdx, [r12+OFF_ARGS+16]
	mov r10, [r12+OFF_ARGS+24]
	mov r8, [r12+OFF_ARGS+32]
	mov r9, [r12+OFF_ARGS+40]
	ret

	.balign 16
thread_start:			# a new stub thread: rsp is inside its slot
	mov r12, rsp
	and r12, SLOT_MASK
	lea rdi, [r12+OFF_SETUP_STACK]
	xor esi, esi
	mov eax, SYS_sigaltstack
gate_altstack:
	syscall
	mov rsp, [r12+OFF_UCTX]	# the frame the sentry built: pretcode, then ucontext
	sub rsp, 8
	jmp notify		# RESUME then returns through rt_sigreturn of that frame

	.balign 16
restorer:
	mov eax, SYS_rt_sigreturn
gate_sigreturn:
	syscall
	ud2
