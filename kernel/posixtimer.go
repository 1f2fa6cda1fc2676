package kernel

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"moat/ktime"
)

// POSIX per-process timers (timer_create(2)). Each expiry sends the
// timer's signal (SIGEV_SIGNAL to the process, SIGEV_THREAD_ID to one of
// its threads) or nothing (SIGEV_NONE). As on Linux, a periodic timer runs
// again only when its signal is taken (dequeued or discarded); the
// expiries meanwhile are overruns, which the delivered siginfo and
// timer_getoverrun report. A timer whose signal is ignored is parked until
// the signal's action changes, then its signal is queued (as Linux 6.13
// does): however short its interval, a timer nobody takes costs nothing.
// Timers are not inherited by fork and are deleted by exec and exit.
//
// CPU-time clocks run on elapsed time: CPU accounting is not implemented.

// Sigevent notify kinds.
const (
	SigevSignal   = 0
	SigevNone     = 1
	SigevThread   = 2
	SigevThreadID = 4
)

// SITimer is the si_code of a timer's signal.
const SITimer = -2

// maxPosixTimers bounds a process's timers (each holds a host timer).
const maxPosixTimers = 1 << 12

// Sigevent is the part of struct sigevent the kernel uses.
type Sigevent struct {
	Value  uint64
	Signo  int32
	Notify int32
	TID    int32 // SIGEV_THREAD_ID's thread
}

// posixTimer is one timer. Its mutex guards the state of its signal; only
// the ktime timer's own lock nests inside it (taken re-arms under it).
type posixTimer struct {
	id     int32
	clock  int32
	ev     Sigevent
	target *Task // who gets the signal: the leader, or SIGEV_THREAD_ID's thread
	tm     *ktime.Timer
	pts    *posixTimers // its process's

	mu          sync.Mutex
	pending     bool  // its signal is queued and not yet taken
	parked      bool  // its signal was ignored; it waits for unparkTimers
	overrun     int32 // expiries of a re-set timer while an old signal was pending
	lastOverrun int32 // the overrun the last delivered signal reported
}

// posixTimers is a process's set of timers, on its leader.
type posixTimers struct {
	mu     sync.Mutex // a leaf lock, taken before posixTimer.mu
	next   int32
	timers map[int32]*posixTimer
	// unignored counts the signal actions that stopped ignoring, so a
	// timer that finds its signal ignored can tell whether it raced with
	// one (send).
	unignored atomic.Uint64
}

func (t *Task) posixTimers() *posixTimers {
	l := t.leader
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ptimers == nil {
		l.ptimers = &posixTimers{timers: make(map[int32]*posixTimer)}
	}
	return l.ptimers
}

// TimerCreate creates a timer on clock notifying as ev describes (nil:
// SIGALRM to the process with the timer id as value) and returns its id.
func (t *Task) TimerCreate(clock int32, ev *Sigevent) (int32, error) {
	pts := t.posixTimers()
	target := t.leader
	if ev != nil {
		switch ev.Notify {
		case SigevSignal, SigevNone, SigevThreadID:
		default:
			return 0, unix.EINVAL
		}
		if ev.Notify != SigevNone && (ev.Signo <= 0 || ev.Signo > NumSignals) {
			return 0, unix.EINVAL
		}
		if ev.Notify&SigevThreadID != 0 {
			o := t.k.Task(ev.TID)
			if o == nil || o.leader != t.leader {
				return 0, unix.EINVAL
			}
			target = o
		}
	}
	pts.mu.Lock()
	defer pts.mu.Unlock()
	if len(pts.timers) >= maxPosixTimers {
		return 0, unix.EAGAIN
	}
	id := pts.next
	for pts.timers[id] != nil {
		id = (id + 1) & 0x7fffffff
	}
	pts.next = (id + 1) & 0x7fffffff
	pt := &posixTimer{id: id, clock: clock, target: target, pts: pts}
	if ev != nil {
		pt.ev = *ev
	} else {
		pt.ev = Sigevent{Signo: int32(unix.SIGALRM), Notify: SigevSignal, Value: uint64(id)}
	}
	pt.tm = ktime.New(pt.expire)
	pts.timers[id] = pt
	return id, nil
}

// expire sends the timer's signal. A SIGEV_NONE timer sends nothing and
// waits (timer_gettime still counts on its grid).
func (pt *posixTimer) expire() {
	if pt.ev.Notify == SigevNone {
		return
	}
	pt.mu.Lock()
	if pt.pending {
		// Only a timer re-set since its last signal was queued fires
		// while that one is pending: an overrun of it. The timer waits
		// for it to be taken.
		pt.overrun = int32(min(int64(pt.overrun)+1, math.MaxInt32))
		pt.mu.Unlock()
		return
	}
	pt.pending = true
	pt.mu.Unlock()
	pt.send()
}

// send queues the timer's signal, which the caller has marked pending. If
// the signal is ignored, a periodic timer parks until the signal's action
// changes (unparkTimers); a one-shot timer's expiry is lost, as on Linux.
func (pt *posixTimer) send() {
	for {
		seen := pt.pts.unignored.Load()
		si := SigInfo{Signo: pt.ev.Signo, Code: SITimer, PID: pt.id, Value: pt.ev.Value, timer: pt}
		if pt.target.enqueue(si, pt.ev.Notify&SigevThreadID == 0) {
			return
		}
		_, interval := pt.tm.Get()
		pt.mu.Lock()
		pt.pending, pt.parked = false, interval > 0
		pt.mu.Unlock()
		// An action that stopped ignoring after the enqueue looked, and
		// before the timer was parked, did not see it parked: retry.
		if pt.pts.unignored.Load() == seen || !pt.unpark() {
			return
		}
	}
}

// unpark takes a parked timer out of its park and marks its signal
// pending, for the caller to send.
func (pt *posixTimer) unpark() bool {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	if !pt.parked {
		return false
	}
	pt.parked, pt.pending = false, true
	return true
}

// unparkTimers queues the signals of t's process's timers parked because
// sig was ignored (its action has just changed to one that is not).
func (t *Task) unparkTimers(sig int32) {
	l := t.leader
	l.mu.Lock()
	pts := l.ptimers
	l.mu.Unlock()
	if pts == nil {
		return
	}
	pts.unignored.Add(1)
	var parked []*posixTimer
	pts.mu.Lock()
	for _, pt := range pts.timers {
		if pt.ev.Signo == sig && pt.unpark() {
			parked = append(parked, pt)
		}
	}
	pts.mu.Unlock()
	for _, pt := range parked {
		pt.send()
	}
}

// taken fills in the overrun of a timer signal being dequeued or
// discarded, and runs the timer again: the expiries since the one that
// sent the signal are its overruns.
func (pt *posixTimer) taken(si *SigInfo) {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	// Under mu, so that the next expiry finds the signal no longer
	// pending.
	pt.pending = false
	si.Overrun = int32(min(int64(pt.overrun)+int64(min(pt.tm.Rearm(), math.MaxInt32)), math.MaxInt32))
	pt.lastOverrun = si.Overrun
	pt.overrun = 0
}

func (t *Task) lookupTimer(id int32) (*posixTimer, error) {
	pts := t.posixTimers()
	pts.mu.Lock()
	defer pts.mu.Unlock()
	pt := pts.timers[id]
	if pt == nil {
		return nil, unix.EINVAL
	}
	return pt, nil
}

// TimerSet arms the timer to expire after d (zero: disarm), or at once if
// expired (an absolute time in the past), then every interval, and returns
// the old setting.
func (t *Task) TimerSet(id int32, d, interval time.Duration, expired bool) (ITimerValue, error) {
	pt, err := t.lookupTimer(id)
	if err != nil {
		return ITimerValue{}, err
	}
	left, iv := pt.tm.SetAndClear(d, interval, expired, func() {
		pt.mu.Lock()
		pt.parked = false // the old setting's park
		pt.mu.Unlock()
	})
	return ITimerValue{Value: left, Interval: iv}, nil
}

// TimerClock returns the timer's clock (for TIMER_ABSTIME).
func (t *Task) TimerClock(id int32) (int32, error) {
	pt, err := t.lookupTimer(id)
	if err != nil {
		return 0, err
	}
	return pt.clock, nil
}

// TimerGet returns the timer's setting.
func (t *Task) TimerGet(id int32) (ITimerValue, error) {
	pt, err := t.lookupTimer(id)
	if err != nil {
		return ITimerValue{}, err
	}
	left, iv := pt.tm.Get()
	return ITimerValue{Value: left, Interval: iv}, nil
}

// TimerOverrun returns the overrun count of the timer's last delivered
// signal.
func (t *Task) TimerOverrun(id int32) (int32, error) {
	pt, err := t.lookupTimer(id)
	if err != nil {
		return 0, err
	}
	pt.mu.Lock()
	defer pt.mu.Unlock()
	return pt.lastOverrun, nil
}

// TimerDelete disarms and deletes the timer. A signal it has queued stays
// pending, as on Linux.
func (t *Task) TimerDelete(id int32) error {
	pts := t.posixTimers()
	pts.mu.Lock()
	pt := pts.timers[id]
	delete(pts.timers, id)
	pts.mu.Unlock()
	if pt == nil {
		return unix.EINVAL
	}
	pt.tm.Set(0, 0)
	return nil
}

// deleteTimers deletes all of the process's timers (exec, exit).
func (t *Task) deleteTimers() {
	l := t.leader
	l.mu.Lock()
	pts := l.ptimers
	l.ptimers = nil
	l.mu.Unlock()
	if pts == nil {
		return
	}
	pts.mu.Lock()
	defer pts.mu.Unlock()
	for _, pt := range pts.timers {
		pt.tm.Set(0, 0)
	}
}
