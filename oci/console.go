package oci

import (
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// A container with a terminal gets one the engine can drive: moat opens a
// host pseudo-terminal, hands its master to the engine through the
// console socket (as runc does), and copies between the slave, in raw
// mode, and a pseudo-terminal of the sandbox, whose line discipline is
// the one the container's programs see.

// OpenHostPty opens a new host pseudo-terminal pair.
func OpenHostPty() (master, slave *os.File, err error) {
	mfd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("opening a host pseudo-terminal: %w", err)
	}
	if err := unix.IoctlSetPointerInt(mfd, unix.TIOCSPTLCK, 0); err != nil {
		unix.Close(mfd)
		return nil, nil, fmt.Errorf("unlocking the host pseudo-terminal: %w", err)
	}
	// TIOCGPTPEER opens the slave with the flags its argument gives.
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(mfd), unix.TIOCGPTPEER, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC)
	if errno != 0 {
		unix.Close(mfd)
		return nil, nil, fmt.Errorf("opening the host pseudo-terminal's slave: %w", errno)
	}
	sfd := int(r)
	n, err := unix.IoctlGetInt(mfd, unix.TIOCGPTN)
	if err != nil {
		unix.Close(mfd)
		unix.Close(sfd)
		return nil, nil, err
	}
	return os.NewFile(uintptr(mfd), "/dev/ptmx"), os.NewFile(uintptr(sfd), fmt.Sprintf("/dev/pts/%d", n)), nil
}

// SendConsole sends the master to the engine's console socket, with the
// slave's name as the message, as runc does.
func SendConsole(socketPath string, master *os.File, name string) error {
	addr, done, err := SocketAddr(socketPath)
	if err != nil {
		return fmt.Errorf("connecting to the console socket: %w", err)
	}
	defer done()
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: addr, Net: "unix"})
	if err != nil {
		return fmt.Errorf("connecting to the console socket %s: %w", socketPath, err)
	}
	defer c.Close()
	if _, _, err := c.WriteMsgUnix([]byte(name), unix.UnixRights(int(master.Fd())), nil); err != nil {
		return fmt.Errorf("sending the terminal to the console socket: %w", err)
	}
	return nil
}
