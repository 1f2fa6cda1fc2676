// Package strace renders system calls in the human-readable form strace(1)
// uses, e.g.
//
//	openat(AT_FDCWD, "/etc/passwd", O_RDONLY|O_CLOEXEC) = 3
//
// Decoding is table driven: each known system call has a list of argument
// formatters (see table.go) and an optional return-value formatter. System
// calls without an entry are printed with six hexadecimal arguments.
package strace

import (
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"moat/abi/linux"
)

// Memory reads application memory; it returns the bytes read and an error
// if fewer than len(dst) bytes could be read.
type Memory interface {
	CopyIn(addr uintptr, dst []byte) (int, error)
}

// MaxStringLen is how many bytes of a string or buffer argument are shown
// before the output is truncated with "...", like strace's default -s 32.
const MaxStringLen = 32

// maxPathLen bounds how much of a path name is read (PATH_MAX).
const maxPathLen = 4096

// maxErrno is the largest errno a raw return value can encode.
const maxErrno = 4095

// call is one completed system call being formatted.
type call struct {
	nr   uintptr
	args [6]uintptr
	ret  uintptr
	mem  Memory
}

// errno returns the error a failed call returned, if any.
func (c *call) errno() (unix.Errno, bool) {
	if r := int64(c.ret); r < 0 && r >= -maxErrno {
		return unix.Errno(-r), true
	}
	return 0, false
}

// ok reports whether the call succeeded (did not return -errno).
func (c *call) ok() bool {
	_, failed := c.errno()
	return !failed
}

// retInt returns the return value as a signed integer.
func (c *call) retInt() int64 { return int64(c.ret) }

// An argFn renders argument i of c. It returns "" when the argument should
// be left out altogether (e.g. open's mode without O_CREAT).
type argFn func(c *call, i int) string

// A retFn renders a successful return value.
type retFn func(c *call) string

// A customFn renders the whole argument list of a call whose layout does
// not fit a positional argument list (clone prints named, reordered
// arguments).
type customFn func(c *call) []string

// spec describes how to render one system call.
type spec struct {
	args     []argFn  // one per argument the call takes
	ret      retFn    // nil means signed decimal
	custom   customFn // if non-nil, replaces args
	noReturn bool     // the call does not return (exit): result is "?"
	// atEntry: the arguments must be read before the call runs (a
	// successful execve replaces the memory they point to).
	atEntry bool
}

// Format renders one completed system call: name(args) = result, as strace
// prints it. ret is the raw return value (rax) as the app sees it: negative
// values -4095..-1 are -errno.
func Format(nr uintptr, args [6]uintptr, ret uintptr, mem Memory) string {
	return FormatCall(nr, args, ret, mem) + FormatResult(nr, args, ret, mem)
}

// AtEntry reports whether the arguments of system call nr must be
// rendered (FormatCall) before the call runs: execve's point into memory
// that a successful call replaces.
func AtEntry(nr uintptr) bool {
	s := table[nr]
	return s != nil && s.atEntry
}

// FormatCall renders a system call's name and arguments: name(args). ret
// is its result, which says how much of a buffer it filled (read), or 0
// at entry.
func FormatCall(nr uintptr, args [6]uintptr, ret uintptr, mem Memory) string {
	c := &call{nr: nr, args: args, ret: ret, mem: mem}
	return linux.SyscallName(nr) + "(" + strings.Join(c.formatArgs(table[nr]), ", ") + ")"
}

// FormatResult renders a completed system call's result: " = result".
func FormatResult(nr uintptr, args [6]uintptr, ret uintptr, mem Memory) string {
	c := &call{nr: nr, args: args, ret: ret, mem: mem}
	return " = " + c.formatRet(table[nr])
}

// formatArgs renders the argument list of c according to s.
func (c *call) formatArgs(s *spec) []string {
	if s == nil {
		out := make([]string, len(c.args))
		for i, a := range c.args {
			out[i] = hex(uint64(a))
		}
		return out
	}
	if s.custom != nil {
		return s.custom(c)
	}
	out := make([]string, 0, len(s.args))
	for i, f := range s.args {
		if v := f(c, i); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// formatRet renders the result of c according to s.
func (c *call) formatRet(s *spec) string {
	if s != nil && s.noReturn {
		return "?"
	}
	if e, failed := c.errno(); failed {
		desc := " (" + linux.ErrnoDescription(e) + ")"
		if linux.IsRestartErrno(e) {
			return "? " + linux.ErrnoName(e) + desc
		}
		return "-1 " + linux.ErrnoName(e) + desc
	}
	if s != nil && s.ret != nil {
		return s.ret(c)
	}
	return strconv.FormatInt(c.retInt(), 10)
}
