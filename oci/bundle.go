// Package oci implements moat's side of the OCI runtime specification:
// reading a bundle's config.json, the state directory of each container
// under the runtime's root, and the lifecycle (creating, created, running,
// stopped) that container engines drive through runc-compatible commands.
package oci

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// maxConfigSize bounds config.json: a bundle comes from the engine, but a
// runtime must not read an unbounded file into memory.
const maxConfigSize = 16 << 20

// LoadSpec reads and checks BUNDLE/config.json.
func LoadSpec(bundle string) (*specs.Spec, error) { return loadSpec(bundle, true) }

// loadSpec is LoadSpec; without paths, namespace paths are not opened (the
// sentry reads the config in PID and mount namespaces of its own, where
// the engine's /proc/PID/ns paths name nothing; create checked them).
func loadSpec(bundle string, paths bool) (*specs.Spec, error) {
	p := filepath.Join(bundle, "config.json")
	f, err := os.Open(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s: no config.json in the bundle", bundle)
		}
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > maxConfigSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", p, maxConfigSize)
	}
	var s specs.Spec
	dec := json.NewDecoder(f)
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%s: malformed: %v", p, err)
	}
	if err := checkSpec(&s, paths); err != nil {
		return nil, fmt.Errorf("%s: %v", p, err)
	}
	if !filepath.IsAbs(s.Root.Path) {
		s.Root.Path = filepath.Join(bundle, s.Root.Path)
	}
	return &s, nil
}

// checkSpec rejects configurations moat cannot run at all.
func checkSpec(s *specs.Spec, paths bool) error {
	if s.Root == nil || s.Root.Path == "" {
		return errors.New("root.path is required")
	}
	if s.Process == nil {
		return errors.New("process is required")
	}
	if len(s.Process.Args) == 0 {
		return errors.New("process.args must not be empty")
	}
	if s.Process.Cwd != "" && !filepath.IsAbs(s.Process.Cwd) {
		return fmt.Errorf("process.cwd %q must be an absolute path", s.Process.Cwd)
	}
	if s.Linux != nil {
		return checkNamespaces(s.Linux.Namespaces, paths)
	}
	return nil
}

// nsTypes maps the config's namespace types to their CLONE_NEW* flags,
// which ioctl(NS_GET_NSTYPE) returns for a namespace file.
var nsTypes = map[specs.LinuxNamespaceType]int{
	specs.PIDNamespace: unix.CLONE_NEWPID, specs.NetworkNamespace: unix.CLONE_NEWNET,
	specs.MountNamespace: unix.CLONE_NEWNS, specs.IPCNamespace: unix.CLONE_NEWIPC,
	specs.UTSNamespace: unix.CLONE_NEWUTS, specs.UserNamespace: unix.CLONE_NEWUSER,
	specs.CgroupNamespace: unix.CLONE_NEWCGROUP, specs.TimeNamespace: unix.CLONE_NEWTIME,
}

// checkNamespaces rejects an unknown or repeated namespace type, and a
// path that is not a namespace of its entry's type, as the spec requires
// ("the runtime MUST generate an error" for a path of the wrong type).
func checkNamespaces(nss []specs.LinuxNamespace, paths bool) error {
	seen := map[specs.LinuxNamespaceType]bool{}
	for i, ns := range nss {
		want, ok := nsTypes[ns.Type]
		if !ok {
			return fmt.Errorf("linux.namespaces[%d]: unknown type %q", i, ns.Type)
		}
		if seen[ns.Type] {
			return fmt.Errorf("linux.namespaces[%d]: type %q given twice", i, ns.Type)
		}
		seen[ns.Type] = true
		if ns.Path == "" || !paths {
			continue
		}
		fd, err := unix.Open(ns.Path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("linux.namespaces[%d]: %s: %v", i, ns.Path, err)
		}
		got, err := unix.IoctlRetInt(fd, unix.NS_GET_NSTYPE)
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("linux.namespaces[%d]: %s is not a namespace: %v", i, ns.Path, err)
		}
		if got != want {
			return fmt.Errorf("linux.namespaces[%d]: %s is not a %s namespace", i, ns.Path, ns.Type)
		}
	}
	return nil
}
