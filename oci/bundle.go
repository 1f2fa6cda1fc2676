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
)

// maxConfigSize bounds config.json: a bundle comes from the engine, but a
// runtime must not read an unbounded file into memory.
const maxConfigSize = 16 << 20

// LoadSpec reads and checks BUNDLE/config.json.
func LoadSpec(bundle string) (*specs.Spec, error) {
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
	if err := checkSpec(&s); err != nil {
		return nil, fmt.Errorf("%s: %v", p, err)
	}
	if !filepath.IsAbs(s.Root.Path) {
		s.Root.Path = filepath.Join(bundle, s.Root.Path)
	}
	return &s, nil
}

// checkSpec rejects configurations moat cannot run at all.
func checkSpec(s *specs.Spec) error {
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
	return nil
}
