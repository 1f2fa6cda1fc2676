package tty

import (
	"encoding/binary"
)

var le = binary.LittleEndian

// termios flag bits (asm-generic/termbits.h) that the line discipline
// looks at.
const (
	// c_iflag
	iIGNBRK  = 0o1
	iPARMRK  = 0o10
	iISTRIP  = 0o40
	iINLCR   = 0o100
	iIGNCR   = 0o200
	iICRNL   = 0o400
	iIUCLC   = 0o1000
	iIXON    = 0o2000
	iIXANY   = 0o4000
	iIMAXBEL = 0o20000
	iIUTF8   = 0o40000

	// c_oflag
	oOPOST  = 0o1
	oOLCUC  = 0o2
	oONLCR  = 0o4
	oOCRNL  = 0o10
	oONOCR  = 0o20
	oONLRET = 0o40
	oTABDLY = 0o14000
	oXTABS  = 0o14000

	// c_cflag
	cB38400 = 0o17
	cCS8    = 0o60
	cCSIZE  = 0o60
	cCREAD  = 0o200
	cPARENB = 0o400
	cHUPCL  = 0o2000

	// c_lflag
	lISIG    = 0o1
	lICANON  = 0o2
	lECHO    = 0o10
	lECHOE   = 0o20
	lECHOK   = 0o40
	lECHONL  = 0o100
	lNOFLSH  = 0o200
	lTOSTOP  = 0o400
	lECHOCTL = 0o1000
	lECHOPRT = 0o2000
	lECHOKE  = 0o4000
	lIEXTEN  = 0o100000
)

// c_cc indices.
const (
	vINTR    = 0
	vQUIT    = 1
	vERASE   = 2
	vKILL    = 3
	vEOF     = 4
	vTIME    = 5
	vMIN     = 6
	vSTART   = 8
	vSTOP    = 9
	vSUSP    = 10
	vEOL     = 11
	vREPRINT = 12
	vWERASE  = 14
	vLNEXT   = 15
	vEOL2    = 16
	numCC    = 19
)

// termiosSize is the size of struct termios as the TCGETS family copies
// it; termios2Size adds the input and output speeds (TCGETS2).
const (
	termiosSize  = 36
	termios2Size = 44
)

// Termios is a terminal's settings (struct termios2).
type Termios struct {
	Iflag, Oflag, Cflag, Lflag uint32
	Line                       uint8
	CC                         [numCC]uint8
	ISpeed, OSpeed             uint32
}

// defaultTermios is a new pseudo-terminal's: Linux's tty_std_termios with
// the pty slave's c_cflag (B38400 CS8 CREAD, no HUPCL).
func defaultTermios() Termios {
	return Termios{
		Iflag: iICRNL | iIXON,
		Oflag: oOPOST | oONLCR,
		Cflag: cB38400 | cCS8 | cCREAD,
		Lflag: lISIG | lICANON | lECHO | lECHOE | lECHOK | lECHOCTL | lECHOKE | lIEXTEN,
		// ^C ^\ DEL ^U ^D, TIME 0, MIN 1, SWTC 0, ^Q ^S ^Z, EOL 0, ^R ^O ^W ^V.
		CC:     [numCC]uint8{3, 0o34, 0o177, 0o25, 4, 0, 1, 0, 0o21, 0o23, 0o32, 0, 0o22, 0o17, 0o27, 0o26, 0},
		ISpeed: 38400,
		OSpeed: 38400,
	}
}

// encode returns the first n bytes (termiosSize or termios2Size) of the
// struct as Linux lays it out.
func (t *Termios) encode(n int) []byte {
	b := make([]byte, termios2Size)
	le.PutUint32(b[0:], t.Iflag)
	le.PutUint32(b[4:], t.Oflag)
	le.PutUint32(b[8:], t.Cflag)
	le.PutUint32(b[12:], t.Lflag)
	b[16] = t.Line
	copy(b[17:36], t.CC[:])
	le.PutUint32(b[36:], t.ISpeed)
	le.PutUint32(b[40:], t.OSpeed)
	return b[:n]
}

// decode reads a struct termios (36 bytes) or termios2 (44 bytes).
func decodeTermios(b []byte) Termios {
	t := Termios{
		Iflag: le.Uint32(b[0:]),
		Oflag: le.Uint32(b[4:]),
		Cflag: le.Uint32(b[8:]),
		Lflag: le.Uint32(b[12:]),
		Line:  b[16],
	}
	copy(t.CC[:], b[17:36])
	if len(b) >= termios2Size {
		t.ISpeed, t.OSpeed = le.Uint32(b[36:]), le.Uint32(b[40:])
	}
	return t
}

// baudRates maps the CBAUD codes to speeds (Linux's baud_table).
var baudRates = [...]uint32{0, 50, 75, 110, 134, 150, 200, 300, 600, 1200, 1800, 2400, 4800, 9600, 19200, 38400,
	57600, 115200, 230400, 460800, 500000, 576000, 921600, 1000000, 1152000, 1500000, 2000000, 2500000, 3000000, 3500000, 4000000}

// speedOf returns the speed that c_cflag's CBAUD bits encode, or ok
// false for BOTHER (the speed is given in the speed fields).
func speedOf(cflag uint32) (uint32, bool) {
	const cbaud, cbaudex, bother = 0o10017, 0o10000, 0o10000
	code := cflag & cbaud
	if code == bother {
		return 0, false
	}
	i := int(code & 0o17)
	if code&cbaudex != 0 {
		i += 15
	}
	if i < len(baudRates) {
		return baudRates[i], true
	}
	return 0, true
}

func (t *Termios) icanon() bool { return t.Lflag&lICANON != 0 }
func (t *Termios) echo() bool   { return t.Lflag&lECHO != 0 }
func (t *Termios) isig() bool   { return t.Lflag&lISIG != 0 }
func (t *Termios) iexten() bool { return t.Lflag&lIEXTEN != 0 }

// is reports whether c is the special character at index i (a disabled
// one, 0, matches nothing).
func (t *Termios) is(c byte, i int) bool { return t.CC[i] != 0 && t.CC[i] == c }

// iscntrl is the kernel's iscntrl: the C0 controls, DEL, and the C1
// controls of Latin-1.
func iscntrl(c byte) bool { return c < 0x20 || c == 0x7f || c >= 0x80 && c < 0xa0 }

// isContinuation reports whether c continues a UTF-8 sequence (only with
// IUTF8).
func (t *Termios) isContinuation(c byte) bool { return t.Iflag&iIUTF8 != 0 && c&0xc0 == 0x80 }
