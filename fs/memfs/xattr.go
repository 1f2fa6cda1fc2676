package memfs

import (
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"moat/abi/linux"
	"moat/vfs"
)

// Extended attributes: user., trusted. and security. names, charged to
// the filesystem's byte limit. trusted. ones are root's only (others see
// none and may set none). user. ones live on regular files and
// directories only.

var _ vfs.Xattrer = (*Inode)(nil)

// xattrAllowedLocked checks that ctx may see or change name on in.
//
// Preconditions: fs.mu is held.
func (in *Inode) xattrAllowedLocked(ctx vfs.Context, name string, set bool) error {
	switch {
	case strings.HasPrefix(name, "trusted."):
		if !vfs.Capable(ctx, linux.CAP_SYS_ADMIN) {
			if set {
				return unix.EPERM
			}
			return unix.ENODATA
		}
	case strings.HasPrefix(name, "user."):
		if t := in.typ(); t != unix.S_IFREG && t != unix.S_IFDIR {
			if set {
				return unix.EPERM
			}
			return unix.ENODATA
		}
	}
	return nil
}

// GetXattr implements vfs.Xattrer.
func (in *Inode) GetXattr(ctx vfs.Context, name string) ([]byte, error) {
	in.fs.mu.Lock()
	defer in.fs.mu.Unlock()
	if err := in.xattrAllowedLocked(ctx, name, false); err != nil {
		return nil, err
	}
	v, ok := in.xattrs[name]
	if !ok {
		return nil, unix.ENODATA
	}
	return append([]byte(nil), v...), nil
}

// SetXattr implements vfs.Xattrer.
func (in *Inode) SetXattr(ctx vfs.Context, name string, value []byte, flags int) error {
	in.fs.mu.Lock()
	defer in.fs.mu.Unlock()
	if err := in.xattrAllowedLocked(ctx, name, true); err != nil {
		return err
	}
	old, exists := in.xattrs[name]
	switch {
	case flags&vfs.XattrCreate != 0 && exists:
		return unix.EEXIST
	case flags&vfs.XattrReplace != 0 && !exists:
		return unix.ENODATA
	}
	grow := int64(len(value)) - int64(len(old))
	if !exists {
		grow += int64(len(name))
	}
	if in.fs.usedBytes+grow > in.fs.maxBytes {
		return unix.ENOSPC
	}
	if in.xattrs == nil {
		in.xattrs = make(map[string][]byte)
	}
	in.xattrs[name] = append([]byte(nil), value...)
	in.fs.usedBytes += grow
	in.ctime = in.fs.timeNow()
	return nil
}

// ListXattr implements vfs.Xattrer.
func (in *Inode) ListXattr(ctx vfs.Context) ([]string, error) {
	in.fs.mu.Lock()
	defer in.fs.mu.Unlock()
	var names []string
	for name := range in.xattrs {
		if in.xattrAllowedLocked(ctx, name, false) == nil {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names, nil
}

// RemoveXattr implements vfs.Xattrer.
func (in *Inode) RemoveXattr(ctx vfs.Context, name string) error {
	in.fs.mu.Lock()
	defer in.fs.mu.Unlock()
	if err := in.xattrAllowedLocked(ctx, name, true); err != nil {
		return err
	}
	v, ok := in.xattrs[name]
	if !ok {
		return unix.ENODATA
	}
	delete(in.xattrs, name)
	in.fs.usedBytes -= int64(len(name) + len(v))
	in.ctime = in.fs.timeNow()
	return nil
}

// xattrBytesLocked is what the inode's xattrs are charged.
//
// Preconditions: fs.mu is held.
func (in *Inode) xattrBytesLocked() int64 {
	var n int64
	for k, v := range in.xattrs {
		n += int64(len(k) + len(v))
	}
	return n
}
