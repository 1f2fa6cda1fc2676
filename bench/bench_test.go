package main

import (
	"math"
	"slices"
	"strings"
	"testing"
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
	r := Row{Native: Side{Samples: []float64{2, 1, 3}}, Moat: &Side{Samples: []float64{30, 10, 20, 40}}}
	r.finish()
	if got := deref(r.Native.MedianNS); got != 2 {
		t.Fatalf("native median = %v, want 2", got)
	}
	if got := deref(r.Moat.MedianNS); got != 25 {
		t.Fatalf("moat median = %v, want 25", got)
	}
	if got := deref(r.Ratio); got != 12.5 {
		t.Fatalf("ratio = %v, want 12.5", got)
	}

	// A side that failed has no median even if some runs succeeded, and
	// the row then has no ratio.
	r.Moat.Error = "exit status 1"
	r.finish()
	if r.Moat.MedianNS != nil || r.Ratio != nil {
		t.Errorf("failed moat side: median %v ratio %v, want both nil", r.Moat.MedianNS, r.Ratio)
	}
	if !r.failed() {
		t.Error("row with a moat error is not failed()")
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

func testReport() *Report {
	rows := []Row{
		{Key: "getpid", Name: "getpid (syscall)", Unit: "op",
			Native: Side{Samples: []float64{140, 150, 145}},
			Moat:   &Side{Samples: []float64{36000, 35000, 37000}}},
		{Key: "pread", Name: "pread 4 KiB /bin/busybox", Unit: "op",
			Native: Side{Samples: []float64{480}},
			Moat:   &Side{Error: "exit status 3: moat: unsupported\nsyscall 17"}},
		{Key: "sysemu", Name: "raw PTRACE_SYSEMU round trip", Unit: "op",
			Native: Side{Samples: []float64{30000, 28000, 29000}}},
		{Key: "sysemu-pinned", Name: "raw PTRACE_SYSEMU, one CPU", Unit: "op",
			Native: Side{Samples: []float64{7000, 8000, 9000}}},
	}
	for i := range rows {
		rows[i].finish()
	}
	rep := &Report{Machine: Machine{Nproc: 2, Kernel: "Linux 6.1 x86_64", Go: "go1.x"}, Runs: 3, Rows: rows, Failed: true}
	rep.Floors = floors(rep.Rows, "getpid", testSpecs)
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
	if f.MoatNS != 36000 || f.RawNS != 29000 || math.Abs(f.Ratio-36000.0/29000) > 1e-12 {
		t.Errorf("floor = %+v, want 36000/29000", f)
	}
	// Without a moat getpid median there is no floor line.
	rep.Rows[0].Moat.Error = "boom"
	rep.Rows[0].finish()
	if got := floors(rep.Rows, "getpid", testSpecs); len(got) != 0 {
		t.Errorf("floors without moat getpid = %+v, want none", got)
	}
}

func TestRenderTable(t *testing.T) {
	out := renderTable(testReport())
	for _, want := range []string{
		"nproc=2 kernel=Linux 6.1 x86_64",
		"145.0 ns/op", "36.00 us/op", "248x", // getpid: medians and ratio
		"moat: failed: exit status 3: moat: unsupported syscall 17", // error on one line
		"(native only)",
		"floor: moat getpid / raw sysemu = 36.00 us / 29.00 us = 1.24x (target <= 1.3x: ok)\n",
		"floor: moat getpid / raw sysemu (one CPU) = 36.00 us / 8.00 us = 4.50x\n",
		"FAILED",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}

	// Every cell of a column ends where the header's cell does (numbers are
	// right-aligned), whatever failure text follows on the line.
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
	ends := func(line, cell string) int {
		i := strings.Index(line, cell)
		if i < 0 {
			t.Fatalf("%q not in line %q", cell, line)
		}
		return i + len(cell)
	}
	h := lines[hdr]
	checks := []struct{ line, cell, col string }{
		{lines[hdr+2], "145.0 ns/op", "native median"},
		{lines[hdr+3], "480.0 ns/op", "native median"},
		{lines[hdr+4], "29.00 us/op", "native median"},
		{lines[hdr+2], "36.00 us/op", "moat median"},
		{lines[hdr+3], "FAILED", "moat median"},
		{lines[hdr+4], "(native only)", "moat median"},
		{lines[hdr+2], "248x", "moat/native"},
	}
	for _, c := range checks {
		if got, want := ends(c.line, c.cell), ends(h, c.col); got != want {
			t.Errorf("cell %q ends at %d, column %q at %d:\n%s", c.cell, got, c.col, want, out)
		}
	}
}

func TestRenderTableAboveTarget(t *testing.T) {
	rep := testReport()
	rep.Floors[0].Ratio = 1.31
	out := renderTable(rep)
	if !strings.Contains(out, "= 1.31x (target <= 1.3x: ABOVE target)") {
		t.Errorf("a floor over the target is not flagged:\n%s", out)
	}
}
