package unixsock

// The garbage collector of sockets in flight.
//
// A socket's description can travel in a message (SCM_RIGHTS) to another
// socket's receive queue, or to its own. When every reference to a socket
// is such an in-flight one, it can still be received, unless every queue
// that holds it belongs to a socket in the same position: then nothing can
// ever read those queues, and the sockets (with all their queues hold:
// pipes, files, other sockets) would never be released. The collector
// finds them: among the sockets all of whose references are in flight
// (the candidates), those that a reference from elsewhere keeps alive,
// directly or through the queues of live candidates, stay; the queues of
// the others are emptied, which releases them.
//
// Accounting keeps it exact enough to be safe: a reference is counted in
// flight (Socket.inflight) from before it is queued until after it is
// taken off a queue, so a reference between the two is counted but found
// in no queue, which keeps its socket alive; and both changes wait for a
// collection in progress, so a candidate (which nobody holds) cannot be
// received, or its queue read, while one runs.
//
// It runs when a reference to a socket in flight is dropped (close, exit)
// or sent, leaving only in-flight ones: a walk over the sockets in flight
// and the messages in their queues, under gc.mu. It runs only while the
// sockets in flight may hold each other in a cycle, since garbage needs
// one (each of its sockets is held by another one's queue, and there are
// finitely many). A cycle can only be closed by a send to a socket that is
// itself in flight, so only such a send marks the graph as maybe cyclic
// (as Linux 6.10's collector does); a collection that finds no cycle
// clears the mark. Without it, every close in a chain of sockets each
// queued in the next one walked the whole chain: quadratic time.

import (
	"sync"
	"sync/atomic"

	"moat/vfs"
)

var gc = struct {
	mu      sync.Mutex
	running bool // a collection is running (gc.mu is dropped while it releases)
	again   bool // run once more: something changed while it ran
	sockets map[*Socket]struct{}
	// sendsToInFlight counts the sends that may have closed a cycle;
	// acyclicAt is its value when a collection last found no cycle (the
	// graph may be cyclic while the two differ).
	sendsToInFlight atomic.Uint64
	acyclicAt       uint64 // guarded by mu
	walks           int    // collections that walked the sockets (tests); guarded by mu
}{sockets: map[*Socket]struct{}{}}

// sentTo records that descriptors were queued for the reader of q: if
// that socket is in flight (or cannot be told, as for a connection not yet
// accepted, which its listener's holders can read), the send may have
// closed a cycle. Call it after the descriptors are queued: a cycle's
// last send then sees the in-flight count of the send before it.
func sentTo(reader *Socket) {
	if reader == nil || reader.embryo.Load() || reader.inflightN.Load() > 0 {
		gc.sendsToInFlight.Add(1)
	}
}

// account counts the sockets among fds as in flight; call it before
// queueing them, with no lock held.
func account(fds []*vfs.FileDescription) {
	if !hasSocket(fds) {
		return
	}
	gc.mu.Lock()
	defer gc.mu.Unlock()
	for _, f := range fds {
		if s, ok := f.Impl().(*Socket); ok {
			s.file = f
			s.inflight++
			s.inflightN.Store(s.inflight)
			gc.sockets[s] = struct{}{}
		}
	}
}

// unaccount undoes account; call it after taking fds off a queue, before
// handing them on, with no lock held.
func unaccount(fds []*vfs.FileDescription) {
	if !hasSocket(fds) {
		return
	}
	gc.mu.Lock()
	defer gc.mu.Unlock()
	unaccountLocked(fds)
}

// Preconditions: gc.mu is held.
func unaccountLocked(fds []*vfs.FileDescription) {
	for _, f := range fds {
		if s, ok := f.Impl().(*Socket); ok {
			s.inflight--
			s.inflightN.Store(s.inflight)
			if s.inflight == 0 {
				delete(gc.sockets, s)
				s.file = nil
			}
		}
	}
}

func hasSocket(fds []*vfs.FileDescription) bool {
	for _, f := range fds {
		if _, ok := f.Impl().(*Socket); ok {
			return true
		}
	}
	return false
}

// onlyInFlight reports whether every reference to s's description f is
// in flight (racy; the collector decides under its lock).
func onlyInFlight(s *Socket, f *vfs.FileDescription, refs int64) bool {
	n := s.inflightN.Load()
	return n > 0 && refs > 0 && refs <= n
}

// RefDropped implements vfs.RefWatcher: a socket left with only in-flight
// references may be garbage.
func (s *Socket) RefDropped(f *vfs.FileDescription, refs int64) {
	if onlyInFlight(s, f, refs) {
		collect()
	}
}

// maybeCollect runs the collector if one of the sockets just sent has
// only in-flight references left. Call it with no lock held.
func maybeCollect(fds []*vfs.FileDescription) {
	for _, f := range fds {
		if s, ok := f.Impl().(*Socket); ok && onlyInFlight(s, f, f.Refs()) {
			collect()
			return
		}
	}
}

// collect finds the sockets that only unreachable in-flight messages
// hold and empties their queues. Call it with no lock held.
func collect() {
	gc.mu.Lock()
	if gc.running {
		gc.again = true
		gc.mu.Unlock()
		return
	}
	if gc.sendsToInFlight.Load() == gc.acyclicAt {
		gc.mu.Unlock()
		return
	}
	gc.running = true
	for {
		gc.again = false
		fds := collectLocked()
		gc.mu.Unlock()
		Release(fds) // may drop more references, and ask again
		gc.mu.Lock()
		if !gc.again {
			break
		}
	}
	gc.running = false
	gc.mu.Unlock()
}

// collectLocked empties the queues of the sockets that are garbage and
// returns what they held, unaccounted, for the caller to release.
//
// Preconditions: gc.mu is held.
func collectLocked() []*vfs.FileDescription {
	gc.walks++
	if seen := gc.sendsToInFlight.Load(); !cyclicLocked() {
		gc.acyclicAt = seen
		return nil
	}
	// Candidates: sockets whose references are all in flight, with the
	// count of those not (yet) found in a candidate's queue.
	outside := map[*Socket]int64{}
	for s := range gc.sockets {
		if s.file != nil && s.file.Refs() == s.inflight {
			outside[s] = s.inflight
		}
	}
	if len(outside) == 0 {
		return nil
	}
	for s := range outside {
		s.eachInFlight(func(c *Socket) {
			if _, ok := outside[c]; ok {
				outside[c]--
			}
		})
	}
	// A candidate referenced from outside the candidates' queues is
	// alive, and so is everything its queues hold.
	var live []*Socket
	for s, n := range outside {
		if n > 0 {
			live = append(live, s)
		}
	}
	for len(live) > 0 {
		s := live[len(live)-1]
		live = live[:len(live)-1]
		if _, ok := outside[s]; !ok {
			continue
		}
		delete(outside, s)
		s.eachInFlight(func(c *Socket) {
			if _, ok := outside[c]; ok {
				live = append(live, c)
			}
		})
	}
	// What is left only holds, and is only held by, itself.
	var fds []*vfs.FileDescription
	for s := range outside {
		for _, q := range s.queues() {
			q.mu.Lock()
			fds = append(fds, q.drainLocked()...)
			q.mu.Unlock()
		}
	}
	unaccountLocked(fds)
	return fds
}

// cyclicLocked reports whether the sockets in flight hold each other in a
// cycle (one whose queue holds a second, whose queue holds ..., the
// first): a depth-first walk over them, iterative, since a chain of
// sockets can be as deep as the in-flight bound.
//
// Preconditions: gc.mu is held.
func cyclicLocked() bool {
	const (
		unseen = iota
		onPath
		done
	)
	color := make(map[*Socket]int, len(gc.sockets))
	type frame struct {
		s    *Socket
		next []*Socket // what s's queues hold, still to visit
	}
	held := func(s *Socket) []*Socket {
		var cs []*Socket
		s.eachInFlight(func(c *Socket) { cs = append(cs, c) })
		return cs
	}
	for root := range gc.sockets {
		if color[root] != unseen {
			continue
		}
		color[root] = onPath
		stack := []frame{{root, held(root)}}
		for len(stack) > 0 {
			top := &stack[len(stack)-1]
			if len(top.next) == 0 {
				color[top.s] = done
				stack = stack[:len(stack)-1]
				continue
			}
			c := top.next[0]
			top.next = top.next[1:]
			switch color[c] {
			case onPath:
				return true
			case unseen:
				color[c] = onPath
				stack = append(stack, frame{c, held(c)})
			}
		}
	}
	return false
}

// queues returns the receive queues whose messages s's holders can read:
// its own, and a listener's connections not yet accepted.
func (s *Socket) queues() []*queue {
	s.mu.Lock()
	qs := []*queue{}
	if s.in != nil {
		qs = append(qs, s.in)
	}
	pending := append([]*Socket(nil), s.pending...)
	s.mu.Unlock()
	for _, p := range pending {
		p.mu.Lock()
		if p.in != nil {
			qs = append(qs, p.in)
		}
		p.mu.Unlock()
	}
	return qs
}

// eachInFlight calls fn for each socket that a message in s's queues
// holds, once per reference.
//
// Preconditions: gc.mu is held.
func (s *Socket) eachInFlight(fn func(*Socket)) {
	for _, q := range s.queues() {
		q.mu.Lock()
		visit := func(fds []*vfs.FileDescription) {
			for _, f := range fds {
				if c, ok := f.Impl().(*Socket); ok {
					fn(c)
				}
			}
		}
		for _, m := range q.msgs {
			visit(m.fds)
		}
		for _, r := range q.rights {
			visit(r.fds)
		}
		q.mu.Unlock()
	}
}
