// Package vfstest holds what the tests of vfs and of the filesystems
// share: a caller and assertions on the errors of filesystem operations.
// Only tests import it.
package vfstest

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"
)

// Caller is a vfs.Context with fixed credentials.
type Caller struct{ Uid, Gid uint32 }

// UID implements vfs.Context.
func (c Caller) UID() uint32 { return c.Uid }

// GID implements vfs.Context.
func (c Caller) GID() uint32 { return c.Gid }

// Root is the superuser caller.
var Root = Caller{}

// Must fails the test at once if err is not nil.
func Must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// WantErr fails the test at once unless err is (or wraps) want.
func WantErr(t testing.TB, err error, want unix.Errno) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("got error %v, want %v", err, want)
	}
}
