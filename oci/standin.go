package oci

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// A container of a pod runs in the sandbox of the pod's first container
// (its "sandbox" container, which holds the pod's shared namespaces): the
// CRI annotations name it. Its own host process is a stand-in: it asks
// the pod's sentry to create the container (OpCreate, with the engine's
// stdio), serves the container's control socket by relaying each request
// to the pod's sentry, and exits with the container's status. Engines see
// the stand-in's pid as the container's.

// Annotations by which containerd's and CRI-O's CRI implementations tell
// a pod's containers apart.
var (
	typeAnnotations    = []string{"io.kubernetes.cri.container-type", "io.kubernetes.cri-o.ContainerType"}
	sandboxAnnotations = []string{"io.kubernetes.cri.sandbox-id", "io.kubernetes.cri-o.SandboxID"}
)

// PodSandbox returns the id of the sandbox container that container id
// of spec joins, or "" if it starts a sandbox of its own.
func PodSandbox(id string, s *specs.Spec) string {
	for i, key := range typeAnnotations {
		if s.Annotations[key] == "container" {
			if sb := s.Annotations[sandboxAnnotations[i]]; sb != "" && sb != id {
				return sb
			}
		}
	}
	return ""
}

// RunStandIn is the stand-in of container o.ID in the sandbox of
// container sandboxID; it returns the container's exit code.
func RunStandIn(o SentryOptions, sandboxID string) int {
	fail := func(err error) int {
		fmt.Fprintf(o.Ready, "%v\n", err)
		o.Ready.Close()
		return 1
	}
	c, err := Load(o.Root, o.ID)
	if err != nil {
		return fail(err)
	}
	pod, err := Load(o.Root, sandboxID)
	if err != nil {
		return fail(fmt.Errorf("the pod's sandbox: %w", err))
	}
	if !pod.Alive() {
		return fail(fmt.Errorf("the pod's sandbox container %s is not running", sandboxID))
	}
	spec, err := loadSpec(c.Bundle, false)
	if err != nil {
		return fail(err)
	}
	up, err := Dial(pod.ControlSocket())
	if err != nil {
		return fail(err)
	}
	fds := []int{0, 1, 2}
	if spec.Process.Terminal {
		if o.ConsoleSocket == "" {
			return fail(errors.New("process.terminal is set but no --console-socket was given"))
		}
		master, slave, err := OpenHostPty()
		if err != nil {
			return fail(err)
		}
		err = SendConsole(o.ConsoleSocket, master, slave.Name())
		master.Close()
		if err != nil {
			return fail(err)
		}
		defer slave.Close()
		fds = []int{int(slave.Fd())}
	}
	// The root as the host sees it now: the engine may have mounted it
	// after the pod's sentry took its copy of the host's mounts.
	root, err := unix.Open(spec.Root.Path, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fail(fmt.Errorf("rootfs %s: %w", spec.Root.Path, err))
	}
	err = up.Send(Request{Op: OpCreate, Container: o.ID, Bundle: c.Bundle, RootFD: true}, append(fds, root)...)
	unix.Close(root)
	if err != nil {
		return fail(err)
	}
	var resp Response
	if _, err := up.Receive(&resp); err != nil {
		return fail(fmt.Errorf("the pod's sentry: %w", err))
	}
	if resp.Error != "" {
		return fail(errors.New(resp.Error))
	}
	ln, err := Listen(c.ControlSocket())
	if err != nil {
		return fail(err)
	}
	c.Pid = os.Getpid()
	c.PidStart, _ = ProcStartTime(c.Pid)
	c.Status = string(specs.StateCreated)
	if err := c.Save(); err != nil {
		return fail(err)
	}
	DetachStdio()
	io.WriteString(o.Ready, "ok\n")
	o.Ready.Close()
	conns := newConnections()
	go conns.serve(ln, func(conn *Conn) { relay(conn, pod.ControlSocket(), c) })

	status := 255 // the pod's sentry went away
	for {
		var m Response
		if _, err := up.Receive(&m); err != nil {
			break
		}
		if m.Exited {
			status = m.Status
			break
		}
	}
	setStatus(c, specs.StateStopped)
	ln.Close()
	conns.wait(time.Second) // a kill that ended the process is answered
	return status
}

// statusMu orders a stand-in's status changes (start's relay and the
// container's exit).
var statusMu sync.Mutex

func setStatus(c *Container, st specs.ContainerState) {
	statusMu.Lock()
	defer statusMu.Unlock()
	if c.Status != string(specs.StateStopped) {
		c.Status = string(st)
		c.Save()
	}
}

// relay serves a connection to the container's control socket: relayed
// to the pod's sentry with the container named in its request.
func relay(down *Conn, upstream string, c *Container) {
	defer down.Close()
	var req Request
	fds, err := down.Receive(&req)
	if err != nil {
		return
	}
	if req.Op == OpCreate {
		closeAll(fds)
		down.Send(Response{Error: "create: not through a container"})
		return
	}
	req.Container = c.ID
	up, err := Dial(upstream)
	if err != nil {
		closeAll(fds)
		down.Send(Response{Error: err.Error()})
		return
	}
	defer up.Close()
	err = up.Send(req, fds...)
	closeAll(fds) // the sentry has its own copies
	if err != nil {
		down.Send(Response{Error: err.Error()})
		return
	}
	if req.Op == OpStart {
		var resp Response
		if _, err := up.Receive(&resp); err != nil {
			down.Send(Response{Error: err.Error()})
			return
		}
		if resp.Error == "" {
			setStatus(c, specs.StateRunning)
		}
		down.Send(resp)
		return
	}
	// Both ways until either side ends (an exec's signals, resizes and
	// status).
	done := make(chan struct{}, 2)
	go func() {
		for {
			var m Request
			fds, err := down.Receive(&m)
			if err != nil {
				break
			}
			up.Send(m)
			closeAll(fds)
		}
		up.Close()
		done <- struct{}{}
	}()
	for {
		var m Response
		if _, err := up.Receive(&m); err != nil {
			break
		}
		if down.Send(m) != nil {
			break
		}
	}
	down.Close()
	<-done
}
