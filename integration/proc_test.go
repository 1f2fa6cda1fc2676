package integration

import (
	"fmt"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// moatSh runs a busybox sh script in moat and returns its stdout, failing
// the test on a non-zero exit.
func moatSh(t *testing.T, script string) string {
	t.Helper()
	out, errOut, code := runMoat(t, nil, []string{busybox, "sh", "-c", script}, "")
	if code != 0 {
		t.Fatalf("moat sh -c %q: exit %d\nstdout:\n%s\nstderr:\n%s", script, code, tail(out, 2000), tail(errOut, 2000))
	}
	return out
}

// matchLines requires each line of out to match the pattern at the same
// index (anchored).
func matchLines(t *testing.T, what, out string, patterns ...string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(patterns) {
		t.Errorf("%s: %d lines, want %d:\n%s", what, len(lines), len(patterns), out)
		return
	}
	for i, p := range patterns {
		if !regexp.MustCompile("^" + p + "$").MatchString(lines[i]) {
			t.Errorf("%s line %d = %q, want /%s/", what, i+1, lines[i], p)
		}
	}
}

// TestProcFiles checks the formats of moat's /proc and /sys files from
// inside the sandbox (their values differ from the host's, so they are not
// compared with a native run).
func TestProcFiles(t *testing.T) {
	needBusybox(t)
	t.Parallel()
	cpus := runtime.NumCPU()
	cpuList := "0"
	if cpus > 1 {
		cpuList = fmt.Sprintf("0-%d", cpus-1)
	}

	t.Run("sysfs", func(t *testing.T) {
		t.Parallel()
		out := moatSh(t, "cat /sys/devices/system/cpu/online /sys/devices/system/cpu/possible /sys/devices/system/cpu/present; ls /sys/fs/cgroup | wc -l; ls -d /sys/devices/system/cpu/cpu* | wc -l; touch /sys/x 2>/dev/null || echo ro")
		want := strings.Repeat(cpuList+"\n", 3) + "0\n" + strconv.Itoa(cpus) + "\nro\n"
		if out != want {
			t.Errorf("sysfs = %q, want %q", out, want)
		}
	})

	t.Run("sysctls", func(t *testing.T) {
		t.Parallel()
		out := moatSh(t, "cat /proc/sys/kernel/cap_last_cap /proc/sys/vm/max_map_count /proc/sys/fs/file-max /proc/sys/fs/nr_open /proc/self/cgroup /proc/self/oom_score_adj; echo 100 > /proc/self/oom_score_adj && echo ok; echo 2000 > /proc/self/oom_score_adj 2>/dev/null || echo einval; readlink /proc/self/root")
		if want := "40\n65530\n9223372036854775807\n1048576\n0::/\n0\nok\neinval\n/\n"; out != want {
			t.Errorf("sysctls = %q, want %q", out, want)
		}
	})

	t.Run("stat", func(t *testing.T) {
		t.Parallel()
		out := moatSh(t, "cat /proc/stat")
		pats := []string{`cpu  \d+ 0 \d+ \d+ 0 0 0 0 0 0`}
		for i := range cpus {
			pats = append(pats, fmt.Sprintf(`cpu%d \d+ 0 \d+ \d+ 0 0 0 0 0 0`, i))
		}
		pats = append(pats, `intr \d+`, `ctxt \d+`, `btime \d{10}`, `processes [1-9]\d*`, `procs_running [1-9]\d*`, `procs_blocked \d+`, `softirq( \d+){11}`)
		matchLines(t, "/proc/stat", out, pats...)
	})

	t.Run("pid", func(t *testing.T) {
		t.Parallel()
		out := moatSh(t, "cat /proc/self/statm; readlink /proc/thread-self; ls /proc/self/task; cat /proc/thread-self/comm; cat /proc/self/fdinfo/2 2>/dev/null; cat /proc/self/fdinfo/0 </dev/null; cat /proc/1/task/1/stat")
		matchLines(t, "pid files", out,
			`[1-9]\d* [1-9]\d* 0 0 0 0 0`,                                      // statm
			`[1-9]\d*/task/[1-9]\d*`,                                           // thread-self
			`[1-9]\d*`,                                                         // task/
			`busybox`,                                                          // thread-self/comm
			`pos:\t0`, `flags:\t0(100001|400001)`, `mnt_id:\t\d+`, `ino:\t\d+`, // fd 2: /dev/null for writing
			`pos:\t0`, `flags:\t0(100000|400000)`, `mnt_id:\t\d+`, `ino:\t\d+`, // fd 0: /dev/null
			`1 \(busybox\) R 0 .*`)
		limits := moatSh(t, "cat /proc/self/limits")
		matchLines(t, "limits", limits,
			`Limit                     Soft Limit           Hard Limit           Units     `,
			`Max cpu time              unlimited            unlimited            seconds   `,
			`Max file size             unlimited            unlimited            bytes     `,
			`Max data size             unlimited            unlimited            bytes     `,
			`Max stack size            8388608              unlimited            bytes     `,
			`Max core file size        0                    unlimited            bytes     `,
			`Max resident set          unlimited            unlimited            bytes     `,
			`Max processes             \d+ +\d+ +processes `,
			`Max open files            1024                 1048576              files     `,
			`Max locked memory         \d+ +\d+ +bytes     `,
			`Max address space         unlimited            unlimited            bytes     `,
			`Max file locks            unlimited            unlimited            locks     `,
			`Max pending signals       \d+ +\d+ +signals   `,
			`Max msgqueue size         819200               819200               bytes     `,
			`Max nice priority         0                    0                    `,
			`Max realtime priority     0                    0                    `,
			`Max realtime timeout      unlimited            unlimited            us        `)
		mi := moatSh(t, "cat /proc/self/mountinfo")
		re := regexp.MustCompile(`^\d+ \d+ \d+:\d+ / (/\S*) (rw|ro),relatime - (\S+) \S+ (rw|ro)$`)
		targets := map[string]string{}
		for _, l := range strings.Split(strings.TrimSuffix(mi, "\n"), "\n") {
			m := re.FindStringSubmatch(l)
			if m == nil {
				t.Errorf("mountinfo line %q", l)
				continue
			}
			targets[m[1]] = m[3]
		}
		for target, fstype := range map[string]string{"/": "overlay", "/proc": "proc", "/sys": "sysfs", "/dev": "devtmpfs", "/tmp": "tmpfs"} {
			if targets[target] != fstype {
				t.Errorf("mountinfo: %s is %q, want %s:\n%s", target, targets[target], fstype, mi)
			}
		}
	})

	// Programs that read /proc and /sys run and print sane output.
	t.Run("tools", func(t *testing.T) {
		t.Parallel()
		out := moatSh(t, "busybox ps; echo ---; busybox free; echo ---; busybox uptime; echo ---; busybox nproc; echo ---; busybox top -b -n1")
		parts := strings.Split(out, "---\n")
		if len(parts) != 5 {
			t.Fatalf("output:\n%s", out)
		}
		for i, re := range []string{
			`(?s)^PID +USER +COMMAND\n +1 root .*busybox ps\n`,
			`(?s)^ +total +used +free +shared +buff/cache +available\nMem: +[1-9]\d* +\d+ +\d+ +\d+ +\d+ +\d+\nSwap: +\d+ +\d+ +\d+\n$`,
			`^ \d\d:\d\d:\d\d up +\d+ min, +0 users, +load average: 0\.00, 0\.00, 0\.00\n$`,
			`^` + strconv.Itoa(cpus) + `\n$`,
			`(?s)^Mem: \d+K used, \d+K free.*\nCPU: +\d+% usr +\d+% sys .*% idle.*\nLoad average: 0\.00 0\.00 0\.00 \d+/\d+ \d+\n +PID +PPID +USER +STAT +VSZ .*busybox top -b -n1`,
		} {
			if !regexp.MustCompile(re).MatchString(parts[i]) {
				t.Errorf("part %d = %q, want /%s/", i, parts[i], re)
			}
		}
		if _, err := exec.LookPath("nproc"); err == nil {
			if out := moatSh(t, "nproc"); out != strconv.Itoa(cpus)+"\n" {
				t.Errorf("nproc = %q, want %d", out, cpus)
			}
		}
	})
}
