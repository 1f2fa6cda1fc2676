package syscalls

import (
	"math"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestTimespecSaturates checks that huge timeouts stay huge: the
// nanoseconds of tv_sec = LONG_MAX or 2^40 overflowed int64 and made
// nanosleep, futex waits, select and the rest return at once.
func TestTimespecSaturates(t *testing.T) {
	for _, c := range []struct {
		ts   unix.Timespec
		want time.Duration
	}{
		{unix.Timespec{Sec: 1, Nsec: 5}, time.Second + 5},
		{unix.Timespec{Sec: 9223372035, Nsec: 999999999}, 9223372035*time.Second + 999999999},
		{unix.Timespec{Sec: 9223372036}, math.MaxInt64},
		{unix.Timespec{Sec: 1 << 40}, math.MaxInt64},
		{unix.Timespec{Sec: math.MaxInt64, Nsec: 999999999}, math.MaxInt64},
	} {
		if got := tsDuration(c.ts); got != c.want {
			t.Errorf("tsDuration(%d s %d ns) = %d, want %d", c.ts.Sec, c.ts.Nsec, got, c.want)
		}
	}
	if got := tvDuration(math.MaxInt64, 999999); got != math.MaxInt64 {
		t.Errorf("tvDuration(LONG_MAX s) = %d, want saturated", got)
	}
}
