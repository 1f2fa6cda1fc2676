package mm

import (
	"testing"
)

// mappedFile is a fakeFile with a reverse map.
type mappedFile struct {
	*fakeFile
	maps *Mappers
}

func (f *mappedFile) Mappers() *Mappers { return f.maps }

// TestTruncatedMappings: after the file shrinks, Truncated queues the cut,
// ApplyPending drops backing and mappings past the new end (private
// copies included), and accesses there fail (SIGBUS for faults); a forked
// copy made before applying does not inherit the pages.
func TestTruncatedMappings(t *testing.T) {
	e := newEnv(t)
	f := &mappedFile{newFakeFile(int(4*pg), 7), NewMappers(nil)}
	const x = 0x10000000
	e.mmap(MMapOpts{Addr: x, Length: 4 * pg, Fixed: true, Perms: rw, MaxPerms: rwx, Private: true, File: f})
	e.expectBytes(x, f.data)
	e.write(x+3*pg, []byte("copied on write"))
	if !f.maps.Mapped() {
		t.Fatal("the mapping is not in the reverse map")
	}
	f.data = f.data[:pg+100] // the file shrank
	f.maps.Truncated(int64(pg + 100))
	if !e.mm.hasPending.Load() {
		t.Fatal("nothing pending after Truncated")
	}
	e.mm.ApplyPending()
	if !e.as.unmapped(x+2*pg, 2*pg) {
		t.Fatal("pages past the new end still mapped")
	}
	e.check()
	if err := e.mm.HandleFault(x+3*pg, rw); err != ErrBus {
		t.Fatalf("fault past the end: %v, want ErrBus", err)
	}
	e.expectFault(x+2*pg, 1)
	e.expectBytes(x, f.data[:pg])

	// Queued before a fork: the child gets none of the cut pages.
	g := &mappedFile{newFakeFile(int(4*pg), 9), NewMappers(nil)}
	const y = 0x20000000
	e.mmap(MMapOpts{Addr: y, Length: 4 * pg, Perms: ro, MaxPerms: rwx, Fixed: true, Private: true, File: g})
	e.expectBytes(y, g.data)
	g.data = g.data[:pg]
	g.maps.Truncated(int64(pg))
	c, err := e.mm.Fork(0)
	if err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	for _, p := range c.pmas {
		if p.start < y+4*pg && p.end > y+pg {
			t.Errorf("child inherited pages past the end: %+v", p)
		}
	}
	c.mu.Unlock()
	c.Release()
	e.mm.Release()
	if f.maps.Mapped() || g.maps.Mapped() {
		t.Fatal("released address space still in a reverse map")
	}
}
