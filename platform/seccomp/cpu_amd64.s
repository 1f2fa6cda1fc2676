#include "textflag.h"

// func cpuNow() uint32
//
// The CPU the calling thread runs on, as node<<12|cpu, from the limit of
// Linux's per-CPU GDT segment (selector 0x7b, what the vDSO's getcpu
// reads); 0xffffffff where there is no such segment.
TEXT ·cpuNow(SB), NOSPLIT, $0-4
	MOVL $0x7b, AX
	LSLL AX, AX
	JEQ  ok
	MOVL $0xffffffff, AX
ok:
	MOVL AX, ret+0(FP)
	RET

// func pollWord(w *uint32, mask, want uint32, n int) bool
//
// Whether *w&mask == want, checked up to n (>= 1) times with a PAUSE
// after each check that fails.
TEXT ·pollWord(SB), NOSPLIT, $0-25
	MOVQ w+0(FP), DI
	MOVL mask+8(FP), SI
	MOVL want+12(FP), DX
	MOVQ n+16(FP), CX
loop:
	MOVL (DI), AX
	ANDL SI, AX
	CMPL AX, DX
	JEQ  yes
	PAUSE
	DECQ CX
	JNZ  loop
	MOVB $0, ret+24(FP)
	RET
yes:
	MOVB $1, ret+24(FP)
	RET
