// Package cgroup puts a sandbox's host processes (the sentry and the stub
// processes it forks) in a cgroup of their own and applies the
// container's linux.resources to it, as the OCI runtime specification
// asks (config-linux.md, "Control groups"). It works on cgroup v1 hosts
// (one hierarchy per controller, found in /proc/self/mountinfo) and on
// unified cgroup v2 hosts (/sys/fs/cgroup/cgroup.controllers exists); on
// a hybrid host the v1 hierarchies are used.
//
// Only the kernel's cgroupfs files are used (no systemd, no D-Bus): a
// --systemd-cgroup path is mapped to the directory systemd would use
// (see Path).
//
// A Cgroup is a description (directories), not a handle: it holds no
// open files and no locks, and its methods may be called from several
// processes one after another (create, update, events, delete), as
// long as the same Path result is opened (a relative one must be opened
// by a process in the same cgroup as the one that created it).
//
// Not applied, on purpose:
//   - linux.resources.devices: moat's application never reaches a host
//     device; the sentry serves /dev itself and opens no device on the
//     application's behalf, so the device allow-list is accepted and
//     left to the sentry's own rules.
//   - memory.kernel and memory.kernelTCP: kernel-memory limits are gone
//     from the kernel (v5.4 deprecated them, cgroup v2 never had them).
//   - cpu.realtimeRuntime and cpu.realtimePeriod: the sandbox's threads
//     are never real-time host threads.
//   - network (net_cls, net_prio) and rdma: moat's network is its own
//     (or, with --net host, the sentry's sockets), and it has no RDMA.
package cgroup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Cgroup is a container's cgroup: its directory in each hierarchy.
type Cgroup struct {
	path string
	v2   bool
	// v2: the unified hierarchy's mount point and the cgroup's directory.
	root, dir string
	// v1: each mounted controller's cgroup directory and mount point.
	dirs, mnts map[string]string
}

// Open describes the cgroup path (a Path result) on this host's
// hierarchies. It creates nothing and does not check that it exists.
func Open(path string) (*Cgroup, error) {
	l, err := hostLayout()
	if err != nil {
		return nil, err
	}
	own, err := ownCgroups()
	if err != nil {
		return nil, fmt.Errorf("reading the runtime's own cgroup: %v", err)
	}
	return open(path, l, own)
}

func open(path string, l layout, own map[string]string) (*Cgroup, error) {
	p, err := cleanPath(path)
	if err != nil {
		return nil, fmt.Errorf("cgroup path %q: %v", path, err)
	}
	c := &Cgroup{path: p}
	if l.unified != "" {
		c.v2, c.root = true, l.unified
		if c.dir, err = resolve(mount{dir: l.unified, root: "/"}, own[""], p); err != nil {
			return nil, err
		}
		return c, nil
	}
	c.dirs, c.mnts = map[string]string{}, map[string]string{}
	for ctrl, m := range l.v1 {
		d, err := resolve(m, own[ctrl], p)
		if err != nil {
			return nil, err
		}
		c.dirs[ctrl], c.mnts[ctrl] = d, m.dir
	}
	return c, nil
}

// String is the cgroup's path, as opened.
func (c *Cgroup) String() string { return c.path }

// V2 tells whether the cgroup is in a unified (v2) hierarchy.
func (c *Cgroup) V2() bool { return c.v2 }

// Dirs returns the cgroup's directory in each hierarchy, by v1
// controller name (on v2, one entry with key "").
func (c *Cgroup) Dirs() map[string]string {
	if c.v2 {
		return map[string]string{"": c.dir}
	}
	out := map[string]string{}
	for k, v := range c.dirs {
		out[k] = v
	}
	return out
}

// ctrlDir is the directory holding controller ctrl's files, "" if that
// controller is not mounted (v1). On v2 it is the cgroup's directory:
// whether the controller is enabled there shows in which files exist.
func (c *Cgroup) ctrlDir(ctrl string) string {
	if c.v2 {
		return c.dir
	}
	return c.dirs[ctrl]
}

// hierarchies lists the cgroup's directories, one per hierarchy, with
// their mount points.
func (c *Cgroup) hierarchies() [][2]string {
	if c.v2 {
		return [][2]string{{c.dir, c.root}}
	}
	var out [][2]string
	for ctrl, d := range c.dirs {
		if !slices.ContainsFunc(out, func(h [2]string) bool { return h[0] == d }) {
			out = append(out, [2]string{d, c.mnts[ctrl]})
		}
	}
	slices.SortFunc(out, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	return out
}

// Apply creates the cgroup (and the missing cgroups above it), writes the
// limits of r (which may be nil), and moves process pid into it in every
// hierarchy. pid's children forked afterwards are in it too. Nothing is
// created if r does not pass the checks; if a later step fails, Apply
// removes the directories it created where it can, and the caller
// should Destroy the cgroup.
func (c *Cgroup) Apply(pid int, r *specs.LinuxResources) error {
	if pid <= 0 {
		return fmt.Errorf("cgroup %s: cannot move pid %d", c.path, pid)
	}
	if err := c.check(r); err != nil {
		return err
	}
	created, err := c.create(r)
	if err == nil {
		err = c.set(r, false)
	}
	if err == nil {
		err = c.join(pid)
	}
	if err != nil {
		for i := len(created) - 1; i >= 0; i-- {
			unix.Rmdir(created[i])
		}
		return err
	}
	return nil
}

// Update writes the limits of r into the existing cgroup (`moat update`).
func (c *Cgroup) Update(r *specs.LinuxResources) error {
	if err := c.check(r); err != nil {
		return err
	}
	if !c.exists() {
		return fmt.Errorf("cgroup %s does not exist", c.path)
	}
	return c.set(r, true)
}

// exists tells whether the cgroup's directory exists in some hierarchy.
func (c *Cgroup) exists() bool {
	for _, h := range c.hierarchies() {
		if _, err := os.Stat(h[0]); err == nil {
			return true
		}
	}
	return false
}

// v2Controllers are the controllers moat enables for its cgroup on v2
// (those the host has; a missing one is an error only if a limit needs
// it).
var v2Controllers = []string{"cpu", "cpuset", "memory", "pids", "io", "hugetlb"}

// create makes the cgroup's directories and returns those it created,
// outermost first.
func (c *Cgroup) create(r *specs.LinuxResources) ([]string, error) {
	var created []string
	want := slices.Clone(v2Controllers)
	if r != nil {
		for k := range r.Unified {
			if ctrl, _, _ := strings.Cut(k, "."); ctrl != "cgroup" && !slices.Contains(want, ctrl) {
				want = append(want, ctrl)
			}
		}
	}
	for _, h := range c.hierarchies() {
		dir, top := h[0], h[1]
		rel := strings.TrimPrefix(dir, top+"/")
		cur := top
		for _, name := range strings.Split(rel, "/") {
			if c.v2 {
				enableControllers(cur, want)
			}
			parent := cur
			cur = filepath.Join(cur, name)
			err := unix.Mkdir(cur, 0o755)
			if err == unix.EEXIST {
				continue
			}
			if err != nil {
				return created, fmt.Errorf("creating cgroup %s: %v", cur, err)
			}
			created = append(created, cur)
			if !c.v2 && dir == c.dirs["cpuset"] {
				// A new v1 cpuset has no CPUs and no memory nodes, and
				// no process can join it until it has: start with the
				// parent's.
				for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
					v, err := readString(parent, f)
					if err == nil {
						err = writeFile(cur, f, v)
					}
					if err != nil {
						return created, err
					}
				}
			}
		}
	}
	return created, nil
}

// enableControllers enables in dir's children those of want that dir
// has. Failures are left to show as missing files: the kernel refuses,
// for instance, to enable a domain controller in a cgroup that has
// processes of its own.
func enableControllers(dir string, want []string) {
	have, err := readString(dir, "cgroup.controllers")
	if err != nil {
		return
	}
	on, _ := readString(dir, "cgroup.subtree_control")
	for _, ctrl := range want {
		if slices.Contains(strings.Fields(have), ctrl) && !slices.Contains(strings.Fields(on), ctrl) {
			writeFile(dir, "cgroup.subtree_control", "+"+ctrl)
		}
	}
}

// join moves pid into the cgroup in every hierarchy.
func (c *Cgroup) join(pid int) error {
	for _, h := range c.hierarchies() {
		if err := writeFile(h[0], "cgroup.procs", strconv.Itoa(pid)); err != nil {
			return fmt.Errorf("moving process %d into cgroup %s: %v", pid, h[0], unwrap(err))
		}
	}
	return nil
}

// Pids lists the processes in the cgroup and in cgroups below it (in any
// hierarchy), sorted. A cgroup that does not exist has none.
func (c *Cgroup) Pids() ([]int, error) {
	var all []int
	for _, h := range c.hierarchies() {
		pids, err := treePids(h[0])
		if err != nil {
			return nil, err
		}
		all = append(all, pids...)
	}
	slices.Sort(all)
	return slices.Compact(all), nil
}

// treePids lists the processes of dir and the cgroups below it.
func treePids(dir string) ([]int, error) {
	var out []int
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // gone meanwhile
			}
			return err
		}
		if !d.IsDir() {
			return nil
		}
		data, err := os.ReadFile(filepath.Join(p, "cgroup.procs"))
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, f := range strings.Fields(string(data)) {
			if n, err := strconv.Atoi(f); err == nil {
				out = append(out, n)
			}
		}
		return nil
	})
	return out, err
}

// freezeTimeout bounds how long Freeze waits for the kernel.
const freezeTimeout = 5 * time.Second

// Freeze freezes (or thaws) every process of the cgroup and waits until
// the kernel reports it FROZEN (THAWED). A freeze that does not complete
// in time is undone and reported.
func (c *Cgroup) Freeze(frozen bool) error {
	dir, file, want := c.ctrlDir("freezer"), "freezer.state", "THAWED"
	value := want
	if frozen {
		want, value = "FROZEN", "FROZEN"
	}
	if c.v2 {
		file, value = "cgroup.freeze", "0"
		if frozen {
			value = "1"
		}
	}
	if dir == "" {
		return errors.New("the freezer controller is not mounted")
	}
	if _, err := os.Stat(dir); err != nil {
		return fmt.Errorf("cgroup %s does not exist", c.path)
	}
	deadline := time.Now().Add(freezeTimeout)
	for i := 0; ; i++ {
		// v1 may stay FREEZING when a task was busy; writing FROZEN
		// again retries it.
		if i%10 == 0 {
			if err := writeFile(dir, file, value); err != nil {
				return err
			}
		}
		done, err := c.frozenState(dir, frozen)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		if time.Now().After(deadline) {
			if frozen {
				c.Freeze(false)
			}
			return fmt.Errorf("cgroup %s: timed out waiting for it to become %s", c.path, want)
		}
		time.Sleep(time.Duration(min(i+1, 10)) * time.Millisecond)
	}
}

// frozenState tells whether the cgroup has reached the frozen state
// asked for.
func (c *Cgroup) frozenState(dir string, frozen bool) (bool, error) {
	if c.v2 {
		ev, err := readKeyed(dir, "cgroup.events")
		if err != nil {
			return false, err
		}
		return (ev["frozen"] == 1) == frozen, nil
	}
	s, err := readString(dir, "freezer.state")
	if err != nil {
		return false, err
	}
	if frozen {
		return s == "FROZEN", nil
	}
	return s == "THAWED", nil
}

// destroyTimeout bounds how long Destroy waits for killed processes to
// leave and for directories to be removable.
const destroyTimeout = 3 * time.Second

// Destroy kills the processes left in the cgroup (SIGKILL, all of them
// but the caller), waits briefly for them to go, and removes the cgroup
// (and any cgroup below it) from every hierarchy. A cgroup that does
// not exist, or no longer does, is not an error.
func (c *Cgroup) Destroy() error {
	if !c.exists() {
		return nil
	}
	c.killAll()
	deadline := time.Now().Add(destroyTimeout)
	var errs []error
	for _, h := range c.hierarchies() {
		if err := removeTree(h[0], deadline); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// killAll sends SIGKILL to the cgroup's processes. It uses cgroup.kill
// where the kernel has it (v2, Linux 5.14); otherwise it freezes the
// cgroup first, where it can, so that no process forks a new one between
// the listing and the signals.
func (c *Cgroup) killAll() {
	if c.v2 {
		if err := writeFile(c.dir, "cgroup.kill", "1"); err == nil {
			return
		}
	}
	frozen := c.Freeze(true) == nil
	self := os.Getpid()
	pids, _ := c.Pids()
	for _, pid := range pids {
		if pid != self {
			unix.Kill(pid, unix.SIGKILL)
		}
	}
	if frozen {
		c.Freeze(false) // killed tasks only die once thawed
	}
}

// removeTree removes dir and the cgroups below it, innermost first,
// retrying while they are busy (processes still exiting) until deadline.
func removeTree(dir string, deadline time.Time) error {
	var dirs []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		for {
			err := unix.Rmdir(dirs[i])
			if err == nil || err == unix.ENOENT {
				break
			}
			if err != unix.EBUSY || time.Now().After(deadline) {
				return fmt.Errorf("removing cgroup %s: %v", dirs[i], err)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return nil
}

// writeFile writes value to the cgroup file dir/name, which must exist
// (cgroupfs does not create files).
func writeFile(dir, name, value string) error {
	p := filepath.Join(dir, name)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_TRUNC|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return &writeError{path: p, value: value, err: unwrap(err)}
	}
	_, err = f.WriteString(value)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return &writeError{path: p, value: value, err: unwrap(err)}
	}
	return nil
}

// writeError is a failed write of a value to a cgroup file.
type writeError struct {
	path, value string
	err         error
}

func (e *writeError) Error() string {
	return fmt.Sprintf("writing %q to %s: %v", e.value, e.path, e.err)
}
func (e *writeError) Unwrap() error { return e.err }

// unwrap returns the errno of a *PathError (its message says the path
// and the operation again otherwise).
func unwrap(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// readString reads a cgroup file, trimmed of surrounding white space.
func readString(dir, name string) (string, error) {
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(data)), nil
}

// fileExists tells whether the cgroup file dir/name exists.
func fileExists(dir, name string) bool {
	_, err := os.Stat(filepath.Join(dir, name))
	return err == nil
}

// readUint reads a file holding one number, or "max" (returned as
// ^uint64(0)). A negative number (v1's "-1") is also unlimited.
func readUint(dir, name string) (uint64, error) {
	s, err := readString(dir, name)
	if err != nil {
		return 0, err
	}
	return parseUint(s, filepath.Join(dir, name))
}

func parseUint(s, what string) (uint64, error) {
	if s == "max" || strings.HasPrefix(s, "-") {
		return ^uint64(0), nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: unexpected content %q", what, s)
	}
	return n, nil
}

// readKeyed reads a flat keyed file ("key value" lines: memory.stat,
// cpu.stat, cgroup.events, ...). Values that are not numbers are skipped.
func readKeyed(dir, name string) (map[string]uint64, error) {
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return nil, err
	}
	out := map[string]uint64{}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		if n, err := strconv.ParseUint(f[1], 10, 64); err == nil {
			out[f[0]] = n
		}
	}
	return out, nil
}
