// Package vdso provides moat's vDSO: a small shared object (vdso.S, linked
// by gen.sh) that the loader maps into every new program, as Linux maps
// its own, and names at AT_SYSINFO_EHDR. C libraries and Go's runtime call
// its clock_gettime, clock_getres, gettimeofday and time instead of making
// the system call. For the host's clocks (all but the CPU-time ones) they
// go to the platform's time entry when it has one (seccomp: a gate that
// makes those host calls only), which costs a host system call instead of
// a round trip through the sentry; moat answers them from the host's
// clocks anyway, so the values are the same.
package vdso

import "encoding/binary"

// Image returns a copy of the vDSO whose time calls go to timeEntry
// (platform.TimeEntry), an address in the app's address space that makes
// the system call in eax and returns (0: none, every call is a system
// call).
func Image(timeEntry uintptr) []byte {
	b := append([]byte(nil), image...)
	binary.LittleEndian.PutUint64(b[offTimeEntry:], uint64(timeEntry))
	return b
}
