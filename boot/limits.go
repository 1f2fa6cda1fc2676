package boot

import (
	"moat/fs/proc"
	"moat/memory"
	"moat/oci/cgroup"
)

// limitsOption shows the container's cgroup limits l (nil: none) in /proc
// and /sys, with the memory file's use as the sandbox's memory in use.
func limitsOption(l *cgroup.Limits, mf *memory.File) proc.Option {
	if l == nil {
		return proc.WithLimits(proc.Limits{}, nil)
	}
	return proc.WithLimits(proc.Limits{
		MemoryBytes:     l.MemoryBytes,
		Pids:            l.Pids,
		CPUQuotaMicros:  l.CPUQuotaMicros,
		CPUPeriodMicros: l.CPUPeriodMicros,
	}, mf.InUse)
}
