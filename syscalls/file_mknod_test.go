package syscalls

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestDecodeDev(t *testing.T) {
	for _, c := range []struct {
		arg          uint32
		major, minor uint32
	}{
		{0, 0, 0},
		{0x103, 1, 3},
		{0x0a3f, 10, 63},
		{0x11112c70, 300, 70000},
		{0xfffff, 0xfff, 0xff},
		{0xffffffff, 0xfff, 0xfffff},
	} {
		d := decodeDev(c.arg)
		if unix.Major(d) != c.major || unix.Minor(d) != c.minor {
			t.Errorf("decodeDev(%#x) = %d:%d, want %d:%d", c.arg, unix.Major(d), unix.Minor(d), c.major, c.minor)
		}
	}
}
