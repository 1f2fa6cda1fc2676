package integration

import (
	"os"
	"testing"
	"time"
)

const (
	bash = "/bin/bash"
	dash = "/usr/bin/dash"
)

// tmpScratch starts a script that needs files: a fresh directory under
// /tmp in $d, removed when the script exits. Inside moat /tmp is the
// sandbox's in-memory tmpfs; natively it is the host's /tmp, hence the
// unique name and the trap. The name is never printed.
const tmpScratch = `d=$(mktemp -d /tmp/moat-shell-XXXXXX) || exit 99
trap 'cd /; rm -rf "$d"' EXIT
cd "$d" || exit 99
`

// shellScripts are run by /bin/busybox sh, /usr/bin/dash and /bin/bash
// (POSIX sh only), with `SHELL -c SCRIPT`, natively and in moat. The
// scripts that wait for a signal to arrive poll for it, never for a fixed
// time; sleeps that a signal or a timeout cuts short print nothing that
// depends on the time taken.
var shellScripts = []struct {
	name   string
	script string
}{
	{"pipeline", `printf 'cherry\napple\nbanana\napple\n' | sort | uniq -c
seq 1 100 | grep 7 | wc -l
echo hello | tr a-z A-Z | sed 's/L/_/g'`},
	{"pipeline-status", `true | false; echo "last false: $?"
false | true; echo "last true: $?"
echo x | (read v; exit 3); echo "subshell in a pipe: $?"`},
	{"command-substitution", `x=$(echo hello | tr a-z A-Z); echo "got $x"
n=$(printf '%s\n' a b c | wc -l); echo "lines $((n + 0))"
echo "nested $(echo outer $(echo inner))"
y=` + "`echo backticks`" + `; echo "$y"
empty=$(true); echo "empty=[$empty] status $?"
st=$(exit 5); echo "status of a substitution: $?"`},
	{"subshells", `(exit 3); echo "subshell exit: $?"
(false); echo "subshell false: $?"
( (exit 7) ); echo "nested: $?"
if (exit 0); then echo "if on a subshell: yes"; fi
x=1; (x=2; echo "inside: $x"); echo "outside: $x"
(cd /; pwd); echo "cwd kept: $([ "$PWD" = "$(pwd)" ] && echo yes)"
{ echo group; (exit 4); }; echo "group: $?"`},
	{"for", `for i in 1 2 3; do echo "i=$i"; done
for w in $(echo a b c); do printf '%s-' "$w"; done; echo
for f in x y; do (echo "subshell $f"; exit 1) || echo "failed $f"; done
i=0; while [ $i -lt 5 ]; do i=$((i + 1)); done; echo "while: $i"
i=0; until [ $i -ge 3 ]; do i=$((i + 1)); echo "until $i"; done`},
	{"while-read", `printf 'one 1\ntwo 2\nthree 3\n' | while read name n; do echo "$n:$name"; done
seq 1 5 | while read n; do echo $((n * n)); done | tail -n 2
total=0; for n in $(seq 1 10); do total=$((total + n)); done; echo "total $total"`},
	{"redirections", tmpScratch + `echo first > f; echo second >> f; cat f
wc -l < f
echo to-stderr 2> e >&2; cat e
ls /no/such/file 2> err > out; echo "ls status $?, out $(wc -c < out) bytes, err lines $(wc -l < err)"
exec 3> g; echo via-fd-3 >&3; exec 3>&-; cat g
{ echo a; echo b; } > grouped; cat grouped
cat < f > copy; cmp f copy && echo "copy same"
: > f; echo "truncated to $(wc -c < f)"
cat <<EOF
here-doc $((6 * 7))
EOF
ls`},
	{"status", `false; echo "false: $?"
true; echo "true: $?"
/bin/false; echo "/bin/false: $?"
sh -c 'exit 9'; echo "sh -c exit 9: $?"
no-such-command-moat 2>/dev/null; echo "missing command: $?"
/etc/passwd 2>/dev/null; echo "not executable: $?"
! true; echo "negated: $?"
false || echo "or: $?"
true && echo "and: $?"`},
	{"set-e", `(set -e; false; echo "not reached"); echo "set -e subshell: $?"
(set -e; false || true; echo "after || : reached")
(set -e; if false; then :; fi; echo "after if: reached")
(set -e; ! true; echo "after !: reached")
set -e
echo before
false
echo "not reached"`},
	{"exec", `echo before; exec /bin/busybox sh -c 'echo "in the new shell: $0 $1"; exit 4' zero one; echo never`},
	{"exec-dynamic", `exec /bin/echo replaced by a dynamic program`},
	{"background", `(echo from-background; exit 3) > /dev/null & wait $!; echo "wait: $?"
sh -c 'exit 5' & p=$!; wait $p; echo "wait pid: $?"
sleep 10 & p=$!; kill $p; wait $p; echo "killed: $?"
sleep 10 & p=$!; kill -9 $p; wait $p; echo "killed -9: $?"
(exit 1) & (exit 2) & wait; echo "wait all: $?"`},
	{"xargs", `printf '1\n2\n3\n4\n5\n' | xargs -n 2 echo pair
seq 1 10 | xargs echo all
echo a b c | xargs -n 1 sh -c 'echo "[$0]"'
printf 'x\ny\n' | xargs -I{} echo "item {}"`},
	{"find-sort-head", tmpScratch + `mkdir -p a/b/c e
for f in a/1 a/b/2 a/b/c/3 e/4 top; do echo "$f" > "$f"; done
find . | sort | head -n 6
find . -type f -name '[0-9]' | sort | xargs cat
find /etc -maxdepth 1 -name 'passwd' | sort | head -n 1`},
	{"dynamic-pipeline", `/bin/ls /etc | /usr/bin/sort | /usr/bin/wc -l
/bin/echo dynamic | /bin/cat | /usr/bin/tr a-z A-Z
/usr/bin/seq 1 1000 | /usr/bin/sort -n -r | /usr/bin/head -n 3`},
	{"nested-shells", `sh -c 'sh -c "sh -c \"echo three deep; exit 6\""'; echo "status $?"
echo "$(sh -c 'echo $(sh -c "echo inner")')"`},
	{"functions", `f() { echo "f $1"; return 3; }; f arg; echo "return: $?"
g() { f "$@" | tr a-z A-Z; }; g piped
case "abc" in a*) echo "case a*";; *) echo other;; esac`},
	// trap on signals the shell sends itself; children killed by signals.
	{"trap", `trap 'echo "got USR1"' USR1
kill -USR1 $$
echo "after USR1"
trap 'echo "got TERM"; t=1' TERM
kill -TERM $$
echo "after TERM t=$t"
trap - USR1
trap '' USR2; kill -USR2 $$; echo "USR2 ignored"
trap 'echo "EXIT trap"' EXIT
sh -c 'kill -USR1 $$; echo not reached'; echo "child killed by USR1: $?"
sh -c 'kill -TERM $$'; echo "child killed by TERM: $?"
sh -c 'kill -KILL $$'; echo "child killed by KILL: $?"
(trap 'echo "subshell got HUP"; exit 5' HUP; kill -HUP $(sh -c 'echo $PPID'); exit 9); echo "subshell: $?"`},
	// Named pipes: mkfifo, a background reader, a writer that waits for
	// it (and the other way round).
	{"fifo", tmpScratch + `mkfifo f; cat f > out & echo hi > f; wait; cat out
[ -p f ] && echo "f is a FIFO"; ls -l f | cut -c1
(read l < f; echo "read $l") & exec 3> f; echo there >&3; exec 3>&-; wait
{ echo one; echo two; } > f & while read l; do echo "got $l"; done < f; wait
mkfifo f 2>/dev/null || echo "mkfifo on an existing name fails"`},
	// kill between processes: parent to child (trapped, ignored), child
	// to parent, one child to another.
	{"kill", tmpScratch + `sh -c 'trap "echo child got TERM; exit 3" TERM; : > ready; while :; do sleep 0.02; done' & c=$!
while [ ! -e ready ]; do sleep 0.01; done
kill -TERM $c; wait $c; echo "child with a TERM trap: $?"
sh -c 'trap "" TERM; : > ready2; sleep 0.05; echo "TERM ignored"; exit 4' & c=$!
while [ ! -e ready2 ]; do sleep 0.01; done
kill $c; wait $c; echo "child ignoring TERM: $?"
got=0; trap 'got=$((got + 1))' USR2
sh -c 'kill -USR2 "$1"; exit 4' sh $$ & c=$!
wait $c; st=$?; [ $st -eq 4 ] || wait $c; echo "child signalled its parent: got=$got"
sleep 5 & s=$!
sh -c 'kill -KILL "$1"' sh $s; wait $s; echo "sibling killed: $?"
sh -c 'kill -0 "$1" && echo "kill -0 on the parent: ok"' sh $$
sh -c 'exit 0' & z=$!; wait $z; kill -0 $z 2>/dev/null; echo "kill -0 on a reaped child: $?"`},
	// A trapped signal interrupts the wait builtin (status 128+N). The
	// signaller repeats until the parent has seen it in wait. The sleep
	// gets SIGKILL, not SIGTERM: bash's child for "sleep 5 &" runs the
	// EXIT trap (rm -rf "$d") if SIGTERM comes before its exec.
	{"trap-wait", tmpScratch + `got=0; trap 'got=$((got + 1))' USR1
sleep 5 & s=$!
sh -c 'while [ ! -e done ]; do kill -USR1 "$1" 2>/dev/null; sleep 0.05; done' sh $$ & k=$!
wait $s; echo "wait interrupted by a trapped signal: $?"
: > done; trap '' USR1
[ $got -ge 1 ] && echo "trap ran"
kill -KILL $s; wait $s; echo "sleep killed: $?"
wait $k; echo "signaller: $?"`},
}

// bashScripts use bash features.
var bashScripts = []struct {
	name   string
	script string
}{
	{"pipestatus", `true | false | (exit 3); echo "${PIPESTATUS[@]}"
set -o pipefail; false | true; echo "pipefail: $?"`},
	{"process-substitution", `cat <(echo from-procsub)
while read l; do echo "read $l"; done < <(printf 'a\nb\n')`},
	{"arrays", `a=(one two three); for x in "${a[@]}"; do echo "$x"; done | sort -r
declare -A m=([k]=v); echo "${m[k]} ${#a[@]}"`},
	{"here-string", `tr a-z A-Z <<< "here string"
read -r x y <<< "1 2"; echo $((x + y))`},
	{"bash-c-exit", `bash -c 'exit 12'; echo "bash -c: $?"; $(exit 4); echo "empty command: $?"`},
	// coreutils timeout. It tests timeout, not the shell, and sleeps
	// 0.55 s in all, so only bash runs it. The child in the -k case gets
	// 0.3 s to set its trap before the SIGTERM. timeout sends that SIGTERM
	// twice (to the child, then to its process group): whether the two
	// merge while pending or the trap runs twice is timing, on Linux as in
	// moat, so the trap says so only once. Its loop forks a sleep every
	// 0.2 s, not every 0.02: twice in some ten whole-suite runs under
	// load, moat printed "got TERM" twice with the 0.02 s loop, where
	// the SIGTERMs can land while a vfork child of the shell has not yet
	// exec'd (unexplained, and not reproduced alone; a native run with
	// the children's execve delayed 60 ms prints it once).
	{"timeout", `timeout 0.05 sleep 5; echo "timeout: $?"
timeout -s KILL 0.05 sleep 5; echo "timeout -s KILL: $?"
timeout 5 sh -c 'exit 3'; echo "finished in time: $?"
timeout --preserve-status 0.05 sleep 5; echo "--preserve-status: $?"
timeout -k 0.1 0.3 sh -c 'trap "[ -n \"\$t\" ] || echo got TERM; t=1" TERM; while :; do sleep 0.2; done'; echo "TERM trapped, then -k: $?"
timeout 5 sh -c 'kill -TERM $$'; echo "killed itself: $?"
echo in | timeout 1 cat; echo "cat: $?"`},
	// Job control in a script (set -m): a background job in its own
	// process group, stopped and continued by job spec. bash notices a
	// state change asynchronously (SIGCHLD), so the script polls jobs
	// until the state shows; pids are replaced by PID.
	{"job-control", `set -m
state() { i=0; until jobs %1 | grep -q "$1"; do i=$((i + 1)); [ $i -gt 500 ] && { echo "job never became $1"; jobs; return 1; }; sleep 0.01; done; }
sleep 5 & pid=$!
[ "$(jobs -p %1)" = "$pid" ] && echo 'jobs -p is $!'
jobs
kill -STOP %1
state Stopped
jobs
jobs -l | sed "s/ *$pid / PID /"
kill -CONT %1
state Running
jobs
jobs -l | sed "s/ *$pid / PID /"
kill %1
wait $pid; echo "wait after kill: $?"
echo "jobs left: $(jobs | wc -l)"
sleep 0.1 & kill -STOP $!; state Stopped; kill -CONT %1; wait; echo "stopped and continued job: $?"
(exit 6) & wait $!; echo "wait \$!: $?"`},
}

func TestShells(t *testing.T) {
	shells := []struct{ name, path string }{
		{"sh", busybox},
		{"dash", dash},
		{"bash", bash},
	}
	for _, sh := range shells {
		t.Run(sh.name, func(t *testing.T) {
			if sh.path == busybox {
				needBusybox(t)
			} else if !fileExists(sh.path) {
				t.Skipf("%s is not installed on this host", sh.path)
			}
			argv0 := []string{sh.path}
			if sh.path == busybox {
				argv0 = []string{busybox, "sh"}
			}
			scripts := shellScripts
			if sh.path == bash {
				scripts = append(scripts[:len(scripts):len(scripts)], bashScripts...)
			}
			for _, s := range scripts {
				t.Run(s.name, func(t *testing.T) {
					t.Parallel()
					compare(t, append(argv0, "-c", s.script)...)
				})
			}
		})
	}
}

// TestShellNativeDeterministic runs every shell script natively twice: if
// the two runs differ, the script is at fault, not moat.
func TestShellNativeDeterministic(t *testing.T) {
	needBusybox(t)
	type run struct{ name, shell, script string }
	var all []run
	for _, s := range shellScripts {
		all = append(all, run{"sh/" + s.name, busybox, s.script}, run{"dash/" + s.name, dash, s.script},
			run{"bash/" + s.name, bash, s.script})
	}
	for _, s := range bashScripts {
		all = append(all, run{"bash/" + s.name, bash, s.script})
	}
	for _, s := range all {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			if !fileExists(s.shell) {
				t.Skipf("%s is not installed on this host", s.shell)
			}
			argv := []string{s.shell, "-c", s.script}
			if s.shell == busybox {
				argv = []string{busybox, "sh", "-c", s.script}
			}
			out1, _, code1 := runNative(t, argv, "")
			out2, _, code2 := runNative(t, argv, "")
			if out1 != out2 || code1 != code2 {
				t.Errorf("two native runs differ: status %d and %d (- first, + second):\n%s",
					code1, code2, lineDiff(out1, out2))
			}
		})
	}
}

// TestShellTrueLoop runs /bin/true (dynamically linked) 200 times from a
// busybox sh loop, compares, and logs how much slower moat is. There is no
// assertion on speed. (Only busybox sh: the same loop in bash takes 3-4 s
// inside moat, too close to the suite's 5 s budget per test.)
func TestShellTrueLoop(t *testing.T) {
	needBusybox(t)
	argv := []string{busybox, "sh", "-c",
		`i=0; while [ $i -lt 200 ]; do /bin/true || exit 1; i=$((i + 1)); done; echo "ran /bin/true $i times"`}
	start := time.Now()
	nOut, _, nCode := runNative(t, argv, "")
	native := time.Since(start)
	start = time.Now()
	mOut, mErr, mCode := runMoat(t, nil, argv, "")
	inMoat := time.Since(start)
	if nOut != mOut || nCode != mCode || nCode != 0 {
		t.Errorf("native and moat differ: status %d and %d (- native, + moat):\n%s\nmoat stderr:\n%s",
			nCode, mCode, lineDiff(nOut, mOut), tail(mErr, 40))
	}
	t.Logf("200 x /bin/true from busybox sh: native %v, moat %v (platform %q): %.1fx",
		native.Round(time.Millisecond), inMoat.Round(time.Millisecond),
		moatPlatform, float64(inMoat)/float64(native))
}

// TestShellPython starts processes from python3: subprocess (fork/vfork +
// exec with pipes) and os.fork/os.waitpid.
func TestShellPython(t *testing.T) {
	const python = "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		t.Skipf("%s is not installed on this host", python)
	}
	cases := []struct{ name, code string }{
		{"subprocess-run", `import subprocess; print(subprocess.run(['/bin/echo','x'],capture_output=True).stdout)`},
		{"subprocess-more", `import subprocess
r = subprocess.run(['/bin/sh', '-c', 'echo out; echo err >&2; exit 3'], capture_output=True)
print(r.returncode, r.stdout, r.stderr)
print(subprocess.check_output(['/usr/bin/sort'], input=b'b\na\nc\n'))
print(subprocess.run('echo $((6 * 7)) | /bin/cat', shell=True, stdout=subprocess.PIPE).stdout)
try:
    subprocess.run(['/no/such/program'])
except FileNotFoundError as e:
    print('FileNotFoundError', e.errno)
p = subprocess.Popen(['/bin/cat'], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
out, _ = p.communicate(b'through cat\n')
print(out, p.returncode)`},
		{"fork-waitpid", `import os, signal
pid = os.fork()
if pid == 0:
    os._exit(7)
wpid, st = os.waitpid(pid, 0)
print(wpid == pid, os.WIFEXITED(st), os.WEXITSTATUS(st))
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(r)
    os.write(w, b'hello from the child, ppid ok: %d' % (os.getppid() > 0))
    os._exit(0)
os.close(w)
data = b''
while True:
    b = os.read(r, 100)
    if not b:
        break
    data += b
print(data)
print(os.waitpid(pid, 0)[1])
pid = os.fork()
if pid == 0:
    os.read(os.open('/dev/zero', os.O_RDONLY), 1)
    import time
    while True:
        time.sleep(1)
os.kill(pid, signal.SIGKILL)
_, st = os.waitpid(pid, 0)
print(os.WIFSIGNALED(st), os.WTERMSIG(st))
try:
    os.waitpid(-1, 0)
except ChildProcessError as e:
    print('ChildProcessError', e.errno)`},
		{"os-system", `import os; print(os.system('exit 3') >> 8); print(os.popen('echo popen').read())`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			compare(t, python, "-c", c.code)
		})
	}
}
