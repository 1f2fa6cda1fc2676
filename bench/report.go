package main

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// floorTarget is the goal for moat's getpid cost over the bare
// PTRACE_SYSEMU round trip: the sentry may add at most 30% to the floor.
const floorTarget = 1.3

// Report is everything one bench run measured. It is printed as a table
// (renderTable) or encoded as JSON (-json).
type Report struct {
	Machine Machine `json:"machine"`
	Runs    int     `json:"runs"`
	CPU     int     `json:"cpu"` // -1: workloads not bound to a CPU
	Rows    []Row   `json:"rows"`
	Floors  []Floor `json:"floors,omitempty"`
	Failed  bool    `json:"failed"`
}

// Machine describes where the numbers were taken.
type Machine struct {
	Nproc  int    `json:"nproc"`
	Kernel string `json:"kernel"`
	CPU    string `json:"cpu,omitempty"`
	THP    string `json:"thp,omitempty"`
	Go     string `json:"go"`
	Moat   string `json:"moat,omitempty"`
}

// Row is one workload measured natively and, unless it is native-only,
// inside moat. All values are nanoseconds per Unit.
type Row struct {
	Key    string   `json:"key"`
	Name   string   `json:"name"`
	Unit   string   `json:"unit"`
	Native Side     `json:"native"`
	Moat   *Side    `json:"moat,omitempty"` // nil: native-only row
	Ratio  *float64 `json:"ratio,omitempty"`
}

// Side is the samples of one side (native or moat) of a row.
type Side struct {
	MedianNS *float64  `json:"median_ns,omitempty"`
	Samples  []float64 `json:"samples_ns,omitempty"`
	Error    string    `json:"error,omitempty"`
}

// Floor compares moat's getpid with a raw PTRACE_SYSEMU round trip.
type Floor struct {
	Name   string  `json:"name"`
	MoatNS float64 `json:"moat_getpid_ns"`
	RawNS  float64 `json:"raw_ns"`
	Ratio  float64 `json:"ratio"`
	Target float64 `json:"target,omitempty"` // 0: informational
}

// median returns the median of xs without reordering xs; NaN if xs is empty.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

// ratio returns moat/native, and false when it is not meaningful.
func ratio(moat, native float64) (float64, bool) {
	if !(native > 0) || !(moat > 0) || math.IsInf(native, 0) || math.IsInf(moat, 0) {
		return 0, false
	}
	return moat / native, true
}

// finish fills in the medians and the ratio from the samples.
func (r *Row) finish() {
	r.Native.finish()
	r.Ratio = nil
	if r.Moat == nil {
		return
	}
	r.Moat.finish()
	if r.Native.MedianNS != nil && r.Moat.MedianNS != nil {
		if q, ok := ratio(*r.Moat.MedianNS, *r.Native.MedianNS); ok {
			r.Ratio = &q
		}
	}
}

func (s *Side) finish() {
	s.MedianNS = nil
	if s.Error != "" || len(s.Samples) == 0 {
		return
	}
	m := median(s.Samples)
	s.MedianNS = &m
}

// failed reports whether any side of the row failed.
func (r *Row) failed() bool {
	return r.Native.Error != "" || (r.Moat != nil && r.Moat.Error != "")
}

// formatNS renders a duration given in nanoseconds with a unit that keeps
// three or four significant digits.
func formatNS(ns float64) string {
	switch {
	case math.IsNaN(ns) || math.IsInf(ns, 0):
		return "-"
	case ns < 1e3:
		return fmt.Sprintf("%.1f ns", ns)
	case ns < 1e6:
		return fmt.Sprintf("%.2f us", ns/1e3)
	case ns < 1e9:
		return fmt.Sprintf("%.2f ms", ns/1e6)
	default:
		return fmt.Sprintf("%.2f s", ns/1e9)
	}
}

func formatRatio(q float64) string {
	if q < 0.1 {
		return fmt.Sprintf("%.3fx", q)
	}
	if q >= 100 {
		return fmt.Sprintf("%.0fx", q)
	}
	if q >= 10 {
		return fmt.Sprintf("%.1fx", q)
	}
	return fmt.Sprintf("%.2fx", q)
}

// oneLine squeezes an error message onto one line of at most max bytes.
func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > max {
		s = s[:max-3] + "..."
	}
	return s
}

func sideCell(s *Side, unit string) string {
	if s.MedianNS == nil {
		return "-"
	}
	return formatNS(*s.MedianNS) + "/" + unit
}

// renderTable renders the report as an aligned plain-text table. Failures
// are written at the end of their row, after the aligned columns, so that a
// long error message does not push the other rows apart.
func renderTable(rep *Report) string {
	header := []string{"workload", "native median", "moat median", "moat/native"}
	cells := [][]string{header}
	tails := []string{""}
	for i := range rep.Rows {
		r := &rep.Rows[i]
		row := []string{r.Name, sideCell(&r.Native, r.Unit), "", ""}
		var tail []string
		if r.Native.Error != "" {
			row[1] = "FAILED"
			tail = append(tail, "native: failed: "+oneLine(r.Native.Error, 160))
		}
		switch {
		case r.Moat == nil:
			row[2], row[3] = "(native only)", ""
		case r.Moat.Error != "":
			row[2], row[3] = "FAILED", "-"
			tail = append(tail, "moat: failed: "+oneLine(r.Moat.Error, 160))
		default:
			row[2] = sideCell(r.Moat, r.Unit)
			row[3] = "-"
			if r.Ratio != nil {
				row[3] = formatRatio(*r.Ratio)
			}
		}
		cells = append(cells, row)
		tails = append(tails, strings.Join(tail, "; "))
	}

	widths := make([]int, len(header))
	for _, row := range cells {
		for j, c := range row {
			widths[j] = max(widths[j], len(c))
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "machine: nproc=%d kernel=%s", rep.Machine.Nproc, rep.Machine.Kernel)
	if rep.Machine.CPU != "" {
		fmt.Fprintf(&b, " cpu=%q", rep.Machine.CPU)
	}
	if rep.Machine.THP != "" {
		fmt.Fprintf(&b, " thp=%s", rep.Machine.THP)
	}
	fmt.Fprintf(&b, " %s\n", rep.Machine.Go)
	fmt.Fprintf(&b, "runs: %d per side, median reported; all rows and both sides interleaved", rep.Runs)
	if rep.CPU >= 0 {
		fmt.Fprintf(&b, "; every process bound to CPU %d", rep.CPU)
	}
	b.WriteString("\n")
	if rep.Machine.Moat != "" {
		fmt.Fprintf(&b, "moat: %s\n", rep.Machine.Moat)
	}
	b.WriteString("\n")
	for i, row := range cells {
		var line strings.Builder
		for j, c := range row {
			if j == 0 {
				fmt.Fprintf(&line, "%-*s", widths[j], c)
			} else {
				fmt.Fprintf(&line, "  %*s", widths[j], c)
			}
		}
		if tails[i] != "" {
			line.WriteString("  " + tails[i])
		}
		b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
		if i == 0 {
			total := widths[0]
			for _, w := range widths[1:] {
				total += 2 + w
			}
			b.WriteString(strings.Repeat("-", total) + "\n")
		}
	}
	if len(rep.Floors) > 0 {
		b.WriteString("\n")
	}
	for _, f := range rep.Floors {
		fmt.Fprintf(&b, "floor: moat getpid / %s = %s / %s = %s",
			f.Name, formatNS(f.MoatNS), formatNS(f.RawNS), formatRatio(f.Ratio))
		if f.Target > 0 {
			verdict := "ok"
			if f.Ratio > f.Target {
				verdict = "ABOVE target"
			}
			fmt.Fprintf(&b, " (target <= %.1fx: %s)", f.Target, verdict)
		}
		b.WriteString("\n")
	}
	if rep.Failed {
		b.WriteString("\nsome measurements FAILED (see above)\n")
	}
	return b.String()
}

// floorSpec names a native-only row to compare moat's getpid with; a zero
// Target means the comparison is informational.
type floorSpec struct {
	Key    string
	Name   string
	Target float64
}

// floors computes the "moat getpid / raw sysemu" lines, in the order of
// specs, skipping any whose inputs are missing.
func floors(rows []Row, getpidKey string, specs []floorSpec) []Floor {
	find := func(key string) *Row {
		for i := range rows {
			if rows[i].Key == key {
				return &rows[i]
			}
		}
		return nil
	}
	g := find(getpidKey)
	if g == nil || g.Moat == nil || g.Moat.MedianNS == nil {
		return nil
	}
	moat := *g.Moat.MedianNS
	var out []Floor
	for _, sp := range specs {
		r := find(sp.Key)
		if r == nil || r.Native.MedianNS == nil {
			continue
		}
		q, ok := ratio(moat, *r.Native.MedianNS)
		if !ok {
			continue
		}
		out = append(out, Floor{Name: sp.Name, MoatNS: moat, RawNS: *r.Native.MedianNS, Ratio: q, Target: sp.Target})
	}
	return out
}
