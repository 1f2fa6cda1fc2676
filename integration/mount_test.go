package integration

import "testing"

// TestMountInSandbox runs mount, umount and chroot inside moat as root in
// the sandbox's own mount namespace (not compared natively: natively they
// would change the host): a tmpfs that takes files, remounted read-only and
// back, unmounted; proc and a bind mount of a sandbox path; an unknown
// filesystem type; chroot into a directory holding busybox. As a non-root
// user mount and chroot are EPERM.
func TestMountInSandbox(t *testing.T) {
	needBusybox(t)
	t.Parallel()
	script := `mkdir -p /mnt/t && mount -t tmpfs -o size=1m none /mnt/t && echo mounted
grep " /mnt/t " /proc/mounts
echo hi > /mnt/t/f && cat /mnt/t/f
mount -o remount,ro /mnt/t && { echo x > /mnt/t/g; } 2>/dev/null; echo "write when ro: $?"
mount -o remount,rw /mnt/t && echo x > /mnt/t/g && echo "write when rw again"
umount /mnt/t && echo unmounted; ls /mnt/t | wc -l
mkdir -p /mnt/p && mount -t proc proc /mnt/p && test -d /mnt/p/self && echo "proc mounted"; umount /mnt/p
mkdir -p /mnt/b && mount --bind /etc /mnt/b && test -f /mnt/b/passwd && echo "bind mounted"; umount /mnt/b
mount -t nosuchfs x /mnt/b 2>/dev/null; echo "unknown type: $?"
umount /mnt/b 2>/dev/null; echo "umount of a plain directory: $?"
mkdir -p /tmp/root/bin && cp /bin/busybox /tmp/root/bin/ && chroot /tmp/root /bin/busybox ls /
`
	stdout, stderr, code := runMoat(t, nil, []string{"/bin/busybox", "sh", "-c", script}, "")
	want := `mounted
none /mnt/t tmpfs rw 0 0
hi
write when ro: 1
write when rw again
unmounted
0
proc mounted
bind mounted
unknown type: 255
umount of a plain directory: 1
bin
`
	if code != 0 || stdout != want {
		t.Fatalf("exit %d\nstdout (- want, + got):\n%s\nstderr:\n%s", code, lineDiff(want, stdout), stderr)
	}
	stdout, stderr, code = runMoat(t, []string{"--user", "1000"}, []string{"/bin/busybox", "sh", "-c",
		`mount -t tmpfs none /tmp 2>/dev/null; echo "mount: $?"; chroot / /bin/true 2>/dev/null; echo "chroot: $?"`}, "")
	if want := "mount: 1\nchroot: 1\n"; code != 0 || stdout != want {
		t.Fatalf("as a user: exit %d, stdout %q, want %q\nstderr:\n%s", code, stdout, want, stderr)
	}
}
