package cgroup

import (
	"errors"
	"fmt"
	"strings"
)

// DefaultParent is the cgroup under which containers without a
// linux.cgroupsPath go (cgroupfs form): /moat/<id>.
const DefaultParent = "/moat"

// DefaultSlice and DefaultPrefix name the unit of a container without a
// linux.cgroupsPath under --systemd-cgroup: system.slice:moat:<id>.
const (
	DefaultSlice  = "system.slice"
	DefaultPrefix = "moat"
)

// Path resolves the cgroup path for container id from the spec's
// cgroupsPath and the --systemd-cgroup flag.
//
// Without systemd, an absolute cgroupsPath is relative to the root of
// each cgroup hierarchy, a relative one to the runtime's own cgroup (Open
// resolves it, hierarchy by hierarchy), and an empty one is
// DefaultParent/id. The result is cleaned; a path whose ".." components
// climb above where it starts, or that names the root cgroup itself, is
// an error.
//
// With systemd, cgroupsPath is "slice:prefix:name" (empty:
// "system.slice:moat:<id>"). moat does not talk to systemd (it is not
// running on every host, and moat has no D-Bus client): the form is
// mapped to the cgroupfs path systemd would give the unit, the slice
// expanded as systemd expands dashes ("a-b.slice" lives in
// "/a.slice/a-b.slice"), the unit "prefix-name.scope" (or "name" itself
// when it is a ".slice"). "system.slice:libpod:abc" is
// "/system.slice/libpod-abc.scope".
func Path(cgroupsPath, id string, systemd bool) (string, error) {
	if strings.IndexByte(cgroupsPath, 0) >= 0 {
		return "", errors.New("linux.cgroupsPath contains a NUL byte")
	}
	if systemd {
		if cgroupsPath == "" {
			if err := checkID(id); err != nil {
				return "", err
			}
			cgroupsPath = DefaultSlice + ":" + DefaultPrefix + ":" + id
		}
		p, err := systemdPath(cgroupsPath)
		if err != nil {
			return "", fmt.Errorf("linux.cgroupsPath %q: %v", cgroupsPath, err)
		}
		return p, nil
	}
	if cgroupsPath == "" {
		if err := checkID(id); err != nil {
			return "", err
		}
		return DefaultParent + "/" + id, nil
	}
	p, err := cleanPath(cgroupsPath)
	if err != nil {
		return "", fmt.Errorf("linux.cgroupsPath %q: %v", cgroupsPath, err)
	}
	return p, nil
}

// checkID checks that a container id can name a cgroup directory.
func checkID(id string) error {
	if id == "" || id == "." || id == ".." || strings.ContainsAny(id, "/\x00") {
		return fmt.Errorf("container id %q cannot name a cgroup", id)
	}
	return nil
}

// cleanPath cleans a cgroupfs-form path: "." and empty components go,
// ".." removes the component before it; climbing above the start (the
// hierarchy's root for an absolute path, the runtime's cgroup for a
// relative one) is an error, and so is a path naming its start itself.
func cleanPath(p string) (string, error) {
	if strings.IndexByte(p, 0) >= 0 {
		return "", errors.New("contains a NUL byte")
	}
	abs := strings.HasPrefix(p, "/")
	var parts []string
	for _, c := range strings.Split(p, "/") {
		switch c {
		case "", ".":
		case "..":
			if len(parts) == 0 {
				if abs {
					return "", errors.New("its \"..\" components escape the cgroup root")
				}
				return "", errors.New("its \"..\" components escape the runtime's cgroup")
			}
			parts = parts[:len(parts)-1]
		default:
			parts = append(parts, c)
		}
	}
	if len(parts) == 0 {
		if abs {
			return "", errors.New("names the root cgroup: a container needs a cgroup of its own")
		}
		return "", errors.New("names the runtime's own cgroup: a container needs a cgroup of its own")
	}
	joined := strings.Join(parts, "/")
	if abs {
		return "/" + joined, nil
	}
	return joined, nil
}

// systemdPath maps "slice:prefix:name" to the cgroupfs path of the unit.
func systemdPath(s string) (string, error) {
	f := strings.Split(s, ":")
	if len(f) != 3 {
		return "", errors.New(`with --systemd-cgroup it must have the form "slice:prefix:name"`)
	}
	slice, prefix, name := f[0], f[1], f[2]
	if slice == "" {
		slice = DefaultSlice
	}
	if name == "" {
		return "", errors.New("the unit name (after the second ':') is empty")
	}
	if strings.HasSuffix(name, ".slice") {
		// A slice unit's place follows from its own name alone.
		return expandSlice(name)
	}
	unit := name + ".scope"
	if prefix != "" {
		unit = prefix + "-" + unit
	}
	if err := checkUnit(unit); err != nil {
		return "", err
	}
	dir, err := expandSlice(slice)
	if err != nil {
		return "", err
	}
	if dir == "/" {
		return "/" + unit, nil
	}
	return dir + "/" + unit, nil
}

// checkUnit checks a unit name with systemd's rules: at most 255 bytes of
// ASCII letters, digits and ":-_.\", and no "." or ".." (which would walk
// the cgroup tree).
func checkUnit(u string) error {
	if len(u) > 255 {
		return fmt.Errorf("unit name %q is longer than 255 bytes", u)
	}
	for i := 0; i < len(u); i++ {
		c := u[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(":-_.\\", c) >= 0
		if !ok {
			return fmt.Errorf("unit name %q has a character systemd does not allow (%q)", u, c)
		}
	}
	if u == "." || u == ".." || strings.HasPrefix(u, ".") {
		return fmt.Errorf("unit name %q is not valid", u)
	}
	return nil
}

// expandSlice returns the cgroupfs path of a slice unit: systemd nests
// "a-b-c.slice" in "a-b.slice" in "a.slice", so its path is
// "/a.slice/a-b.slice/a-b-c.slice". "-.slice" is the root slice, "/".
func expandSlice(slice string) (string, error) {
	base, ok := strings.CutSuffix(slice, ".slice")
	if !ok {
		return "", fmt.Errorf("slice %q does not end in \".slice\"", slice)
	}
	if err := checkUnit(slice); err != nil {
		return "", err
	}
	if base == "-" {
		return "/", nil
	}
	if base == "" || strings.HasPrefix(base, "-") || strings.HasSuffix(base, "-") || strings.Contains(base, "--") {
		return "", fmt.Errorf("slice %q is not a valid slice name (empty parts between dashes)", slice)
	}
	var b strings.Builder
	for i := 0; i < len(base); i++ {
		if base[i] == '-' {
			b.WriteString("/" + base[:i] + ".slice")
		}
	}
	b.WriteString("/" + slice)
	return b.String(), nil
}
