// Package platform defines how application code executes: an AddressSpace
// that the sentry maps memory-file ranges into, and a Context that runs a
// thread's registers in it until the next system call, fault or signal.
//
// Implementations (platform/ptrace, and later a faster one) must not leak
// host resources to the app: an address space contains nothing but what the
// sentry maps into it.
package platform

import (
	"fmt"
	"time"

	"moat/arch"
)

// AccessType is a set of memory access permissions.
type AccessType struct {
	Read, Write, Execute bool
}

// Common access types.
var (
	NoAccess  = AccessType{}
	Read      = AccessType{Read: true}
	ReadWrite = AccessType{Read: true, Write: true}
	AnyAccess = AccessType{Read: true, Write: true, Execute: true}
)

// Prot returns the mmap(2) PROT_* bits for the access type.
func (a AccessType) Prot() int {
	p := 0
	if a.Read {
		p |= 1
	}
	if a.Write {
		p |= 2
	}
	if a.Execute {
		p |= 4
	}
	return p
}

// Union returns the accesses allowed by either a or b.
func (a AccessType) Union(b AccessType) AccessType {
	return AccessType{a.Read || b.Read, a.Write || b.Write, a.Execute || b.Execute}
}

// SupersetOf reports whether a allows every access b does.
func (a AccessType) SupersetOf(b AccessType) bool {
	return (a.Read || !b.Read) && (a.Write || !b.Write) && (a.Execute || !b.Execute)
}

func (a AccessType) String() string {
	b := []byte("---")
	if a.Read {
		b[0] = 'r'
	}
	if a.Write {
		b[1] = 'w'
	}
	if a.Execute {
		b[2] = 'x'
	}
	return string(b)
}

// EventKind says why Switch returned.
type EventKind int

// Event kinds.
const (
	// EventSyscall: the thread executed a system call instruction; the
	// registers hold its number (orig_rax) and arguments, rip is after it.
	EventSyscall EventKind = iota
	// EventFault: a memory access at Addr of type Access faulted.
	EventFault
	// EventSignal: a synchronous signal other than a memory fault (SIGILL,
	// SIGFPE, SIGTRAP, SIGBUS ...), with Signal and Code from the siginfo.
	EventSignal
	// EventInterrupt: app code was stopped by Kick (or spuriously); the
	// registers are valid and the thread can resume.
	EventInterrupt
)

// Event is what stopped the thread.
type Event struct {
	Kind   EventKind
	Addr   uintptr    // fault or signal address (si_addr)
	Access AccessType // for EventFault
	Signal int        // host signal number for EventFault and EventSignal
	Code   int32      // si_code
	// SyscallInsn: an EventSyscall stopped at a `syscall` instruction
	// at Rip-2 (not entered from a patched site), so the site may be
	// worth patching (platform/syspatch).
	SyscallInsn bool
	// ABIKnown: the platform itself knows which entry an EventSyscall
	// came through, and Int80 says whether it was `int $0x80` (the 32-bit
	// ABI); otherwise the sentry reads the instruction before Rip to tell.
	ABIKnown, Int80 bool
}

func (e Event) String() string {
	switch e.Kind {
	case EventSyscall:
		return "syscall"
	case EventFault:
		return fmt.Sprintf("fault at %#x (%v)", e.Addr, e.Access)
	case EventInterrupt:
		return "interrupt"
	default:
		return fmt.Sprintf("signal %d code %d at %#x", e.Signal, e.Code, e.Addr)
	}
}

// FileRange is a range of the memory file.
type FileRange struct {
	Offset int64
	Length uintptr
}

// AddressSpace is an app address space. Its methods must be called from
// the goroutine that created it (ptrace requires one OS thread per tracee).
type AddressSpace interface {
	// MapFile maps the memory-file range at addr, shared, with the given
	// permissions, replacing any mapping there.
	MapFile(addr uintptr, fr FileRange, at AccessType) error
	// Unmap removes mappings in [addr, addr+length).
	Unmap(addr, length uintptr) error
	// Protect changes the permissions of mappings in [addr, addr+length).
	Protect(addr, length uintptr, at AccessType) error
	// Interrupt kills the address space's host process. Unlike the other
	// methods it may be called from any goroutine: a Switch in progress
	// then returns ErrAddressSpaceDead (a task killed by another).
	Interrupt()
	// Kick stops app code running in the address space, from any
	// goroutine, so that Switch returns EventInterrupt soon; the sentry
	// uses it to deliver a signal. A kick that finds no app code running
	// may produce a spurious EventInterrupt later.
	Kick()
	// Release destroys the address space.
	Release()
}

// Context runs one app thread.
type Context interface {
	// Switch runs the thread with regs in as until it stops, and updates
	// regs to the state at the stop.
	Switch(as AddressSpace, regs *arch.Registers) (Event, error)
	// FPState returns the thread's floating-point state; SetFPState
	// replaces it. Both need the thread stopped in as.
	FPState(as AddressSpace) (arch.FPState, error)
	SetFPState(as AddressSpace, fp arch.FPState) error
	// Release frees the context.
	Release()
}

// Platform creates address spaces and contexts.
type Platform interface {
	// Name identifies the platform ("ptrace").
	Name() string
	// NewAddressSpace creates an empty address space. The caller's
	// goroutine must stay locked to its OS thread while it uses it.
	NewAddressSpace() (AddressSpace, error)
	// NewContext creates a context for one thread.
	NewContext() Context
	// MaxUserAddress is the end of the range the app may use.
	MaxUserAddress() uintptr
	// InitialRegisters returns registers valid for a new thread with the
	// given entry point and stack pointer.
	InitialRegisters(entry, sp uintptr) arch.Registers
}

// ErrAddressSpaceDead is returned when the address space's host process
// died (killed from outside the sandbox).
var ErrAddressSpaceDead = fmt.Errorf("platform: address space died")

// Thread is a host thread of an address space, made by SpawnThread.
type Thread interface{}

// TimeEntry is implemented by platforms whose app address spaces have an
// entry for the host time calls of moat's vDSO (package vdso): an address
// to call with the system call in eax (clock_gettime or clock_getres of a
// host clock, gettimeofday, time), which it makes and returns.
type TimeEntry interface {
	TimeEntry() uintptr
}

// ThreadSpawner is implemented by address spaces that run several app
// threads, each on its own host thread driven by its own sentry thread.
type ThreadSpawner interface {
	// SpawnThread creates a new host thread, from the sentry thread of
	// the task that creates it (which is in a system call). tls is the
	// new thread's fs base if setTLS; otherwise it inherits the caller's.
	SpawnThread(tls uintptr, setTLS bool) (Thread, error)
	// AdoptThread binds a spawned thread to the calling sentry thread,
	// the new task's; Switch then runs it.
	AdoptThread(Thread) error
	// ExitThread ends the calling sentry thread's host thread.
	ExitThread()
}

// Prestarter is implemented by platforms whose first address space costs
// a start of their own (a process to exec and set up): Prestart begins
// it in the background, for a sandbox that is about to run a program.
type Prestarter interface {
	Prestart()
}

// Recycler is implemented by platforms that can empty an address space for
// a new program (execve) instead of replacing it with a new one: Recycle
// removes every app mapping, and the thread the calling sentry thread
// drives starts the next program with the initial FP state. The other
// threads of the address space have exited. On failure the caller
// releases it and makes a new one.
type Recycler interface {
	Recycle(AddressSpace) error
}

// ThreadReuser is implemented by platforms whose contexts leave nothing
// on the sentry thread that drove them (no ptrace attachment, no CPU
// binding): when a task ends, its thread may serve the next one instead
// of exiting with it.
type ThreadReuser interface {
	SentryThreadsReusable() bool
}

// Kicker is implemented by contexts that can stop their own thread's app
// code (AddressSpace.Kick stops the first thread only).
type Kicker interface {
	Kick()
}

// Blocker is implemented by contexts that want to know when their thread's
// current system call is about to block in the sentry (a futex wait, a
// read of an empty pipe): the seccomp stub then stops spinning for the
// reply and sleeps; and when the wait is over (Unblocked), so that the
// stub wakes while the sentry finishes the call rather than after. Called
// from the task's own sentry thread, only while the thread is stopped in
// a system call.
type Blocker interface {
	Blocking()
	Unblocked()
}

// CPUClock is implemented by address spaces that can tell the CPU time
// their host threads, live and exited, have used running the app.
type CPUClock interface {
	CPUTime() time.Duration
}

// ThreadCPUClock is implemented by contexts that can tell the CPU time
// their own host thread has used.
type ThreadCPUClock interface {
	ThreadCPUTime() time.Duration
}

// HostFile is a host file that an address space can map directly
// (HostMapper): a read-only descriptor of the sentry's, valid while the
// caller holds the file, and a comparable key that identifies the file's
// content, under which the address space keeps a descriptor of its own.
type HostFile struct {
	FD  int
	Key any
}

// HostMapper is implemented by address spaces that can map host files
// into the app directly: a program's text is then the host's page cache,
// shared with every other process of the host that maps it, instead of a
// copy in the memory file.
type HostMapper interface {
	// MapsHost reports whether MapHost works in this address space (the
	// host allows what it needs).
	MapsHost() bool
	// MapHost maps length bytes of f from offset off at addr, replacing
	// any mapping there, with at's permissions but never writable: the
	// sentry copies a page into the memory file before the app may
	// write it.
	MapHost(addr uintptr, f HostFile, off int64, length uintptr, at AccessType) error
}

// HostMapping is implemented by platforms whose address spaces may be
// HostMappers: MapsHostFiles reports whether they are expected to map
// host files directly, so that reading files ahead into the memory file
// for them (mm.Prefetch) would be wasted.
type HostMapping interface {
	MapsHostFiles() bool
}

// ThreadLender is implemented by address spaces that can lend the calling
// sentry thread's host thread to a CLONE_VFORK child, which runs on it
// (AdoptThread) while the caller waits, until it execs or exits: its
// ThreadSpawner.ExitThread gives the thread back as the caller left it
// (registers, FP state, signal mask). No host thread is made or ended.
type ThreadLender interface {
	LendThread() (Thread, error)
}
