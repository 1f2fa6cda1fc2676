package oci

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// EnterSentryPidNS is the sentry's first step: it returns its pid and
// start time as the host sees them (what the engine gets and state
// records), and, if it runs in a PID namespace of its own
// (SentryNamespaces, which then gives it a mount namespace too), mounts
// that namespace's /proc over the host's, so that the pids it reads there
// (its stub processes') are its own.
func EnterSentryPidNS() (hostPid int, start uint64, err error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0, err
	}
	// NSpid lists the pid in each namespace from the host's proc's
	// down: the first is the host's; more than one, a namespace of its
	// own (new, or joined by path).
	nested := false
	for _, line := range strings.Split(string(b), "\n") {
		if f, ok := strings.CutPrefix(line, "NSpid:"); ok {
			if fs := strings.Fields(f); len(fs) > 0 {
				hostPid, err = strconv.Atoi(fs[0])
				nested = len(fs) > 1
			}
		}
	}
	if hostPid <= 0 || err != nil {
		return 0, 0, fmt.Errorf("/proc/self/status: no NSpid")
	}
	if start, err = ProcStartTime(hostPid); err != nil {
		return 0, 0, err
	}
	if !nested {
		return hostPid, start, nil
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return 0, 0, fmt.Errorf("making the sentry's mounts private: %w", err)
	}
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return 0, 0, fmt.Errorf("mounting the sentry's /proc: %w", err)
	}
	return hostPid, start, nil
}
