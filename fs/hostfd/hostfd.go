// Package hostfd wraps a host file descriptor that moat hands to the app as
// is: the app's stdin, stdout and stderr are moat's own. Reads and writes go
// to the host fd; on a terminal, settings and sizes go to the host
// terminal, while the foreground process group is the sandbox's.
package hostfd

import (
	"fmt"
	"os"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"

	"moat/vfs"
)

// File is a host fd as a vfs file.
type File struct {
	fd     int
	stream bool
	tty    bool
}

// New wraps fd (the caller keeps it open for the sandbox's life; Release
// closes it).
func New(fd int) *File {
	var st unix.Stat_t
	f := &File{fd: fd, stream: true}
	if unix.Fstat(fd, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFREG {
		f.stream = false
	}
	if _, err := unix.IoctlGetTermios(fd, unix.TCGETS); err == nil {
		f.tty = true
	}
	return f
}

// IsStream implements vfs.Stream: pipes, terminals and sockets have no
// position; regular files do.
func (f *File) IsStream() bool { return f.stream }

// OwnsPosition implements vfs.PositionOwner: a regular file's position is
// the host fd's, shared with whoever else holds it (the shell that
// redirected moat's output, moat's own messages).
func (f *File) OwnsPosition() bool { return !f.stream }

// Seek implements vfs.Seeker with the host fd's position.
func (f *File) Seek(ctx vfs.Context, cur, off int64, whence int) (int64, error) {
	if f.stream {
		return 0, unix.ESPIPE
	}
	return unix.Seek(f.fd, off, whence)
}

// Stat reports the host fd's attributes.
func (f *File) Stat(ctx vfs.Context) (vfs.Stat, error) {
	var st unix.Stat_t
	if err := unix.Fstat(f.fd, &st); err != nil {
		return vfs.Stat{}, err
	}
	return vfs.Stat{
		Dev: st.Dev, Ino: st.Ino, Mode: st.Mode, Nlink: uint32(st.Nlink), UID: st.Uid, GID: st.Gid,
		Rdev: st.Rdev, Size: st.Size, Blksize: int32(st.Blksize), Blocks: st.Blocks,
		Atime: vfs.Timespec{Sec: st.Atim.Sec, Nsec: st.Atim.Nsec},
		Mtime: vfs.Timespec{Sec: st.Mtim.Sec, Nsec: st.Mtim.Nsec},
		Ctime: vfs.Timespec{Sec: st.Ctim.Sec, Nsec: st.Ctim.Nsec},
	}, nil
}

// Read implements vfs.FileImpl.
func (f *File) Read(ctx vfs.Context, dst []byte, off int64) (int, error) {
	for {
		var n int
		var err error
		if f.stream || off < 0 {
			n, err = unix.Read(f.fd, dst)
		} else {
			n, err = unix.Pread(f.fd, dst, off)
		}
		if err == unix.EINTR {
			continue
		}
		return max(n, 0), err
	}
}

// Write implements vfs.FileImpl.
func (f *File) Write(ctx vfs.Context, src []byte, off int64) (int, error) {
	for {
		var n int
		var err error
		if f.stream || off < 0 {
			n, err = unix.Write(f.fd, src)
		} else {
			n, err = unix.Pwrite(f.fd, src, off)
		}
		if err == unix.EINTR {
			continue
		}
		return max(n, 0), err
	}
}

// Terminal ioctls. Terminal settings and sizes go to the host terminal;
// the foreground process group is the sandbox's own (its pgids mean
// nothing to the host), kept per host terminal.
const (
	tcsbrk      = 0x5409
	tcxonc      = 0x540a
	tcflsh      = 0x540b
	tiocsctty   = 0x540e
	tiocgpgrp   = 0x540f
	tiocspgrp   = 0x5410
	tiocoutq    = 0x5411
	tiocswinsz  = 0x5414
	fionread    = 0x541b
	tiocnotty   = 0x5422
	tiocgsid    = 0x5429
	tiocgptpeer = 0x5441
)

// foreground maps a host terminal (its rdev) to the sandbox's foreground
// process group on it.
var foreground sync.Map

func (f *File) rdev() uint64 {
	var st unix.Stat_t
	unix.Fstat(f.fd, &st)
	return st.Rdev
}

// Ioctl implements vfs.Ioctler for terminals: settings (TCGETS, TCSETS*),
// sizes, flushing, and the foreground process group.
func (f *File) Ioctl(ctx vfs.Context, req uint32, arg uintptr, mem vfs.IOMemory) (uintptr, error) {
	if !f.tty {
		if req == fionread && f.stream {
			n, err := unix.IoctlGetInt(f.fd, fionread)
			if err != nil {
				return 0, err
			}
			return 0, putInt(mem, arg, int32(n))
		}
		return 0, unix.ENOTTY
	}
	switch req {
	case unix.TCGETS:
		t, err := unix.IoctlGetTermios(f.fd, unix.TCGETS)
		if err != nil {
			return 0, err
		}
		if _, err := mem.CopyOut(arg, termiosBytes(t)); err != nil {
			return 0, unix.EFAULT
		}
		return 0, nil
	case unix.TCSETS, unix.TCSETSW, unix.TCSETSF:
		b := make([]byte, 36)
		if _, err := mem.CopyIn(arg, b); err != nil {
			return 0, unix.EFAULT
		}
		return 0, unix.IoctlSetTermios(f.fd, uint(req), termiosOf(b))
	case unix.TIOCGWINSZ:
		ws, err := unix.IoctlGetWinsize(f.fd, unix.TIOCGWINSZ)
		if err != nil {
			return 0, err
		}
		b := []byte{byte(ws.Row), byte(ws.Row >> 8), byte(ws.Col), byte(ws.Col >> 8), byte(ws.Xpixel), byte(ws.Xpixel >> 8), byte(ws.Ypixel), byte(ws.Ypixel >> 8)}
		if _, err := mem.CopyOut(arg, b); err != nil {
			return 0, unix.EFAULT
		}
		return 0, nil
	case tiocswinsz:
		b := make([]byte, 8)
		if _, err := mem.CopyIn(arg, b); err != nil {
			return 0, unix.EFAULT
		}
		u16 := func(i int) uint16 { return uint16(b[i]) | uint16(b[i+1])<<8 }
		return 0, unix.IoctlSetWinsize(f.fd, tiocswinsz, &unix.Winsize{Row: u16(0), Col: u16(2), Xpixel: u16(4), Ypixel: u16(6)})
	case tcflsh, tcxonc, tcsbrk:
		return 0, unix.IoctlSetInt(f.fd, uint(req), int(arg))
	case fionread, tiocoutq:
		n, err := unix.IoctlGetInt(f.fd, uint(req))
		if err != nil {
			return 0, err
		}
		return 0, putInt(mem, arg, int32(n))
	case tiocgpgrp:
		pg := int32(1) // init's group until someone sets one
		if v, ok := foreground.Load(f.rdev()); ok {
			pg = v.(int32)
		}
		return 0, putInt(mem, arg, pg)
	case tiocspgrp:
		b := make([]byte, 4)
		if _, err := mem.CopyIn(arg, b); err != nil {
			return 0, unix.EFAULT
		}
		pg := int32(uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24)
		if pg < 0 {
			return 0, unix.EINVAL
		}
		foreground.Store(f.rdev(), pg)
		return 0, nil
	case tiocgsid:
		return 0, putInt(mem, arg, 1) // the terminal belongs to the sandbox's first session
	case tiocsctty, tiocnotty:
		return 0, nil
	case tiocgptpeer:
		return 0, unix.EIO // a terminal, but not a pty master here
	}
	return 0, unix.ENOTTY
}

func putInt(mem vfs.IOMemory, addr uintptr, v int32) error {
	b := []byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)}
	if _, err := mem.CopyOut(addr, b); err != nil {
		return unix.EFAULT
	}
	return nil
}

// termiosOf decodes struct termios.
func termiosOf(b []byte) *unix.Termios {
	get := func(o int) uint32 { return uint32(b[o]) | uint32(b[o+1])<<8 | uint32(b[o+2])<<16 | uint32(b[o+3])<<24 }
	t := &unix.Termios{Iflag: get(0), Oflag: get(4), Cflag: get(8), Lflag: get(12), Line: b[16]}
	copy(t.Cc[:], b[17:36])
	return t
}

// termiosBytes encodes struct termios (36 bytes: 4 flags, line, 19 cc).
func termiosBytes(t *unix.Termios) []byte {
	b := make([]byte, 36)
	put := func(o int, v uint32) { b[o], b[o+1], b[o+2], b[o+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24) }
	put(0, t.Iflag)
	put(4, t.Oflag)
	put(8, t.Cflag)
	put(12, t.Lflag)
	b[16] = t.Line
	copy(b[17:], t.Cc[:19])
	return b
}

// Release implements vfs.FileImpl.
func (f *File) Release() { unix.Close(f.fd) }

// Name is what /proc/PID/fd shows for the fd: the host's own description
// of it ("pipe:[123]", "/dev/pts/0").
func (f *File) Name() string {
	s, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", f.fd))
	if err != nil {
		return "host:[" + strconv.Itoa(f.fd) + "]"
	}
	return s
}

// Readiness implements vfs.Poller by polling the host fd.
func (f *File) Readiness() uint32 {
	if !f.stream {
		return vfs.DefaultPollMask
	}
	fds := []unix.PollFd{{Fd: int32(f.fd), Events: unix.POLLIN | unix.POLLOUT}}
	if n, err := unix.Poll(fds, 0); err != nil || n == 0 {
		return 0
	}
	return uint32(uint16(fds[0].Revents))
}

// Changed implements vfs.Poller: a host fd cannot signal its changes, so
// pollers check it periodically.
func (f *File) Changed() <-chan struct{} { return nil }

// MakeRaw puts host terminal fd in raw mode, every byte passing through
// unchanged for the sandbox's own line discipline to interpret, and
// returns the settings it had.
func MakeRaw(fd int) (saved *unix.Termios, err error) {
	saved, err = unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, err
	}
	t := *saved
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag = t.Cflag&^(unix.CSIZE|unix.PARENB) | unix.CS8
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
	return saved, unix.IoctlSetTermios(fd, unix.TCSETS, &t)
}

// ForegroundGroup returns the sandbox's foreground process group on the
// terminal that host fd fd refers to, if the sandbox has set one.
func ForegroundGroup(fd int) (int32, bool) {
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil {
		return 0, false
	}
	v, ok := foreground.Load(st.Rdev)
	if !ok {
		return 0, false
	}
	return v.(int32), true
}

// Terminal is moat's own terminal (the host terminal its stdin is) as the
// controlling terminal of the sandbox's first session: /dev/tty opens it
// again. Its foreground group and settings are those of the File
// wrapping it (see Ioctl).
type Terminal struct {
	fd int
}

// NewTerminal returns the terminal host fd fd is, or nil if it is none.
// The caller keeps fd open for the sandbox's life.
func NewTerminal(fd int) *Terminal {
	if _, err := unix.IoctlGetTermios(fd, unix.TCGETS); err != nil {
		return nil
	}
	return &Terminal{fd: fd}
}

// SessionEnded implements kernel.Terminal: the host terminal is not the
// sandbox's to hang up.
func (t *Terminal) SessionEnded(sid int32, hangup bool) {}

// OpenControlling opens the terminal again for /dev/tty: a new host fd
// for it.
func (t *Terminal) OpenControlling(ctx vfs.Context, flags uint32) (vfs.FileImpl, error) {
	fd, err := unix.FcntlInt(uintptr(t.fd), unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		return nil, unix.ENFILE
	}
	return New(fd), nil
}
