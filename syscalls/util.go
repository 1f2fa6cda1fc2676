// Package syscalls implements the Linux x86-64 system calls on top of the
// kernel, grouped by area (files, memory, processes, time, signals), and
// registers them in one table with their support level.
//
// Every argument is hostile: pointers go through the task's memory
// manager (EFAULT), lengths are bounded before anything is allocated, and
// flags are checked against what Linux accepts.
package syscalls

import (
	"encoding/binary"
	"sync"

	"golang.org/x/sys/unix"

	"moat/arch"
	"moat/kernel"
)

// taskSize is the end of the user address range: pointers and lengths
// reaching past it fail access_ok with EFAULT, as on Linux.
const taskSize = arch.TaskSize

// maxRW is MAX_RW_COUNT: one read or write transfers at most this much.
const maxRW = 0x7ffff000

// ioChunk bounds the sentry buffer used per step of a large read or write.
const ioChunk = 1 << 20

// readBuffers hold readv's chunk buffers, by size (up to smallRead, up to
// ioChunk). Made for each call, a buffer the size of the app's was
// allocated and zeroed every time, and the garbage kept the collector
// busy: 100000 preads of 4 KiB 392 -> 193 ms, a pipe ping-pong with 64 KiB
// reads 415 -> 268 ms for 3000 round trips, gcc -c 116 -> 110 ms (10-12
// interleaved runs each, medians of whole runs). A read leaves stale
// bytes beyond what it returns; only what it returns is copied out.
// (writev still allocates: a FileImpl's Write could keep the slice.)
var readBuffers = [2]sync.Pool{
	{New: func() any { b := make([]byte, smallRead); return &b }},
	{New: func() any { b := make([]byte, ioChunk); return &b }},
}

const smallRead = 64 << 10

// readBuffer returns a buffer of n bytes (at most ioChunk) from
// readBuffers, and what to give back to putReadBuffer.
func readBuffer(n uintptr) ([]byte, *[]byte) {
	pool := &readBuffers[0]
	if n > smallRead {
		pool = &readBuffers[1]
	}
	bp := pool.Get().(*[]byte)
	return (*bp)[:n], bp
}

// putReadBuffer gives back a buffer readBuffer returned.
func putReadBuffer(bp *[]byte) {
	if len(*bp) > smallRead {
		readBuffers[1].Put(bp)
		return
	}
	readBuffers[0].Put(bp)
}

var le = binary.LittleEndian

// accessOK is Linux's access_ok: the range must lie in the user range.
func accessOK(addr, n uintptr) bool {
	return addr+n >= addr && addr+n <= taskSize
}

// copyOut copies b to addr, mapping any failure to EFAULT.
func copyOut(t *kernel.Task, addr uintptr, b []byte) error {
	if _, err := t.CopyOut(addr, b); err != nil {
		return unix.EFAULT
	}
	return nil
}

// copyIn fills b from addr, mapping any failure to EFAULT.
func copyIn(t *kernel.Task, addr uintptr, b []byte) error {
	if _, err := t.CopyIn(addr, b); err != nil {
		return unix.EFAULT
	}
	return nil
}

func putU64(t *kernel.Task, addr uintptr, v uint64) error {
	var b [8]byte
	le.PutUint64(b[:], v)
	return copyOut(t, addr, b[:])
}

func putU32(t *kernel.Task, addr uintptr, v uint32) error {
	var b [4]byte
	le.PutUint32(b[:], v)
	return copyOut(t, addr, b[:])
}

func getU64(t *kernel.Task, addr uintptr) (uint64, error) {
	var b [8]byte
	if err := copyIn(t, addr, b[:]); err != nil {
		return 0, err
	}
	return le.Uint64(b[:]), nil
}

// copyInPath reads a path argument: EFAULT for a bad pointer, ENAMETOOLONG
// for one of PATH_MAX bytes or more.
func copyInPath(t *kernel.Task, addr uintptr) (string, error) {
	s, err := t.CopyInString(addr, unix.PathMax-1)
	if err == unix.ENAMETOOLONG {
		return "", err
	}
	if err != nil {
		return "", unix.EFAULT
	}
	return s, nil
}
