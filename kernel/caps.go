package kernel

import (
	"slices"

	"golang.org/x/sys/unix"

	"moat/abi/linux"
	"moat/vfs"
)

// Capabilities (man 7 capabilities): each task has inheritable,
// permitted, effective, bounding and ambient sets and securebits, kept in
// its Credentials and changed under Task.mu like its ids. Privilege checks
// ask for one capability in the effective set. There are no file
// capabilities (no security.capability on executables) and no set-user-ID
// executables, so execve applies only the rules for root and for the
// ambient set.

// Securebits (prctl PR_SET_SECUREBITS), as in <linux/securebits.h>.
const (
	SecbitNoroot                    = 1 << 0
	SecbitNorootLocked              = 1 << 1
	SecbitNoSetuidFixup             = 1 << 2
	SecbitNoSetuidFixupLocked       = 1 << 3
	SecbitKeepCaps                  = 1 << 4
	SecbitKeepCapsLocked            = 1 << 5
	SecbitNoCapAmbientRaise         = 1 << 6
	SecbitNoCapAmbientRaiseLocked   = 1 << 7
	SecbitExecRestrictFile          = 1 << 8
	SecbitExecRestrictFileLocked    = 1 << 9
	SecbitExecDenyInteractive       = 1 << 10
	SecbitExecDenyInteractiveLocked = 1 << 11

	// securebitsAll are the bits that may be set; each has its lock
	// bit just above it.
	securebitsAll = SecbitNoroot | SecbitNoSetuidFixup | SecbitKeepCaps |
		SecbitNoCapAmbientRaise | SecbitExecRestrictFile | SecbitExecDenyInteractive
	securebitsLocks = securebitsAll << 1
)

// capFSMask are the capabilities a change of the filesystem uid between 0
// and nonzero takes from or gives back to the effective set.
const capFSMask = 1<<linux.CAP_CHOWN | 1<<linux.CAP_DAC_OVERRIDE | 1<<linux.CAP_DAC_READ_SEARCH |
	1<<linux.CAP_FOWNER | 1<<linux.CAP_FSETID | 1<<linux.CAP_LINUX_IMMUTABLE |
	1<<linux.CAP_MAC_OVERRIDE | 1<<linux.CAP_MKNOD

// InitialCredentials are the credentials of a sandbox's first process
// running as uid and gid: root has every capability, as in a privileged
// container; another user has none, within a full bounding set.
func InitialCredentials(uid, gid uint32) Credentials {
	c := Credentials{UID: uid, GID: gid, EUID: uid, EGID: gid, SUID: uid, SGID: gid, FSUID: uid, FSGID: gid,
		CapBounding: linux.CapFull}
	if uid == 0 {
		c.CapPermitted, c.CapEffective = linux.CapFull, linux.CapFull
	}
	return c
}

// HasCap reports whether cap is in the effective set.
func (c *Credentials) HasCap(cap int) bool {
	return cap >= 0 && cap <= linux.CAP_LAST_CAP && c.CapEffective&(1<<cap) != 0
}

// HasCapability reports whether t has cap in its effective set.
func (t *Task) HasCapability(cap int) bool {
	c := t.Creds()
	return c.HasCap(cap)
}

// AccessCreds are the credentials access(2) and faccessat(2) without
// AT_EACCESS check with: the real ids as filesystem ids and, unless
// SECBIT_NO_SETUID_FIXUP, root's capabilities only for a real uid of 0.
func (c Credentials) AccessCreds() Credentials {
	c.FSUID, c.FSGID = c.UID, c.GID
	if c.Securebits&SecbitNoSetuidFixup == 0 {
		if c.UID != 0 {
			c.CapEffective = 0
		} else {
			c.CapEffective = c.CapPermitted
		}
	}
	return c
}

// fixSetuidCaps applies what a change of the real, effective or saved
// uid does to the capability sets (man 7 capabilities, "Effect of user ID
// changes on capabilities"), from old to c.
func fixSetuidCaps(old Credentials, c *Credentials) {
	if c.Securebits&SecbitNoSetuidFixup != 0 {
		return
	}
	wasRoot := old.UID == 0 || old.EUID == 0 || old.SUID == 0
	if wasRoot && c.UID != 0 && c.EUID != 0 && c.SUID != 0 {
		if c.Securebits&SecbitKeepCaps == 0 {
			c.CapPermitted, c.CapEffective = 0, 0
		}
		c.CapAmbient = 0
	}
	switch {
	case old.EUID == 0 && c.EUID != 0:
		c.CapEffective = 0
	case old.EUID != 0 && c.EUID == 0:
		c.CapEffective = c.CapPermitted
	}
}

// fixSetfsuidCaps applies what a change of the filesystem uid from old
// does to the effective set: leaving 0 drops the filesystem capabilities,
// coming back to 0 restores those that are permitted.
func fixSetfsuidCaps(old uint32, c *Credentials) {
	if c.Securebits&SecbitNoSetuidFixup != 0 {
		return
	}
	switch {
	case old == 0 && c.FSUID != 0:
		c.CapEffective &^= capFSMask
	case old != 0 && c.FSUID == 0:
		c.CapEffective |= c.CapPermitted & capFSMask
	}
}

// execCreds transforms the credentials for execve: the capability sets (man 7
// capabilities, "Transformation of capabilities during execve()") for a
// file with no file capabilities that is not set-user-ID: root (real or
// effective uid 0, unless SECBIT_NOROOT) gains its inheritable and
// bounding sets as permitted, effective if its effective uid is 0; others
// keep only their ambient set, as permitted and effective.
func (c *Credentials) execCreds() {
	// execve also makes the saved and filesystem ids the effective ones.
	c.SUID, c.FSUID, c.SGID, c.FSGID = c.EUID, c.EUID, c.EGID, c.EGID
	root := c.Securebits&SecbitNoroot == 0 && (c.UID == 0 || c.EUID == 0)
	c.CapPermitted = c.CapAmbient
	if root {
		c.CapPermitted |= c.CapInheritable | c.CapBounding
	}
	if root && c.EUID == 0 {
		c.CapEffective = c.CapPermitted
	} else {
		c.CapEffective = c.CapAmbient
	}
	c.Securebits &^= SecbitKeepCaps
}

// Capset implements capset(2) on t itself: the new permitted set must be
// within the old one, the effective set within the new permitted one, and
// the inheritable set within the old inheritable and bounding sets and,
// without CAP_SETPCAP, the old inheritable and permitted ones. Ambient
// capabilities no longer both permitted and inheritable are dropped.
func (t *Task) Capset(effective, permitted, inheritable uint64) error {
	return t.changeCreds(func(c *Credentials) error {
		switch {
		case !c.HasCap(linux.CAP_SETPCAP) && inheritable&^(c.CapInheritable|c.CapPermitted) != 0,
			inheritable&^(c.CapInheritable|c.CapBounding) != 0,
			permitted&^c.CapPermitted != 0,
			effective&^permitted != 0:
			return unix.EPERM
		}
		c.CapEffective, c.CapPermitted, c.CapInheritable = effective, permitted, inheritable
		c.CapAmbient &= permitted & inheritable
		return nil
	})
}

// DropBounding implements PR_CAPBSET_DROP: EPERM without CAP_SETPCAP.
func (t *Task) DropBounding(cap int) error {
	return t.changeCreds(func(c *Credentials) error {
		if !c.HasCap(linux.CAP_SETPCAP) {
			return unix.EPERM
		}
		c.CapBounding &^= 1 << cap
		return nil
	})
}

// RaiseAmbient implements PR_CAP_AMBIENT_RAISE: the capability must be
// permitted and inheritable, and SECBIT_NO_CAP_AMBIENT_RAISE unset.
func (t *Task) RaiseAmbient(cap int) error {
	return t.changeCreds(func(c *Credentials) error {
		bit := uint64(1) << cap
		if c.CapPermitted&bit == 0 || c.CapInheritable&bit == 0 || c.Securebits&SecbitNoCapAmbientRaise != 0 {
			return unix.EPERM
		}
		c.CapAmbient |= bit
		return nil
	})
}

// LowerAmbient implements PR_CAP_AMBIENT_LOWER and, with all set,
// PR_CAP_AMBIENT_CLEAR_ALL.
func (t *Task) LowerAmbient(cap int, all bool) {
	t.changeCreds(func(c *Credentials) error {
		if all {
			c.CapAmbient = 0
		} else {
			c.CapAmbient &^= 1 << cap
		}
		return nil
	})
}

// SetKeepCaps implements PR_SET_KEEPCAPS: EPERM once the bit is locked.
func (t *Task) SetKeepCaps(keep bool) error {
	return t.changeCreds(func(c *Credentials) error {
		if c.Securebits&SecbitKeepCapsLocked != 0 {
			return unix.EPERM
		}
		if keep {
			c.Securebits |= SecbitKeepCaps
		} else {
			c.Securebits &^= SecbitKeepCaps
		}
		return nil
	})
}

// SetSecurebits implements PR_SET_SECUREBITS: it needs CAP_SETPCAP, and
// neither changes a locked bit nor clears a lock nor sets an unknown bit
// (EPERM).
func (t *Task) SetSecurebits(bits uint64) error {
	return t.changeCreds(func(c *Credentials) error {
		old := uint64(c.Securebits)
		locked := (old & securebitsLocks) >> 1
		if locked&(old^bits) != 0 || old&securebitsLocks&^bits != 0 ||
			bits&^(securebitsAll|securebitsLocks) != 0 || !c.HasCap(linux.CAP_SETPCAP) {
			return unix.EPERM
		}
		c.Securebits = uint32(bits)
		return nil
	})
}

// MayAccess checks access bits (unix.R_OK, W_OK, X_OK) against a file's
// attributes for c, as Linux's generic_permission: the owner, group or
// other bits, then CAP_DAC_OVERRIDE (for everything but executing a file
// with no execute bit) and CAP_DAC_READ_SEARCH (reading files, reading
// and searching directories). EACCES if refused.
func (c *Credentials) MayAccess(st *vfs.Stat, want uint32) error {
	if want == 0 {
		return nil
	}
	bits := st.Mode & 7
	switch {
	case st.UID == c.FSUID:
		bits = st.Mode >> 6 & 7
	case st.GID == c.FSGID || slices.Contains(c.Groups, st.GID):
		bits = st.Mode >> 3 & 7
	}
	if bits&want == want {
		return nil
	}
	if st.IsDir() {
		if want&unix.W_OK == 0 && c.HasCap(linux.CAP_DAC_READ_SEARCH) || c.HasCap(linux.CAP_DAC_OVERRIDE) {
			return nil
		}
		return unix.EACCES
	}
	if (want&unix.X_OK == 0 || st.Mode&0o111 != 0) && c.HasCap(linux.CAP_DAC_OVERRIDE) ||
		want == unix.R_OK && c.HasCap(linux.CAP_DAC_READ_SEARCH) {
		return nil
	}
	return unix.EACCES
}

// mayLookup returns the check of search permission on each directory a
// path walk looks a name up in, or nil when c may search every directory
// (CAP_DAC_OVERRIDE or CAP_DAC_READ_SEARCH).
func (c *Credentials) mayLookup(ctx vfs.Context) func(dir vfs.Inode) error {
	if c.HasCap(linux.CAP_DAC_OVERRIDE) || c.HasCap(linux.CAP_DAC_READ_SEARCH) {
		return nil
	}
	return func(dir vfs.Inode) error {
		st, err := dir.Stat(ctx)
		if err != nil {
			return err
		}
		return c.MayAccess(&st, unix.X_OK)
	}
}
