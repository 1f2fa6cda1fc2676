package mm

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"moat/platform"
)

// hostAS is a fakeAS that maps host files (platform.HostMapper).
type hostAS struct {
	*fakeAS
	hostMaps []hostMapCall
	// refuse makes MapHost fail and MapsHost turn false, as a stub that
	// could not be given the file does.
	refuse, off bool
}

type hostMapCall struct {
	addr   uintptr
	key    any
	off    int64
	length uintptr
	at     platform.AccessType
}

func (a *hostAS) MapsHost() bool { return !a.off }

func (a *hostAS) MapHost(addr uintptr, f platform.HostFile, off int64, length uintptr, at platform.AccessType) error {
	if a.refuse {
		a.off = true
		return errors.New("no file for the stub")
	}
	if at.Write || addr%pg != 0 || length == 0 || length%pg != 0 || off%int64(pg) != 0 {
		a.t.Errorf("MapHost(%#x, %v, %#x, %#x, %v): writable, unaligned or empty", addr, f.Key, off, length, at)
	}
	a.hostMaps = append(a.hostMaps, hostMapCall{addr, f.Key, off, length, at})
	for o := uintptr(0); o < length; o += pg {
		a.pages[addr+o] = fakePage{off: off + int64(o), at: at, host: f.Key}
	}
	return nil
}

// hostFile is a cached fake file that is a real host file too.
type hostFile struct {
	*cachedFile
	fd int
}

func (f *hostFile) HostFD() (int, bool) { return f.fd, true }

func newHostFile(t *testing.T, n int, seed byte) *hostFile {
	ff := newFakeFile(n, seed)
	path := filepath.Join(t.TempDir(), "lib.so")
	if err := os.WriteFile(path, ff.data, 0o644); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return &hostFile{cachedFile: &cachedFile{fakeFile: ff, key: "lib.so v1"}, fd: fd}
}

// page returns what the app reads at page addr of s, faulting first if
// it is not mapped, and whether a host file is mapped there.
func (f *hostFile) page(t *testing.T, e *env, m *MemoryManager, as *fakeAS, addr uintptr) ([]byte, bool) {
	t.Helper()
	fp, ok := as.pages[addr]
	if !ok {
		if err := m.HandleFault(addr, platform.Read); err != nil {
			t.Fatalf("HandleFault(%#x, read): %v", addr, err)
		}
		fp = as.pages[addr]
	}
	if fp.host == nil {
		return append([]byte(nil), e.mf.Bytes(platform.FileRange{Offset: fp.off, Length: pg})...), false
	}
	b := make([]byte, pg)
	if _, err := unix.Pread(f.fd, b, fp.off); err != nil {
		t.Fatal(err)
	}
	return b, true
}

// TestHostMapped: private mappings of a host file, in an address space
// that maps host files, are mapped whole from the file when made, with
// nothing copied or read; the sentry reads them from the file; every
// write (the app's fault, the sentry's CopyOut, a small data segment's
// eager copy) gets a copy in the memory file first, and the file never
// changes; an address space that cannot map host files (a fork's child
// here, a refused MapHost) gets copies.
func TestHostMapped(t *testing.T) {
	e := newEnv(t)
	h := &hostAS{fakeAS: e.as}
	e.mm.as = h
	f := newHostFile(t, 600<<10, 5)
	file := append([]byte(nil), f.data...)
	const text, data, small, other = 0x30000000, 0x31000000, 0x32000000, 0x33000000

	e.mmap(MMapOpts{Addr: text, Length: 512 << 10, Fixed: true, Perms: rx, MaxPerms: rwx, Private: true, File: f, Offset: 64 << 10})
	if want := (hostMapCall{text, f.key, 64 << 10, 512 << 10, rx}); len(h.hostMaps) != 1 || h.hostMaps[0] != want {
		t.Fatalf("host maps %+v, want just %+v", h.hostMaps, want)
	}
	if got := e.mf.InUse() - e.base; got != 0 || f.reads != 0 {
		t.Fatalf("mapping text used %d bytes of the memory file and read the file %d times", got, f.reads)
	}
	e.expectBytes(text+300<<10+5, file[64<<10+300<<10+5:][:3000])
	if b, host := f.page(t, e, e.mm, e.as, text+4*pg); !host || !bytes.Equal(b, file[64<<10+4*pg:][:pg]) {
		t.Fatalf("text page 4: host %v, file's data %v", host, bytes.Equal(b, file[64<<10+4*pg:][:pg]))
	}

	// The sentry's write (a patched call site) copies the page it
	// writes; the app's next access there faults onto the copy.
	if err := e.mm.CopyOutForce(text+2*pg+10, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if b, host := f.page(t, e, e.mm, e.as, text+2*pg); host || !bytes.Equal(b[10:13], []byte{1, 2, 3}) {
		t.Fatalf("written text page: host %v, bytes %v", host, b[10:13])
	}
	if _, host := f.page(t, e, e.mm, e.as, text+3*pg); !host {
		t.Fatal("the page after the written one was copied too")
	}

	// A data segment too large to copy at once: mapped read-only from
	// the file; a write fault copies the piece around it.
	e.mmap(MMapOpts{Addr: data, Length: 256 << 10, Fixed: true, Perms: rw, MaxPerms: rwx, Private: true, File: f})
	if fp := e.as.pages[data+3*pg]; fp.host == nil || fp.at != ro {
		t.Fatalf("data page before a write: %+v, want the host file's, read-only", fp)
	}
	if err := e.mm.HandleFault(data+3*pg, platform.AccessType{Write: true}); err != nil {
		t.Fatal(err)
	}
	if fp := e.as.pages[data+3*pg]; fp.host != nil || fp.at != rw {
		t.Fatalf("data page after a write fault: %+v, want a copy, writable", fp)
	}
	if fp := e.as.pages[data+128<<10]; fp.host == nil {
		t.Fatal("a write fault copied more than its piece")
	}
	e.write(data+3*pg, []byte("written"))
	e.expectBytes(data+3*pg, []byte("written"))
	e.expectBytes(data+3*pg+7, file[3*pg+7:][:100])

	// A small data segment is copied when mapped.
	e.mmap(MMapOpts{Addr: small, Length: 16 << 10, Fixed: true, Perms: rw, MaxPerms: rwx, Private: true, File: f, Offset: 128 << 10})
	if fp := e.as.pages[small]; fp.host != nil || fp.at != rw {
		t.Fatalf("small data page: %+v, want a copy, writable", fp)
	}
	e.expectBytes(small, file[128<<10:][:16<<10])

	// Made writable, text stays mapped read-only until written.
	if err := e.mm.MProtect(text, 64<<10, unix.PROT_READ|unix.PROT_WRITE); err != nil {
		t.Fatal(err)
	}
	if fp := e.as.pages[text+5*pg]; fp.host == nil || fp.at.Write {
		t.Fatalf("text page after mprotect: %+v, want the host file's, not writable", fp)
	}
	e.check()

	// A fork's child whose address space maps no host files gets copies.
	child, cas := e.forkChild(0)
	for _, addr := range []uintptr{text + 5*pg, data + 200<<10} {
		b, host := f.page(t, e, child, cas, addr)
		var want []byte
		if addr >= data {
			want = file[addr-data:][:pg]
		} else {
			want = file[64<<10+addr-text:][:pg]
		}
		if host || !bytes.Equal(b, want) {
			t.Fatalf("child's page %#x: host %v, file's data %v", addr, host, bytes.Equal(b, want))
		}
	}
	child.Release()

	// A refused MapHost: the address space stops mapping host files,
	// and the mapping is copied instead.
	h.refuse = true
	e.mmap(MMapOpts{Addr: other, Length: 64 << 10, Fixed: true, Perms: rx, MaxPerms: rwx, Private: true, File: f})
	if b, host := f.page(t, e, e.mm, e.as, other+pg); host || !bytes.Equal(b, file[pg:][:pg]) {
		t.Fatalf("after a refusal: host %v, file's data %v", host, bytes.Equal(b, file[pg:][:pg]))
	}
	e.check()

	got := make([]byte, len(file))
	if _, err := unix.Pread(f.fd, got, 0); err != nil || !bytes.Equal(got, file) {
		t.Fatalf("the host file changed (%v)", err)
	}
	for _, a := range []uintptr{text, data, small, other} {
		if err := e.mm.MUnmap(a, 1<<20); err != nil {
			t.Fatal(err)
		}
	}
	DropFileCache(e.mf)
	if got := e.mf.InUse(); got != e.base {
		t.Fatalf("%d bytes in use after everything was unmapped, want %d", got, e.base)
	}
}
