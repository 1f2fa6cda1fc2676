package proc

import (
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

const hostMeminfo = `MemTotal:       16000000 kB
MemFree:         9000000 kB
MemAvailable:   12000000 kB
Buffers:          500000 kB
Cached:          3000000 kB
SwapCached:            0 kB
SwapTotal:             0 kB
HugePages_Total:       0
`

func TestMeminfoLimit(t *testing.T) {
	newFS := func(opts ...Option) (*fakeKernel, *fakeProcess, *dir) {
		k, p, _ := newTestFS(t)
		return k, p, New(k, 5, func(name string) ([]byte, error) {
			if name == "meminfo" {
				return []byte(hostMeminfo), nil
			}
			return nil, unix.ENOENT
		}, opts...).(*dir)
	}
	for _, c := range []struct {
		name  string
		opts  []Option
		lines []string
	}{
		{"no limits", nil, []string{"MemTotal:       16000000 kB", "MemFree:         9000000 kB"}},
		{"limit above the host's", []Option{WithLimits(Limits{MemoryBytes: 64 << 30}, nil)}, []string{"MemTotal:       16000000 kB"}},
		{"limit, usage unknown", []Option{WithLimits(Limits{MemoryBytes: 256 << 20}, nil)}, []string{
			"MemTotal:         262144 kB", "MemFree:          262144 kB", "MemAvailable:     262144 kB",
			"Buffers:               0 kB", "Cached:                0 kB", "SwapTotal:             0 kB", "HugePages_Total:       0",
		}},
		{"limit, 100 MiB in use", []Option{WithLimits(Limits{MemoryBytes: 256 << 20}, func() int64 { return 100 << 20 })}, []string{
			"MemTotal:         262144 kB", "MemFree:          159744 kB", "MemAvailable:     159744 kB",
			"Buffers:               0 kB", "Cached:                0 kB",
		}},
		{"more in use than the limit", []Option{WithLimits(Limits{MemoryBytes: 1 << 20}, func() int64 { return 2 << 20 })}, []string{
			"MemTotal:           1024 kB", "MemFree:               0 kB", "MemAvailable:          0 kB",
		}},
	} {
		_, _, root := newFS(c.opts...)
		got := readAll(t, root42, root, "meminfo")
		for _, l := range c.lines {
			if !strings.Contains(got, l+"\n") {
				t.Errorf("%s: meminfo lacks %q:\n%s", c.name, l, got)
			}
		}
		if strings.Count(got, "\n") != strings.Count(hostMeminfo, "\n") {
			t.Errorf("%s: meminfo has other lines than the host's:\n%s", c.name, got)
		}
	}
}

func TestSysfsLimits(t *testing.T) {
	root := NewSysfs(9, 2, WithLimits(Limits{MemoryBytes: 256 << 20, Pids: 64, CPUQuotaMicros: 50000, CPUPeriodMicros: 100000}, nil))
	want := map[string]string{
		"cgroup.controllers": "cpu memory pids\n",
		"memory.max":         "268435456\n",
		"pids.max":           "64\n",
		"cpu.max":            "50000 100000\n",
	}
	for name, w := range want {
		if got := readAll(t, root42, root, "fs/cgroup/"+name); got != w {
			t.Errorf("fs/cgroup/%s = %q, want %q", name, got, w)
		}
	}
	ents, err := mustWalk(t, root42, root, "fs/cgroup").ReadDir(root42)
	if err != nil || len(ents) != len(want) || ents[0].Name != "cgroup.controllers" || ents[0].Type != unix.DT_REG {
		t.Errorf("readdir fs/cgroup = %v, %v", ents, err)
	}
	if _, err := mustWalk(t, root42, root, "fs/cgroup/memory.max").Open(root42, unix.O_WRONLY); err != unix.EROFS {
		t.Errorf("open memory.max for writing = %v, want EROFS", err)
	}

	// Only a memory limit: the others read "max".
	root = NewSysfs(9, 2, WithLimits(Limits{MemoryBytes: 1 << 30}, nil))
	for name, w := range map[string]string{"memory.max": "1073741824\n", "pids.max": "max\n", "cpu.max": "max 100000\n"} {
		if got := readAll(t, root42, root, "fs/cgroup/"+name); got != w {
			t.Errorf("fs/cgroup/%s = %q, want %q", name, got, w)
		}
	}
	// No limits: an empty directory, as without the option.
	root = NewSysfs(9, 2, WithLimits(Limits{}, nil))
	if ents, err := mustWalk(t, root42, root, "fs/cgroup").ReadDir(root42); err != nil || len(ents) != 0 {
		t.Errorf("readdir fs/cgroup without limits = %v, %v", ents, err)
	}
}
