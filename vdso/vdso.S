# moat's vDSO: the image every process gets at AT_SYSINFO_EHDR. Assemble
# with gen.sh, which writes vdso_gen.go; never edit that file by hand.
#
# clock_gettime and clock_getres of the host's own clocks, gettimeofday and
# time call the platform's time entry (moat_time_entry, which the loader
# sets; 0 on a platform without one): on seccomp, a gate in the stub's
# code page that may make only these host calls, so they cost a system
# call on the host instead of a round trip through the sentry, whose
# answers for them are the host's anyway. Every other clock (the CPU-time
# ones, an invalid id) and gettimeofday's obsolete timezone take the
# ordinary system call.

	.intel_syntax noprefix
	.text

	.set SYS_gettimeofday, 96
	.set SYS_time, 201
	.set SYS_clock_gettime, 228
	.set SYS_clock_getres, 229
	# REALTIME MONOTONIC MONOTONIC_RAW REALTIME_COARSE MONOTONIC_COARSE
	# BOOTTIME TAI: the clocks moat serves from the host's.
	.set HOST_CLOCKS, 0x8f3

	.globl moat_time_entry
	.globl __vdso_clock_gettime, __vdso_clock_getres, __vdso_gettimeofday, __vdso_time
	.globl clock_gettime, clock_getres, gettimeofday, time

	.p2align 3
moat_time_entry:
	.quad 0

# The call writes into a buffer on this stack (through the entry, or as
# an ordinary system call where there is none); the result is copied out
# here, so that a bad pointer faults in the caller as with Linux's vDSO
# (which never returns EFAULT).

	.p2align 4
	.type __vdso_clock_gettime, @function
__vdso_clock_gettime:		# edi = clockid_t (an int: only edi is defined), rsi
	mov eax, SYS_clock_gettime
	xor r10d, r10d		# the timespec is stored even if rsi is NULL (a fault)
	jmp clock_call
	.size __vdso_clock_gettime, .-__vdso_clock_gettime

	.p2align 4
	.type __vdso_clock_getres, @function
__vdso_clock_getres:
	mov eax, SYS_clock_getres
	mov r10d, 1		# res may be NULL
clock_call:
	cmp edi, 31
	ja ordinary		# negative (a CPU clock) or beyond the bitmap
	mov r11d, HOST_CLOCKS
	bt r11d, edi
	jnc ordinary
	push rsi
	sub rsp, 16
	mov edi, edi		# the entry's filter checks all 64 bits
	mov rsi, rsp
	call host_call
	mov rcx, [rsp]
	mov rdx, [rsp+8]
	add rsp, 16
	pop rsi
	test rax, rax
	jnz 1f			# an error (none is expected): nothing to store
	test rsi, rsi
	jnz 2f
	test r10d, r10d		# clock_getres(clk, NULL) stores nothing
	jnz 1f
2:	mov [rsi], rcx		# faults on a bad pointer, as Linux's vDSO
	mov [rsi+8], rdx
1:	ret
	.size __vdso_clock_getres, .-__vdso_clock_getres

	.p2align 4
	.type __vdso_gettimeofday, @function
__vdso_gettimeofday:		# rdi = tv, rsi = tz
	test rsi, rsi
	jnz ordinary_tod	# the obsolete timezone: the ordinary call
	push rdi
	sub rsp, 16
	mov rdi, rsp
	xor esi, esi
	mov eax, SYS_gettimeofday
	call host_call
	mov rcx, [rsp]
	mov rdx, [rsp+8]
	add rsp, 16
	pop rdi
	test rdi, rdi
	jz 1f
	mov [rdi], rcx
	mov [rdi+8], rdx
1:	ret
ordinary_tod:
	mov eax, SYS_gettimeofday
	syscall
	ret
	.size __vdso_gettimeofday, .-__vdso_gettimeofday

	.p2align 4
	.type __vdso_time, @function
__vdso_time:			# rdi = tloc or NULL
	push rdi
	xor edi, edi
	mov eax, SYS_time
	call host_call
	pop rdi
	test rdi, rdi
	jz 1f
	mov [rdi], rax
1:	ret
	.size __vdso_time, .-__vdso_time

host_call:			# the call in eax: through the entry, else directly
	mov r11, [rip+moat_time_entry]
	test r11, r11
	jz ordinary
	jmp r11
ordinary:
	syscall
	ret

	.set clock_gettime, __vdso_clock_gettime
	.set clock_getres, __vdso_clock_getres
	.set gettimeofday, __vdso_gettimeofday
	.set time, __vdso_time
	.type clock_gettime, @function
	.type clock_getres, @function
	.type gettimeofday, @function
	.type time, @function
