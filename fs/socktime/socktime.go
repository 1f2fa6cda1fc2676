// Package socktime holds what every kind of socket shares about waiting:
// the SO_RCVTIMEO and SO_SNDTIMEO timeouts (Linux's struct timeval, with
// its checks) and an interruptible wait with a deadline.
//
// The package has no locks: a Timeout is a value its socket guards.
package socktime

import (
	"encoding/binary"
	"time"

	"golang.org/x/sys/unix"

	"moat/vfs"
)

// errRestartSys is Linux's ERESTARTSYS, which a task's wait returns when a
// signal interrupts it (see kernel.ErrRestartSys).
const errRestartSys = unix.Errno(512)

// Timeout is SO_RCVTIMEO or SO_SNDTIMEO: none (block forever), or a
// duration, where Set with D == 0 means "do not block at all" (what a
// negative timeval gives on Linux).
type Timeout struct {
	Set bool
	D   time.Duration
}

// Parse reads a struct timeval as setsockopt(2) gives it, with Linux's
// checks: EINVAL when short, EDOM for microseconds out of range.
func Parse(v []byte) (Timeout, error) {
	if len(v) < 16 {
		return Timeout{}, unix.EINVAL
	}
	sec, usec := int64(binary.LittleEndian.Uint64(v)), int64(binary.LittleEndian.Uint64(v[8:]))
	if usec < 0 || usec >= 1e6 {
		return Timeout{}, unix.EDOM
	}
	switch {
	case sec < 0:
		return Timeout{Set: true}, nil // Linux: a negative time means no wait
	case sec == 0 && usec == 0:
		return Timeout{}, nil
	}
	return Timeout{Set: true, D: time.Duration(min(sec, 1<<31))*time.Second + time.Duration(usec)*time.Microsecond}, nil
}

// Bytes returns the timeout as the struct timeval getsockopt(2) gives.
func (t Timeout) Bytes() []byte {
	v := binary.LittleEndian.AppendUint64(nil, uint64(t.D/time.Second))
	return binary.LittleEndian.AppendUint64(v, uint64(t.D%time.Second/time.Microsecond))
}

// Deadline returns when a wait that starts now ends (zero: never), and
// whether it may wait at all.
func (t Timeout) Deadline() (deadline time.Time, mayWait bool) {
	if !t.Set {
		return time.Time{}, true
	}
	if t.D == 0 {
		return time.Time{}, false
	}
	return time.Now().Add(t.D), true
}

// timedBlocker is a task's interruptible wait with a deadline.
type timedBlocker interface {
	BlockTimeout(ready <-chan struct{}, deadline time.Time) error
}

// Wait blocks until ready is closed, interruptibly as ctx allows, or
// until deadline (zero: none) passes, which is EAGAIN, as a socket
// timeout is. A signal during a wait with a deadline is EINTR: Linux
// restarts only untimed socket waits.
func Wait(ctx vfs.Context, ready <-chan struct{}, deadline time.Time) error {
	if deadline.IsZero() {
		return vfs.Wait(ctx, ready)
	}
	var err error
	if tb, ok := ctx.(timedBlocker); ok {
		err = tb.BlockTimeout(ready, deadline)
		if err == errRestartSys {
			err = unix.EINTR
		}
	} else {
		tm := time.NewTimer(time.Until(deadline))
		select {
		case <-ready:
		case <-tm.C:
			err = unix.ETIMEDOUT
		}
		tm.Stop()
	}
	if err == unix.ETIMEDOUT {
		return unix.EAGAIN
	}
	return err
}
