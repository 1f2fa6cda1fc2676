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
# to EVENT and wakes the sentry if it sleeps (SLEEPING), then waits (a
# bounded spin, then SLEEPING and FUTEX_WAIT) until the sentry sets state to RESUME (return through the
# restorer's rt_sigreturn, with whatever registers the sentry wrote into
# the ucontext), SYSCALL (run the system call described in sysmsg, store
# the result, report EVENT again) or CLONE (the same for clone, whose child
# is a new stub thread starting at thread_start).
#
# With syscall-site patching on, app code also enters through tramp_entry
# (from a patched site's stub: eax = the system call number, rcx = the
# address to return to), without a signal: it saves the app's registers
# into sysmsg's gregs (ucontext layout), reports EVENT with MODE_TRAMP and
# waits in the same loop; RESUME then returns through tramp_tail, which
# loads the registers the sentry wrote there and jumps to their rip. The
# trampoline runs on the app's stack and must never touch it (the app may
# have unmapped it, or keep data in its red zone): it finds sysmsg through
# the gs base, which each stub thread points at its slot (the platform owns
# gs: app code does not get its own gs base on this platform). A kick that
# lands in the trampoline is deferred (KICK flag, reported at RESUME as
# MODE_KICK) or, in the tail, reported as if the app had been reached.
# UPGRADE makes a thread waiting in the trampoline trap into handler, so
# that the sentry gets a signal frame (FP state, sigreturn) after all.
#
# Before it acts on any state the sentry sets, a stub thread first runs
# the calls the sentry queued in sysmsg's batch: address-space operations
# (mmap of the memory file or of a host file the stub was given, munmap) and its own fs base (arch_prctl
# ARCH_SET_FS); at most BATCH_MAX, the first failure kept in BATCH_ERR
# ending the batch. The mappings a fault needs, or a new fs base, then
# cost no round trip of their own.
#
# GETFD makes the call at gate_getfd, which the stub filter hands to the
# sentry (SECCOMP_RET_USER_NOTIF) on the zygote's listener: the sentry
# installs one of its host files in the stub (SECCOMP_IOCTL_NOTIF_ADDFD)
# and the call returns the new fd, which the stub reports as a SYSCALL's
# result. Batch entries and mmap requests may then map that fd.
#
# FORK, sent only to the platform's zygote (a stub that never runs app
# code), makes a new stub process with clone(CLONE_PARENT) at gate_fork:
# the sentry's child, a copy of the zygote, whose sysmsg slot the sentry
# has just mapped at the stack the clone gets. The child (fork_child) first
# makes itself die with the sentry (PR_SET_PDEATHSIG, then checks that
# its parent is still the one the zygote had), seals itself with the
# filter in the zygote's sysmsg (no gate_fork for app code), unmaps the
# zygote's slot and starts as a new thread does, at thread_start.

	.intel_syntax noprefix

	.set SLOT_MASK, -0x20000

	.set ST_EVENT, 1
	.set ST_RESUME, 2
	.set ST_SYSCALL, 3
	.set ST_CLONE, 4
	.set ST_UPGRADE, 5
	.set ST_FORK, 6
	.set ST_GETFD, 7
	.set ST_SLEEPING, 0x100		# or'ed in by the side that sleeps

	.set MODE_FRAME, 0
	.set MODE_TRAMP, 1
	.set MODE_KICK, 2

	.set OFF_STATE, 0
	.set OFF_SIGNO, 8
	.set OFF_INFO, 16
	.set OFF_UCTX, 24
	.set OFF_NR, 32
	.set OFF_ARGS, 40
	.set OFF_RET, 88
	.set OFF_SPIN, 96
	.set OFF_MODE, 112
	.set OFF_KICK, 116
	.set OFF_SELF, 120
	.set OFF_PROBE, 128
	.set OFF_BATCH_N, 136
	.set OFF_BATCH_ERR, 140
	.set OFF_CPU, 144		# 1 + the CPU the thread last yielded on; 0: none
	.set OFF_BATCH, 512		# entries: nr, fd (u16 each), prot (u32), addr, len, offset
	.set BATCH_ENTRY, 32
	.set BATCH_MAX, 80
	.set OFF_GREGS, 3072
	.set OFF_SETUP_STACK, 256
	.set OFF_SEAL_PROG, 512		# the zygote's: struct sock_fprog of the seal
	.set OFF_SETUP_ACTION, 320	# setup: struct kernel_sigaction
	.set OFF_SETUP_SIGS, 352	# setup: the signals to handle, bytes, 0-ended
	.set OFF_SETUP_FLAGS, 496	# setup: the stub filter's flags (u32)
	.set LISTENER_FD, 1		# the zygote's: the filter's listener
	.set OFF_SETUP_PROG, 512	# setup: struct sock_fprog of the stub filter

	.set SLOT_SIZE, 0x20000
	.set ALT_LEN, 0x10000		# the slot's alternate signal stack, at its top
	.set ALT_OFF, SLOT_SIZE - ALT_LEN

	.set SYS_rt_sigreturn, 15
	.set SYS_sigaltstack, 131
	.set SYS_futex, 202
	.set SYS_getpid, 39
	.set SYS_arch_prctl, 158
	.set SYS_getppid, 110
	.set SYS_sched_yield, 24
	.set YIELD_EVERY, 256		# spins between yields, a power of two
	.set SYS_prctl, 157
	.set SYS_seccomp, 317
	.set SYS_munmap, 11
	.set SYS_exit, 60
	.set SYS_exit_group, 231
	.set SYS_mmap, 9
	.set SYS_rt_sigaction, 13
	.set SYS_close_range, 436
	.set SYS_close, 3
	.set PR_SET_NO_NEW_PRIVS, 38
	.set PROT_RW, 3
	.set MAP_SHARED_FIXED, 0x11
	.set PR_SET_PDEATHSIG, 1
	.set SIGKILL, 9
	.set SECCOMP_SET_MODE_FILTER, 1
	.set ARCH_SET_GS, 0x1001
	.set KICK_SIGNAL, 23		# SIGURG, stub.KickSignal
	.set CPUNODE_SEG, 0x7b		# Linux's per-CPU GDT segment (vgetcpu's)

	# gregs indices (ucontext layout); UC_GREGS is their offset there.
	.set UC_GREGS, 40
	.set G_R8, 0
	.set G_R9, 1
	.set G_R10, 2
	.set G_R11, 3
	.set G_R12, 4
	.set G_R13, 5
	.set G_R14, 6
	.set G_R15, 7
	.set G_RDI, 8
	.set G_RSI, 9
	.set G_RBP, 10
	.set G_RBX, 11
	.set G_RDX, 12
	.set G_RAX, 13
	.set G_RCX, 14
	.set G_RSP, 15
	.set G_RIP, 16
	.set G_EFL, 17
	.set FUTEX_WAIT, 0
	.set FUTEX_WAKE, 1

	.macro LOAD_ARGS		# no call: the trampoline has no stack
	mov rax, [r12+OFF_NR]
	mov rdi, [r12+OFF_ARGS]
	mov rsi, [r12+OFF_ARGS+8]
	mov rdx, [r12+OFF_ARGS+16]
	mov r10, [r12+OFF_ARGS+24]
	mov r8, [r12+OFF_ARGS+32]
	mov r9, [r12+OFF_ARGS+40]
	.endm

	.text
	.globl inject, setup, handler, restorer, thread_start
	.globl gate_wake, gate_wait, gate_call, gate_clone, gate_altstack, gate_sigreturn, gate_setgs
	.globl gate_fork, gate_sys, fork_child, gate_batch, gate_yield, gate_getfd
	.globl time_entry, gate_time, time_entry_end
	.globl tramp_entry, tramp_tail, tramp_tail_end
inject:				# a system call at no gate (checkFilter tries one here)
	syscall
	int3

# setup: the zygote sets itself up, jumped to from its ELF's entry (the
# sentry writes that code per zygote: zygoteEntry) once this page is
# mapped: r12 = the zygote's slot (its sysmsg page), r13 and r14 = the
# memory file offsets of that page and of its alternate stack, r15 = this
# page. The sentry has written sysmsg's setup areas: stack_t, the
# sigaction, the signals, the filter. No stack is used. It empties the
# process but for this page and the memory file (fd 0), maps the slot,
# installs the handler for each signal and the stub filter (with the
# flags the sentry asked for: a listener, whose fd it leaves at OFF_RET
# for the sentry to take), then makes a system call at no gate, which
# traps into handler: the zygote's first event. A failure before the slot is mapped exits with status 1; after,
# it leaves -errno at OFF_RET for the sentry and exits with status 2.
	.balign 16
setup:
	xor edi, edi		# munmap(0, this page): the ELF, its stack, the vDSO
	mov rsi, r15
	mov eax, SYS_munmap
	syscall
	test rax, rax
	jnz setup_exit
	mov edi, 1		# close_range(1, ~0, 0): only the memory file stays
	mov esi, -1
	xor edx, edx
	mov eax, SYS_close_range
	syscall			# (before Linux 5.9 the others stay open)
	mov rdi, r12		# mmap(slot, 4096, rw, shared|fixed, 0, r13)
	mov esi, 4096
	mov edx, PROT_RW
	mov r10d, MAP_SHARED_FIXED
	xor r8d, r8d
	mov r9, r13
	mov eax, SYS_mmap
	syscall
	cmp rax, r12
	jne setup_exit
	lea rbx, [r12+ALT_OFF]	# mmap(slot+ALT_OFF, ALT_LEN, ..., r14)
	mov rdi, rbx
	mov esi, ALT_LEN
	mov r9, r14
	mov eax, SYS_mmap
	syscall
	cmp rax, rbx
	jne setup_exit
	lea rdi, [r12+OFF_SETUP_STACK]	# sigaltstack(&stack_t, 0)
	xor esi, esi
	mov eax, SYS_sigaltstack
	syscall
	test rax, rax
	jnz setup_failed
	lea rbx, [r12+OFF_SETUP_SIGS]
setup_sig:
	movzx edi, byte ptr [rbx]	# rt_sigaction(sig, &action, 0, 8)
	test edi, edi
	jz setup_filter
	lea rsi, [r12+OFF_SETUP_ACTION]
	xor edx, edx
	mov r10d, 8
	mov eax, SYS_rt_sigaction
	syscall
	test rax, rax
	jnz setup_failed
	inc rbx
	jmp setup_sig
setup_filter:
	mov edi, PR_SET_NO_NEW_PRIVS	# prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
	mov esi, 1
	xor edx, edx
	xor r10d, r10d
	xor r8d, r8d
	mov eax, SYS_prctl
	syscall
	test rax, rax
	jnz setup_failed
	mov edi, SECCOMP_SET_MODE_FILTER	# seccomp(SET_MODE_FILTER, flags, &prog)
	mov esi, [r12+OFF_SETUP_FLAGS]
	lea rdx, [r12+OFF_SETUP_PROG]
	mov eax, SYS_seccomp
	syscall
	cmp rax, -4095
	jae setup_failed
	mov [r12+OFF_RET], rax	# 0, or the listener's fd (LISTENER_FD)
	mov eax, SYS_getpid	# at no gate: traps into handler
	syscall
	int3
setup_failed:
	mov [r12+OFF_RET], rax
	mov edi, 2
	mov eax, SYS_exit_group
	syscall
setup_exit:
	mov edi, 1
	mov eax, SYS_exit_group
	syscall

	.balign 16
handler:			# rdi = signo, rsi = siginfo, rdx = ucontext
	mov r12, rsp
	and r12, SLOT_MASK	# this thread's sysmsg
	cmp edi, KICK_SIGNAL
	jne frame_event
	mov rax, [rdx+UC_GREGS+8*G_RIP]
	lea rcx, [rip+handler]
	xor rcx, rax
	shr rcx, 12
	jnz frame_event		# kicked in app code
	lea rcx, [rip+time_entry]
	cmp rax, rcx
	jb 1f
	lea rcx, [rip+time_entry_end]
	cmp rax, rcx
	jb frame_event		# in the vDSO's time entry: app code too
1:
	lea rcx, [rip+tramp_tail]
	cmp rax, rcx
	jb kick_defer
	lea rcx, [rip+tramp_tail_end]
	cmp rax, rcx
	jae kick_defer
	# Kicked in the trampoline's tail: report it as a kick of the app at
	# the state the sentry asked for, which the tail was loading.
	mov r13, rdi
	mov r14, rsi
	lea rsi, [r12+OFF_GREGS]
	lea rdi, [rdx+UC_GREGS]
	mov ecx, 18
	rep movsq
	mov rdi, r13
	mov rsi, r14
	jmp frame_event
kick_defer:			# kicked in the trampoline before its tail
	mov dword ptr [r12+OFF_KICK], 1
	ret			# to restorer, back into the trampoline
frame_event:
	mov dword ptr [r12+OFF_MODE], MODE_FRAME
	mov [r12+OFF_SIGNO], rdi
	mov [r12+OFF_INFO], rsi
	mov [r12+OFF_UCTX], rdx
notify:
	mov eax, ST_EVENT
	xchg [r12+OFF_STATE], eax	# a store with a full barrier
	test eax, ST_SLEEPING		# wake the sentry only if it sleeps
	jz wait
	lea rdi, [r12+OFF_STATE]
	mov esi, FUTEX_WAKE
	mov edx, 1
	mov eax, SYS_futex
gate_wake:
	syscall
wait:
	mov r15d, [r12+OFF_SPIN]	# (rcx goes in sched_yield)
spin:
	mov eax, [r12+OFF_STATE]
	and eax, ~ST_SLEEPING
	cmp eax, ST_EVENT
	jne got
	pause
	cmp dword ptr [r12+OFF_SPIN], 0	# the sentry: the call blocks
	je 1f
	dec r15d
	jle 1f
	test r15d, YIELD_EVERY-1
	jnz spin
	# Now and then let a thread that waits for this CPU run (the
	# sentry's, on two cores): sched_yield returns at once if none does.
	# First say which CPU this is, plus one (seccomp's spread.go): lsl
	# of the per-CPU segment gives node<<12|cpu, as the vDSO's getcpu
	# reads it. Without that segment (ZF clear) nothing is said.
	mov eax, CPUNODE_SEG
	lsl eax, eax
	jnz 2f
	inc eax
	mov [r12+OFF_CPU], eax
2:
	mov eax, SYS_sched_yield
gate_yield:
	syscall
	jmp spin
1:
	# Say "asleep" before sleeping: the sentry's exchange of the next
	# state then either fails this compare-and-swap or sees the bit and
	# wakes us; FUTEX_WAIT itself fails if the word changed since.
	mov eax, ST_EVENT
	mov edx, ST_EVENT|ST_SLEEPING
	lock cmpxchg [r12+OFF_STATE], edx
	je sleep
	cmp eax, ST_EVENT|ST_SLEEPING	# already marked (after EINTR)
	jne wait			# changed: look again
sleep:
	lea rdi, [r12+OFF_STATE]
	mov esi, FUTEX_WAIT
	mov edx, ST_EVENT|ST_SLEEPING
	xor r10d, r10d
	mov eax, SYS_futex
gate_wait:
	syscall
	jmp wait
got:
	cmp dword ptr [r12+OFF_BATCH_N], 0
	jne drain
dispatch:
	cmp eax, ST_RESUME
	je resume
	cmp eax, ST_SYSCALL
	je call
	cmp eax, ST_CLONE
	je clone
	cmp eax, ST_FORK
	je fork
	cmp eax, ST_GETFD
	je getfd
	cmp eax, ST_UPGRADE
	jne wait
	mov eax, SYS_getpid	# not at a gate: traps into handler (MODE_TRAMP only)
	syscall
	ud2
drain:				# registers are the frame's or gregs': free to use
	mov r14d, [r12+OFF_BATCH_N]
	mov dword ptr [r12+OFF_BATCH_N], 0
	cmp r14d, BATCH_MAX
	jbe 1f
	mov r14d, BATCH_MAX
1:
	lea r13, [r12+OFF_BATCH]
2:
	movzx eax, word ptr [r13]
	movzx r8d, word ptr [r13+2]	# the fd: the memory file's or a host file's
	mov edx, [r13+4]
	mov rdi, [r13+8]
	mov rsi, [r13+16]
	mov r9, [r13+24]
	mov r10d, MAP_SHARED_FIXED
gate_batch:
	syscall
	cmp rax, -4095
	jae 3f
	add r13, BATCH_ENTRY
	dec r14d
	jnz 2b
	jmp 4f
3:
	mov [r12+OFF_BATCH_ERR], eax
4:
	mov eax, [r12+OFF_STATE]
	and eax, ~ST_SLEEPING
	jmp dispatch
clone:
	LOAD_ARGS
gate_clone:
	syscall
	test rax, rax
	jz thread_start
	mov [r12+OFF_RET], rax
	jmp notify
call:
	LOAD_ARGS
gate_call:
	syscall
	mov [r12+OFF_RET], rax
	jmp notify
getfd:				# the filter hands this call to the sentry (USER_NOTIF),
	mov eax, SYS_getpid	# which installs a file and returns its fd
gate_getfd:
	syscall
	mov [r12+OFF_RET], rax
	jmp notify
fork:				# the zygote, in its handler (a stack to call with)
	mov eax, SYS_getppid
	call sys
	mov r13, rax		# the sentry, as the child must still see it
	LOAD_ARGS
gate_fork:
	syscall
	test rax, rax
	jz fork_child
	mov [r12+OFF_RET], rax
	jmp notify

	.balign 16
fork_child:			# rsp: the new slot's stack; r12: the zygote's sysmsg
	mov edi, PR_SET_PDEATHSIG
	mov esi, SIGKILL
	mov eax, SYS_prctl
	call sys
	mov eax, SYS_getppid
	call sys
	cmp rax, r13
	jne fork_fail		# the sentry went before the prctl took
	mov edi, SECCOMP_SET_MODE_FILTER
	xor esi, esi
	lea rdx, [r12+OFF_SEAL_PROG]
	mov eax, SYS_seccomp
	call sys
	test rax, rax
	jnz fork_fail		# never run app code unsealed
	mov edi, LISTENER_FD	# the zygote's listener is the sentry's alone
	mov eax, SYS_close	# (EBADF if it has none)
	call sys
	mov rdi, r12
	mov esi, SLOT_SIZE
	mov eax, SYS_munmap
	call sys
	jmp thread_start
fork_fail:
	xor edi, edi
	mov eax, SYS_exit
	call sys
	ud2
sys:				# a system call for fork and fork_child
gate_sys:
	syscall
	ret
resume:
	cmp dword ptr [r12+OFF_MODE], MODE_FRAME
	jne tramp_resume
	ret				# to restorer: the kernel pushed sa_restorer

	.balign 16
thread_start:			# a new stub thread: rsp is inside its slot
	mov r12, rsp
	and r12, SLOT_MASK
	lea rdi, [r12+OFF_SETUP_STACK]
	xor esi, esi
	mov eax, SYS_sigaltstack
gate_altstack:
	syscall
	mov rsi, [r12+OFF_SELF]	# set by the sentry when patching is on
	test rsi, rsi
	jz 1f
	mov edi, ARCH_SET_GS
	mov eax, SYS_arch_prctl
gate_setgs:
	syscall
1:
	mov rsp, [r12+OFF_UCTX]	# the frame the sentry built: pretcode, then ucontext
	sub rsp, 8
	jmp notify		# RESUME then returns through rt_sigreturn of that frame

	.balign 16
time_entry:			# the vDSO's host time calls (vdso/vdso.S): called
gate_time:			# with the call in eax
	syscall
	ret
time_entry_end:

	.balign 16
restorer:
	mov eax, SYS_rt_sigreturn
gate_sigreturn:
	syscall
	ud2

	.balign 16
tramp_entry:			# eax = NR, rcx = return address; r11 is free
	mov gs:[OFF_GREGS+8*G_R12], r12
	mov r12, gs:[OFF_SELF]
	mov [r12+OFF_GREGS+8*G_RAX], rax
	mov [r12+OFF_GREGS+8*G_RCX], rcx
	mov [r12+OFF_GREGS+8*G_RIP], rcx
	mov [r12+OFF_GREGS+8*G_R8], r8
	mov [r12+OFF_GREGS+8*G_R9], r9
	mov [r12+OFF_GREGS+8*G_R10], r10
	mov [r12+OFF_GREGS+8*G_R13], r13
	mov [r12+OFF_GREGS+8*G_R14], r14
	mov [r12+OFF_GREGS+8*G_R15], r15
	mov [r12+OFF_GREGS+8*G_RDI], rdi
	mov [r12+OFF_GREGS+8*G_RSI], rsi
	mov [r12+OFF_GREGS+8*G_RBP], rbp
	mov [r12+OFF_GREGS+8*G_RBX], rbx
	mov [r12+OFF_GREGS+8*G_RDX], rdx
	mov [r12+OFF_GREGS+8*G_RSP], rsp
	# rflags without the stack: the arithmetic flags through lahf and
	# seto, the direction flag through which way lodsb moves rsi.
	lahf
	seto al
	movzx edx, ah
	and edx, 0xd5
	or edx, 0x202
	movzx ebx, al
	shl ebx, 11
	or edx, ebx
	lea rsi, [r12+OFF_PROBE]
	mov rdi, rsi
	lodsb
	cmp rsi, rdi
	setb bl			# moved down: DF was set
	movzx ebx, bl
	shl ebx, 10
	or edx, ebx
	mov [r12+OFF_GREGS+8*G_EFL], rdx
	mov [r12+OFF_GREGS+8*G_R11], rdx	# as syscall leaves r11
	mov dword ptr [r12+OFF_MODE], MODE_TRAMP
	jmp notify

tramp_resume:			# r12 = sysmsg
	cmp dword ptr [r12+OFF_KICK], 0
	jne tramp_kicked
tramp_tail:
	mov rax, [r12+OFF_GREGS+8*G_EFL]
	bt eax, 10
	jnc 1f
	std
	jmp 2f
1:	cld
2:	mov ecx, eax
	shr ecx, 11
	and ecx, 1		# OF
	mov ah, al		# SF ZF AF PF CF, for sahf
	mov al, cl
	mov rbx, [r12+OFF_GREGS+8*G_RBX]
	mov rcx, [r12+OFF_GREGS+8*G_RCX]
	mov rdx, [r12+OFF_GREGS+8*G_RDX]
	mov rsi, [r12+OFF_GREGS+8*G_RSI]
	mov rdi, [r12+OFF_GREGS+8*G_RDI]
	mov rbp, [r12+OFF_GREGS+8*G_RBP]
	mov rsp, [r12+OFF_GREGS+8*G_RSP]
	mov r8, [r12+OFF_GREGS+8*G_R8]
	mov r9, [r12+OFF_GREGS+8*G_R9]
	mov r10, [r12+OFF_GREGS+8*G_R10]
	mov r11, [r12+OFF_GREGS+8*G_R11]
	mov r13, [r12+OFF_GREGS+8*G_R13]
	mov r14, [r12+OFF_GREGS+8*G_R14]
	mov r15, [r12+OFF_GREGS+8*G_R15]
	add al, 0x7f		# OF = (al == 1)
	sahf
	mov rax, [r12+OFF_GREGS+8*G_RAX]
	mov r12, [r12+OFF_GREGS+8*G_R12]
	jmp gs:[OFF_GREGS+8*G_RIP]
tramp_tail_end:

tramp_kicked:			# kicked while waiting: report that instead
	mov dword ptr [r12+OFF_KICK], 0
	mov dword ptr [r12+OFF_MODE], MODE_KICK
	jmp notify
