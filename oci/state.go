package oci

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// DefaultRoot is where container state lives unless --root says otherwise.
const DefaultRoot = "/run/moat"

// Container statuses beyond the spec's four: paused, as runc reports it.
const StatusPaused specs.ContainerState = "paused"

// validID is what runc accepts as a container id.
var validID = regexp.MustCompile(`^[\w+\-.]+$`)

// CheckID rejects ids that are empty, too long or could escape the root.
func CheckID(id string) error {
	if !validID.MatchString(id) || id == "." || id == ".." || len(id) > 1024 {
		return fmt.Errorf("invalid container id format: %s", id)
	}
	return nil
}

// Container is a container's record in ROOT/ID/state.json: what the
// commands that follow create need to find and describe it.
type Container struct {
	ID          string            `json:"id"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Pid         int               `json:"pid"`       // the sentry's host pid; 0 until created
	PidStart    uint64            `json:"pid_start"` // its start time (proc(5) field 22), to tell it from a reused pid
	Status      string            `json:"status"`    // as last recorded; Status() checks the sentry is alive
	Created     time.Time         `json:"created"`
	Owner       string            `json:"owner"`
	Annotations map[string]string `json:"annotations,omitempty"`
	CgroupPath  string            `json:"cgroup_path,omitempty"`
	Hooks       *specs.Hooks      `json:"hooks,omitempty"` // poststop runs at delete
	dir         string
}

// ErrNotExist is returned for an unknown container id.
var ErrNotExist = errors.New("container does not exist")

// Dir returns the container's state directory.
func (c *Container) Dir() string { return c.dir }

// ControlSocket is the path of the sentry's control socket.
func (c *Container) ControlSocket() string { return filepath.Join(c.dir, "sentry.sock") }

// NewContainer makes the state directory ROOT/ID, failing if the id is
// taken.
func NewContainer(root, id, bundle string, s *specs.Spec) (*Container, error) {
	if err := CheckID(id); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("creating the state root %s: %w", root, err)
	}
	dir := filepath.Join(root, id)
	if err := os.Mkdir(dir, 0o700); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("container with id exists: %s", id)
		}
		return nil, err
	}
	c := &Container{ID: id, Bundle: bundle, Rootfs: s.Root.Path, Status: string(specs.StateCreating),
		Created: time.Now().UTC(), Owner: "", Annotations: s.Annotations, Hooks: s.Hooks, dir: dir}
	if err := c.Save(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return c, nil
}

// Load reads the record of container id.
func Load(root, id string) (*Container, error) {
	if err := CheckID(id); err != nil {
		return nil, err
	}
	dir := filepath.Join(root, id)
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("container %s does not exist", id)
	}
	if err != nil {
		return nil, err
	}
	c := &Container{dir: dir}
	if err := json.Unmarshal(b, c); err != nil {
		return nil, fmt.Errorf("container %s: state.json is corrupt: %v", id, err)
	}
	return c, nil
}

// List returns the records under root, by id.
func List(root string) ([]*Container, error) {
	ents, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*Container
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		if c, err := Load(root, e.Name()); err == nil {
			out = append(out, c)
		}
	}
	return out, nil
}

// Save writes the record atomically (a reader never sees half of it).
func (c *Container) Save() error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return WriteFileAtomic(filepath.Join(c.dir, "state.json"), b, 0o600)
}

// WriteFileAtomic writes data to path through a temporary file renamed
// over it: a reader sees the old contents or the new, never a part.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(perm)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

// SetStatus records a new status.
func (c *Container) SetStatus(s specs.ContainerState) error {
	c.Status = string(s)
	return c.Save()
}

// Remove deletes the state directory.
func (c *Container) Remove() error { return os.RemoveAll(c.dir) }

// Alive reports whether the container's sentry is still running: its pid
// exists and started when the recorded one did.
func (c *Container) Alive() bool {
	if c.Pid <= 0 {
		return false
	}
	// A zombie (or a dead task) has exited and awaits its parent's
	// wait: it is not running.
	state, start, err := procStat(c.Pid)
	return err == nil && start == c.PidStart && state != 'Z' && state != 'X'
}

// CurrentStatus is the status as the spec's state operation reports it:
// the recorded one while the sentry lives, stopped once it has gone.
func (c *Container) CurrentStatus() specs.ContainerState {
	s := specs.ContainerState(c.Status)
	if s == specs.StateCreating {
		return s
	}
	if !c.Alive() {
		return specs.StateStopped
	}
	return s
}

// State is the container's state as the spec's state operation gives it.
func (c *Container) State() specs.State {
	st := specs.State{Version: specs.Version, ID: c.ID, Status: c.CurrentStatus(), Bundle: c.Bundle, Annotations: c.Annotations}
	if st.Status != specs.StateStopped {
		st.Pid = c.Pid
	}
	return st
}

// ProcStartTime returns the start time of host process pid in clock ticks
// since boot (field 22 of /proc/PID/stat).
func ProcStartTime(pid int) (uint64, error) {
	_, start, err := procStat(pid)
	return start, err
}

// procStat reads host process pid's state letter (field 3) and start time
// (field 22) from /proc/PID/stat.
func procStat(pid int) (state byte, start uint64, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, err
	}
	// The command name, in parentheses, may contain spaces: fields
	// are counted after its closing parenthesis.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	start, err = strconv.ParseUint(f[19], 10, 64)
	return f[0][0], start, err
}

// WaitGone waits up to d for the sentry to exit.
func (c *Container) WaitGone(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for c.Alive() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// Kill sends a host signal to the sentry itself (delete --force, and a
// container whose sentry no longer answers).
func (c *Container) Kill(sig unix.Signal) error {
	if !c.Alive() {
		return nil
	}
	return unix.Kill(c.Pid, sig)
}

// HostPids returns host process pid and its descendants, in pid order.
func HostPids(pid int) []int {
	children := map[int][]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 {
			continue
		}
		if pp, err := strconv.Atoi(f[1]); err == nil {
			children[pp] = append(children[pp], p)
		}
	}
	out := []int{}
	for todo := []int{pid}; len(todo) > 0; {
		p := todo[0]
		todo = append(todo[1:], children[p]...)
		out = append(out, p)
	}
	sort.Ints(out)
	return out
}
