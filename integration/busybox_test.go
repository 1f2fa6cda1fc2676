package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const busybox = "/bin/busybox"

// needBusybox skips the test when busybox is missing, except in CI, which
// installs busybox-static: there a missing busybox is a broken setup.
func needBusybox(t *testing.T) {
	t.Helper()
	if fileExists(busybox) {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is missing, but CI is supposed to install busybox-static", busybox)
	}
	t.Skipf("%s is missing (apt-get install busybox-static); skipping the busybox tests", busybox)
}

// busyboxFixture makes a directory tree with fixed content and fixed times:
//
//	ROOT/data/{fruits.txt,numbers.txt,sorted.txt,empty,big.bin,sub/inner.txt}
//	ROOT/tree/a/b/c/leaf.txt   (one entry per directory; see the find case)
//
// Both runs read the same host files (moat's root is an overlay on the
// host's /), so ls -la shows the same owners, sizes, link counts and times in
// both. The times are set to 2024-01-02 so that ls shows a year instead of a
// clock time, and nothing touches the tree after it is made.
func busyboxFixture(t *testing.T) string {
	t.Helper()
	root := hostTempDir(t)
	files := map[string]string{
		"data/fruits.txt":     "banana\napple\ncherry\napple\ndate\nbanana\nelderberry\nfig\n",
		"data/numbers.txt":    "10\n3\n250\n-7\n42\n0\n",
		"data/sorted.txt":     "a\na\nb\nc\nc\nc\nd\n",
		"data/empty":          "",
		"data/sub/inner.txt":  "inside\n",
		"tree/a/b/c/leaf.txt": "leaf\n",
	}
	big := make([]byte, 1<<20)
	for i := range big {
		big[i] = byte(i*7 + i>>8)
	}
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "data/big.bin"), big, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("fruits.txt", filepath.Join(root, "data/link")); err != nil {
		t.Fatal(err)
	}
	// Fixed times, children before parents (setting a child's time does
	// not change the parent's, but creating does).
	stamp := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	var paths []string
	err := filepath.Walk(root, func(p string, _ os.FileInfo, err error) error {
		paths = append(paths, p)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := len(paths) - 1; i >= 0; i-- {
		if err := os.Chtimes(paths[i], stamp, stamp); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestBusybox(t *testing.T) {
	needBusybox(t)
	root := busyboxFixture(t)
	data := filepath.Join(root, "data")
	f := func(name string) string { return filepath.Join(data, name) }

	cases := []struct {
		name  string
		args  []string
		stdin string
	}{
		{"echo", []string{"echo", "hello", "world"}, ""},
		{"echo-n", []string{"echo", "-n", "no newline"}, ""},
		{"cat", []string{"cat", f("fruits.txt"), f("numbers.txt"), f("empty")}, ""},
		{"cat-stdin", []string{"cat"}, "from stdin\nsecond line\n"},
		{"cat-missing", []string{"cat", f("no-such-file")}, ""},
		{"ls-la", []string{"ls", "-la", data}, ""},
		{"ls-sub", []string{"ls", "-la", f("sub"), f("link")}, ""},
		{"wc", []string{"wc", f("fruits.txt"), f("numbers.txt"), f("big.bin")}, ""},
		{"wc-stdin", []string{"wc", "-l"}, "1\n2\n3\n"},
		{"sha256sum", []string{"sha256sum", f("fruits.txt"), f("big.bin")}, ""},
		{"md5sum", []string{"md5sum", f("fruits.txt"), f("big.bin")}, ""},
		{"head", []string{"head", "-n", "3", f("fruits.txt")}, ""},
		{"sort", []string{"sort", f("fruits.txt")}, ""},
		{"sort-nr", []string{"sort", "-n", "-r", f("numbers.txt")}, ""},
		{"uniq", []string{"uniq", "-c", f("sorted.txt")}, ""},
		{"seq", []string{"seq", "1", "20"}, ""},
		{"seq-down", []string{"seq", "5", "-1", "1"}, ""},
		{"grep", []string{"grep", "-n", "an", f("fruits.txt")}, ""},
		{"grep-nomatch", []string{"grep", "zzz", f("fruits.txt")}, ""}, // status 1
		{"sed", []string{"sed", "-e", "s/a/A/g", "-e", "3d", f("fruits.txt")}, ""},
		{"awk", []string{"awk", "{ s += $1 } END { print s, NR }", f("numbers.txt")}, ""},
		{"tr", []string{"tr", "a-z", "A-Z"}, "shout this\n"},
		// find prints entries in directory order, which Linux does not
		// define (moat's overlay may list a directory in another order);
		// with one entry per directory the output is fixed.
		{"find", []string{"find", filepath.Join(root, "tree")}, ""},
		{"find-name", []string{"find", filepath.Join(root, "tree"), "-name", "*.txt"}, ""},
		// Only the year: the full date would differ between two runs made
		// a moment apart (and the year only at midnight on New Year's Eve).
		{"date", []string{"date", "+%Y"}, ""},
		{"uname", []string{"uname", "-s", "-m"}, ""},
		// Both runs get exactly testEnv; moat must pass it through as is.
		{"env", []string{"env"}, ""},
		{"true", []string{"true"}, ""},
		{"false", []string{"false"}, ""}, // status 1
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			compareStdin(t, c.stdin, append([]string{busybox}, c.args...)...)
		})
	}
}

// TestBusyboxFixture checks the fixture itself: two native `ls -la` runs and
// the expected exit statuses, so that a failing TestBusybox case is moat's.
func TestBusyboxFixture(t *testing.T) {
	needBusybox(t)
	root := busyboxFixture(t)
	argv := []string{busybox, "ls", "-la", filepath.Join(root, "data")}
	out1, _, _ := runNative(t, argv, "")
	out2, _, _ := runNative(t, argv, "")
	if out1 != out2 || !strings.Contains(out1, "2024") {
		t.Errorf("native ls -la is not stable or not dated 2024:\n%s", lineDiff(out1, out2))
	}
	for _, c := range []struct {
		argv []string
		want int
	}{
		{[]string{busybox, "true"}, 0},
		{[]string{busybox, "false"}, 1},
		{[]string{busybox, "grep", "zzz", filepath.Join(root, "data/fruits.txt")}, 1},
	} {
		if _, _, code := runNative(t, c.argv, ""); code != c.want {
			t.Errorf("native %v: status %d, want %d", c.argv, code, c.want)
		}
	}
	if out, _, _ := runNative(t, []string{busybox, "env"}, ""); out != strings.Join(testEnv, "\n")+"\n" {
		t.Errorf("native env printed %q, want testEnv", out)
	}
}
