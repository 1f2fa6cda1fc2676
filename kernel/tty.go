package kernel

import (
	"golang.org/x/sys/unix"
)

// Controlling terminals. Each process has at most one controlling
// terminal (the leader's ctty, guarded by Kernel.mu), inherited by fork
// and dropped by setsid, as Linux keeps it in signal_struct. The terminal
// itself (fs/tty) keeps its session and foreground process group; the
// kernel only records which processes have it, and tells it when the
// session leader goes away.
//
// Terminal code calls these methods without holding its own locks, except
// SetControllingTerminal, which calls back into the terminal (claim) with
// Kernel.mu held: terminal locks come after Kernel.mu.

// Terminal is a controlling terminal as the kernel sees it. It is an
// alias of an unnamed interface so that terminal packages, which cannot
// import the kernel, can name the same type in the interfaces they
// expect tasks to implement.
type Terminal = interface {
	// SessionEnded is called, without kernel locks, when the leader of
	// session sid, whose controlling terminal this is, exits (hangup:
	// Linux's disassociate_ctty) or gives the terminal up with
	// TIOCNOTTY (hangup is false); every process of the session has
	// already lost it. The terminal signals its foreground group and
	// forgets the session.
	SessionEnded(sid int32, hangup bool)
}

// ControllingTerminal returns t's process's controlling terminal, or nil.
func (t *Task) ControllingTerminal() any {
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	if t.leader.ctty == nil {
		return nil
	}
	return t.leader.ctty
}

// JobIDs returns the process id, process group and session of t's
// process, and whether it leads its session.
func (t *Task) JobIDs() (pid, pgid, sid int32, leader bool) {
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	l := t.leader
	return l.tid, l.pgid, l.sid, l.sid == l.tid
}

// SetControllingTerminal makes term the controlling terminal of t's
// process, which must be a session leader without one (EPERM otherwise;
// nil if term already is its session's). claim is called with Kernel.mu
// held and the caller's session and group; it makes the terminal the
// session's or fails, and returns the session that had the terminal
// before (0: none), whose processes lose it (TIOCSCTTY with steal).
func (t *Task) SetControllingTerminal(term Terminal, claim func(sid, pgid int32) (int32, error)) error {
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	l := t.leader
	if l.sid != l.tid || l.ctty != nil {
		if l.sid == l.tid && l.ctty == term {
			return nil
		}
		return unix.EPERM
	}
	old, err := claim(l.sid, l.pgid)
	if err != nil {
		return err
	}
	if old != 0 {
		k.clearSessionTerminalLocked(old, term)
	}
	l.ctty = term
	return nil
}

// clearSessionTerminalLocked drops term as the controlling terminal of
// the processes of session sid.
//
// Preconditions: Kernel.mu is held.
func (k *Kernel) clearSessionTerminalLocked(sid int32, term Terminal) {
	for _, o := range k.tasks {
		if o.leader == o && o.sid == sid && o.ctty == term {
			o.ctty = nil
		}
	}
}

// DetachTerminal drops term (a Terminal) as the controlling terminal of
// every process that has it (a hangup), and returns the leaders of the
// sessions that had it, which the caller signals. Linux signals only the
// leader (tty_signal_session_leader).
func (k *Kernel) DetachTerminal(term any) []int32 {
	k.mu.Lock()
	defer k.mu.Unlock()
	var leaders []int32
	for _, o := range k.tasks {
		if o.leader == o && o.ctty != nil && o.ctty == term {
			o.ctty = nil
			if o.sid == o.tid && !o.zombie {
				leaders = append(leaders, o.tid)
			}
		}
	}
	return leaders
}

// GiveUpTerminal implements TIOCNOTTY for t's process on term: ENOTTY if
// term is not its controlling terminal. A session leader takes the
// terminal away from its whole session and the terminal hears of it
// (SessionEnded, without hangup); another process only loses it itself.
func (t *Task) GiveUpTerminal(term Terminal) error {
	k := t.k
	k.mu.Lock()
	l := t.leader
	if l.ctty != term || term == nil {
		k.mu.Unlock()
		return unix.ENOTTY
	}
	if l.sid != l.tid {
		l.ctty = nil
		k.mu.Unlock()
		return nil
	}
	sid := l.sid
	k.clearSessionTerminalLocked(sid, term)
	k.mu.Unlock()
	term.SessionEnded(sid, false)
	return nil
}

// sessionLeaderExit gives up the controlling terminal of the exiting
// session leader l's session (Linux's disassociate_ctty(1)).
func (l *Task) sessionLeaderExit() {
	k := l.k
	k.mu.Lock()
	term := l.ctty
	if term == nil || l.sid != l.tid {
		k.mu.Unlock()
		return
	}
	k.clearSessionTerminalLocked(l.sid, term)
	sid := l.sid
	k.mu.Unlock()
	term.SessionEnded(sid, true)
}

// SessionOfGroup returns the session of process group pgid, as Linux's
// session_of_pgrp finds it: a process in the group, or else the process
// with that pid; ESRCH if neither exists.
func (k *Kernel) SessionOfGroup(pgid int32) (int32, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if pgid <= 0 {
		return 0, unix.ESRCH
	}
	for _, o := range k.tasks {
		if o.leader == o && o.pgid == pgid {
			return o.sid, nil
		}
	}
	if o := k.tasks[pgid]; o != nil {
		return o.leader.sid, nil
	}
	return 0, unix.ESRCH
}

// SignalGroupFromTerminal sends sig, generated by a terminal (a typed
// ^C, ^Z, ^\, a hangup, a window-size change), to every process of group
// pgid. The sandbox's init gets only signals it handles or blocks, as a
// PID namespace's init does.
func (k *Kernel) SignalGroupFromTerminal(pgid int32, sig unix.Signal) {
	if pgid <= 0 {
		return
	}
	k.mu.Lock()
	targets := k.processesLocked(func(o *Task) bool { return o.pgid == pgid })
	k.mu.Unlock()
	for _, o := range targets {
		k.signalFromTerminal(o, sig)
	}
}

// SignalProcessFromTerminal is SignalGroupFromTerminal for the one
// process pid (a session leader told of a hangup).
func (k *Kernel) SignalProcessFromTerminal(pid int32, sig unix.Signal) {
	k.mu.Lock()
	o := k.tasks[pid]
	if o != nil && (o.leader != o || o.zombie) {
		o = nil
	}
	k.mu.Unlock()
	if o != nil {
		k.signalFromTerminal(o, sig)
	}
}

func (k *Kernel) signalFromTerminal(o *Task, sig unix.Signal) {
	if o.dropsForInit(sig) {
		return
	}
	o.queueGroupSignal(SigInfo{Signo: int32(sig), Code: SIKernel})
}

// SignalIgnoredOrBlocked reports whether t ignores or blocks sig (for a
// terminal's job-control checks).
func (t *Task) SignalIgnoredOrBlocked(sig unix.Signal) bool {
	if t.SigMask()&SigBit(int(sig)) != 0 {
		return true
	}
	act, _ := t.SigAction(int(sig), nil)
	return act.Handler == SigIgn
}

// GroupOrphaned reports whether t's process group is orphaned.
func (t *Task) GroupOrphaned() bool {
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.pgrpOrphanedLocked(t.leader.pgid, t.leader.sid)
}

// SignalOwnGroup sends sig from the kernel to t's process group (a
// background read or write of a terminal: SIGTTIN, SIGTTOU).
func (t *Task) SignalOwnGroup(sig unix.Signal) {
	k := t.k
	k.mu.Lock()
	pgid := t.leader.pgid
	targets := k.processesLocked(func(o *Task) bool { return o.pgid == pgid })
	k.mu.Unlock()
	for _, o := range targets {
		o.queueGroupSignal(SigInfo{Signo: int32(sig), Code: SIKernel})
	}
}
