package main

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"unicode/utf8"
)

// floorTarget is the goal for moat's getpid cost on the ptrace platform
// over the bare PTRACE_SYSEMU round trip: the sentry may add at most 30% to
// the floor.
const floorTarget = 1.3

// seccompGetpidTargetNS is the goal for what one getpid costs inside moat
// on the seccomp platform over the same call run natively.
const seccompGetpidTargetNS = 5000

// idleTargetShare is the goal for the CPU moat burns while the sandboxed
// program sleeps, in CPU nanoseconds per wall-clock second (1e7 is 1% of
// one core).
const idleTargetShare = 1e7

// Report is everything one bench run measured. It is printed as a table
// (renderTable) or encoded as JSON (-json).
type Report struct {
	Machine   Machine  `json:"machine"`
	Runs      int      `json:"runs"`
	CPU       int      `json:"cpu"`       // -1: workloads not bound to a CPU
	Platforms []string `json:"platforms"` // moat platforms, in column order
	Rows      []Row    `json:"rows"`
	Floors    []Floor  `json:"floors,omitempty"`
	Limits    []Limit  `json:"limits,omitempty"`
	Failed    bool     `json:"failed"`
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
// inside moat on every platform of Report.Platforms. All values are
// nanoseconds per Unit; in a CPUShare row (idle) they are CPU nanoseconds
// used per wall-clock second, shown as percent of one core.
type Row struct {
	Key      string `json:"key"`
	Name     string `json:"name"`
	Unit     string `json:"unit"`
	CPUShare bool   `json:"cpu_share,omitempty"`
	// Skipped, if set, says why the row was not run (a host program it
	// needs is missing): no side has samples, and it is not a failure.
	Skipped string `json:"skipped,omitempty"`
	// RateUnit is set when the row's medians also read as a rate (see
	// rateUnits): "B/s" for a bandwidth row (ns per KiB), "req/s" for a
	// request row (ns per request); each side's Rate is then in it.
	RateUnit string `json:"rate_unit,omitempty"`
	Native   Side   `json:"native"`
	// Moat holds one side per platform, by platform name; nil for a
	// native-only row.
	Moat map[string]*MoatSide `json:"moat,omitempty"`
}

// Side is the samples of one side (native, or moat on one platform) of a
// row.
type Side struct {
	MedianNS *float64  `json:"median_ns,omitempty"`
	Samples  []float64 `json:"samples_ns,omitempty"`
	// Rate is the median as a rate, in the row's RateUnit: how many of
	// them per second, 1e9 / MedianNS times what one unit stands for.
	Rate  *float64 `json:"rate,omitempty"`
	Error string   `json:"error,omitempty"`
	// Unsupported is set, to the error name (e.g. "ENOSYS"), when the side
	// failed the way its platform is expected to: the workload needs what
	// the platform does not offer (threads on ptrace). Not a failure; Detail
	// is the error.
	Unsupported string `json:"unsupported,omitempty"`
	Detail      string `json:"detail,omitempty"`
}

// MoatSide is a row's side inside moat on one platform, with the ratio of
// its median to the native median.
type MoatSide struct {
	Side
	Ratio *float64 `json:"ratio,omitempty"`
}

// Floor compares moat's getpid on one platform (ptrace) with a raw
// PTRACE_SYSEMU round trip.
type Floor struct {
	Name     string  `json:"name"`
	Platform string  `json:"platform"`
	MoatNS   float64 `json:"moat_getpid_ns"`
	RawNS    float64 `json:"raw_ns"`
	Ratio    float64 `json:"ratio"`
	Target   float64 `json:"target,omitempty"` // 0: informational
}

// Limit is a figure with an absolute target: seccomp's getpid cost over
// native, or the CPU moat uses while its program sleeps.
type Limit struct {
	Kind     string  `json:"kind"` // "floor" or "idle"
	Name     string  `json:"name"`
	Platform string  `json:"platform"`
	Unit     string  `json:"unit"` // "ns", or "cpu_ns_per_s" (1e7 is 1% of a core)
	Value    float64 `json:"value"`
	Target   float64 `json:"target"`
	Strict   bool    `json:"strict,omitempty"` // Value must be < Target, not <=
	Detail   string  `json:"detail,omitempty"`
}

// OK reports whether the value meets the target.
func (l Limit) OK() bool {
	if l.Strict {
		return l.Value < l.Target
	}
	return l.Value <= l.Target
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

// rateUnits maps a row unit whose figures also read as a rate to that
// rate's unit and how many of it one unit is: a row in ns per KiB moved is
// a bandwidth in bytes per second, one in ns per request a request rate.
var rateUnits = map[string]struct {
	unit string
	per  float64
}{
	"KiB": {"B/s", 1024},
	"req": {"req/s", 1},
}

// finish fills in the medians, the rates and the ratios from the samples.
// The ratio stays moat's time over native's, in a rate row too (native
// rate over moat's): the bigger, the slower moat, as in every row.
func (r *Row) finish() {
	ru, hasRate := rateUnits[r.Unit]
	hasRate = hasRate && !r.CPUShare
	r.RateUnit = ""
	if hasRate {
		r.RateUnit = ru.unit
	}
	setRate := func(s *Side) {
		s.Rate = nil
		if hasRate && s.MedianNS != nil && *s.MedianNS > 0 && !math.IsInf(*s.MedianNS, 0) {
			v := ru.per * 1e9 / *s.MedianNS
			s.Rate = &v
		}
	}
	r.Native.finish()
	setRate(&r.Native)
	for _, m := range r.Moat {
		if m == nil {
			continue
		}
		m.finish()
		setRate(&m.Side)
		m.Ratio = nil
		if r.Native.MedianNS != nil && m.MedianNS != nil {
			if q, ok := ratio(*m.MedianNS, *r.Native.MedianNS); ok {
				m.Ratio = &q
			}
		}
	}
}

func (s *Side) finish() {
	s.MedianNS = nil
	if s.Error != "" || s.Unsupported != "" || len(s.Samples) == 0 {
		return
	}
	m := median(s.Samples)
	s.MedianNS = &m
}

// failed reports whether any side of the row failed. An unsupported side
// (Side.Unsupported) is not a failure.
func (r *Row) failed() bool {
	if r.Native.Error != "" {
		return true
	}
	for _, m := range r.Moat {
		if m != nil && m.Error != "" {
			return true
		}
	}
	return false
}

// moatMedian returns the median of the row's side on platform, if there is
// one.
func (r *Row) moatMedian(platform string) (float64, bool) {
	if r == nil {
		return 0, false
	}
	m := r.Moat[platform]
	if m == nil || m.MedianNS == nil {
		return 0, false
	}
	return *m.MedianNS, true
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

// formatRate renders a rate in unit (a RateUnit): bytes per second in
// binary multiples ("4.77 GiB/s", "488.3 MiB/s"), else the number and the
// unit ("8850 req/s").
func formatRate(v float64, unit string) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	if unit == "B/s" {
		switch {
		case v >= 1<<30:
			return fmt.Sprintf("%.2f GiB/s", v/(1<<30))
		case v >= 1<<20:
			return fmt.Sprintf("%.1f MiB/s", v/(1<<20))
		default:
			return fmt.Sprintf("%.1f KiB/s", v/(1<<10))
		}
	}
	if v >= 100 {
		return fmt.Sprintf("%.0f %s", v, unit)
	}
	return fmt.Sprintf("%.1f %s", v, unit)
}

// renderRate renders the rate line of a row that has one, e.g.
// "rate: tcp-stream: native 2.10 GiB/s, ptrace 210.5 MiB/s, seccomp -";
// "" for a row without a rate.
func renderRate(r *Row, platforms []string) string {
	if r.RateUnit == "" || r.Skipped != "" {
		return ""
	}
	cell := func(s *Side) string {
		if s == nil || s.Rate == nil {
			return "-"
		}
		return formatRate(*s.Rate, r.RateUnit)
	}
	parts := []string{"native " + cell(&r.Native)}
	for _, p := range platforms {
		if m := r.Moat[p]; m != nil {
			parts = append(parts, p+" "+cell(&m.Side))
		} else if r.Moat != nil {
			parts = append(parts, p+" -")
		}
	}
	return "rate: " + r.Key + ": " + strings.Join(parts, ", ")
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

// formatShare renders CPU nanoseconds per wall-clock second as percent of
// one core.
func formatShare(nsPerS float64) string {
	if math.IsNaN(nsPerS) || math.IsInf(nsPerS, 0) {
		return "-"
	}
	return fmt.Sprintf("%.2f%%", nsPerS/1e7)
}

func sideCell(r *Row, s *Side) string {
	if s.MedianNS == nil {
		return "-"
	}
	if r.CPUShare {
		return formatShare(*s.MedianNS)
	}
	return formatNS(*s.MedianNS) + "/" + r.Unit
}

// width is the width of a cell in columns (fmt pads by code points).
func width(s string) int { return utf8.RuneCountInString(s) }

// renderTable renders the report as an aligned plain-text table: the
// native median, then per platform the moat median and its ratio to
// native. Failures are written at the end of their row, after the aligned
// columns, so that a long error message does not push the other rows apart.
func renderTable(rep *Report) string {
	header := []string{"workload", "native"}
	for _, p := range rep.Platforms {
		header = append(header, p, "×native")
	}
	cells := [][]string{header}
	tails := []string{""}
	unsupported := false
	for i := range rep.Rows {
		r := &rep.Rows[i]
		row := make([]string, len(header))
		row[0], row[1] = r.Name, sideCell(r, &r.Native)
		var tail []string
		if r.Skipped != "" {
			row[1] = "skipped"
			for j := range rep.Platforms {
				row[2+2*j], row[3+2*j] = "-", "-"
			}
			cells = append(cells, row)
			tails = append(tails, "skipped: "+oneLine(r.Skipped, 160))
			continue
		}
		if r.Native.Error != "" {
			row[1] = "FAILED"
			tail = append(tail, "native: failed: "+oneLine(r.Native.Error, 160))
		}
		for j, p := range rep.Platforms {
			med, q := &row[2+2*j], &row[3+2*j]
			m := r.Moat[p]
			switch {
			case r.Moat == nil:
				if j == 0 {
					*med = "(native only)"
				}
			case m == nil:
				*med, *q = "-", "-"
			case m.Error != "":
				*med, *q = "FAILED", "-"
				tail = append(tail, p+": failed: "+oneLine(m.Error, 160))
			case m.Unsupported != "":
				*med, *q = m.Unsupported, "-"
				tail = append(tail, p+": "+m.Unsupported+", expected (unsupported on "+p+"): "+oneLine(m.Detail, 120))
				unsupported = true
			default:
				*med, *q = sideCell(r, &m.Side), "-"
				if m.Ratio != nil {
					*q = formatRatio(*m.Ratio)
				}
			}
		}
		cells = append(cells, row)
		tails = append(tails, strings.Join(tail, "; "))
	}

	widths := make([]int, len(header))
	for _, row := range cells {
		for j, c := range row {
			widths[j] = max(widths[j], width(c))
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
	fmt.Fprintf(&b, "runs: %d per side, median reported; all rows and sides interleaved, order rotated per run", rep.Runs)
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
	if unsupported {
		b.WriteString("\nunsupported: a cell showing an error name (ENOSYS) failed as expected on its platform\n" +
			"(threads are not supported on ptrace); it does not count as a failure or change the exit status\n")
	}
	var rates []string
	for i := range rep.Rows {
		if l := renderRate(&rep.Rows[i], rep.Platforms); l != "" {
			rates = append(rates, l)
		}
	}
	if len(rates) > 0 {
		b.WriteString("\nrates, from the medians (the ×native columns are times: native rate / moat rate):\n" +
			strings.Join(rates, "\n") + "\n")
	}
	if len(rep.Floors)+len(rep.Limits) > 0 {
		b.WriteString("\n")
	}
	for _, f := range rep.Floors {
		fmt.Fprintf(&b, "floor: %s getpid / %s = %s / %s = %s",
			f.Platform, f.Name, formatNS(f.MoatNS), formatNS(f.RawNS), formatRatio(f.Ratio))
		if f.Target > 0 {
			verdict := "ok"
			if f.Ratio > f.Target {
				verdict = "ABOVE target"
			}
			fmt.Fprintf(&b, " (target <= %.1fx: %s)", f.Target, verdict)
		}
		b.WriteString("\n")
	}
	for _, l := range rep.Limits {
		b.WriteString(renderLimit(l) + "\n")
	}
	if rep.Failed {
		b.WriteString("\nsome measurements FAILED (see above)\n")
	}
	return b.String()
}

// renderLimit renders one limit line, e.g.
// "floor: seccomp getpid vs native: 2.85 us (target <= 5 us: ok; ...)".
func renderLimit(l Limit) string {
	val, tgt := fmt.Sprintf("%.2f us", l.Value/1e3), fmt.Sprintf("%g us", l.Target/1e3)
	if l.Unit == "cpu_ns_per_s" {
		val, tgt = formatShare(l.Value)+" of a core", fmt.Sprintf("%g%%", l.Target/1e7)
	}
	op := "<="
	if l.Strict {
		op = "<"
	}
	verdict := "ok"
	if !l.OK() {
		verdict = "ABOVE target"
	}
	s := fmt.Sprintf("%s: %s: %s (target %s %s: %s", l.Kind, l.Name, val, op, tgt, verdict)
	if l.Detail != "" {
		s += "; " + l.Detail
	}
	return s + ")"
}

// floorSpec names a native-only row to compare moat's getpid with; a zero
// Target means the comparison is informational.
type floorSpec struct {
	Key    string
	Name   string
	Target float64
}

// find returns the row with key, or nil.
func find(rows []Row, key string) *Row {
	for i := range rows {
		if rows[i].Key == key {
			return &rows[i]
		}
	}
	return nil
}

// floors computes the "platform getpid / raw sysemu" lines, in the order
// of specs, skipping any whose inputs are missing.
func floors(rows []Row, getpidKey, platform string, specs []floorSpec) []Floor {
	moat, ok := find(rows, getpidKey).moatMedian(platform)
	if !ok {
		return nil
	}
	var out []Floor
	for _, sp := range specs {
		r := find(rows, sp.Key)
		if r == nil || r.Native.MedianNS == nil {
			continue
		}
		q, ok := ratio(moat, *r.Native.MedianNS)
		if !ok {
			continue
		}
		out = append(out, Floor{Name: sp.Name, Platform: platform, MoatNS: moat, RawNS: *r.Native.MedianNS, Ratio: q, Target: sp.Target})
	}
	return out
}

// getpidLimit compares the median getpid inside moat on platform with the
// native one: what moat adds to a system call, against an absolute target.
// ok is false when either median is missing.
func getpidLimit(rows []Row, getpidKey, platform string, targetNS float64) (Limit, bool) {
	r := find(rows, getpidKey)
	moat, ok := r.moatMedian(platform)
	if !ok || r.Native.MedianNS == nil {
		return Limit{}, false
	}
	native := *r.Native.MedianNS
	return Limit{
		Kind: "floor", Name: platform + " getpid vs native", Platform: platform, Unit: "ns",
		Value: moat - native, Target: targetNS,
		Detail: formatNS(moat) + " - " + formatNS(native),
	}, true
}

// idleLimits compares, for every platform, the CPU moat used while its
// program slept with the target (strictly below).
func idleLimits(rows []Row, idleKey string, platforms []string, target float64) []Limit {
	r := find(rows, idleKey)
	var out []Limit
	for _, p := range platforms {
		v, ok := r.moatMedian(p)
		if !ok {
			continue
		}
		l := Limit{Kind: "idle", Name: p, Platform: p, Unit: "cpu_ns_per_s", Value: v, Target: target, Strict: true}
		if r.Native.MedianNS != nil {
			l.Detail = "native " + formatShare(*r.Native.MedianNS)
		}
		out = append(out, l)
	}
	return out
}
