package cgroup

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// unifiedRoot is where a unified (v2-only) host mounts its hierarchy.
const unifiedRoot = "/sys/fs/cgroup"

// v1Controllers are the cgroup v1 controllers moat puts the sandbox in.
// devices is not among them: moat's application never reaches a host
// device (the sentry serves /dev itself), so a devices cgroup would
// confine nothing. name=systemd and the network controllers (net_cls,
// net_prio) are left alone too.
var v1Controllers = []string{"memory", "cpu", "cpuacct", "cpuset", "pids", "freezer", "blkio", "hugetlb"}

// layout is where the host's cgroup hierarchies are mounted.
type layout struct {
	// unified is the v2 hierarchy's mount point on a unified host, ""
	// on a v1 host.
	unified string
	// v1 maps each v1 controller to its hierarchy's mount.
	v1 map[string]mount
}

// mount is one mount of a cgroup hierarchy.
type mount struct {
	dir  string // the mount point
	root string // the cgroup of the hierarchy mounted there ("/" but in a cgroup namespace or a bind mount)
}

// hostLayout finds the host's hierarchies: unified if
// /sys/fs/cgroup/cgroup.controllers exists, else the v1 mounts listed in
// /proc/self/mountinfo.
func hostLayout() (layout, error) {
	if _, err := os.Stat(filepath.Join(unifiedRoot, "cgroup.controllers")); err == nil {
		return layout{unified: unifiedRoot}, nil
	}
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return layout{}, err
	}
	l := layout{v1: parseMountinfo(data)}
	if len(l.v1) == 0 {
		return layout{}, errors.New("no cgroup filesystem is mounted (neither cgroup2 at /sys/fs/cgroup nor cgroup v1 hierarchies)")
	}
	return l, nil
}

// parseMountinfo returns the v1 controllers' mounts in a mountinfo text
// (proc(5)): "id parent maj:min root mountpoint options [optional...] -
// fstype source superoptions". The first mount of a hierarchy wins.
func parseMountinfo(data []byte) map[string]mount {
	out := map[string]mount{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		f, g := strings.Fields(pre), strings.Fields(post)
		if len(f) < 5 || len(g) < 3 || g[0] != "cgroup" {
			continue
		}
		m := mount{dir: unescapeMount(f[4]), root: unescapeMount(f[3])}
		for _, opt := range strings.Split(g[2], ",") {
			for _, c := range v1Controllers {
				if opt == c {
					if _, seen := out[c]; !seen {
						out[c] = m
					}
				}
			}
		}
	}
	return out
}

// unescapeMount undoes mountinfo's octal escapes ("\040" for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// ownCgroups reads /proc/self/cgroup: the runtime's own cgroup in each
// v1 controller's hierarchy, and in the unified one (key "").
func ownCgroups() (map[string]string, error) {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	return parseProcCgroup(data), nil
}

// parseProcCgroup parses "hierarchy-id:controller,list:path" lines.
func parseProcCgroup(data []byte) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		if f[0] == "0" && f[1] == "" {
			out[""] = f[2]
			continue
		}
		for _, c := range strings.Split(f[1], ",") {
			out[c] = f[2]
		}
	}
	return out
}

// resolve returns the directory of cgroup p (a Path result) in the
// hierarchy mounted m, where the runtime's own cgroup is own.
func resolve(m mount, own, p string) (string, error) {
	var rel string
	if strings.HasPrefix(p, "/") {
		rel = p
	} else {
		if own == "" {
			return "", fmt.Errorf("cannot resolve relative cgroup path %q: the runtime's own cgroup in %s is unknown", p, m.dir)
		}
		// The own cgroup as seen from the mount's root.
		r := strings.TrimSuffix(m.root, "/")
		if own != m.root && !strings.HasPrefix(own, r+"/") {
			return "", fmt.Errorf("cannot resolve relative cgroup path %q: the runtime's cgroup %s is not below %s's root %s", p, own, m.dir, m.root)
		}
		rel = filepath.Join("/", strings.TrimPrefix(own, r), p)
	}
	dir := filepath.Join(m.dir, rel)
	if dir == filepath.Clean(m.dir) || !strings.HasPrefix(dir, filepath.Clean(m.dir)+"/") {
		return "", fmt.Errorf("cgroup path %q resolves to %s, not below the cgroup root %s", p, dir, m.dir)
	}
	return dir, nil
}
