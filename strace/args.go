package strace

import "strconv"

// Argument formatters. Each argFn renders argument i of a call; the
// constructors below (inBuf, outBuf, ...) build formatters that also look
// at a related argument or at the return value.

// Scalar arguments.
var (
	aHex argFn = func(c *call, i int) string { return hex(uint64(c.args[i])) }
	aPtr argFn = func(c *call, i int) string { return ptr(c.args[i]) }
	// aInt is a C int (fd, pid, uid, ...): the low 32 bits, signed.
	aInt  argFn = func(c *call, i int) string { return dec(int64(int32(c.args[i]))) }
	aFD         = aInt
	aUint argFn = func(c *call, i int) string { return udec(uint64(uint32(c.args[i]))) }
	// aLong is a C long or off_t.
	aLong argFn = func(c *call, i int) string { return dec(int64(c.args[i])) }
	// aUlong is a size_t or unsigned long.
	aUlong argFn = func(c *call, i int) string { return udec(uint64(c.args[i])) }
	aMode  argFn = func(c *call, i int) string { return octal(uint64(uint32(c.args[i]))) }

	aDirFD argFn = func(c *call, i int) string {
		if int32(c.args[i]) == atFDCWD {
			return "AT_FDCWD"
		}
		return dec(int64(int32(c.args[i])))
	}

	// aPath is a NUL-terminated path name, shown in full (up to PATH_MAX).
	aPath argFn = func(c *call, i int) string { return c.cstring(c.args[i], maxPathLen) }
	// aStr is a NUL-terminated string truncated like a buffer.
	aStr argFn = func(c *call, i int) string { return c.cstring(c.args[i], MaxStringLen) }

	aOpenFlags   = fn(openFlags)
	aAccessMode  = fn(accessMode)
	aProt        = fn(prot)
	aMmapFlags   = fn(mmapFlags)
	aClock       = fn(clockID)
	aSignal      = fn(signalName)
	aSockType    = fn(sockType)
	aStatxFlags  = fn(statxFlags)
	aFcntlCmd    = enumArg(fcntlCmds)
	aWhence      = enumArg(whences)
	aMadvise     = enumArg(madvAdvice)
	aSigHow      = enumArg(sigHows)
	aRlimitRes   = enumArg(rlimitResources)
	aArchCode    = enumArg(archPrctlCodes)
	aIoctlReq    = enumArg(ioctlRequests)
	aFamily      = enumArg(addressFamilies)
	aShutdownHow = enumArg(shutdownHows)
	aEpollCtlOp  = enumArg(epollCtlOps)
	aFdFlags     = flagsArg(fdFlags)
	aAtFlags     = flagsArg(atFlags)
	aUnlinkFlags = flagsArg(unlinkatFlags)
	aFaccessFlag = flagsArg(faccessatFlags)
	aMremapFlags = flagsArg(mremapFlags)
	aRenameFlags = flagsArg(renameFlags)
	aTimerFlags  = flagsArg(timerFlags)
	aGrndFlags   = flagsArg(grndFlags)
	aWaitOptions = flagsArg(waitOptions)
	aStatxMask   = flagsArg(statxMask)
	aMsgFlags    = flagsArg(msgFlags)
	aFlockOp     = flagsArg(flockOps)
)

// fn adapts a value renderer to an argFn.
func fn(f func(uint64) string) argFn {
	return func(c *call, i int) string { return f(uint64(c.args[i])) }
}

// enumArg renders an argument that takes one of the values in x (as a C
// int), falling back to decimal.
func enumArg(x xlat) argFn {
	return func(c *call, i int) string {
		v := uint64(uint32(c.args[i]))
		if n := x.enum(v); n != "" {
			return n
		}
		if uint64(c.args[i]) > 0xffffffff {
			return hex(uint64(c.args[i]))
		}
		return hex(v)
	}
}

// flagsArg renders an OR of the flags in x.
func flagsArg(x xlat) argFn {
	return func(c *call, i int) string { return x.flags(uint64(c.args[i])) }
}

// inBuf is a buffer the application passes in; lenArg holds its length.
func inBuf(lenArg int) argFn {
	return func(c *call, i int) string { return c.buffer(c.args[i], uint64(c.args[lenArg])) }
}

// outBuf is a buffer the kernel fills; the number of valid bytes is the
// return value. Its contents are shown only when the call succeeded.
func outBuf(c *call, i int) string {
	if !c.ok() {
		return ptr(c.args[i])
	}
	return c.buffer(c.args[i], uint64(c.ret))
}

// outPath is a buffer the kernel fills with a NUL-terminated path name
// (getcwd); it is shown in full when the call succeeded.
func outPath(c *call, i int) string {
	if !c.ok() || c.ret == 0 {
		return ptr(c.args[i])
	}
	return c.cstring(c.args[i], maxPathLen)
}

// openMode is the mode argument of open/openat; flagsArg holds the flags.
// It is shown only when the flags create a file.
func openMode(flagsArg int) argFn {
	return func(c *call, i int) string {
		if uint64(c.args[flagsArg])&(oCreat|oTmpfileB) == 0 {
			return ""
		}
		return octal(uint64(uint32(c.args[i])))
	}
}

const oCreat = 0100

// aFileMode is a mode with its file type (mknod).
var aFileMode = fn(func(v uint64) string { return fileMode(uint64(uint32(v))) })

// mknodDev is mknod's device number, shown (as makedev) only for the
// device types in argument modeArg.
func mknodDev(modeArg int) argFn {
	return func(c *call, i int) string {
		if !isDevice(uint64(uint32(c.args[modeArg]))) {
			return ""
		}
		d := uint32(c.args[i])
		return makedev(uint64(d&0xfff00>>8), uint64(d&0xff|d>>12&0xfff00))
	}
}

// ifSet shows argument i only when argument flagsArg has one of bits set.
func ifSet(flagsArg int, bits uint64, f argFn) argFn {
	return func(c *call, i int) string {
		if uint64(c.args[flagsArg])&bits == 0 {
			return ""
		}
		return f(c, i)
	}
}

// out wraps a renderer of kernel-filled memory: it is used only if the call
// succeeded and the pointer is not NULL; otherwise the pointer is shown.
func out(f func(c *call, addr uintptr) (string, bool)) argFn {
	return func(c *call, i int) string {
		addr := c.args[i]
		if addr == 0 || !c.ok() {
			return ptr(addr)
		}
		if s, ok := f(c, addr); ok {
			return s
		}
		return ptr(addr)
	}
}

// in wraps a renderer of application-supplied memory: NULL and unreadable
// pointers print as the pointer.
func in(f func(c *call, addr uintptr) (string, bool)) argFn {
	return func(c *call, i int) string {
		addr := c.args[i]
		if addr == 0 {
			return "NULL"
		}
		if s, ok := f(c, addr); ok {
			return s
		}
		return ptr(addr)
	}
}

// sized binds a renderer that needs the value of another argument (a
// length or count) to that argument.
func sized(sizeArg int, f func(c *call, addr uintptr, n uint64) (string, bool)) func(c *call, addr uintptr) (string, bool) {
	return func(c *call, addr uintptr) (string, bool) { return f(c, addr, uint64(c.args[sizeArg])) }
}

// Struct arguments.
var (
	aInTimespec  = in(timespec)
	aOutTimespec = out(timespec)
	aInTimeval   = in(timeval)
	aOutTimeval  = out(timeval)
	aOutStat     = out(stat)
	aOutStatx    = out(statx)
	aOutUname    = out(utsname)
	aOutSysinfo  = out(sysinfo)
	aOutPipe     = out(intPair)
	aOutInt      = out(intRef)
	aInInt       = in(intRef)
	aOutTime     = out(timeRef)
	aInSigaction = in(sigaction)
	aOutSigact   = out(sigaction)
	aInRlimit    = in(rlimit("RLIM_INFINITY"))
	aOutRlimit   = out(rlimit("RLIM_INFINITY"))
	aInRlimit64  = in(rlimit("RLIM64_INFINITY"))
	aOutRlimit64 = out(rlimit("RLIM64_INFINITY"))
)

// aRemTimespec is the "remaining time" of nanosleep, which the kernel
// fills in only when the sleep is interrupted.
var aRemTimespec argFn = func(c *call, i int) string {
	addr := c.args[i]
	if e, failed := c.errno(); addr != 0 && failed && (e == eintr || e == erestartBlock) {
		if s, ok := timespec(c, addr); ok {
			return s
		}
	}
	return ptr(addr)
}

const (
	eintr         = 4
	erestartBlock = 516
)

// inSigset is a sigset_t the application passes; sizeArg holds its size.
func inSigset(sizeArg int) argFn { return in(sized(sizeArg, sigset)) }

// outSigset is a sigset_t the kernel fills.
func outSigset(sizeArg int) argFn { return out(sized(sizeArg, sigset)) }

// inIovec is an iovec array the application passes (writev).
func inIovec(cntArg int) argFn {
	return in(func(c *call, addr uintptr) (string, bool) {
		return c.iovecs(addr, uint64(c.args[cntArg]), ^uint64(0), true)
	})
}

// outIovec is an iovec array the kernel fills with ret bytes (readv).
func outIovec(cntArg int) argFn {
	return func(c *call, i int) string {
		addr := c.args[i]
		if addr == 0 {
			return "NULL"
		}
		limit := uint64(c.ret)
		withData := c.ok()
		if !withData {
			limit = 0
		}
		if s, ok := c.iovecs(addr, uint64(c.args[cntArg]), limit, withData); ok {
			return s
		}
		return ptr(addr)
	}
}

// outCPUSet is sched_getaffinity's mask; the kernel returns its size.
var aOutCPUSet = out(func(c *call, addr uintptr) (string, bool) { return cpuSet(c, addr, uint64(c.ret)) })

// outGroups is getgroups' list; the kernel returns the count filled in.
var aOutGroups argFn = func(c *call, i int) string {
	addr := c.args[i]
	if addr == 0 || !c.ok() || uint32(c.args[0]) == 0 {
		return ptr(addr)
	}
	if s, ok := gidList(c, addr, uint64(c.ret)); ok {
		return s
	}
	return ptr(addr)
}

// inGroups is setgroups' list; sizeArg holds the count.
func inGroups(sizeArg int) argFn { return in(sized(sizeArg, gidList)) }

// aOutWaitStatus is wait4's status, filled in only when a child was
// reaped (ret > 0).
var aOutWaitStatus argFn = func(c *call, i int) string {
	addr := c.args[i]
	if addr == 0 || !c.ok() || c.retInt() == 0 {
		return ptr(addr)
	}
	if s, ok := waitStatus(c, addr); ok {
		return s
	}
	return ptr(addr)
}

// aDirents is getdents64's buffer: its address and the entry count.
var aDirents argFn = func(c *call, i int) string {
	addr := c.args[i]
	if !c.ok() || addr == 0 {
		return ptr(addr)
	}
	if n, ok := countDirents(c, addr, uint64(c.ret)); ok {
		return ptr(addr) + " /* " + udec(n) + " entries */"
	}
	return ptr(addr)
}

// aArgv is an execve argument vector.
var aArgv = in(func(c *call, addr uintptr) (string, bool) { return c.argv(addr) })

// aEnvp is an execve environment: the address and the variable count.
var aEnvp argFn = func(c *call, i int) string {
	addr := c.args[i]
	if addr == 0 {
		return "NULL"
	}
	if n, ok := c.countPtrs(addr); ok {
		v := "vars"
		if n == 1 {
			v = "var"
		}
		return ptr(addr) + " /* " + udec(n) + " " + v + " */"
	}
	return ptr(addr)
}

// inSockaddr is a socket address the application passes; lenArg holds
// its length.
func inSockaddr(lenArg int) argFn {
	return in(func(c *call, addr uintptr) (string, bool) {
		return sockaddr(c, addr, uint64(uint32(c.args[lenArg])))
	})
}

// outSockaddr is a socket address the kernel fills; lenArg points to its
// in/out length.
func outSockaddr(lenArg int) argFn {
	return out(func(c *call, addr uintptr) (string, bool) {
		n, ok := c.readU32(c.args[lenArg])
		if !ok {
			return "", false
		}
		return sockaddr(c, addr, uint64(n))
	})
}

// aSocklenRef is a pointer to a socklen_t, shown as [N].
var aSocklenRef = in(func(c *call, addr uintptr) (string, bool) {
	v, ok := c.readU32(addr)
	if !ok {
		return "", false
	}
	return "[" + udec(uint64(v)) + "]", true
})

// fcntlArg renders fcntl's third argument according to the command.
var aFcntlArg argFn = func(c *call, i int) string {
	x := c.args[i]
	switch uint32(c.args[1]) {
	case fGetFD, fGetFL, fGetOwn, fGetSig, fGetLease, fGetPipeSz, fGetSeals:
		return ""
	case fSetFD:
		return fdFlagBits.flags(uint64(x))
	case fSetFL:
		return openFlags(uint64(x))
	case fDupFD, fDupFDCloexec, fDupFDQuery, fSetOwn, fSetPipeSz:
		return dec(int64(int32(x)))
	case fSetSig:
		return signalName(uint64(x))
	case fSetLease:
		return leaseTypes.enumOr(uint64(x), hex)
	case fAddSeals:
		return sealFlags.flags(uint64(x))
	case fGetLk, fSetLk, fSetLkW, fOFDGetLk, fOFDSetLk, fOFDSetLkW:
		return in(flock)(c, i)
	}
	return hex(uint64(x))
}

// fcntl commands whose argument or result needs special treatment.
const (
	fDupFD        = 0
	fGetFD        = 1
	fSetFD        = 2
	fGetFL        = 3
	fSetFL        = 4
	fGetLk        = 5
	fSetLk        = 6
	fSetLkW       = 7
	fSetOwn       = 8
	fGetOwn       = 9
	fSetSig       = 10
	fGetSig       = 11
	fOFDGetLk     = 36
	fOFDSetLk     = 37
	fOFDSetLkW    = 38
	fSetLease     = 1024
	fGetLease     = 1025
	fDupFDQuery   = 1027
	fDupFDCloexec = 1030
	fSetPipeSz    = 1031
	fGetPipeSz    = 1032
	fAddSeals     = 1033
	fGetSeals     = 1034
)

// ioctl requests whose argument is decoded.
const (
	tiocgwinsz = 0x5413
	tiocswinsz = 0x5414
	tiocgpgrp  = 0x540f
	tiocspgrp  = 0x5410
	fionread   = 0x541b
	fionbio    = 0x5421
	fionclex   = 0x5450
	fioclex    = 0x5451
	tiocnotty  = 0x5422
)

// aIoctlArg renders ioctl's third argument according to the request.
var aIoctlArg argFn = func(c *call, i int) string {
	switch uint32(c.args[1]) {
	case fioclex, fionclex, tiocnotty:
		return ""
	case tiocgwinsz:
		return out(winsize)(c, i)
	case tiocswinsz:
		return in(winsize)(c, i)
	case fionread, tiocgpgrp:
		return aOutInt(c, i)
	case fionbio, tiocspgrp:
		return aInInt(c, i)
	}
	return hex(uint64(c.args[i]))
}

// aArchPrctlArg renders arch_prctl's second argument.
var aArchPrctlArg argFn = func(c *call, i int) string {
	switch c.args[0] {
	case 0x1003, 0x1004: // ARCH_GET_FS, ARCH_GET_GS
		return out(func(c *call, addr uintptr) (string, bool) {
			v, ok := c.readU64(addr)
			return "[" + hex(v) + "]", ok
		})(c, i)
	}
	return hex(uint64(c.args[i]))
}

// Return value renderers.

// retHex renders addresses (mmap, brk).
func retHex(c *call) string { return hex(uint64(c.ret)) }

// retOctal renders a previous file mode creation mask (umask): 022, 0.
func retOctal(c *call) string {
	if c.ret == 0 {
		return "0"
	}
	return "0" + strconv.FormatUint(uint64(c.ret), 8)
}

// retFcntl renders fcntl's result, decoding the flag-returning commands.
func retFcntl(c *call) string {
	r := uint64(c.ret)
	if r == 0 {
		return "0"
	}
	switch uint32(c.args[1]) {
	case fGetFD:
		return hex(r) + " (flags " + fdFlagBits.flags(r) + ")"
	case fGetFL:
		return hex(r) + " (flags " + openFlags(r) + ")"
	case fGetSeals:
		return hex(r) + " (seals " + sealFlags.flags(r) + ")"
	case fGetLease:
		return hex(r) + " (" + leaseTypes.enumOr(r, hex) + ")"
	}
	return dec(c.retInt())
}
