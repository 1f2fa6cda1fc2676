package oci

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The control protocol between moat's OCI commands and a container's
// sentry: JSON messages over a SOCK_SEQPACKET unix socket in the state
// directory (so each message arrives whole), with the stdio of an exec'd
// process passed as SCM_RIGHTS on its request. A connection carries one
// request; an exec's connection then stays open: the client may send
// signal and resize messages, and the sentry answers with the pid and,
// at the end, the exit status. Closing an exec's connection early kills
// the process. The socket is reachable only by the runtime's user: the
// state directory is mode 0700.

// Operations.
const (
	OpStart  = "start"  // run the container's process
	OpKill   = "kill"   // signal init, or every process with All
	OpExec   = "exec"   // start a new process; fds: stdin, stdout, stderr (or a terminal)
	OpSignal = "signal" // on an exec connection: signal its process
	OpResize = "resize" // on an exec connection: the terminal's new size
	OpPause  = "pause"
	OpResume = "resume"
	OpPs     = "ps"
	// OpCreate makes another container of a pod in this sandbox, from
	// Bundle; fds as for OpExec, then (RootFD) the container's root
	// directory. The connection then stays open, as an exec's: it
	// carries the container's exit status, and its end kills the
	// container.
	OpCreate = "create"
)

// maxMessage bounds one control message.
const maxMessage = 1 << 20

// Request is a message to the sentry.
type Request struct {
	Op string `json:"op"`
	// Container is the pod container the request is for ("": the
	// sandbox's own); Bundle is a new one's bundle (OpCreate).
	Container string `json:"container,omitempty"`
	Bundle    string `json:"bundle,omitempty"`
	// RootFD: the last fd of an OpCreate is the container's root
	// directory (O_PATH), opened by the stand-in in the host's mount
	// namespace. The pod's sentry has a mount namespace of its own,
	// copied when the pod started: it does not see a mount the engine
	// made later, as containerd's shim mounts each container's rootfs.
	RootFD bool `json:"rootfd,omitempty"`

	Signal  int            `json:"signal,omitempty"`
	All     bool           `json:"all,omitempty"`
	Process *specs.Process `json:"process,omitempty"`
	Rows    uint16         `json:"rows,omitempty"`
	Cols    uint16         `json:"cols,omitempty"`
}

// ProcessInfo describes a process of the sandbox (ps).
type ProcessInfo struct {
	PID, PPID int32
	UID       uint32
	State     string
	Cmd       string
}

// Response is a message from the sentry.
type Response struct {
	Error  string        `json:"error,omitempty"`
	PID    int32         `json:"pid,omitempty"`
	Exited bool          `json:"exited,omitempty"`
	Status int           `json:"status,omitempty"` // shell-style: the code, or 128+signal
	Procs  []ProcessInfo `json:"procs,omitempty"`
}

// Conn is one control connection.
type Conn struct{ c *net.UnixConn }

// Dial connects to a sentry's control socket.
func Dial(path string) (*Conn, error) {
	addr, done, err := SocketAddr(path)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the container's sentry: %w", err)
	}
	defer done()
	c, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: addr, Net: "unixpacket"})
	if err != nil {
		return nil, fmt.Errorf("cannot reach the container's sentry: %w", err)
	}
	return &Conn{c}, nil
}

// Close closes the connection.
func (c *Conn) Close() error { return c.c.Close() }

// Send sends a message with fds attached.
func (c *Conn) Send(v any, fds ...int) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	_, _, err = c.c.WriteMsgUnix(b, oob, nil)
	return err
}

// Receive reads a message into v and returns the fds attached to it.
func (c *Conn) Receive(v any) ([]int, error) {
	buf := make([]byte, maxMessage)
	oob := make([]byte, unix.CmsgSpace(3*4))
	n, oobn, flags, _, err := c.c.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil, err
	}
	var fds []int
	if oobn > 0 {
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err == nil {
			for _, m := range msgs {
				if got, err := unix.ParseUnixRights(&m); err == nil {
					for _, fd := range got {
						unix.CloseOnExec(fd) // never into a process the sentry starts
					}
					fds = append(fds, got...)
				}
			}
		}
	}
	if flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0 {
		closeAll(fds)
		return nil, errors.New("control message too large")
	}
	if n == 0 {
		closeAll(fds)
		return nil, errors.New("connection closed")
	}
	if err := json.Unmarshal(buf[:n], v); err != nil {
		closeAll(fds)
		return nil, fmt.Errorf("malformed control message: %v", err)
	}
	return fds, nil
}

func closeAll(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// Call sends one request and returns the one response.
func Call(path string, req Request) (Response, error) {
	c, err := Dial(path)
	if err != nil {
		return Response{}, err
	}
	defer c.Close()
	c.c.SetDeadline(time.Now().Add(30 * time.Second))
	if err := c.Send(req); err != nil {
		return Response{}, err
	}
	var resp Response
	fds, err := c.Receive(&resp)
	closeAll(fds)
	if err != nil {
		return Response{}, err
	}
	if resp.Error != "" {
		return resp, errors.New(resp.Error)
	}
	return resp, nil
}

// Listen makes the control socket at path.
func Listen(path string) (*net.UnixListener, error) {
	os.Remove(path)
	addr, done, err := SocketAddr(path)
	if err != nil {
		return nil, err
	}
	defer done()
	ln, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: addr, Net: "unixpacket"})
	if err != nil {
		return nil, err
	}
	if addr != path {
		// The /proc/self/fd name is gone by then: no unlinking on close.
		ln.SetUnlinkOnClose(false)
	}
	return ln, nil
}

// maxSocketPath is the longest path a sockaddr_un holds (108 bytes with
// the terminating NUL).
const maxSocketPath = 107

// SocketAddr returns a name for unix socket path that fits a
// sockaddr_un: path itself if short enough, else its directory, opened
// O_PATH, as /proc/self/fd/N/BASE (engines give state directories longer
// than 108 bytes: docker's exec root has the 64-digit id). done closes
// that directory once the socket is bound or connected.
func SocketAddr(path string) (addr string, done func(), err error) {
	if len(path) <= maxSocketPath {
		return path, func() {}, nil
	}
	fd, err := unix.Open(filepath.Dir(path), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", nil, fmt.Errorf("socket %s: %w", path, err)
	}
	addr = fmt.Sprintf("/proc/self/fd/%d/%s", fd, filepath.Base(path))
	if len(addr) > maxSocketPath {
		unix.Close(fd)
		return "", nil, fmt.Errorf("socket %s: name too long", path)
	}
	return addr, func() { unix.Close(fd) }, nil
}

// NewConn wraps an accepted connection.
func NewConn(c *net.UnixConn) *Conn { return &Conn{c} }

// connections serves a control socket: its accept loop hands each
// connection to a goroutine of its own and counts it until it has been
// served, so that the process answers every client it took before it
// exits. A kill that ends the container's process raced the process's
// exit with its answer otherwise, and the client (containerd's shim) saw
// EOF and reported the kill failed.
type connections struct {
	wg   sync.WaitGroup
	done chan struct{} // closed when the accept loop has ended
}

// serve accepts connections on ln until it is closed, each served by
// handle.
func (cs *connections) serve(ln *net.UnixListener, handle func(*Conn)) {
	defer close(cs.done)
	for {
		uc, err := ln.AcceptUnix()
		if err != nil {
			return
		}
		// Added to only here: wait waits for this loop to end
		// before it waits for the group, so no Add races its Wait.
		cs.wg.Add(1)
		go func() {
			defer cs.wg.Done()
			handle(NewConn(uc))
		}()
	}
}

// newConnections returns a connections whose serve has not started.
func newConnections() *connections { return &connections{done: make(chan struct{})} }

// wait waits, at most d, for the accept loop to end (its listener must be
// closed) and for every connection it took to be served.
func (cs *connections) wait(d time.Duration) {
	served := make(chan struct{})
	go func() {
		<-cs.done
		cs.wg.Wait()
		close(served)
	}()
	select {
	case <-served:
	case <-time.After(d):
	}
}
