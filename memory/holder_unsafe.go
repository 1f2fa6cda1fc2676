package memory

import (
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// cloneArgs is struct clone_args up to stack_size and tls
// (CLONE_ARGS_SIZE_VER0).
type cloneArgs struct {
	flags, pidfd, childTID, parentTID, exitSignal, stack, stackSize, tls uint64
}

// clearSighand is CLONE_CLEAR_SIGHAND: the child's signal handlers are
// reset to their defaults (never the sentry's, in code the child must not
// run).
const clearSighand = 0x100000000

// holderStack is the holder's stack: it lives in the address space it
// shares with this process, and nothing else touches it.
var holderStack [64]uint64

// holderClone is in holder_amd64.s.
func holderClone(args unsafe.Pointer, size uintptr, memfd, pidfd int32) (pid int64, errno uintptr)

// startHolder starts the holder: a process that shares this process's
// address space (CLONE_VM) with its signal handlers reset, holds only
// memfd and pidfd, and exits once pidfd is readable.
func startHolder(memfd, pidfd int) (int, error) {
	args := &cloneArgs{
		flags:      unix.CLONE_VM | clearSighand,
		exitSignal: uint64(unix.SIGCHLD),
		stack:      uint64(uintptr(unsafe.Pointer(&holderStack[0]))),
		stackSize:  uint64(unsafe.Sizeof(holderStack)),
	}
	pid, errno := holderClone(unsafe.Pointer(args), unsafe.Sizeof(*args), int32(memfd), int32(pidfd))
	runtime.KeepAlive(args)
	if errno != 0 {
		return 0, unix.Errno(errno)
	}
	return int(pid), nil
}
