package main

import (
	"archive/tar"
	"errors"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestMedian(t *testing.T) {
	cases := []struct {
		in   []float64
		want float64
	}{
		{[]float64{5}, 5},
		{[]float64{3, 1, 2}, 2},
		{[]float64{9, 1, 8, 2, 7, 3, 4}, 4},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{10, 10, 1000, 10, 1}, 10}, // an outlier does not move it
	}
	for _, c := range cases {
		in := slices.Clone(c.in)
		if got := median(in); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
		if !slices.Equal(in, c.in) {
			t.Errorf("median reordered its input: %v, was %v", in, c.in)
		}
	}
	if got := median(nil); !math.IsNaN(got) {
		t.Errorf("median(nil) = %v, want NaN", got)
	}
}

func TestRatio(t *testing.T) {
	if q, ok := ratio(30, 10); !ok || q != 3 {
		t.Errorf("ratio(30, 10) = %v, %v; want 3, true", q, ok)
	}
	for _, c := range [][2]float64{{1, 0}, {0, 1}, {math.NaN(), 1}, {1, math.Inf(1)}, {-1, 1}} {
		if q, ok := ratio(c[0], c[1]); ok {
			t.Errorf("ratio(%v, %v) = %v, true; want not ok", c[0], c[1], q)
		}
	}
}

func TestRowFinish(t *testing.T) {
	r := Row{Native: Side{Samples: []float64{2, 1, 3}}, Moat: map[string]*MoatSide{
		"ptrace":  {Side: Side{Samples: []float64{30, 10, 20, 40}}},
		"seccomp": {Side: Side{Samples: []float64{8, 4, 6}}},
	}}
	r.finish()
	if got := deref(r.Native.MedianNS); got != 2 {
		t.Fatalf("native median = %v, want 2", got)
	}
	if got := deref(r.Moat["ptrace"].MedianNS); got != 25 {
		t.Fatalf("ptrace median = %v, want 25", got)
	}
	if got := deref(r.Moat["ptrace"].Ratio); got != 12.5 {
		t.Fatalf("ptrace ratio = %v, want 12.5", got)
	}
	if got := deref(r.Moat["seccomp"].Ratio); got != 3 {
		t.Fatalf("seccomp ratio = %v, want 3", got)
	}
	if r.failed() {
		t.Error("row without errors is failed()")
	}

	// A side that failed has no median even if some runs succeeded, and
	// then has no ratio; the other platform's side is unaffected.
	r.Moat["ptrace"].Error = "exit status 1"
	r.finish()
	if r.Moat["ptrace"].MedianNS != nil || r.Moat["ptrace"].Ratio != nil {
		t.Errorf("failed ptrace side: median %v ratio %v, want both nil", r.Moat["ptrace"].MedianNS, r.Moat["ptrace"].Ratio)
	}
	if got := deref(r.Moat["seccomp"].Ratio); got != 3 {
		t.Errorf("seccomp ratio after a ptrace failure = %v, want 3", got)
	}
	if !r.failed() {
		t.Error("row with a moat error is not failed()")
	}

	// A native median of 0 (the idle row's sleeper) gives no ratio.
	idle := Row{CPUShare: true, Native: Side{Samples: []float64{0, 0, 5e6}},
		Moat: map[string]*MoatSide{"ptrace": {Side: Side{Samples: []float64{5e6}}}}}
	idle.finish()
	if deref(idle.Native.MedianNS) != 0 || idle.Moat["ptrace"].Ratio != nil {
		t.Errorf("idle row: native median %v, ratio %v; want 0 and none", deref(idle.Native.MedianNS), deref(idle.Moat["ptrace"].Ratio))
	}
}

func TestFormatNS(t *testing.T) {
	cases := map[float64]string{
		140.46:    "140.5 ns",
		29_400:    "29.40 us",
		1_234_567: "1.23 ms",
		2.5e9:     "2.50 s",
	}
	for in, want := range cases {
		if got := formatNS(in); got != want {
			t.Errorf("formatNS(%v) = %q, want %q", in, got, want)
		}
	}
	if got := formatNS(math.NaN()); got != "-" {
		t.Errorf("formatNS(NaN) = %q, want -", got)
	}
}

func TestParseNS(t *testing.T) {
	good := map[string]float64{
		"140.5\n":                   140.5,
		"  29000  ":                 29000,
		"moat: note: x\n1234.5\n\n": 1234.5, // last non-empty line wins
	}
	for in, want := range good {
		if got, err := parseNS(in); err != nil || got != want {
			t.Errorf("parseNS(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "\n", "abc\n", "-5\n", "0\n", "Inf\n", "NaN\n"} {
		if got, err := parseNS(in); err == nil {
			t.Errorf("parseNS(%q) = %v, nil; want an error", in, got)
		}
	}
}

// deref returns *p, or NaN for nil, for readable test failures.
func deref(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

var testSpecs = []floorSpec{
	{Key: "sysemu", Name: "raw sysemu", Target: floorTarget},
	{Key: "sysemu-pinned", Name: "raw sysemu (one CPU)"},
}

var testPlatforms = []string{"ptrace", "seccomp"}

func moatSides(ptrace, seccomp Side) map[string]*MoatSide {
	return map[string]*MoatSide{"ptrace": {Side: ptrace}, "seccomp": {Side: seccomp}}
}

func testReport() *Report {
	rows := []Row{
		{Key: "getpid", Name: "getpid (syscall)", Unit: "op",
			Native: Side{Samples: []float64{140, 150, 145}},
			Moat: moatSides(Side{Samples: []float64{36000, 35000, 37000}},
				Side{Samples: []float64{3100, 2900, 3000}})},
		{Key: "pread", Name: "pread 4 KiB /bin/busybox", Unit: "op",
			Native: Side{Samples: []float64{480}},
			Moat: moatSides(Side{Error: "exit status 3: moat: unsupported\nsyscall 17"},
				Side{Samples: []float64{4800}})},
		{Key: "idle", Name: "idle: CPU (% of a core)", Unit: "s", CPUShare: true,
			Native: Side{Samples: []float64{0, 0, 0}},
			Moat: moatSides(Side{Samples: []float64{5e6, 0, 5e6}},
				Side{Samples: []float64{1.25e8, 1.5e8, 1e8}})},
		{Key: "sysemu", Name: "raw PTRACE_SYSEMU round trip", Unit: "op",
			Native: Side{Samples: []float64{30000, 28000, 29000}}},
		{Key: "sysemu-pinned", Name: "raw PTRACE_SYSEMU, one CPU", Unit: "op",
			Native: Side{Samples: []float64{7000, 8000, 9000}}},
	}
	for i := range rows {
		rows[i].finish()
	}
	rep := &Report{Machine: Machine{Nproc: 2, Kernel: "Linux 6.1 x86_64", Go: "go1.x"}, Runs: 3, CPU: -1,
		Platforms: testPlatforms, Rows: rows, Failed: true}
	rep.Floors = floors(rep.Rows, "getpid", "ptrace", testSpecs)
	if l, ok := getpidLimit(rep.Rows, "getpid", "seccomp", seccompGetpidTargetNS); ok {
		rep.Limits = append(rep.Limits, l)
	}
	rep.Limits = append(rep.Limits, idleLimits(rep.Rows, "idle", rep.Platforms, idleTargetShare)...)
	return rep
}

func TestFloors(t *testing.T) {
	rep := testReport()
	if len(rep.Floors) != 2 {
		t.Fatalf("got %d floors, want 2: %+v", len(rep.Floors), rep.Floors)
	}
	if f := rep.Floors[1]; f.Name != "raw sysemu (one CPU)" || f.RawNS != 8000 || f.Target != 0 {
		t.Errorf("second floor = %+v, want the informational one-CPU floor", f)
	}
	f := rep.Floors[0]
	if f.Platform != "ptrace" || f.MoatNS != 36000 || f.RawNS != 29000 || math.Abs(f.Ratio-36000.0/29000) > 1e-12 {
		t.Errorf("floor = %+v, want ptrace 36000/29000", f)
	}
	// The floors take the ptrace column, not seccomp's.
	if got := floors(rep.Rows, "getpid", "seccomp", testSpecs); len(got) != 2 || got[0].MoatNS != 3000 {
		t.Errorf("seccomp floors = %+v, want moat getpid 3000", got)
	}
	// Without a ptrace getpid median there is no floor line, whatever the
	// other platform has; nor without the platform at all.
	rep.Rows[0].Moat["ptrace"].Error = "boom"
	rep.Rows[0].finish()
	if got := floors(rep.Rows, "getpid", "ptrace", testSpecs); len(got) != 0 {
		t.Errorf("floors without ptrace getpid = %+v, want none", got)
	}
	if got := floors(rep.Rows, "getpid", "kvm", testSpecs); len(got) != 0 {
		t.Errorf("floors for a platform not measured = %+v, want none", got)
	}
}

func TestLimits(t *testing.T) {
	rep := testReport()
	if len(rep.Limits) != 3 {
		t.Fatalf("got %d limits, want 3 (seccomp getpid, idle ptrace, idle seccomp): %+v", len(rep.Limits), rep.Limits)
	}
	g := rep.Limits[0]
	if g.Kind != "floor" || g.Platform != "seccomp" || g.Value != 3000-145 || g.Target != 5000 || !g.OK() {
		t.Errorf("seccomp getpid limit = %+v, want 2855 ns over native, target 5000, ok", g)
	}
	ip, is := rep.Limits[1], rep.Limits[2]
	if ip.Kind != "idle" || ip.Platform != "ptrace" || ip.Value != 5e6 || !ip.OK() {
		t.Errorf("idle ptrace limit = %+v, want 5e6 (0.5%%), ok", ip)
	}
	if is.Platform != "seccomp" || is.Value != 1.25e8 || is.OK() {
		t.Errorf("idle seccomp limit = %+v, want 1.25e8 (12.5%%), above target", is)
	}
	// The idle target is strict: exactly 1% is above it; 5 us of getpid
	// overhead is not.
	if (Limit{Value: 1e7, Target: 1e7, Strict: true}).OK() {
		t.Error("idle at exactly the target is OK()")
	}
	if !(Limit{Value: 5000, Target: 5000}).OK() {
		t.Error("getpid overhead at exactly the target is not OK()")
	}
	// No seccomp getpid median, no limit.
	rep.Rows[0].Moat["seccomp"].Error = "boom"
	rep.Rows[0].finish()
	if l, ok := getpidLimit(rep.Rows, "getpid", "seccomp", seccompGetpidTargetNS); ok {
		t.Errorf("getpid limit without a seccomp median = %+v", l)
	}
	if got := idleLimits(rep.Rows, "nosuchrow", testPlatforms, idleTargetShare); len(got) != 0 {
		t.Errorf("idle limits without an idle row = %+v", got)
	}
}

func TestRenderTable(t *testing.T) {
	out := renderTable(testReport())
	for _, want := range []string{
		"nproc=2 kernel=Linux 6.1 x86_64",
		"145.0 ns/op", "36.00 us/op", "248x", // getpid: medians and ratio
		"3.00 us/op", "20.7x", // getpid on seccomp
		"ptrace: failed: exit status 3: moat: unsupported syscall 17", // error on one line
		"(native only)",
		"0.00%", "0.50%", "12.50%", // idle row as percent of a core
		"floor: ptrace getpid / raw sysemu = 36.00 us / 29.00 us = 1.24x (target <= 1.3x: ok)\n",
		"floor: ptrace getpid / raw sysemu (one CPU) = 36.00 us / 8.00 us = 4.50x\n",
		"floor: seccomp getpid vs native: 2.85 us (target <= 5 us: ok; 3.00 us - 145.0 ns)\n",
		"idle: ptrace: 0.50% of a core (target < 1%: ok; native 0.00%)\n",
		"idle: seccomp: 12.50% of a core (target < 1%: ABOVE target; native 0.00%)\n",
		"FAILED",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "bound to CPU") {
		t.Errorf("CPU -1 is reported as a binding:\n%s", out)
	}
	if strings.Contains(out, "seccomp: failed") {
		t.Errorf("a ptrace failure is reported as seccomp's:\n%s", out)
	}

	// Every cell of a column ends where the header's cell does (numbers are
	// right-aligned), whatever failure text follows on the line. Positions
	// are in runes: the header has "×".
	lines := strings.Split(out, "\n")
	hdr := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "workload") {
			hdr = i
		}
	}
	if hdr < 0 {
		t.Fatalf("no header line:\n%s", out)
	}
	h := lines[hdr]
	if f := strings.Fields(h); !slices.Equal(f, []string{"workload", "native", "ptrace", "×native", "seccomp", "×native"}) {
		t.Fatalf("header = %q, want workload native ptrace ×native seccomp ×native", f)
	}
	// ends finds the nth (from 0) occurrence of cell in line.
	ends := func(line, cell string, nth int) int {
		off := 0
		for {
			i := strings.Index(line[off:], cell)
			if i < 0 {
				t.Fatalf("%q (#%d) not in line %q", cell, nth, line)
			}
			if nth == 0 {
				return utf8.RuneCountInString(line[:off+i+len(cell)])
			}
			nth--
			off += i + len(cell)
		}
	}
	checks := []struct {
		line, cell string
		col        string
		nth        int // occurrence of col in the header
	}{
		{lines[hdr+2], "145.0 ns/op", "native", 0},
		{lines[hdr+3], "480.0 ns/op", "native", 0},
		{lines[hdr+4], "0.00%", "native", 0},
		{lines[hdr+5], "29.00 us/op", "native", 0},
		{lines[hdr+2], "36.00 us/op", "ptrace", 0},
		{lines[hdr+3], "FAILED", "ptrace", 0},
		{lines[hdr+4], "0.50%", "ptrace", 0},
		{lines[hdr+5], "(native only)", "ptrace", 0},
		{lines[hdr+2], "248x", "×native", 0},
		{lines[hdr+2], "3.00 us/op", "seccomp", 0},
		{lines[hdr+3], "4.80 us/op", "seccomp", 0},
		{lines[hdr+4], "12.50%", "seccomp", 0},
		{lines[hdr+2], "20.7x", "×native", 1},
		{lines[hdr+3], "10.0x", "×native", 1},
	}
	for _, c := range checks {
		if got, want := ends(c.line, c.cell, 0), ends(h, c.col, c.nth); got != want {
			t.Errorf("cell %q ends at %d, column %q #%d at %d:\n%s", c.cell, got, c.col, c.nth, want, out)
		}
	}
	// The idle row has no ratio: its native median is 0.
	if f := strings.Fields(lines[hdr+4]); f[len(f)-1] != "-" || f[len(f)-3] != "-" {
		t.Errorf("idle row %q: want - in both ratio columns", lines[hdr+4])
	}
}

func TestRenderTableAboveTarget(t *testing.T) {
	rep := testReport()
	rep.Floors[0].Ratio = 1.31
	rep.Limits[0].Value = 5001
	out := renderTable(rep)
	if !strings.Contains(out, "= 1.31x (target <= 1.3x: ABOVE target)") {
		t.Errorf("a floor over the target is not flagged:\n%s", out)
	}
	if !strings.Contains(out, "seccomp getpid vs native: 5.00 us (target <= 5 us: ABOVE target") {
		t.Errorf("a seccomp getpid over the target is not flagged:\n%s", out)
	}
}

func TestRenderTableOnePlatform(t *testing.T) {
	rep := testReport()
	rep.Platforms = []string{"seccomp"}
	rep.Floors = nil
	rep.Limits = idleLimits(rep.Rows, "idle", rep.Platforms, idleTargetShare)
	out := renderTable(rep)
	if strings.Contains(out, "ptrace") || strings.Contains(out, "36.00 us") {
		t.Errorf("a platform not in Platforms is rendered:\n%s", out)
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "workload") {
			if f := strings.Fields(l); !slices.Equal(f, []string{"workload", "native", "seccomp", "×native"}) {
				t.Errorf("header = %q", f)
			}
		}
	}
}

func TestParsePlatforms(t *testing.T) {
	if got, err := parsePlatforms(" ptrace, seccomp ,"); err != nil || !slices.Equal(got, []string{"ptrace", "seccomp"}) {
		t.Errorf("parsePlatforms = %q, %v", got, err)
	}
	for _, in := range []string{"", " , ", "ptrace,ptrace"} {
		if got, err := parsePlatforms(in); err == nil {
			t.Errorf("parsePlatforms(%q) = %q, nil; want an error", in, got)
		}
	}
}

func TestParseProcStat(t *testing.T) {
	// The command name may hold spaces and parentheses.
	data := "4242 (moat (x) y) S 4200 4242 4200 0 -1 4194560 100 0 0 0 17 5 0 0 20 0 9 0 123 456 789\n"
	st, err := parseProcStat(data)
	if err != nil || st.ppid != 4200 || st.utime != 17 || st.stime != 5 {
		t.Errorf("parseProcStat = %+v, %v; want ppid 4200 utime 17 stime 5", st, err)
	}
	for _, bad := range []string{"", "1 (x) S 0 1", "1 (x) S zz 1 1 0 -1 0 0 0 0 0 1 1 0 0"} {
		if st, err := parseProcStat(bad); err == nil {
			t.Errorf("parseProcStat(%q) = %+v, nil; want an error", bad, st)
		}
	}
}

func TestSumTree(t *testing.T) {
	stats := map[int]procStat{
		1:  {ppid: 0, utime: 1000},
		10: {ppid: 1, utime: 3, stime: 1},   // moat
		11: {ppid: 10, utime: 2},            // its stub
		12: {ppid: 10, stime: 5},            // another stub
		13: {ppid: 12, utime: 1},            // a grandchild
		20: {ppid: 1, utime: 50, stime: 50}, // unrelated
	}
	if got, err := sumTree(stats, 10); err != nil || got != 12 {
		t.Errorf("sumTree(10) = %v, %v; want 12", got, err)
	}
	if got, err := sumTree(stats, 11); err != nil || got != 2 {
		t.Errorf("sumTree(11) = %v, %v; want 2", got, err)
	}
	if _, err := sumTree(stats, 99); err == nil {
		t.Error("sumTree of a missing pid: no error")
	}
}

// TestTreeCPUTicks checks /proc scanning on this process: it is in /proc
// and has used some CPU by now.
func TestTreeCPUTicks(t *testing.T) {
	deadline := time.Now().Add(100 * time.Millisecond)
	for time.Now().Before(deadline) { // burn more than one tick
	}
	if got, err := treeCPUTicks(os.Getpid()); err != nil || got == 0 {
		t.Errorf("treeCPUTicks(self) = %v, %v; want > 0", got, err)
	}
}

// TestRunIdleSeesDescendants runs a shell whose child spins for the whole
// window: the share must count the grandchild's CPU, about one core. A
// shell that just sleeps must come out (nearly) idle.
func TestRunIdleSeesDescendants(t *testing.T) {
	if testing.Short() {
		t.Skip("takes 6 s")
	}
	b := &bench{cfg: config{timeout: time.Minute}}
	busy, err := b.runIdle(t.Context(), []string{"/bin/sh", "-c", "(while :; do :; done) & sleep 3; kill $!"})
	if err != nil {
		t.Fatal(err)
	}
	if busy < 0.3e9 { // a spinning child: ~1e9 unless the VM is starved
		t.Errorf("runIdle with a spinning grandchild = %s of a core, want >= 30%%", formatShare(busy))
	}
	idle, err := b.runIdle(t.Context(), []string{"/bin/sh", "-c", "sleep 3"})
	if err != nil {
		t.Fatal(err)
	}
	if idle > idleTargetShare {
		t.Errorf("runIdle of sleep 3 = %s of a core, want < 1%%", formatShare(idle))
	}
	// A command that exits before the samples is an error, not a 0.
	if v, err := b.runIdle(t.Context(), []string{"/bin/true"}); err == nil {
		t.Errorf("runIdle of /bin/true = %v, nil; want an error", v)
	}
}

// TestUnsupportedCell: a side that failed the way its platform is expected
// to (threads on ptrace: ENOSYS) shows the error name, has no median or
// ratio, and is not a failure; the other platform's side is unaffected.
func TestUnsupportedCell(t *testing.T) {
	r := Row{Key: "thread", Name: "pthread create+join", Unit: "op",
		Native: Side{Samples: []float64{40000}},
		Moat: moatSides(Side{Samples: []float64{1}, Unsupported: "ENOSYS", Detail: "exit status 3: threadjoin: pthread_create: ENOSYS (Function not implemented)"},
			Side{Samples: []float64{350000}})}
	r.finish()
	if r.failed() {
		t.Error("row with only an unsupported side is failed()")
	}
	if m := r.Moat["ptrace"]; m.MedianNS != nil || m.Ratio != nil {
		t.Errorf("unsupported side: median %v ratio %v, want both nil", m.MedianNS, m.Ratio)
	}
	if got := deref(r.Moat["seccomp"].Ratio); got != 8.75 {
		t.Errorf("seccomp ratio = %v, want 8.75", got)
	}
	rep := &Report{Machine: Machine{Nproc: 2}, Runs: 1, CPU: -1, Platforms: testPlatforms, Rows: []Row{r}}
	out := renderTable(rep)
	for _, want := range []string{
		"ptrace: ENOSYS, expected (unsupported on ptrace): exit status 3: threadjoin: pthread_create: ENOSYS",
		"350.00 us/op", "8.75x",
		"does not count as a failure",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "pthread") {
			if f := strings.Fields(l); len(f) < 7 || f[4] != "ENOSYS" || f[5] != "-" {
				t.Errorf("row %q: want ENOSYS - in the ptrace columns", l)
			}
		}
	}
	if strings.Contains(out, "FAILED") {
		t.Errorf("an unsupported cell is reported as FAILED:\n%s", out)
	}
	// Without an unsupported cell there is no such note.
	if out := renderTable(testReport()); strings.Contains(out, "unsupported:") {
		t.Errorf("unsupported note without an unsupported cell:\n%s", out)
	}
}

// TestWorkloads checks the row list against the embedded sources: keys are
// unique, and every program a row runs from the work directory is compiled
// from a workloads/*.c of the same base name.
func TestWorkloads(t *testing.T) {
	cfg := config{workdir: "/w", scale: 1, openFile: "/etc/passwd", preadFile: "/nonexistent"}
	wls := workloads(cfg)
	seen := map[string]bool{}
	for _, wl := range wls {
		if seen[wl.key] {
			t.Errorf("key %q listed twice", wl.key)
		}
		seen[wl.key] = true
		if len(wl.argv) == 0 {
			t.Errorf("%s: no argv", wl.key)
			continue
		}
		if dir, base := filepath.Split(wl.argv[0]); dir == "/w/" {
			if _, err := sources.ReadFile("workloads/" + base + ".c"); err != nil {
				t.Errorf("%s runs %s, which no workloads/*.c builds: %v", wl.key, wl.argv[0], err)
			}
		}
	}
	// The signal row: the self-signal program, per delivery, on every
	// platform (no expected failure).
	cfg.only = map[string]bool{"signal": true}
	sel := selected(cfg, wls)
	if len(sel) != 1 || sel[0].key != "signal" {
		t.Fatalf("-only signal selects %d rows: %+v", len(sel), sel)
	}
	if wl := sel[0]; wl.argv[0] != "/w/sigdeliver" || wl.unit != "op" || wl.nativeOnly || wl.wall || len(wl.unsupported) != 0 {
		t.Errorf("signal row = %+v", wl)
	}
}

// TestRealWorldRows checks the python, gcc and shloop rows: wall-clock per
// run of the whole process, the same argv natively and inside moat, and
// the files they need where moat sees them (the gcc input in the work
// directory, its object to /dev/null).
func TestRealWorldRows(t *testing.T) {
	cfg := config{workdir: "/w", scale: 1, openFile: "/etc/passwd", preadFile: "/nonexistent",
		only: map[string]bool{"python": true, "gcc": true, "shloop": true}}
	sel := selected(cfg, workloads(cfg))
	if len(sel) != 3 {
		t.Fatalf("-only python,gcc,shloop selects %d rows: %+v", len(sel), sel)
	}
	want := map[string][]string{
		"python": {"/usr/bin/python3", "-c", "import json, sqlite3, threading"},
		"gcc":    {"/usr/bin/gcc", "-c", "-O2", "-o", "/dev/null", "/w/" + ccInput},
		"shloop": {"/bin/sh", "-c", "i=0; while [ $i -lt 200 ]; do /bin/true; i=$((i+1)); done"},
	}
	for _, wl := range sel {
		if !slices.Equal(wl.argv, want[wl.key]) {
			t.Errorf("%s argv = %q, want %q", wl.key, wl.argv, want[wl.key])
		}
		if !wl.wall || wl.unit != "run" || wl.nativeOnly || wl.idle || len(wl.unsupported) != 0 {
			t.Errorf("%s row = %+v, want a wall row per run on every side", wl.key, wl)
		}
		if wl.skip != missing(wl.argv[0]) && wl.key != "shloop" {
			t.Errorf("%s: skip = %q, want %q", wl.key, wl.skip, missing(wl.argv[0]))
		}
	}
	if !strings.Contains(sel[1].name, "-line C file") || !strings.Contains(sel[2].name, "200 runs of /bin/true") {
		t.Errorf("names: %q, %q", sel[1].name, sel[2].name)
	}
	// The gcc input is a complete translation unit with no main: it is not
	// a workload program, which compileWorkloads would link.
	if len(ccSource) == 0 || !strings.Contains(string(ccSource), "#include <stdio.h>") {
		t.Errorf("ccSource = %q", oneLine(string(ccSource), 60))
	}
	// -scale scales the loop and says so in the name.
	cfg.scale = 0.5
	sel = selected(cfg, workloads(cfg))
	if got := sel[2].argv[2]; !strings.Contains(got, "-lt 100 ]") || !strings.Contains(sel[2].name, "100 runs") {
		t.Errorf("shloop at -scale 0.5: %q, %q", got, sel[2].name)
	}
}

func TestMissing(t *testing.T) {
	if got := missing("/bin/sh"); got != "" {
		t.Errorf("missing(/bin/sh) = %q, want \"\"", got)
	}
	if got := missing("/bin/sh", "/nonexistent/python3"); got != "/nonexistent/python3 not found" {
		t.Errorf("missing(/bin/sh, /nonexistent/python3) = %q", got)
	}
	if got := missing("/etc/passwd"); !strings.Contains(got, "not an executable") {
		t.Errorf("missing(/etc/passwd) = %q, want not an executable", got)
	}
}

// TestSkippedRow: a row whose program is missing runs nothing, on no side,
// and shows as skipped with its reason; it is not a failure.
func TestSkippedRow(t *testing.T) {
	b := &bench{cfg: config{runs: 2, timeout: time.Minute, platforms: testPlatforms, quiet: true}, moat: "/nonexistent/moat"}
	rows := b.measureAll(t.Context(), []workload{
		{key: "python", name: "python3 start", unit: "run", wall: true,
			argv: []string{"/nonexistent/python3", "-c", "pass"}, skip: "/nonexistent/python3 not found"},
		{key: "true", name: "true", unit: "run", wall: true, argv: []string{"/bin/true"}, nativeOnly: true},
	})
	r := rows[0]
	if r.Skipped != "/nonexistent/python3 not found" || r.failed() || len(r.Native.Samples) != 0 || r.Native.MedianNS != nil || len(r.Moat) != 0 {
		t.Fatalf("skipped row = %+v", r)
	}
	if len(rows[1].Native.Samples) != 2 || rows[1].Native.MedianNS == nil {
		t.Errorf("the row after a skipped one did not run: %+v", rows[1])
	}
	out := renderTable(&Report{Machine: Machine{Nproc: 2}, Runs: 2, CPU: -1, Platforms: testPlatforms, Rows: rows})
	var line string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "python3 start") {
			line = l
		}
	}
	if f := strings.Fields(line); len(f) < 9 || f[2] != "skipped" || f[3] != "-" || f[6] != "-" || !strings.HasSuffix(line, "skipped: /nonexistent/python3 not found") {
		t.Errorf("skipped row line = %q:\n%s", line, out)
	}
	if strings.Contains(out, "FAILED") {
		t.Errorf("a skipped row is reported as FAILED:\n%s", out)
	}
}

// TestFileRows checks the stat, createunlink, pwrite, getdents and tar
// rows: the programs that write take the tmpDirArg placeholder (a fresh
// directory under /tmp natively, /tmp inside moat), the tar row is a wall
// row extracting the tarball from the work directory.
func TestFileRows(t *testing.T) {
	keys := []string{"stat", "createunlink", "pwrite", "getdents", "tar"}
	cfg := config{workdir: "/w", scale: 1, openFile: "/etc/passwd", preadFile: "/nonexistent", only: map[string]bool{}}
	for _, k := range keys {
		cfg.only[k] = true
	}
	sel := selected(cfg, workloads(cfg))
	var got []string
	for _, wl := range sel {
		got = append(got, wl.key)
	}
	if !slices.Equal(got, []string{"stat", "createunlink", "pwrite", "getdents", "tar"}) {
		t.Fatalf("-only %s selects %q", strings.Join(keys, ","), got)
	}
	want := map[string][]string{
		"stat":         {"/w/stat", "20000", "/etc/passwd"},
		"createunlink": {"/w/createunlink", "1000", tmpDirArg},
		"pwrite":       {"/w/pwrite", "5000", tmpDirArg},
		"getdents":     {"/w/getdents", "20", tmpDirArg, "10000"},
		"tar":          {"/usr/bin/tar", "-xf", "/w/" + tarInput, "-C", tmpDirArg},
	}
	for _, wl := range sel {
		if !slices.Equal(wl.argv, want[wl.key]) {
			t.Errorf("%s argv = %q, want %q", wl.key, wl.argv, want[wl.key])
		}
		if wl.nativeOnly || wl.idle || len(wl.unsupported) != 0 || wl.wall != (wl.key == "tar") {
			t.Errorf("%s row = %+v", wl.key, wl)
		}
	}
	if tar := sel[4]; tar.unit != "run" || tar.skip != tarSkip() {
		t.Errorf("tar row = %+v, want per run, skip %q", tar, tarSkip())
	}
	// -scale scales the iterations, not the 10000 entries.
	cfg.scale = 0.5
	if g := selected(cfg, workloads(cfg))[3]; !slices.Equal(g.argv[1:], []string{"10", tmpDirArg, "10000"}) {
		t.Errorf("getdents at -scale 0.5: %q", g.argv)
	}
	// Inside moat the placeholder becomes /tmp; the row's argv is untouched.
	if got := withTmpDir(want["tar"], moatTmp); !slices.Equal(got, []string{"/usr/bin/tar", "-xf", "/w/" + tarInput, "-C", "/tmp"}) {
		t.Errorf("withTmpDir(tar, /tmp) = %q", got)
	}
	if want["tar"][4] != tmpDirArg {
		t.Error("withTmpDir changed its input")
	}
}

// TestRunInFreshTmp: natively a writing workload gets a new, empty
// directory under /tmp, which is gone after the run.
func TestRunInFreshTmp(t *testing.T) {
	b := &bench{cfg: config{timeout: time.Minute}}
	note := filepath.Join(t.TempDir(), "dir")
	script := `[ -z "$(ls -A "$1")" ] && touch "$1/x" && echo "$1" > "$2" && echo 123.5`
	v, err := b.runInFreshTmp(t.Context(), []string{"/bin/sh", "-c", script, "sh", tmpDirArg, note}, false)
	if err != nil || v != 123.5 {
		t.Fatalf("runInFreshTmp = %v, %v; want 123.5", v, err)
	}
	data, err := os.ReadFile(note)
	if err != nil {
		t.Fatal(err)
	}
	dir := strings.TrimSpace(string(data))
	if !strings.HasPrefix(dir, nativeTmp+"/moat-bench-run-") {
		t.Errorf("workload ran in %q, want a new dir under %s", dir, nativeTmp)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s still there after the run: %v", dir, err)
	}
}

// TestBuildTarball archives a small tree and reads it back: names from the
// tree's base name down, directories, files with their contents, symlinks.
func TestBuildTarball(t *testing.T) {
	root := t.TempDir()
	src := filepath.Join(root, "linux")
	if err := os.MkdirAll(filepath.Join(src, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "a.h"), []byte("#define A 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "sub", "b.h"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a.h", filepath.Join(src, "l.h")); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(root, "out.tar")
	n, err := buildTarball(src, dst)
	if err != nil || n != 5 {
		t.Fatalf("buildTarball = %d, %v; want 5 entries", n, err)
	}
	f, err := os.Open(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := map[string]string{}
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		got[hdr.Name] = string(rune(hdr.Typeflag)) + ":" + string(body) + hdr.Linkname
	}
	want := map[string]string{
		"linux/":        "5:",
		"linux/a.h":     "0:#define A 1\n",
		"linux/l.h":     "2:a.h",
		"linux/sub/":    "5:",
		"linux/sub/b.h": "0:",
	}
	if len(got) != len(want) {
		t.Errorf("archive = %q, want %q", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("archive[%q] = %q, want %q", k, got[k], v)
		}
	}
}

// TestRates: a row in ns per KiB also reads as bytes per second, one in ns
// per request as requests per second, from each side's median; the ratio
// stays a time ratio; other rows have no rate.
func TestRates(t *testing.T) {
	bw := Row{Key: "tcp-stream", Name: "TCP stream", Unit: "KiB",
		Native: Side{Samples: []float64{200, 190, 210}},
		Moat: moatSides(Side{Samples: []float64{2000}},
			Side{Samples: []float64{3000}, Error: "exit status 1"})}
	bw.finish()
	if bw.RateUnit != "B/s" || deref(bw.Native.Rate) != 1024*1e9/200 || deref(bw.Moat["ptrace"].Rate) != 1024*1e9/2000 {
		t.Errorf("bandwidth row: rate unit %q, native %v, ptrace %v", bw.RateUnit, deref(bw.Native.Rate), deref(bw.Moat["ptrace"].Rate))
	}
	if bw.Moat["seccomp"].Rate != nil {
		t.Errorf("failed side has rate %v", deref(bw.Moat["seccomp"].Rate))
	}
	if got := deref(bw.Moat["ptrace"].Ratio); got != 10 {
		t.Errorf("bandwidth ratio = %v, want 10 (time moat/native)", got)
	}
	req := Row{Key: "http", Name: "HTTP GET", Unit: "req",
		Native: Side{Samples: []float64{100000}},
		Moat:   moatSides(Side{Samples: []float64{400000}}, Side{Samples: []float64{16e9}})}
	req.finish()
	if req.RateUnit != "req/s" || deref(req.Native.Rate) != 10000 || deref(req.Moat["ptrace"].Rate) != 2500 {
		t.Errorf("request row: rate unit %q, native %v, ptrace %v", req.RateUnit, deref(req.Native.Rate), deref(req.Moat["ptrace"].Rate))
	}
	rt := Row{Key: "tcp-pingpong", Unit: "rt", Native: Side{Samples: []float64{1000}}}
	rt.finish()
	if rt.RateUnit != "" || rt.Native.Rate != nil {
		t.Errorf("ns/rt row has a rate: %q %v", rt.RateUnit, deref(rt.Native.Rate))
	}
	// Finishing again (after a side failed) drops that side's rate.
	req.Moat["ptrace"].Error = "boom"
	req.finish()
	if req.Moat["ptrace"].Rate != nil {
		t.Errorf("rate kept after the side failed: %v", deref(req.Moat["ptrace"].Rate))
	}
	req.Moat["ptrace"].Error = ""
	req.finish()

	for _, c := range []struct {
		v    float64
		unit string
		want string
	}{
		{5 << 30, "B/s", "5.00 GiB/s"},
		{488.28125 * (1 << 20), "B/s", "488.3 MiB/s"},
		{1 << 20, "B/s", "1.0 MiB/s"},
		{512 << 10, "B/s", "512.0 KiB/s"},
		{8850.4, "req/s", "8850 req/s"},
		{62.5, "req/s", "62.5 req/s"},
		{math.NaN(), "req/s", "-"},
	} {
		if got := formatRate(c.v, c.unit); got != c.want {
			t.Errorf("formatRate(%v, %q) = %q, want %q", c.v, c.unit, got, c.want)
		}
	}

	rep := &Report{Machine: Machine{Nproc: 2}, Runs: 3, CPU: -1, Platforms: testPlatforms, Rows: []Row{rt, bw, req}}
	out := renderTable(rep)
	for _, want := range []string{
		"200.0 ns/KiB", "2.00 us/KiB", "10.0x", // the cells stay time per unit
		"100.00 us/req", "400.00 us/req", "4.00x",
		"\nrates, from the medians (the ×native columns are times: native rate / moat rate):\n" +
			"rate: tcp-stream: native 4.77 GiB/s, ptrace 488.3 MiB/s, seccomp -\n" +
			"rate: http: native 10000 req/s, ptrace 2500 req/s, seccomp 0.1 req/s\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "rate: tcp-pingpong") {
		t.Errorf("rate line for a row without a rate:\n%s", out)
	}
	// No rate rows, no rates heading.
	if out := renderTable(testReport()); strings.Contains(out, "rates") {
		t.Errorf("rates heading without rate rows:\n%s", out)
	}
	// One platform: only its rate.
	rep.Platforms = []string{"seccomp"}
	if out := renderTable(rep); !strings.Contains(out, "rate: http: native 10000 req/s, seccomp 0.1 req/s\n") {
		t.Errorf("one-platform rate line:\n%s", out)
	}
}

// TestSocketRows checks the socket rows: -only unix,tcp,http picks the six
// of them (a key picks its -variants), each runs a program built from
// workloads/, and the http rows start the server, httpd, from the work
// directory too; the counts and MiB scale with -scale, the 64 KiB write
// size does not.
func TestSocketRows(t *testing.T) {
	cfg := config{workdir: "/w", scale: 1, openFile: "/etc/passwd", preadFile: "/nonexistent",
		only: map[string]bool{"unix": true, "tcp": true, "http": true}}
	sel := selected(cfg, workloads(cfg))
	want := map[string]struct {
		argv []string
		unit string
	}{
		"unix-pingpong":  {[]string{"/w/sockpingpong", "unix", "2000"}, "rt"},
		"unix-stream":    {[]string{"/w/sockstream", "unix", "64", "64"}, "KiB"},
		"tcp-pingpong":   {[]string{"/w/sockpingpong", "tcp", "2000"}, "rt"},
		"tcp-stream":     {[]string{"/w/sockstream", "tcp", "64", "64"}, "KiB"},
		"http":           {[]string{"/w/httpget", "close", "500", "/w/httpd", "1024"}, "req"},
		"http-keepalive": {[]string{"/w/httpget", "keepalive", "500", "/w/httpd", "1024"}, "req"},
	}
	if len(sel) != len(want) {
		t.Fatalf("-only unix,tcp,http selects %d rows, want %d: %+v", len(sel), len(want), sel)
	}
	for _, wl := range sel {
		w, ok := want[wl.key]
		if !ok {
			t.Errorf("unexpected row %q", wl.key)
			continue
		}
		if !slices.Equal(wl.argv, w.argv) || wl.unit != w.unit {
			t.Errorf("%s: argv %q unit %q, want %q %q", wl.key, wl.argv, wl.unit, w.argv, w.unit)
		}
		if wl.wall || wl.idle || wl.nativeOnly || wl.skip != "" || len(wl.unsupported) != 0 {
			t.Errorf("%s row = %+v, want a timed row on every side", wl.key, wl)
		}
		for _, a := range wl.argv {
			if dir, base := filepath.Split(a); dir == "/w/" {
				if _, err := sources.ReadFile("workloads/" + base + ".c"); err != nil {
					t.Errorf("%s runs %s, which no workloads/*.c builds", wl.key, a)
				}
			}
		}
		if _, ok := rateUnits[wl.unit]; ok != (wl.unit != "rt") {
			t.Errorf("%s: unit %q has a rate: %v", wl.key, wl.unit, ok)
		}
	}
	if !strings.Contains(sel[1].name, "64 MiB in 64 KiB writes") {
		t.Errorf("unix-stream name %q", sel[1].name)
	}
	cfg.scale = 0.25
	sel = selected(cfg, workloads(cfg))
	if got := sel[3].argv; !slices.Equal(got, []string{"/w/sockstream", "tcp", "16", "64"}) || !strings.Contains(sel[3].name, "16 MiB") {
		t.Errorf("tcp-stream at -scale 0.25: %q, %q", got, sel[3].name)
	}
	if got := sel[4].argv[2]; got != "125" {
		t.Errorf("http at -scale 0.25: %s requests, want 125", got)
	}
	// -only tcp-stream picks that row alone.
	cfg.only = map[string]bool{"tcp-stream": true}
	if sel := selected(cfg, workloads(cfg)); len(sel) != 1 || sel[0].key != "tcp-stream" {
		t.Errorf("-only tcp-stream selects %+v", sel)
	}
}
