// Package memexec makes the tiny host programs moat starts for itself (a
// ptrace stub's first image, the seccomp zygote, the memory file's
// exec'd holder): a static x86-64 ELF of one PT_LOAD segment around a few
// hand-assembled instructions, written to a sealed memfd that the host
// kernel execs through /proc/self/fd, and started (Start). None of them is
// ever loaded into an app.
//
// There are no locks.
package memexec

import (
	"encoding/binary"
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// HeadersSize is an ELF64 header and one program header: ELF's code
// follows them, so a program made with base starts at base+HeadersSize.
const HeadersSize = 64 + 56

// ELF returns a static executable that is loaded, headers and all, at base
// (page-aligned) and starts at its code, base+HeadersSize.
func ELF(base uint64, code []byte) []byte {
	b := make([]byte, HeadersSize+len(code))
	copy(b, []byte{0x7f, 'E', 'L', 'F', 2 /* 64-bit */, 1 /* LE */, 1 /* version */})
	le := binary.LittleEndian
	le.PutUint16(b[16:], 2)                // ET_EXEC
	le.PutUint16(b[18:], 62)               // EM_X86_64
	le.PutUint32(b[20:], 1)                // EV_CURRENT
	le.PutUint64(b[24:], base+HeadersSize) // e_entry
	le.PutUint64(b[32:], 64)               // e_phoff: right after this header
	le.PutUint16(b[52:], 64)               // e_ehsize
	le.PutUint16(b[54:], 56)               // e_phentsize
	le.PutUint16(b[56:], 1)                // e_phnum
	p := b[64:]
	le.PutUint32(p[0:], 1) // PT_LOAD
	le.PutUint32(p[4:], 5) // PF_R|PF_X
	le.PutUint64(p[8:], 0) // from the file's start
	le.PutUint64(p[16:], base)
	le.PutUint64(p[24:], base)
	le.PutUint64(p[32:], uint64(len(b)))
	le.PutUint64(p[40:], uint64(len(b)))
	le.PutUint64(p[48:], 0x1000)
	copy(b[HeadersSize:], code)
	return b
}

// Program is an executable in a sealed memfd. Its fd is a raw fd, not an
// *os.File, whose finalizer would close it once the Program is
// unreachable: in a process that made and dropped several sandboxes
// (boot's tests), an exec of a later stub program's memfd then failed
// with EACCES now and then (never with old programs kept alive). A
// Program lives until Close.
type Program struct {
	name string // its memfd's name, and argv[0] of what Start starts
	path string // as the kernel can exec it
	fd   int
}

// New writes exe to a sealed memfd named name whose fd is above above:
// exec's child, which puts the files it passes on fds 0, 1, ..., must
// not have replaced the program's own fd by then (it would exec one of
// those files instead, EACCES), so above is at least the number of
// files a child of Path gets.
func New(name string, exe []byte, above int) (*Program, error) {
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("memfd_create for %s: %w", name, err)
	}
	if fd <= above {
		high, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, above+1)
		unix.Close(fd)
		if err != nil {
			return nil, fmt.Errorf("memfd_create for %s: %w", name, err)
		}
		fd = high
	}
	for b := exe; len(b) > 0; {
		n, err := unix.Write(fd, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("writing %s: %w", name, err)
		}
		b = b[n:]
	}
	// Seal it: nobody can change what is executed from it.
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_WRITE|unix.F_SEAL_GROW|unix.F_SEAL_SHRINK|unix.F_SEAL_SEAL); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("sealing %s: %w", name, err)
	}
	return &Program{name: name, path: fmt.Sprintf("/proc/self/fd/%d", fd), fd: fd}, nil
}

// Path is the program as exec takes it.
func (p *Program) Path() string { return p.path }

// Close closes the program's memfd; processes already started from it
// are unaffected.
func (p *Program) Close() error { return unix.Close(p.fd) }

// Start starts the program, named by its name as argv[0], with no
// environment, files as its fds 0, 1, ... (New's above must be at least
// len(files)-1) and sys; it returns the pid.
func (p *Program) Start(files []uintptr, sys *syscall.SysProcAttr) (int, error) {
	return syscall.ForkExec(p.path, []string{p.name}, &syscall.ProcAttr{Env: []string{}, Files: files, Sys: sys})
}

// Start writes exe to a program named name, starts it once (Program.Start)
// and closes it.
func Start(name string, exe []byte, files []uintptr, sys *syscall.SysProcAttr) (int, error) {
	p, err := New(name, exe, len(files)-1)
	if err != nil {
		return 0, err
	}
	defer p.Close()
	return p.Start(files, sys)
}
