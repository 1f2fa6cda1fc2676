package cgroup

import (
	"strings"
	"testing"
)

func TestPath(t *testing.T) {
	for _, c := range []struct {
		in, id  string
		systemd bool
		want    string
	}{
		{"", "abc", false, "/moat/abc"},
		{"/a/b", "abc", false, "/a/b"},
		{"//a/./b/", "abc", false, "/a/b"},
		{"/a/../b", "abc", false, "/b"},
		{"a/b", "abc", false, "a/b"},
		{"a/../b", "abc", false, "b"},
		{"", "abc", true, "/system.slice/moat-abc.scope"},
		{"system.slice:libpod:abc", "x", true, "/system.slice/libpod-abc.scope"},
		{":libpod:abc", "x", true, "/system.slice/libpod-abc.scope"},
		{"machine-libpod_pod_x.slice:libpod:abc", "x", true, "/machine.slice/machine-libpod_pod_x.slice/libpod-abc.scope"},
		{"a-b-c.slice:crio:d", "x", true, "/a.slice/a-b.slice/a-b-c.slice/crio-d.scope"},
		{"-.slice:p:n", "x", true, "/p-n.scope"},
		{"user.slice::n", "x", true, "/user.slice/n.scope"},
		{"system.slice:p:kubepods-burstable.slice", "x", true, "/kubepods.slice/kubepods-burstable.slice"},
	} {
		got, err := Path(c.in, c.id, c.systemd)
		if err != nil || got != c.want {
			t.Errorf("Path(%q, %q, %v) = %q, %v; want %q", c.in, c.id, c.systemd, got, err, c.want)
		}
	}
}

func TestPathErrors(t *testing.T) {
	for _, c := range []struct {
		in, id  string
		systemd bool
		want    string
	}{
		{"/..", "x", false, "escape the cgroup root"},
		{"/a/../../etc", "x", false, "escape the cgroup root"},
		{"/../../sys/fs/cgroup/memory", "x", false, "escape the cgroup root"},
		{"../x", "x", false, "escape the runtime's cgroup"},
		{"a/../../x", "x", false, "escape the runtime's cgroup"},
		{"/", "x", false, "root cgroup"},
		{"/a/..", "x", false, "root cgroup"},
		{".", "x", false, "runtime's own cgroup"},
		{"/a\x00b", "x", false, "NUL"},
		{"", "", false, "cannot name a cgroup"},
		{"", "a/b", false, "cannot name a cgroup"},
		{"", "..", false, "cannot name a cgroup"},
		{"", "a/b", true, "cannot name a cgroup"},
		{"/system.slice/x", "x", true, "slice:prefix:name"},
		{"a:b", "x", true, "slice:prefix:name"},
		{"a:b:c:d", "x", true, "slice:prefix:name"},
		{"system:p:n", "x", true, `does not end in ".slice"`},
		{"a--b.slice:p:n", "x", true, "not a valid slice"},
		{"-a.slice:p:n", "x", true, "not a valid slice"},
		{".slice:p:n", "x", true, "not valid"},
		{"system.slice:p:", "x", true, "empty"},
		{"system.slice:p:../../x", "x", true, "character systemd does not allow"},
		{"system.slice:..:..", "x", true, "not valid"},
		{"../../x.slice:p:n", "x", true, "character systemd does not allow"},
		{"system.slice::..", "x", true, "not valid"},
	} {
		got, err := Path(c.in, c.id, c.systemd)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Path(%q, %q, %v) = %q, %v; want an error with %q", c.in, c.id, c.systemd, got, err, c.want)
		}
	}
}

func TestParseMountinfo(t *testing.T) {
	mi := `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:5 - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 /ns /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/my\040pids rw,relatime - cgroup cgroup rw,pids
37 31 0:33 / /elsewhere rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`
	got := parseMountinfo([]byte(mi))
	want := map[string]mount{
		"cpu":     {"/sys/fs/cgroup/cpu,cpuacct", "/"},
		"cpuacct": {"/sys/fs/cgroup/cpu,cpuacct", "/"},
		"memory":  {"/sys/fs/cgroup/memory", "/ns"},
		"pids":    {"/sys/fs/cgroup/my pids", "/"},
	}
	if len(got) != len(want) {
		t.Errorf("parseMountinfo = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("parseMountinfo[%s] = %v, want %v", k, got[k], v)
		}
	}
	own := parseProcCgroup([]byte("9:name=systemd:/\n4:memory:/ns/job\n2:cpu,cpuacct:/\n0::/user.slice\n"))
	if own["memory"] != "/ns/job" || own["cpuacct"] != "/" || own[""] != "/user.slice" {
		t.Errorf("parseProcCgroup = %v", own)
	}
	for _, c := range []struct {
		m        mount
		own, p   string
		want     string
		errorHas string
	}{
		{mount{"/cg/memory", "/"}, "/job", "/moat/x", "/cg/memory/moat/x", ""},
		{mount{"/cg/memory", "/"}, "/job", "moat/x", "/cg/memory/job/moat/x", ""},
		{mount{"/cg/memory", "/ns"}, "/ns/job", "moat/x", "/cg/memory/job/moat/x", ""},
		{mount{"/cg/memory", "/ns"}, "/ns", "x", "/cg/memory/x", ""},
		{mount{"/cg/memory", "/ns"}, "/other", "x", "", "not below"},
		{mount{"/cg/memory", "/"}, "", "x", "", "unknown"},
	} {
		got, err := resolve(c.m, c.own, c.p)
		if c.errorHas != "" {
			if err == nil || !strings.Contains(err.Error(), c.errorHas) {
				t.Errorf("resolve(%v, %q, %q) = %q, %v; want an error with %q", c.m, c.own, c.p, got, err, c.errorHas)
			}
		} else if err != nil || got != c.want {
			t.Errorf("resolve(%v, %q, %q) = %q, %v; want %q", c.m, c.own, c.p, got, err, c.want)
		}
	}
}

func TestConversions(t *testing.T) {
	for shares, want := range map[uint64]uint64{2: 1, 1024: 39, 262144: 10000} {
		if got := sharesToWeight(shares); got != want {
			t.Errorf("sharesToWeight(%d) = %d, want %d", shares, got, want)
		}
	}
	for w, want := range map[uint16]uint64{10: 1, 500: 4950, 1000: 10000} {
		if got := blkioToIOWeight(w); got != want {
			t.Errorf("blkioToIOWeight(%d) = %d, want %d", w, got, want)
		}
	}
}
