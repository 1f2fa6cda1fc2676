package stub

import "moat/memexec"

// The stub program. A stub process execs this tiny ELF and is stopped by
// ptrace before it runs a single instruction; Start then replaces its whole
// address space with nothing but the platform's code page at the top of
// the user range. The ELF's own code is only ever used for the first
// injected system calls.

// stubELFBase is where the stub ELF is loaded: low, clear of where the
// kernel puts the initial stack and vDSO.
const stubELFBase = 0x100000

// InjectCode is `syscall; int3`: the sentry injects a system call by
// pointing rip at it with the call in the registers; the int3 stops the
// stub again right after the call. Every platform code page starts with
// it.
var InjectCode = []byte{0x0f, 0x05, 0xcc}

// ThreadCode follows InjectCode on the ptrace platform's code page. An
// injected clone(CLONE_THREAD ...) starts at ThreadCloneEntry: the caller
// stops at the int3 as after InjectCode, while the new thread, which
// nobody traces yet, parks in a pause(2) loop until a sentry thread seizes
// it with ptrace:
//
//	clone: syscall; test %rax,%rax; jz park; int3
//	park:  mov $34,%eax (SYS_pause); syscall; jmp park
var ThreadCode = []byte{
	0x0f, 0x05, // syscall
	0x48, 0x85, 0xc0, // test %rax,%rax
	0x74, 0x01, // jz park
	0xcc,                         // int3
	0xb8, 0x22, 0x00, 0x00, 0x00, // park: mov $34,%eax
	0x0f, 0x05, // syscall
	0xeb, 0xf7, // jmp park
}

// ThreadCloneEntry is ThreadCode's offset in the code page.
const ThreadCloneEntry = 3

// stubELF is the stub executable: nothing but InjectCode.
func stubELF() []byte { return memexec.ELF(stubELFBase, InjectCode) }

// stubELFCode is the address of InjectCode inside the loaded stub ELF.
const stubELFCode = stubELFBase + memexec.HeadersSize
