package oci

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// RunHooks runs a config's hooks of one kind on the host, in order, each
// with the container's state on its stdin, as the spec's lifecycle says.
// The first that fails (non-zero exit, or past its timeout) stops them,
// except for poststart and poststop hooks: there the spec has the others
// run on as if it had succeeded, and every failure is returned (for the
// caller to log as a warning).
func RunHooks(kind string, hooks []specs.Hook, st specs.State) error {
	if len(hooks) == 0 {
		return nil
	}
	state, err := json.Marshal(st)
	if err != nil {
		return err
	}
	var errs []error
	for i, h := range hooks {
		if err := runHook(kind, i, h, state); err != nil {
			if kind != "poststart" && kind != "poststop" {
				return err
			}
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func runHook(kind string, i int, h specs.Hook, state []byte) error {
	ctx := context.Background()
	cancel := func() {}
	if h.Timeout != nil {
		if *h.Timeout <= 0 {
			return fmt.Errorf("%s hook #%d: timeout must be positive", kind, i)
		}
		ctx, cancel = context.WithTimeout(ctx, time.Duration(*h.Timeout)*time.Second)
	}
	cmd := exec.CommandContext(ctx, h.Path)
	if len(h.Args) > 0 {
		cmd.Args = h.Args
	} else {
		cmd.Args = []string{h.Path}
	}
	cmd.Env = h.Env
	cmd.Stdin = bytes.NewReader(state)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	timedOut := ctx.Err() != nil
	cancel()
	if timedOut {
		return fmt.Errorf("%s hook #%d (%s): timed out after %ds", kind, i, h.Path, *h.Timeout)
	}
	if err != nil {
		return fmt.Errorf("%s hook #%d (%s): %v: %s", kind, i, h.Path, err, bytes.TrimSpace(out.Bytes()))
	}
	return nil
}
