package kernel

import (
	"golang.org/x/sys/unix"

	"moat/abi/linux"
)

// Credential changes (setuid(2) and friends), per thread as on Linux
// (glibc makes every thread of a process call them). A task with
// CAP_SETUID (CAP_SETGID for group ids) may change ids freely, and others
// only among the ids they already have, with Linux's rules for each call.
// The filesystem ids follow the effective ones. Changes of user ids change
// the capability sets as Linux does (fixSetuidCaps).

// noID is the -1 that leaves an id unchanged.
const noID = ^uint32(0)

// NGroupsMax is NGROUPS_MAX.
const NGroupsMax = 65536

// oneOf reports whether id is among ids.
func oneOf(id uint32, ids ...uint32) bool {
	for _, x := range ids {
		if id == x {
			return true
		}
	}
	return false
}

// changeCreds applies f to a copy of t's credentials and installs it if f
// succeeds.
func (t *Task) changeCreds(f func(c *Credentials) error) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.creds
	if err := f(&c); err != nil {
		return err
	}
	t.creds = c
	return nil
}

// changeIDs is changeCreds for a change of one kind of ids: f gets the
// ids and whether t may set them freely; a change of user ids then fixes
// up the capability sets.
func (t *Task) changeIDs(kind func(*Credentials) idSet, f func(ids idSet, priv bool) error) error {
	return t.changeCreds(func(c *Credentials) error {
		old := *c
		ids := kind(c)
		if err := f(ids, c.HasCap(ids.cap)); err != nil {
			return err
		}
		if ids.cap == linux.CAP_SETUID {
			fixSetuidCaps(old, c)
		}
		return nil
	})
}

// idSet points at one kind of ids (user or group) in Credentials: real,
// effective, saved and filesystem, and the capability that allows
// setting them freely.
type idSet struct {
	r, e, s, fs *uint32
	cap         int
}

func uids(c *Credentials) idSet {
	return idSet{&c.UID, &c.EUID, &c.SUID, &c.FSUID, linux.CAP_SETUID}
}
func gids(c *Credentials) idSet {
	return idSet{&c.GID, &c.EGID, &c.SGID, &c.FSGID, linux.CAP_SETGID}
}

// Setuid implements setuid(2).
func (t *Task) Setuid(uid uint32) error { return t.setID(uids, uid) }

// Setgid implements setgid(2).
func (t *Task) Setgid(gid uint32) error { return t.setID(gids, gid) }

// setID sets all of one kind of ids when privileged, else only the
// effective one, to the real or saved one.
func (t *Task) setID(kind func(*Credentials) idSet, id uint32) error {
	if id == noID {
		return unix.EINVAL
	}
	return t.changeIDs(kind, func(ids idSet, priv bool) error {
		switch {
		case priv:
			*ids.r, *ids.e, *ids.s = id, id, id
		case id == *ids.r || id == *ids.s:
			*ids.e = id
		default:
			return unix.EPERM
		}
		*ids.fs = *ids.e
		return nil
	})
}

// Setreuid implements setreuid(2).
func (t *Task) Setreuid(ruid, euid uint32) error { return t.setReID(uids, ruid, euid) }

// Setregid implements setregid(2).
func (t *Task) Setregid(rgid, egid uint32) error { return t.setReID(gids, rgid, egid) }

// setReID is setreuid's rule: the real id may become the real or
// effective one, the effective id any of the three; the saved id follows
// the new effective one when the real id is set or the effective one
// moves away from the old real id.
func (t *Task) setReID(kind func(*Credentials) idSet, r, e uint32) error {
	return t.changeIDs(kind, func(ids idSet, priv bool) error {
		oldR, oldE, oldS := *ids.r, *ids.e, *ids.s
		if r != noID && !priv && !oneOf(r, oldR, oldE) ||
			e != noID && !priv && !oneOf(e, oldR, oldE, oldS) {
			return unix.EPERM
		}
		setIDs(ids, r, e, noID)
		if r != noID || e != noID && e != oldR {
			*ids.s = *ids.e
		}
		*ids.fs = *ids.e
		return nil
	})
}

// Setresuid implements setresuid(2).
func (t *Task) Setresuid(ruid, euid, suid uint32) error {
	return t.setResID(uids, ruid, euid, suid)
}

// Setresgid implements setresgid(2).
func (t *Task) Setresgid(rgid, egid, sgid uint32) error {
	return t.setResID(gids, rgid, egid, sgid)
}

// setResID is setresuid's rule: unprivileged, each new id must be one of
// the current three.
func (t *Task) setResID(kind func(*Credentials) idSet, r, e, s uint32) error {
	return t.changeIDs(kind, func(ids idSet, priv bool) error {
		for _, id := range []uint32{r, e, s} {
			if id != noID && !priv && !oneOf(id, *ids.r, *ids.e, *ids.s) {
				return unix.EPERM
			}
		}
		setIDs(ids, r, e, s)
		*ids.fs = *ids.e
		return nil
	})
}

// setIDs sets each of the real, effective and saved ids whose new value
// is not -1.
func setIDs(ids idSet, r, e, s uint32) {
	for _, p := range []struct {
		dst *uint32
		v   uint32
	}{{ids.r, r}, {ids.e, e}, {ids.s, s}} {
		if p.v != noID {
			*p.dst = p.v
		}
	}
}

// Setfsuid implements setfsuid(2): it returns the old filesystem uid
// whether or not the change is allowed.
func (t *Task) Setfsuid(fsuid uint32) uint32 { return t.setFSID(uids, fsuid) }

// Setfsgid implements setfsgid(2).
func (t *Task) Setfsgid(fsgid uint32) uint32 { return t.setFSID(gids, fsgid) }

func (t *Task) setFSID(kind func(*Credentials) idSet, id uint32) uint32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	ids := kind(&t.creds)
	old := *ids.fs
	if id != noID && (t.creds.HasCap(ids.cap) || oneOf(id, *ids.r, *ids.e, *ids.s, *ids.fs)) {
		*ids.fs = id
		if ids.cap == linux.CAP_SETUID {
			fixSetfsuidCaps(old, &t.creds)
		}
	}
	return old
}

// Setgroups implements setgroups(2).
func (t *Task) Setgroups(groups []uint32) error {
	if len(groups) > NGroupsMax {
		return unix.EINVAL
	}
	return t.changeCreds(func(c *Credentials) error {
		if !c.HasCap(linux.CAP_SETGID) {
			return unix.EPERM
		}
		c.Groups = append([]uint32(nil), groups...)
		return nil
	})
}
