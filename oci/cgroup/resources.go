package cgroup

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Kernel bounds of the values moat checks before writing anything.
const (
	minShares, maxShares     = 2, 262144     // v1 cpu.shares
	minWeight, maxWeight     = 1, 10000      // v2 cpu.weight, io.weight
	minBlkio, maxBlkio       = 10, 1000      // v1 blkio.weight
	minPeriod, maxPeriod     = 1000, 1000000 // CFS period, µs
	minQuota                 = 1000          // CFS quota, µs
	unsetSwappiness          = ^uint64(0)    // "-1" as some engines send it: not set
	pageCounterMaxV1         = 1 << 62       // v1 reports "no limit" as a number near 2^63
	defaultPeriodMicros      = 100000
	maxUnifiedValueBytes     = 1 << 16
	maxHugepageSizeNameBytes = 16
)

// check validates r before anything is written: one clear line per bad
// value, named by its place in config.json. As runc does, a zero value
// is "not set" (memory limits, cpu shares, quota and period, pids.limit,
// blockIO weight) and -1 is "no limit".
//
// r.Devices is accepted and never applied: moat's application cannot
// reach a host device (see the package comment).
func (c *Cgroup) check(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	if m := r.Memory; m != nil {
		for _, f := range []struct {
			name string
			v    *int64
		}{{"limit", m.Limit}, {"reservation", m.Reservation}, {"swap", m.Swap}} {
			if f.v != nil && *f.v < -1 {
				return fmt.Errorf("linux.resources.memory.%s: %d is not a valid number of bytes (a positive number, or -1 for no limit)", f.name, *f.v)
			}
		}
		limit, swap := val(m.Limit), val(m.Swap)
		if limit > 0 && swap > 0 && swap < limit {
			return fmt.Errorf("linux.resources.memory.swap (%d) is below memory.limit (%d): swap limits memory and swap together, so it must be at least the memory limit", swap, limit)
		}
		if c.v2 && swap > 0 && limit <= 0 {
			return fmt.Errorf("linux.resources.memory.swap (%d) needs a memory.limit on cgroup v2 (memory.swap.max is the swap beyond the memory limit)", swap)
		}
		if s := m.Swappiness; s != nil && *s > 100 && *s != unsetSwappiness {
			return fmt.Errorf("linux.resources.memory.swappiness: %d is not between 0 and 100", *s)
		}
	}
	if cpu := r.CPU; cpu != nil {
		if s := cpu.Shares; s != nil && *s != 0 && (*s < minShares || *s > maxShares) {
			return fmt.Errorf("linux.resources.cpu.shares: %d is not between %d and %d", *s, minShares, maxShares)
		}
		if q := cpu.Quota; q != nil && (*q < -1 || *q > 0 && *q < minQuota) {
			return fmt.Errorf("linux.resources.cpu.quota: %d is not a valid quota (at least %d µs, or -1 for none)", *q, minQuota)
		}
		if p := cpu.Period; p != nil && *p != 0 && (*p < minPeriod || *p > maxPeriod) {
			return fmt.Errorf("linux.resources.cpu.period: %d is not between %d and %d µs", *p, minPeriod, maxPeriod)
		}
		if i := cpu.Idle; i != nil && *i != 0 && *i != 1 {
			return fmt.Errorf("linux.resources.cpu.idle: %d is neither 0 nor 1", *i)
		}
		if err := checkList("cpus", cpu.Cpus); err != nil {
			return err
		}
		if err := checkList("mems", cpu.Mems); err != nil {
			return err
		}
	}
	if b := r.BlockIO; b != nil {
		if w := b.Weight; w != nil && *w != 0 && (*w < minBlkio || *w > maxBlkio) {
			return fmt.Errorf("linux.resources.blockIO.weight: %d is not between %d and %d", *w, minBlkio, maxBlkio)
		}
		for _, d := range b.WeightDevice {
			if d.Major < 0 || d.Minor < 0 {
				return fmt.Errorf("linux.resources.blockIO.weightDevice: %d:%d is not a device number", d.Major, d.Minor)
			}
			if w := d.Weight; w != nil && (*w < minBlkio || *w > maxBlkio) {
				return fmt.Errorf("linux.resources.blockIO.weightDevice %d:%d: weight %d is not between %d and %d", d.Major, d.Minor, *w, minBlkio, maxBlkio)
			}
		}
		for _, l := range [][]specs.LinuxThrottleDevice{b.ThrottleReadBpsDevice, b.ThrottleWriteBpsDevice, b.ThrottleReadIOPSDevice, b.ThrottleWriteIOPSDevice} {
			for _, d := range l {
				if d.Major < 0 || d.Minor < 0 {
					return fmt.Errorf("linux.resources.blockIO throttle: %d:%d is not a device number", d.Major, d.Minor)
				}
			}
		}
	}
	for _, h := range r.HugepageLimits {
		if !validPageSize(h.Pagesize) {
			return fmt.Errorf("linux.resources.hugepageLimits: page size %q is not of the form 2MB, 1GB, 64KB", h.Pagesize)
		}
	}
	if len(r.Unified) > 0 && !c.v2 {
		return errors.New("linux.resources.unified needs cgroup v2, and this host has cgroup v1 hierarchies")
	}
	for k, v := range r.Unified {
		if err := checkUnifiedKey(k); err != nil {
			return err
		}
		if len(v) > maxUnifiedValueBytes || strings.IndexByte(v, 0) >= 0 {
			return fmt.Errorf("linux.resources.unified[%q]: the value is not a cgroup file's content", k)
		}
	}
	return nil
}

// val is *p, or 0 for nil.
func val(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// checkList checks a cpuset list ("0-3,5"): digits, commas, dashes.
func checkList(name, s string) error {
	if len(s) > 4096 || strings.Trim(s, "0123456789,-") != "" {
		return fmt.Errorf("linux.resources.cpu.%s: %q is not a list like \"0-3,5\"", name, s)
	}
	return nil
}

// validPageSize accepts hugetlb's size names: a number and KB, MB or GB.
func validPageSize(s string) bool {
	if len(s) > maxHugepageSizeNameBytes {
		return false
	}
	n, ok := strings.CutSuffix(s, "B")
	if !ok || n == "" || !strings.ContainsAny(n[len(n)-1:], "KMG") {
		return false
	}
	n = n[:len(n)-1]
	return n != "" && strings.Trim(n, "0123456789") == ""
}

// notUnified are the cgroup core files linux.resources.unified may not
// write: they move or kill processes, or change the tree's shape, rather
// than set a limit.
var notUnified = []string{"cgroup.procs", "cgroup.threads", "cgroup.kill", "cgroup.freeze", "cgroup.subtree_control", "cgroup.type"}

// checkUnifiedKey checks that k names a file of the cgroup itself.
func checkUnifiedKey(k string) error {
	switch {
	case k == "" || k == "." || k == ".." || strings.ContainsAny(k, "/\x00") || strings.Contains(k, ".."):
		return fmt.Errorf("linux.resources.unified: %q is not the name of a file of the cgroup", k)
	case !strings.Contains(k, ".") || strings.HasPrefix(k, "."):
		return fmt.Errorf("linux.resources.unified: %q is not a cgroup v2 interface file (controller.name)", k)
	case slices.Contains(notUnified, k):
		return fmt.Errorf("linux.resources.unified: %q is not a resource limit", k)
	}
	return nil
}

// set writes the limits of r. update is true for `moat update`.
func (c *Cgroup) set(r *specs.LinuxResources, update bool) error {
	if r == nil {
		return nil
	}
	if c.v2 {
		return c.setV2(r, update)
	}
	return c.setV1(r, update)
}

// need returns the directory of controller ctrl's files, or an error
// saying which setting needs it.
func (c *Cgroup) need(ctrl, setting string) (string, error) {
	if c.v2 {
		have, err := readString(c.dir, "cgroup.controllers")
		if err != nil {
			return "", fmt.Errorf("cgroup %s: %v", c.path, unwrap(err))
		}
		if !slices.Contains(strings.Fields(have), ctrl) {
			return "", fmt.Errorf("%s: the %s controller is not enabled for cgroup %s (it must be in the parent's cgroup.subtree_control)", setting, ctrl, c.dir)
		}
		return c.dir, nil
	}
	d := c.ctrlDir(ctrl)
	if d == "" {
		return "", fmt.Errorf("%s: the %s cgroup controller is not mounted on this host", setting, ctrl)
	}
	return d, nil
}

// memoryBusy explains a refused memory limit: EBUSY means the cgroup
// uses more than the new limit and the kernel could not reclaim enough.
func memoryBusy(err error, dir, usageFile string, limit int64) error {
	if !errors.Is(err, unix.EBUSY) {
		return err
	}
	usage, uerr := readUint(dir, usageFile)
	if uerr != nil {
		return fmt.Errorf("cannot set the memory limit to %d bytes: the container uses more than that (%w)", limit, unix.EBUSY)
	}
	return fmt.Errorf("cannot set the memory limit to %d bytes: the container already uses %d bytes (%w)", limit, usage, unix.EBUSY)
}

// checkBeforeUpdate implements memory.checkBeforeUpdate: refuse a limit
// below the current usage instead of letting the kernel reclaim or
// OOM-kill.
func checkBeforeUpdate(m *specs.LinuxMemory, dir, usageFile string) error {
	if m.CheckBeforeUpdate == nil || !*m.CheckBeforeUpdate || val(m.Limit) <= 0 {
		return nil
	}
	usage, err := readUint(dir, usageFile)
	if err != nil {
		return err
	}
	if uint64(*m.Limit) < usage {
		return fmt.Errorf("cannot set the memory limit to %d bytes: the container already uses %d bytes (memory.checkBeforeUpdate)", *m.Limit, usage)
	}
	return nil
}

func (c *Cgroup) setV1(r *specs.LinuxResources, update bool) error {
	if m := r.Memory; m != nil && (val(m.Limit) != 0 || val(m.Reservation) != 0 || val(m.Swap) != 0 || m.Swappiness != nil || m.DisableOOMKiller != nil) {
		dir, err := c.need("memory", "linux.resources.memory")
		if err != nil {
			return err
		}
		if err := c.memoryV1(m, dir, update); err != nil {
			return err
		}
	}
	if cpu := r.CPU; cpu != nil {
		if err := c.cpuV1(cpu); err != nil {
			return err
		}
	}
	if err := c.pids(r.Pids); err != nil {
		return err
	}
	if b := r.BlockIO; b != nil {
		if err := c.blkioV1(b); err != nil {
			return err
		}
	}
	if len(r.HugepageLimits) > 0 {
		if dir := c.ctrlDir("hugetlb"); dir != "" { // best effort: absent on many v1 hosts
			for _, h := range r.HugepageLimits {
				name := "hugetlb." + h.Pagesize + ".limit_in_bytes"
				if !fileExists(dir, name) {
					continue // this page size is not supported by the host
				}
				if err := writeFile(dir, name, strconv.FormatUint(h.Limit, 10)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// pidsMax is pids.max for linux.resources.pids.limit: a negative limit is
// none.
func pidsMax(limit int64) string {
	if limit < 0 {
		return "max"
	}
	return strconv.FormatInt(limit, 10)
}

// memoryV1 writes the v1 memory files. memory.memsw.limit_in_bytes (the
// spec's swap: memory and swap together) must never be below
// memory.limit_in_bytes, so the order of the two writes depends on
// whether the limit goes up or down.
func (c *Cgroup) memoryV1(m *specs.LinuxMemory, dir string, update bool) error {
	if update {
		if err := checkBeforeUpdate(m, dir, "memory.usage_in_bytes"); err != nil {
			return err
		}
	}
	limit, swap := val(m.Limit), val(m.Swap)
	if limit == -1 && swap == 0 {
		swap = -1 // no memory limit: no memory+swap limit either
	}
	// Without swap accounting (swapaccount=0) there is no memsw file, and
	// nothing to limit swap with: the swap value is then ignored.
	hasSwap := fileExists(dir, "memory.memsw.limit_in_bytes")
	writeLimit := func() error {
		if limit == 0 {
			return nil
		}
		err := writeFile(dir, "memory.limit_in_bytes", strconv.FormatInt(limit, 10))
		return memoryBusy(err, dir, "memory.usage_in_bytes", limit)
	}
	writeSwap := func() error {
		if swap == 0 || !hasSwap {
			return nil
		}
		return writeFile(dir, "memory.memsw.limit_in_bytes", strconv.FormatInt(swap, 10))
	}
	swapFirst := false
	if swap != 0 && hasSwap {
		cur, err := readUint(dir, "memory.memsw.limit_in_bytes")
		if err != nil {
			return err
		}
		swapFirst = limit == -1 || limit > 0 && uint64(limit) > cur
	}
	steps := []func() error{writeLimit, writeSwap}
	if swapFirst {
		steps = []func() error{writeSwap, writeLimit}
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	if v := val(m.Reservation); v != 0 {
		if err := writeFile(dir, "memory.soft_limit_in_bytes", strconv.FormatInt(v, 10)); err != nil {
			return err
		}
	}
	if s := m.Swappiness; s != nil && *s != unsetSwappiness {
		if err := writeFile(dir, "memory.swappiness", strconv.FormatUint(*s, 10)); err != nil {
			return err
		}
	}
	if d := m.DisableOOMKiller; d != nil {
		v := "0"
		if *d {
			v = "1"
		}
		if err := writeFile(dir, "memory.oom_control", v); err != nil {
			return err
		}
	}
	return nil
}

func (c *Cgroup) cpuV1(cpu *specs.LinuxCPU) error {
	needCPU := cpu.Shares != nil && *cpu.Shares != 0 || cpu.Quota != nil && *cpu.Quota != 0 ||
		cpu.Period != nil && *cpu.Period != 0 || cpu.Burst != nil || cpu.Idle != nil
	if needCPU {
		dir, err := c.need("cpu", "linux.resources.cpu")
		if err != nil {
			return err
		}
		if s := cpu.Shares; s != nil && *s != 0 {
			if err := writeFile(dir, "cpu.shares", strconv.FormatUint(*s, 10)); err != nil {
				return err
			}
		}
		period := func() error {
			if p := cpu.Period; p != nil && *p != 0 {
				return writeFile(dir, "cpu.cfs_period_us", strconv.FormatUint(*p, 10))
			}
			return nil
		}
		quota := func() error {
			if q := cpu.Quota; q != nil && *q != 0 {
				return writeFile(dir, "cpu.cfs_quota_us", strconv.FormatInt(*q, 10))
			}
			return nil
		}
		// The kernel checks quota against period at each write (and
		// against a burst): if the period cannot come first, it comes
		// second.
		if err := period(); err != nil {
			if err := quota(); err != nil {
				return err
			}
			if err := period(); err != nil {
				return err
			}
		} else if err := quota(); err != nil {
			return err
		}
		if b := cpu.Burst; b != nil && fileExists(dir, "cpu.cfs_burst_us") {
			if err := writeFile(dir, "cpu.cfs_burst_us", strconv.FormatUint(*b, 10)); err != nil {
				return err
			}
		}
		if i := cpu.Idle; i != nil && fileExists(dir, "cpu.idle") {
			if err := writeFile(dir, "cpu.idle", strconv.FormatInt(*i, 10)); err != nil {
				return err
			}
		}
	}
	return c.cpuset(cpu)
}

// cpuset writes cpuset.cpus and cpuset.mems (the same files in v1 and
// v2).
func (c *Cgroup) cpuset(cpu *specs.LinuxCPU) error {
	if cpu.Cpus == "" && cpu.Mems == "" {
		return nil
	}
	dir, err := c.need("cpuset", "linux.resources.cpu.cpus/mems")
	if err != nil {
		return err
	}
	if cpu.Cpus != "" {
		if err := writeFile(dir, "cpuset.cpus", cpu.Cpus); err != nil {
			return err
		}
	}
	if cpu.Mems != "" {
		if err := writeFile(dir, "cpuset.mems", cpu.Mems); err != nil {
			return err
		}
	}
	return nil
}

// blkioV1 writes what the host's blkio controller has: the weight files
// exist only with the CFQ or BFQ scheduler, so weights are best effort;
// throttling is applied when its files exist.
func (c *Cgroup) blkioV1(b *specs.LinuxBlockIO) error {
	dir := c.ctrlDir("blkio")
	if dir == "" {
		return nil
	}
	weightFile := ""
	for _, f := range []string{"blkio.weight", "blkio.bfq.weight"} {
		if fileExists(dir, f) {
			weightFile = f
			break
		}
	}
	if w := b.Weight; w != nil && *w != 0 && weightFile != "" {
		if err := writeFile(dir, weightFile, strconv.Itoa(int(*w))); err != nil {
			return err
		}
	}
	for _, d := range b.WeightDevice {
		if d.Weight != nil && weightFile != "" && fileExists(dir, weightFile+"_device") {
			if err := writeFile(dir, weightFile+"_device", fmt.Sprintf("%d:%d %d", d.Major, d.Minor, *d.Weight)); err != nil {
				return err
			}
		}
	}
	for _, t := range []struct {
		file string
		devs []specs.LinuxThrottleDevice
	}{
		{"blkio.throttle.read_bps_device", b.ThrottleReadBpsDevice},
		{"blkio.throttle.write_bps_device", b.ThrottleWriteBpsDevice},
		{"blkio.throttle.read_iops_device", b.ThrottleReadIOPSDevice},
		{"blkio.throttle.write_iops_device", b.ThrottleWriteIOPSDevice},
	} {
		if len(t.devs) == 0 || !fileExists(dir, t.file) {
			continue
		}
		for _, d := range t.devs {
			if err := writeFile(dir, t.file, fmt.Sprintf("%d:%d %d", d.Major, d.Minor, d.Rate)); err != nil {
				return err
			}
		}
	}
	return nil
}

// sharesToWeight maps v1 cpu.shares [2, 262144] linearly onto v2
// cpu.weight [1, 10000] (the default 1024 becomes 39).
func sharesToWeight(shares uint64) uint64 {
	return minWeight + (shares-minShares)*(maxWeight-minWeight)/(maxShares-minShares)
}

// blkioToIOWeight maps a v1 blkio weight [10, 1000] linearly onto v2
// io.weight [1, 10000].
func blkioToIOWeight(w uint16) uint64 {
	return minWeight + uint64(w-minBlkio)*(maxWeight-minWeight)/(maxBlkio-minBlkio)
}

func (c *Cgroup) setV2(r *specs.LinuxResources, update bool) error {
	if m := r.Memory; m != nil && (val(m.Limit) != 0 || val(m.Reservation) != 0 || val(m.Swap) != 0) {
		// v2 has neither a per-cgroup swappiness nor a switch for the
		// OOM killer: those settings are ignored there.
		dir, err := c.need("memory", "linux.resources.memory")
		if err != nil {
			return err
		}
		if update {
			if err := checkBeforeUpdate(m, dir, "memory.current"); err != nil {
				return err
			}
		}
		limit, swap := val(m.Limit), val(m.Swap)
		if limit != 0 {
			if err := writeFile(dir, "memory.max", maxOr(limit)); err != nil {
				return err
			}
		}
		// memory.swap.max is the swap beyond memory; the spec's swap is
		// memory and swap together. It is missing without swap
		// accounting, and then ignored.
		swapMax := ""
		switch {
		case swap == -1 || swap == 0 && limit == -1:
			swapMax = "max"
		case swap > 0:
			swapMax = strconv.FormatInt(swap-limit, 10)
		}
		if swapMax != "" && fileExists(dir, "memory.swap.max") {
			if err := writeFile(dir, "memory.swap.max", swapMax); err != nil {
				return err
			}
		}
		if v := val(m.Reservation); v != 0 {
			if err := writeFile(dir, "memory.low", maxOr(v)); err != nil {
				return err
			}
		}
	}
	if cpu := r.CPU; cpu != nil {
		if err := c.cpuV2(cpu); err != nil {
			return err
		}
	}
	if err := c.pids(r.Pids); err != nil {
		return err
	}
	if b := r.BlockIO; b != nil {
		if err := c.ioV2(b); err != nil {
			return err
		}
	}
	for _, h := range r.HugepageLimits { // best effort
		for _, name := range []string{"hugetlb." + h.Pagesize + ".max", "hugetlb." + h.Pagesize + ".rsvd.max"} {
			if fileExists(c.dir, name) {
				if err := writeFile(c.dir, name, strconv.FormatUint(h.Limit, 10)); err != nil {
					return err
				}
			}
		}
	}
	keys := make([]string, 0, len(r.Unified))
	for k := range r.Unified {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !fileExists(c.dir, k) {
			ctrl, _, _ := strings.Cut(k, ".")
			if _, err := c.need(ctrl, fmt.Sprintf("linux.resources.unified[%q]", k)); err != nil && ctrl != "cgroup" {
				return err
			}
			return fmt.Errorf("linux.resources.unified[%q]: cgroup %s has no such file", k, c.dir)
		}
		if err := writeFile(c.dir, k, r.Unified[k]); err != nil {
			return fmt.Errorf("linux.resources.unified[%q]: %v", k, err)
		}
	}
	return nil
}

// maxOr is a v2 limit: "max" for -1.
func maxOr(v int64) string {
	if v < 0 {
		return "max"
	}
	return strconv.FormatInt(v, 10)
}

func (c *Cgroup) cpuV2(cpu *specs.LinuxCPU) error {
	quota, period := val(cpu.Quota), int64(0)
	if cpu.Period != nil {
		period = int64(*cpu.Period)
	}
	needCPU := cpu.Shares != nil && *cpu.Shares != 0 || quota != 0 || period != 0 || cpu.Burst != nil || cpu.Idle != nil
	if needCPU {
		dir, err := c.need("cpu", "linux.resources.cpu")
		if err != nil {
			return err
		}
		if s := cpu.Shares; s != nil && *s != 0 {
			if err := writeFile(dir, "cpu.weight", strconv.FormatUint(sharesToWeight(*s), 10)); err != nil {
				return err
			}
		}
		if quota != 0 || period != 0 {
			// cpu.max is "$QUOTA $PERIOD": keep the half not given.
			cur, err := readString(dir, "cpu.max")
			if err != nil {
				return err
			}
			f := strings.Fields(cur)
			if len(f) != 2 {
				return fmt.Errorf("%s/cpu.max: unexpected content %q", dir, cur)
			}
			q, p := f[0], f[1]
			if quota != 0 {
				q = maxOr(quota)
			}
			if period != 0 {
				p = strconv.FormatInt(period, 10)
			}
			if err := writeFile(dir, "cpu.max", q+" "+p); err != nil {
				return err
			}
		}
		if b := cpu.Burst; b != nil && fileExists(dir, "cpu.max.burst") {
			if err := writeFile(dir, "cpu.max.burst", strconv.FormatUint(*b, 10)); err != nil {
				return err
			}
		}
		if i := cpu.Idle; i != nil && fileExists(dir, "cpu.idle") {
			if err := writeFile(dir, "cpu.idle", strconv.FormatInt(*i, 10)); err != nil {
				return err
			}
		}
	}
	return c.cpuset(cpu)
}

// ioV2 writes the io controller's files, if it is enabled: weights (BFQ's
// io.bfq.weight takes blkio's scale as is; io.weight is converted) and
// io.max for throttling.
func (c *Cgroup) ioV2(b *specs.LinuxBlockIO) error {
	dir := c.dir
	bfq := fileExists(dir, "io.bfq.weight")
	weight := func(w uint16) string {
		if bfq {
			return strconv.Itoa(int(w))
		}
		return strconv.FormatUint(blkioToIOWeight(w), 10)
	}
	weightFile := "io.weight"
	if bfq {
		weightFile = "io.bfq.weight"
	}
	if w := b.Weight; w != nil && *w != 0 && fileExists(dir, weightFile) {
		file := weightFile
		if err := writeFile(dir, file, weight(*w)); err != nil {
			return err
		}
	}
	for _, d := range b.WeightDevice {
		if d.Weight != nil && fileExists(dir, weightFile) {
			if err := writeFile(dir, weightFile, fmt.Sprintf("%d:%d %s", d.Major, d.Minor, weight(*d.Weight))); err != nil {
				return err
			}
		}
	}
	for _, t := range []struct {
		key  string
		devs []specs.LinuxThrottleDevice
	}{
		{"rbps", b.ThrottleReadBpsDevice},
		{"wbps", b.ThrottleWriteBpsDevice},
		{"riops", b.ThrottleReadIOPSDevice},
		{"wiops", b.ThrottleWriteIOPSDevice},
	} {
		for _, d := range t.devs {
			if !fileExists(dir, "io.max") {
				return fmt.Errorf("linux.resources.blockIO: the io controller is not enabled for cgroup %s", dir)
			}
			rate := strconv.FormatUint(d.Rate, 10)
			if d.Rate == 0 {
				rate = "max"
			}
			if err := writeFile(dir, "io.max", fmt.Sprintf("%d:%d %s=%s", d.Major, d.Minor, t.key, rate)); err != nil {
				return err
			}
		}
	}
	return nil
}

// pids writes the pids limit (the same file in both versions).
func (c *Cgroup) pids(p *specs.LinuxPids) error {
	if p == nil || p.Limit == 0 {
		return nil
	}
	dir, err := c.need("pids", "linux.resources.pids")
	if err != nil {
		return err
	}
	if err := writeFile(dir, "pids.max", pidsMax(p.Limit)); err != nil {
		return fmt.Errorf("linux.resources.pids.limit: %w", err)
	}
	return nil
}
