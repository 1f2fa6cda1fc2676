package memory

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"

	"moat/memexec"
)

// The last close of a memfd frees all of its pages there and then, in
// the closing process. For the memory file that is moat's own exit, on the
// way between its exit_group and its parent's wait returning: whatever
// the sandbox still had (the file cache above all: a gcc -c's copies of
// cc1 and its libraries) cost 6-8 ms there on the 2-core test machine,
// against about 1 ms for an exit whose file another process still holds.
//
// A holder is that other process: it keeps the memory file open until
// this process has exited and then exits too, and the pages are freed in
// its exit, after this process's parent has seen this process's.
//
// It also shares this process's address space (CLONE_VM, not a thread of
// it): an exit tears its address space down before the parent is told,
// and the sentry's is large (its binary's pages, the Go heap, its view of
// the memory file): about 1.5 ms of a python3 run's exit in a profile.
// With the holder, the last user of the address space is the holder, and
// the teardown happens in its exit instead. The holder runs only the code
// in holder_amd64.s, on a stack of its own, with every signal handler
// reset (CLONE_CLEAR_SIGHAND): it leaves the process group, closes every
// fd but the memory file and a pidfd of this process, waits until the
// pidfd is readable (this process has exited: the point at which its
// parent is told) and exits. A signal that kills it early only puts the
// teardown and the freeing back into this process's exit.
//
// Where clone3 or CLONE_CLEAR_SIGHAND is missing (Linux before 5.5, or a
// seccomp profile that refuses clone3, as container engines' defaults
// do), the holder is a program of its own, exec'd, that holds the memory
// file only.

// FreeAfterExit starts the file's holder, which keeps it (and this
// process's address space) until this process has exited: its pages are
// then freed after this process's exit rather than in it. It is for a
// process that exits when its sandbox ends (moat run): the holder waits
// for the process, not for the sandbox, so a process that runs sandbox
// after sandbox would keep every one's memory until it exits. It returns
// the holder's pid.
func (f *File) FreeAfterExit() (int, error) {
	return f.freeAfterExit(false)
}

// freeAfterExit is FreeAfterExit; with execOnly, the holder is always the
// exec'd program.
func (f *File) freeAfterExit(execOnly bool) (int, error) {
	self, err := unix.PidfdOpen(unix.Getpid(), 0)
	if err != nil {
		return 0, fmt.Errorf("pidfd_open: %w", err)
	}
	defer unix.Close(self)
	if !execOnly {
		if pid, err := startHolder(f.fd, self); err == nil {
			return pid, nil
		}
	}
	return f.execHolder(self)
}

// holderBase is where the holder program is loaded.
const holderBase = 0x100000

// holderCode closes every fd but 0, the memory file, and 1, a pidfd (a
// child of exec keeps every fd its parent did not mark close-on-exec,
// such as those moat itself was started with); then it waits until the
// pidfd is readable (the process it refers to has exited) and exits:
//
//	mov    $2, %edi           // close_range(2, ~0, 0)
//	mov    $-1, %esi
//	xor    %edx, %edx
//	mov    $436, %eax         // SYS_close_range
//	syscall
//	movabs $0x100000001, %rax // struct pollfd{fd: 1, events: POLLIN}
//	push   %rax
//	mov    %rsp, %rdi
//	mov    $1, %esi           // one pollfd
//	mov    $-1, %edx          // no timeout
//	mov    $7, %eax           // SYS_poll
//	syscall
//	mov    $231, %eax         // SYS_exit_group, whatever poll returned
//	xor    %edi, %edi
//	syscall
//
// It installs no signal handler, so no signal interrupts the poll with
// EINTR: it is restarted, or it ends the holder. A kernel without
// close_range (before 5.9) leaves the other fds open until the holder
// exits.
var holderCode = []byte{
	0xbf, 0x02, 0x00, 0x00, 0x00,
	0xbe, 0xff, 0xff, 0xff, 0xff,
	0x31, 0xd2,
	0xb8, 0xb4, 0x01, 0x00, 0x00,
	0x0f, 0x05,
	0x48, 0xb8, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
	0x50,
	0x48, 0x89, 0xe7,
	0xbe, 0x01, 0x00, 0x00, 0x00,
	0xba, 0xff, 0xff, 0xff, 0xff,
	0xb8, 0x07, 0x00, 0x00, 0x00,
	0x0f, 0x05,
	0xb8, 0xe7, 0x00, 0x00, 0x00,
	0x31, 0xff,
	0x0f, 0x05,
}

// execHolder starts the holder program with the memory file at fd 0 and
// pidfd at fd 1, in a process group of its own, clear of terminal
// signals.
func (f *File) execHolder(pidfd int) (int, error) {
	pid, err := memexec.Start("moat-holder", memexec.ELF(holderBase, holderCode),
		[]uintptr{uintptr(f.fd), uintptr(pidfd)}, &syscall.SysProcAttr{Setpgid: true})
	if err != nil {
		return 0, fmt.Errorf("starting the memory file's holder: %w", err)
	}
	return pid, nil
}
