package kernel

import (
	"testing"

	"moat/abi/linux"
)

const (
	capKill = uint64(1) << linux.CAP_KILL
	capNet  = uint64(1) << linux.CAP_NET_RAW
	capDAC  = uint64(1) << linux.CAP_DAC_OVERRIDE
)

func root() Credentials { return InitialCredentials(0, 0) }

func TestInitialCredentials(t *testing.T) {
	if c := root(); c.CapPermitted != linux.CapFull || c.CapEffective != linux.CapFull || c.CapBounding != linux.CapFull || c.CapInheritable != 0 || c.CapAmbient != 0 {
		t.Errorf("root: %+v", c)
	}
	if c := InitialCredentials(1000, 100); c.CapPermitted != 0 || c.CapEffective != 0 || c.CapBounding != linux.CapFull || c.EUID != 1000 || c.FSGID != 100 {
		t.Errorf("user: %+v", c)
	}
	if linux.CapFull != 0x1ffffffffff {
		t.Errorf("CapFull = %#x", linux.CapFull)
	}
}

func TestSetuidCaps(t *testing.T) {
	for _, c := range []struct {
		name          string
		keep          bool
		r, e, s       uint32
		prm, eff, amb uint64
	}{
		{name: "all nonzero", r: 1, e: 1, s: 1, prm: 0, eff: 0, amb: 0},
		{name: "all nonzero, keepcaps", keep: true, r: 1, e: 1, s: 1, prm: linux.CapFull, eff: 0, amb: 0},
		{name: "euid nonzero", r: 0, e: 1, s: 0, prm: linux.CapFull, eff: 0, amb: capKill},
		{name: "saved 0", r: 1, e: 1, s: 0, prm: linux.CapFull, eff: 0, amb: capKill},
		{name: "unchanged", r: 0, e: 0, s: 0, prm: linux.CapFull, eff: linux.CapFull, amb: capKill},
	} {
		old := root()
		old.CapInheritable, old.CapAmbient = capKill, capKill
		if c.keep {
			old.Securebits |= SecbitKeepCaps
		}
		n := old
		n.UID, n.EUID, n.SUID = c.r, c.e, c.s
		fixSetuidCaps(old, &n)
		if n.CapPermitted != c.prm || n.CapEffective != c.eff || n.CapAmbient != c.amb {
			t.Errorf("%s: prm %#x eff %#x amb %#x, want %#x %#x %#x", c.name, n.CapPermitted, n.CapEffective, n.CapAmbient, c.prm, c.eff, c.amb)
		}
	}
	// Back to euid 0: effective is permitted again.
	old := root()
	old.EUID, old.CapEffective, old.CapPermitted = 1, 0, capKill|capNet
	n := old
	n.EUID = 0
	fixSetuidCaps(old, &n)
	if n.CapEffective != capKill|capNet {
		t.Errorf("euid back to 0: eff %#x", n.CapEffective)
	}
	// SECBIT_NO_SETUID_FIXUP keeps everything.
	old = root()
	old.Securebits = SecbitNoSetuidFixup
	n = old
	n.UID, n.EUID, n.SUID = 1, 1, 1
	fixSetuidCaps(old, &n)
	if n.CapEffective != linux.CapFull {
		t.Errorf("NO_SETUID_FIXUP: eff %#x", n.CapEffective)
	}
}

func TestSetfsuidCaps(t *testing.T) {
	c := root()
	c.FSUID = 1
	fixSetfsuidCaps(0, &c)
	if c.CapEffective&capFSMask != 0 || c.CapEffective&capKill == 0 {
		t.Errorf("fsuid 0 -> 1: eff %#x", c.CapEffective)
	}
	c.CapPermitted &^= capDAC
	c.FSUID = 0
	fixSetfsuidCaps(1, &c)
	if c.CapEffective != linux.CapFull&^capDAC {
		t.Errorf("fsuid 1 -> 0: eff %#x", c.CapEffective)
	}
}

func TestExecCreds(t *testing.T) {
	for _, c := range []struct {
		name               string
		uid, euid          uint32
		noroot             bool
		inh, bnd, amb      uint64
		prm, eff, wantSUID uint64
	}{
		{name: "root", inh: capKill, bnd: capNet, prm: capKill | capNet, eff: capKill | capNet},
		{name: "root, ambient", bnd: capNet | capKill, inh: capKill, amb: capKill, prm: capNet | capKill, eff: capNet | capKill},
		{name: "user", uid: 1, euid: 1, bnd: linux.CapFull, inh: capKill, prm: 0, eff: 0, wantSUID: 1},
		{name: "user, ambient", uid: 1, euid: 1, bnd: linux.CapFull, inh: capKill, amb: capKill, prm: capKill, eff: capKill, wantSUID: 1},
		{name: "real root", uid: 0, euid: 1, bnd: capNet, amb: 0, prm: capNet, eff: 0, wantSUID: 1},
		{name: "SECBIT_NOROOT", noroot: true, bnd: linux.CapFull, prm: 0, eff: 0},
	} {
		cr := root()
		cr.UID, cr.EUID, cr.SUID = c.uid, c.euid, 0
		cr.CapInheritable, cr.CapBounding, cr.CapAmbient = c.inh, c.bnd, c.amb
		cr.Securebits = SecbitKeepCaps
		if c.noroot {
			cr.Securebits |= SecbitNoroot
		}
		cr.execCreds()
		if cr.CapPermitted != c.prm || cr.CapEffective != c.eff || uint64(cr.SUID) != c.wantSUID || cr.Securebits&SecbitKeepCaps != 0 {
			t.Errorf("%s: prm %#x eff %#x suid %d securebits %#x, want %#x %#x %d", c.name, cr.CapPermitted, cr.CapEffective, cr.SUID, cr.Securebits, c.prm, c.eff, c.wantSUID)
		}
	}
}

func TestAccessCreds(t *testing.T) {
	c := root()
	c.EUID, c.FSUID, c.CapEffective = 1, 1, 0
	if a := c.AccessCreds(); a.FSUID != 0 || a.CapEffective != linux.CapFull {
		t.Errorf("real root: %+v", a)
	}
	c = root()
	c.UID = 1
	if a := c.AccessCreds(); a.FSUID != 1 || a.CapEffective != 0 {
		t.Errorf("real uid 1: %+v", a)
	}
}
