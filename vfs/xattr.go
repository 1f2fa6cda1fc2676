package vfs

import (
	"strings"

	"golang.org/x/sys/unix"
)

// Extended attributes. Inodes that keep them implement Xattrer; for the
// others every call fails with EOPNOTSUPP, as on a filesystem without
// xattr support.

// Xattr limits (linux/limits.h).
const (
	XattrNameMax = 255
	XattrSizeMax = 65536
	XattrListMax = 65536
)

// setxattr flags.
const (
	XattrCreate  = 1
	XattrReplace = 2
)

// Xattrer is implemented by inodes with extended attributes.
type Xattrer interface {
	// GetXattr returns the value of name (ENODATA if absent).
	GetXattr(ctx Context, name string) ([]byte, error)
	// SetXattr sets name to value (flags: XattrCreate, XattrReplace).
	SetXattr(ctx Context, name string, value []byte, flags int) error
	// ListXattr lists the names.
	ListXattr(ctx Context) ([]string, error)
	// RemoveXattr removes name (ENODATA if absent).
	RemoveXattr(ctx Context, name string) error
}

// CheckXattrName checks a name as Linux does before any filesystem sees
// it: ERANGE for an empty or too long name, EINVAL for a bare namespace
// prefix, EOPNOTSUPP for a namespace the sandbox's filesystems do not keep
// (only user., trusted. and security. are).
func CheckXattrName(name string) error {
	if name == "" || len(name) > XattrNameMax {
		return unix.ERANGE
	}
	for _, ns := range []string{"user.", "trusted.", "security."} {
		if name == ns {
			return unix.EINVAL // a namespace with no name in it
		}
		if strings.HasPrefix(name, ns) {
			return nil
		}
	}
	return unix.EOPNOTSUPP
}
