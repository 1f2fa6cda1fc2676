package syscalls

import (
	"bytes"

	"golang.org/x/sys/unix"

	"moat/fs/inet"
	"moat/fs/netlink"
	"moat/fs/unixsock"
	"moat/kernel"
	"moat/vfs"
)

// Interface ioctls (netdevice(7)): on any socket, as on Linux, they read
// the sandbox's network interfaces. Setting anything is EPERM, as for a
// process without CAP_NET_ADMIN over the network (support: moat
// configures the sandbox's network itself).

// ifreqLen is sizeof(struct ifreq); ifNameSize is IFNAMSIZ.
const (
	ifreqLen   = 40
	ifNameSize = 16
)

// Linux's SIOC* numbers.
const (
	siocgifname    = 0x8910
	siocgifconf    = 0x8912
	siocgifflags   = 0x8913
	siocsifflags   = 0x8914
	siocgifaddr    = 0x8915
	siocsifaddr    = 0x8916
	siocgifnetmask = 0x891b
	siocsifnetmask = 0x891c
	siocgifmtu     = 0x8921
	siocsifmtu     = 0x8922
	siocgifhwaddr  = 0x8927
	siocgifindex   = 0x8933
	siocgiftxqlen  = 0x8942
)

// isSocket reports whether f is a socket of any family.
func isSocket(f *vfs.FileDescription) bool {
	switch f.Impl().(type) {
	case *unixsock.Socket, inet.Socket, *netlink.Socket:
		return true
	}
	return false
}

// ifIoctl handles req if it is an interface ioctl; handled reports
// whether it was one.
func ifIoctl(t *kernel.Task, req uint32, arg uintptr) (handled bool, ret uintptr, err error) {
	switch req {
	case siocsifflags, siocsifaddr, siocsifnetmask, siocsifmtu:
		return true, 0, unix.EPERM
	case siocgifname, siocgifflags, siocgifaddr, siocgifnetmask, siocgifmtu, siocgifhwaddr, siocgifindex, siocgiftxqlen:
	case siocgifconf:
		return true, 0, ifConf(t, arg)
	default:
		return false, 0, nil
	}
	var ifs []inet.Interface
	if n := t.Kernel().Net(); n != nil {
		ifs = n.Interfaces()
	}
	ifr := make([]byte, ifreqLen)
	if err := copyIn(t, arg, ifr); err != nil {
		return true, 0, err
	}
	var ifc *inet.Interface
	if req == siocgifname {
		index := int32(le.Uint32(ifr[ifNameSize:]))
		for i := range ifs {
			if int32(ifs[i].Index) == index {
				ifc = &ifs[i]
			}
		}
	} else {
		name := ifr[:ifNameSize]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		for i := range ifs {
			if ifs[i].Name == string(name) {
				ifc = &ifs[i]
			}
		}
	}
	if ifc == nil {
		return true, 0, unix.ENODEV
	}
	out := ifr[ifNameSize:]
	clear(out)
	switch req {
	case siocgifname:
		clear(ifr[:ifNameSize])
		copy(ifr[:ifNameSize-1], ifc.Name)
		le.PutUint32(out, uint32(ifc.Index))
	case siocgifindex:
		le.PutUint32(out, uint32(ifc.Index))
	case siocgifflags:
		le.PutUint16(out, uint16(ifc.Flags))
	case siocgifmtu:
		le.PutUint32(out, ifc.MTU)
	case siocgiftxqlen:
		le.PutUint32(out, 1000) // what netlink reports too
	case siocgifhwaddr:
		le.PutUint16(out, ifc.HWType)
		copy(out[2:], ifc.HWAddr)
	case siocgifaddr, siocgifnetmask:
		a := firstV4(ifc)
		if a == nil {
			return true, 0, unix.EADDRNOTAVAIL
		}
		le.PutUint16(out, unix.AF_INET)
		if req == siocgifaddr {
			copy(out[4:8], a.Addr)
		} else {
			m := ^uint32(0) << (32 - a.PrefixLen)
			out[4], out[5], out[6], out[7] = byte(m>>24), byte(m>>16), byte(m>>8), byte(m)
		}
	}
	return true, 0, copyOut(t, arg, ifr)
}

func firstV4(ifc *inet.Interface) *inet.IfAddr {
	for i := range ifc.Addrs {
		if ifc.Addrs[i].Family == unix.AF_INET && len(ifc.Addrs[i].Addr) == 4 && ifc.Addrs[i].PrefixLen > 0 {
			return &ifc.Addrs[i]
		}
	}
	return nil
}

// ifConf implements SIOCGIFCONF: an ifreq with the IPv4 address of each
// interface that has one, as far as ifc_len allows; a NULL ifc_buf asks
// for the length needed.
func ifConf(t *kernel.Task, arg uintptr) error {
	conf := make([]byte, 16) // struct ifconf: int ifc_len, pad, char *ifc_buf
	if err := copyIn(t, arg, conf); err != nil {
		return err
	}
	room := int32(le.Uint32(conf))
	buf := uintptr(le.Uint64(conf[8:]))
	var ifs []inet.Interface
	if n := t.Kernel().Net(); n != nil {
		ifs = n.Interfaces()
	}
	var out []byte
	for i := range ifs {
		a := firstV4(&ifs[i])
		if a == nil {
			continue
		}
		ifr := make([]byte, ifreqLen)
		copy(ifr[:ifNameSize-1], ifs[i].Name)
		le.PutUint16(ifr[ifNameSize:], unix.AF_INET)
		copy(ifr[ifNameSize+4:], a.Addr)
		out = append(out, ifr...)
	}
	if buf == 0 {
		le.PutUint32(conf, uint32(len(out)))
		return copyOut(t, arg, conf[:4])
	}
	if room < 0 {
		return unix.EINVAL
	}
	n := min(len(out), int(room)/ifreqLen*ifreqLen)
	if err := copyOut(t, buf, out[:n]); err != nil {
		return err
	}
	le.PutUint32(conf, uint32(n))
	return copyOut(t, arg, conf[:4])
}
