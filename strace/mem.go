package strace

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"strings"
)

const pageSize = 4096

// read copies exactly n bytes at addr from application memory. It fails if
// there is no memory, addr is NULL, or fewer than n bytes are readable.
func (c *call) read(addr uintptr, n int) ([]byte, bool) {
	if c.mem == nil || addr == 0 || n < 0 {
		return nil, false
	}
	buf := make([]byte, n)
	if n == 0 {
		return buf, true
	}
	got, err := c.mem.CopyIn(addr, buf)
	if err != nil || got != n {
		return nil, false
	}
	return buf, true
}

// readU64 reads a little-endian 64-bit word.
func (c *call) readU64(addr uintptr) (uint64, bool) {
	b, ok := c.read(addr, 8)
	if !ok {
		return 0, false
	}
	return binary.LittleEndian.Uint64(b), true
}

// readU32 reads a little-endian 32-bit word.
func (c *call) readU32(addr uintptr) (uint32, bool) {
	b, ok := c.read(addr, 4)
	if !ok {
		return 0, false
	}
	return binary.LittleEndian.Uint32(b), true
}

// readCString reads a NUL-terminated string of at most max bytes (not
// counting the NUL). It reads in chunks that never cross a page boundary,
// so a string ending just before an unmapped page is still readable. It
// reports whether the string was complete (a NUL was found within max
// bytes); ok is false if the memory could not be read before either a NUL
// or max bytes were seen.
func (c *call) readCString(addr uintptr, max int) (s []byte, complete, ok bool) {
	if c.mem == nil || addr == 0 {
		return nil, false, false
	}
	var out []byte
	for len(out) <= max {
		chunk := pageSize - int((addr+uintptr(len(out)))%pageSize)
		if chunk > 256 {
			chunk = 256
		}
		if want := max + 1 - len(out); chunk > want {
			chunk = want
		}
		buf := make([]byte, chunk)
		n, err := c.mem.CopyIn(addr+uintptr(len(out)), buf)
		if n > chunk {
			n = chunk
		}
		if i := bytes.IndexByte(buf[:n], 0); i >= 0 {
			return append(out, buf[:i]...), true, true
		}
		out = append(out, buf[:n]...)
		if err != nil || n < chunk {
			return nil, false, false
		}
	}
	return out[:max], false, true
}

// quote renders b as a C string literal the way strace does: printable
// ASCII as is, the usual backslash escapes, and octal for anything else.
func quote(b []byte) string {
	var s strings.Builder
	s.WriteByte('"')
	for i, ch := range b {
		switch ch {
		case '"':
			s.WriteString(`\"`)
		case '\\':
			s.WriteString(`\\`)
		case '\t':
			s.WriteString(`\t`)
		case '\n':
			s.WriteString(`\n`)
		case '\v':
			s.WriteString(`\v`)
		case '\f':
			s.WriteString(`\f`)
		case '\r':
			s.WriteString(`\r`)
		default:
			if ch >= 0x20 && ch < 0x7f {
				s.WriteByte(ch)
				continue
			}
			s.WriteByte('\\')
			// Use the short form unless the next byte is an octal
			// digit, which would otherwise be read as part of it.
			if i+1 < len(b) && b[i+1] >= '0' && b[i+1] <= '7' {
				s.WriteByte('0' + ch>>6)
				s.WriteByte('0' + (ch>>3)&7)
				s.WriteByte('0' + ch&7)
			} else {
				s.WriteString(strconv.FormatUint(uint64(ch), 8))
			}
		}
	}
	s.WriteByte('"')
	return s.String()
}

// buffer renders n bytes at addr as a quoted, possibly truncated string, or
// the address if the memory cannot be read.
func (c *call) buffer(addr uintptr, n uint64) string {
	if addr == 0 && n == 0 {
		return "NULL"
	}
	show := n
	if show > MaxStringLen {
		show = MaxStringLen
	}
	b, ok := c.read(addr, int(show))
	if !ok {
		return ptr(addr)
	}
	if show < n {
		return quote(b) + "..."
	}
	return quote(b)
}

// cstring renders the NUL-terminated string at addr, truncated after max
// bytes, or the address if it cannot be read.
func (c *call) cstring(addr uintptr, max int) string {
	if addr == 0 {
		return "NULL"
	}
	s, complete, ok := c.readCString(addr, max)
	if !ok {
		return ptr(addr)
	}
	if !complete {
		return quote(s) + "..."
	}
	return quote(s)
}

// hex renders v as strace does for hexadecimal values: 0 or 0x....
func hex(v uint64) string {
	if v == 0 {
		return "0"
	}
	return "0x" + strconv.FormatUint(v, 16)
}

// ptr renders a pointer: NULL or its address in hex.
func ptr(v uintptr) string {
	if v == 0 {
		return "NULL"
	}
	return hex(uint64(v))
}

// octal renders a file mode the way strace does: 0644, 000, 022, 04755.
func octal(v uint64) string {
	s := strconv.FormatUint(v, 8)
	for len(s) < 3 {
		s = "0" + s
	}
	if s[0] != '0' {
		s = "0" + s
	}
	return s
}

func dec(v int64) string   { return strconv.FormatInt(v, 10) }
func udec(v uint64) string { return strconv.FormatUint(v, 10) }
