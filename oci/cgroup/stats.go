package cgroup

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Stats is a snapshot of a cgroup's usage, for `events --stats`. A limit
// of math.MaxUint64 is "none"; a controller the host lacks leaves its
// part zero.
type Stats struct {
	Memory MemoryStats
	Pids   PidsStats
	CPU    CPUStats
}

// MemoryStats is the memory controller's view, in bytes.
type MemoryStats struct {
	Usage, MaxUsage, Limit uint64
	// Failcnt counts how often the limit was hit (v1 memory.failcnt, v2
	// the "max" event of memory.events).
	Failcnt uint64
	// SwapUsage and SwapLimit count memory and swap together, as the
	// spec's memory.swap does (0 without swap accounting).
	SwapUsage, SwapLimit uint64
	// Stat is memory.stat as it is (its keys differ between v1 and v2).
	Stat map[string]uint64
}

// PidsStats is the pids controller's view.
type PidsStats struct {
	Current, Limit uint64
}

// CPUStats is CPU time used (nanoseconds) and CFS throttling.
type CPUStats struct {
	Total, User, System uint64
	// PerCPU is the time used on each CPU (v1 only).
	PerCPU []uint64
	// Periods and ThrottledPeriods count CFS periods with a quota, and
	// those in which the quota ran out; ThrottledTime is in nanoseconds.
	Periods, ThrottledPeriods, ThrottledTime uint64
}

// userHZ is the unit of v1's cpuacct.stat (USER_HZ, 100 on x86).
const userHZ = 100

// Stats reads the cgroup's usage and limits.
func (c *Cgroup) Stats() (Stats, error) {
	var s Stats
	if !c.exists() {
		return s, fmt.Errorf("cgroup %s does not exist", c.path)
	}
	get := func(dir, name string) uint64 {
		if dir == "" {
			return 0
		}
		v, _ := readUint(dir, name)
		return v
	}
	if c.v2 {
		d := c.dir
		s.Memory.Usage = get(d, "memory.current")
		s.Memory.MaxUsage = get(d, "memory.peak") // Linux 5.19
		s.Memory.Limit = get(d, "memory.max")
		if ev, err := readKeyed(d, "memory.events"); err == nil {
			s.Memory.Failcnt = ev["max"]
		}
		if fileExists(d, "memory.swap.current") {
			s.Memory.SwapUsage = s.Memory.Usage + get(d, "memory.swap.current")
			s.Memory.SwapLimit = addLimits(s.Memory.Limit, get(d, "memory.swap.max"))
		}
		s.Memory.Stat, _ = readKeyed(d, "memory.stat")
		s.Pids.Current, s.Pids.Limit = get(d, "pids.current"), get(d, "pids.max")
		if st, err := readKeyed(d, "cpu.stat"); err == nil {
			s.CPU.Total, s.CPU.User, s.CPU.System = st["usage_usec"]*1000, st["user_usec"]*1000, st["system_usec"]*1000
			s.CPU.Periods, s.CPU.ThrottledPeriods, s.CPU.ThrottledTime = st["nr_periods"], st["nr_throttled"], st["throttled_usec"]*1000
		}
		return s, nil
	}
	if d := c.dirs["memory"]; d != "" {
		s.Memory.Usage = get(d, "memory.usage_in_bytes")
		s.Memory.MaxUsage = get(d, "memory.max_usage_in_bytes")
		s.Memory.Limit = v1Limit(get(d, "memory.limit_in_bytes"))
		s.Memory.Failcnt = get(d, "memory.failcnt")
		if fileExists(d, "memory.memsw.usage_in_bytes") {
			s.Memory.SwapUsage = get(d, "memory.memsw.usage_in_bytes")
			s.Memory.SwapLimit = v1Limit(get(d, "memory.memsw.limit_in_bytes"))
		}
		s.Memory.Stat, _ = readKeyed(d, "memory.stat")
	}
	if d := c.dirs["pids"]; d != "" {
		s.Pids.Current, s.Pids.Limit = get(d, "pids.current"), get(d, "pids.max")
	}
	if d := c.dirs["cpuacct"]; d != "" {
		s.CPU.Total = get(d, "cpuacct.usage")
		if fileExists(d, "cpuacct.usage_user") {
			s.CPU.User, s.CPU.System = get(d, "cpuacct.usage_user"), get(d, "cpuacct.usage_sys")
		} else if st, err := readKeyed(d, "cpuacct.stat"); err == nil {
			s.CPU.User, s.CPU.System = st["user"]*(1e9/userHZ), st["system"]*(1e9/userHZ)
		}
		if data, err := os.ReadFile(filepath.Join(d, "cpuacct.usage_percpu")); err == nil {
			for _, f := range strings.Fields(string(data)) {
				n, _ := strconv.ParseUint(f, 10, 64)
				s.CPU.PerCPU = append(s.CPU.PerCPU, n)
			}
		}
	}
	if d := c.dirs["cpu"]; d != "" {
		if st, err := readKeyed(d, "cpu.stat"); err == nil {
			s.CPU.Periods, s.CPU.ThrottledPeriods, s.CPU.ThrottledTime = st["nr_periods"], st["nr_throttled"], st["throttled_time"]
		}
	}
	return s, nil
}

// v1Limit maps v1's "no limit" (PAGE_COUNTER_MAX pages, a number near
// 2^63) to math.MaxUint64.
func v1Limit(v uint64) uint64 {
	if v >= pageCounterMaxV1 {
		return math.MaxUint64
	}
	return v
}

// addLimits adds two limits, either of which may be none.
func addLimits(a, b uint64) uint64 {
	if a == math.MaxUint64 || b == math.MaxUint64 || a+b < a {
		return math.MaxUint64
	}
	return a + b
}

// Limits are the limits a sandbox shows its application (/proc/meminfo,
// its /sys/fs/cgroup). Zero is "none".
type Limits struct {
	MemoryBytes int64
	Pids        int64
	// CPUQuotaMicros of CPU time per CPUPeriodMicros (quota 0: none).
	CPUQuotaMicros, CPUPeriodMicros int64
}

// Limits returns the effective limits of the cgroup: the tightest of its
// own and its ancestors' (a parent's memory limit binds its children
// too). Limits it cannot read are none.
func (c *Cgroup) Limits() Limits {
	var l Limits
	// levels lists dir and its ancestors up to the mount point.
	levels := func(dir, top string) []string {
		var out []string
		for d := dir; ; d = filepath.Dir(d) {
			out = append(out, d)
			if d == top || !strings.HasPrefix(d, top+"/") {
				return out
			}
		}
	}
	tightest := func(cur int64, v uint64) int64 {
		if v == 0 || v >= pageCounterMaxV1 || v > math.MaxInt64 {
			return cur
		}
		if cur == 0 || int64(v) < cur {
			return int64(v)
		}
		return cur
	}
	memDir, memFile, memTop := c.ctrlDir("memory"), "memory.limit_in_bytes", c.mnts["memory"]
	pidDir, pidTop := c.ctrlDir("pids"), c.mnts["pids"]
	cpuDir, cpuTop := c.ctrlDir("cpu"), c.mnts["cpu"]
	if c.v2 {
		memFile, memTop, pidTop, cpuTop = "memory.max", c.root, c.root, c.root
	}
	if memDir != "" {
		for _, d := range levels(memDir, memTop) {
			if v, err := readUint(d, memFile); err == nil {
				l.MemoryBytes = tightest(l.MemoryBytes, v)
			}
		}
	}
	if pidDir != "" {
		for _, d := range levels(pidDir, pidTop) {
			if v, err := readUint(d, "pids.max"); err == nil {
				l.Pids = tightest(l.Pids, v)
			}
		}
	}
	if cpuDir != "" {
		for _, d := range levels(cpuDir, cpuTop) {
			q, p := c.cpuQuota(d)
			// Keep the smallest share of a CPU: q/p < Q/P.
			if q > 0 && p > 0 && (l.CPUQuotaMicros == 0 || q*l.CPUPeriodMicros < l.CPUQuotaMicros*p) {
				l.CPUQuotaMicros, l.CPUPeriodMicros = q, p
			}
		}
	}
	return l
}

// cpuQuota reads the CFS quota and period of cgroup dir (quota 0: none).
func (c *Cgroup) cpuQuota(dir string) (quota, period int64) {
	if c.v2 {
		s, err := readString(dir, "cpu.max")
		f := strings.Fields(s)
		if err != nil || len(f) != 2 || f[0] == "max" {
			return 0, 0
		}
		q, err1 := strconv.ParseInt(f[0], 10, 64)
		p, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil {
			return 0, 0
		}
		return q, p
	}
	qs, err1 := readString(dir, "cpu.cfs_quota_us")
	ps, err2 := readString(dir, "cpu.cfs_period_us")
	if err1 != nil || err2 != nil {
		return 0, 0
	}
	q, err1 := strconv.ParseInt(qs, 10, 64)
	p, err2 := strconv.ParseInt(ps, 10, 64)
	if err1 != nil || err2 != nil || q <= 0 {
		return 0, 0
	}
	return q, p
}
