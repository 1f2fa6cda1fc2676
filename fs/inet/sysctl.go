package inet

import (
	"encoding/binary"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"moat/abi/linux"
	"moat/vfs"
)

// Sysctls are the network's settings that sysctl names
// (net.ipv4.ip_unprivileged_port_start), as a container engine sets them
// through an OCI config's linux.sysctl. The zero value is Linux's
// default.
type Sysctls struct {
	// portStart is ip_unprivileged_port_start minus its default (1024),
	// so that the zero value is the default.
	portStart atomic.Int32
}

// DefaultUnprivilegedPortStart is ip_unprivileged_port_start's default.
const DefaultUnprivilegedPortStart = 1024

// UnprivilegedPortStart returns the first port a process without
// CAP_NET_BIND_SERVICE may bind.
func (s *Sysctls) UnprivilegedPortStart() int {
	return DefaultUnprivilegedPortStart + int(s.portStart.Load())
}

// SetUnprivilegedPortStart sets it (0..65535, else EINVAL).
func (s *Sysctls) SetUnprivilegedPortStart(n int) error {
	if n < 0 || n > 65535 {
		return unix.EINVAL
	}
	s.portStart.Store(int32(n - DefaultUnprivilegedPortStart))
	return nil
}

// capable is what a caller's context tells of its privileges (a task of
// moat's kernel); a context without it is privileged if root.
type capable interface {
	HasCapability(cap int) bool
}

// mayBind checks a bind to port under s: ports below the unprivileged
// start take CAP_NET_BIND_SERVICE, as Linux's inet_bind.
func (s *Sysctls) mayBind(ctx vfs.Context, port uint16) error {
	if port == 0 || int(port) >= s.UnprivilegedPortStart() {
		return nil
	}
	if c, ok := ctx.(capable); ok {
		if c.HasCapability(linux.CAP_NET_BIND_SERVICE) {
			return nil
		}
	} else if ctx.UID() == 0 {
		return nil
	}
	return unix.EACCES
}

// checkPort checks the port of sockaddr bytes b (the family's port is at
// offset 2 for both AF_INET and AF_INET6).
func (s *Sysctls) checkPort(ctx vfs.Context, b []byte) error {
	if len(b) < 4 {
		return nil
	}
	return s.mayBind(ctx, binary.BigEndian.Uint16(b[2:]))
}
