package integration

import (
	"strings"
	"testing"
)

// TestExitStatus checks that moat exits with the program's status, and with
// 128+N when the program dies from signal N, as a shell reports it.
func TestExitStatus(t *testing.T) {
	cases := []struct {
		name string
		argv []string
		want int
	}{
		{"exit0", []string{prog("exit"), "0"}, 0},
		{"exit1", []string{prog("exit"), "1"}, 1},
		{"exit42", []string{prog("exit"), "42"}, 42},
		{"exit255", []string{prog("exit"), "255"}, 255},
		{"exit256", []string{prog("exit"), "256"}, 0}, // only the low 8 bits survive
		{"segv", []string{prog("segv")}, 128 + 11},
		{"abort", []string{prog("abort")}, 128 + 6},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			nOut, _, nCode := runNative(t, c.argv, "")
			if nCode != c.want {
				t.Fatalf("native %s: status %d, want %d: the host does not behave as this test assumes",
					strings.Join(c.argv, " "), nCode, c.want)
			}
			mOut, mErr, mCode := runMoat(t, nil, c.argv, "")
			if mCode != c.want {
				t.Errorf("moat %s: status %d, want %d\nmoat stderr:\n%s",
					strings.Join(c.argv, " "), mCode, c.want, tail(mErr, 40))
			}
			if mOut != nOut {
				t.Errorf("stdout differs (- native, + moat):\n%s", lineDiff(nOut, mOut))
			}
			if strings.Contains(mErr, "goroutine ") || strings.Contains(mErr, "panic:") {
				t.Errorf("moat printed a Go panic or stack trace:\n%s", tail(mErr, 40))
			}
		})
	}
}
