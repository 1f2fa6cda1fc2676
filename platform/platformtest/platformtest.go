// Package platformtest holds what the tests of the platform
// implementations share: an address space over a fresh memory file, pages
// of machine code mapped into it, and checks every platform must pass.
// Only tests import it.
package platformtest

import (
	"encoding/binary"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"moat/memory"
	"moat/platform"
)

// Platform makes a memory file and a platform from it with newPlatform
// (given the file and a page for the stub's code), with no address space
// yet. The test goroutine stays locked to its OS thread until the test
// ends: it drives the stubs (on ptrace, it is their tracer).
func Platform[P platform.Platform](t *testing.T, newPlatform func(mf *memory.File, code platform.FileRange) (P, error)) (P, *memory.File) {
	t.Helper()
	runtime.LockOSThread()
	t.Cleanup(runtime.UnlockOSThread)
	mf, err := memory.New("test", 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	code, err := mf.Allocate(memory.PageSize)
	if err != nil {
		t.Fatal(err)
	}
	p, err := newPlatform(mf, code)
	if err != nil {
		t.Fatal(err)
	}
	return p, mf
}

// Space is Platform and an empty address space of it.
func Space[P platform.Platform](t *testing.T, newPlatform func(mf *memory.File, code platform.FileRange) (P, error)) (P, platform.AddressSpace, *memory.File) {
	t.Helper()
	p, mf := Platform(t, newPlatform)
	as, err := p.NewAddressSpace()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(as.Release)
	return p, as, mf
}

// MapPage maps a fresh page starting with b at addr with access at, and
// returns where it is in the memory file.
func MapPage(t *testing.T, mf *memory.File, as platform.AddressSpace, addr uintptr, b []byte, at platform.AccessType) platform.FileRange {
	t.Helper()
	fr, err := mf.Allocate(memory.PageSize)
	if err != nil {
		t.Fatal(err)
	}
	copy(mf.Bytes(fr), b)
	if err := as.MapFile(addr, fr, at); err != nil {
		t.Fatal(err)
	}
	return fr
}

// FPState checks that floating-point state set with SetFPState is what
// the app's next instruction sees: xmm0 is set through the xsave area,
// and the app moves it to rax and stores it to memory.
func FPState(t *testing.T, p platform.Platform, as platform.AddressSpace, mf *memory.File) {
	t.Helper()
	const base, data = 0x10000000, 0x20000000
	// movq rax, xmm0; mov [data], rax; syscall
	code := []byte{0x66, 0x48, 0x0f, 0x7e, 0xc0, 0x48, 0x89, 0x04, 0x25, 0x00, 0x00, 0x00, 0x20, 0x0f, 0x05}
	MapPage(t, mf, as, base, code, platform.AnyAccess)
	fr := MapPage(t, mf, as, data, nil, platform.ReadWrite)
	ctx := p.NewContext()
	defer ctx.Release()
	regs := p.InitialRegisters(base+13, 0) // first stop: at the syscall, before the movq has run
	if _, err := ctx.Switch(as, &regs); err != nil {
		t.Fatal(err)
	}
	fp, err := ctx.FPState(as)
	if err != nil {
		t.Fatal(err)
	}
	if len(fp) < 576 {
		t.Fatalf("xsave area is %d bytes, want >= 576", len(fp))
	}
	binary.LittleEndian.PutUint64(fp[160:], 0x1122334455667788) // xmm0 low
	fp[512] |= 2                                                // XSTATE_BV: SSE in use
	if err := ctx.SetFPState(as, fp); err != nil {
		t.Fatal(err)
	}
	regs.Rip = base // run the movq and the store, then stop at the syscall
	if _, err := ctx.Switch(as, &regs); err != nil {
		t.Fatal(err)
	}
	if got := binary.LittleEndian.Uint64(mf.Bytes(fr)); got != 0x1122334455667788 {
		t.Fatalf("app stored %#x from xmm0, want 0x1122334455667788", got)
	}
}

// ReleaseKillsStub checks that releasing as ends its stub process pid
// (and reaps it) within a second.
func ReleaseKillsStub(t *testing.T, as platform.AddressSpace, pid int) {
	t.Helper()
	as.Release()
	var err error
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if err = unix.Kill(pid, 0); err == unix.ESRCH {
			return
		}
	}
	t.Fatalf("stub %d still exists a second after Release (kill: %v)", pid, err)
}
