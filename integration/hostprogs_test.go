package integration

import "testing"

// Real dynamically linked programs from the host that start processes,
// handle signals and use timers: python3, sqlite3, make with gcc. (The Go
// program is TestGoExec in threads_test.go.)

const python3 = "/usr/bin/python3"

// pySignals uses no threads, so it runs on both platforms: subprocess
// (/bin/echo, /bin/echo piped into /usr/bin/sort, a shell pipeline,
// children killed by SIGTERM and by a timeout), signal.signal with os.kill,
// blocked and pending signals and sigwait, setitimer(ITIMER_REAL) (periodic,
// interrupting a sleep that PEP 475 resumes, and a handler that raises),
// and os.fork with os.waitpid (exit status, a child's SIGTERM handler,
// WUNTRACED and SIGCONT, SIGCHLD).
const pySignals = `import os, signal, subprocess, time

# subprocess: /bin/echo, and /bin/echo piped into /usr/bin/sort
print(subprocess.run(['/bin/echo', 'hello', 'from', 'echo'], stdout=subprocess.PIPE).stdout)
p1 = subprocess.Popen(['/bin/echo', 'pear\napple\nfig'], stdout=subprocess.PIPE)
p2 = subprocess.Popen(['/usr/bin/sort'], stdin=p1.stdout, stdout=subprocess.PIPE)
p1.stdout.close()
print(p2.communicate()[0], p1.wait(), p2.returncode)
print(subprocess.run('/bin/echo c b a | /usr/bin/tr " " "\n" | /usr/bin/sort -r', shell=True, capture_output=True).stdout)
p = subprocess.Popen(['/bin/sleep', '5'])
p.send_signal(signal.SIGTERM)
print('sleep terminated:', p.wait())
try:
    subprocess.run(['/bin/sleep', '5'], timeout=0.1)
except subprocess.TimeoutExpired as e:
    print('TimeoutExpired', e.cmd)

# signal.signal + os.kill
got = []
signal.signal(signal.SIGUSR1, lambda s, f: got.append(s))
os.kill(os.getpid(), signal.SIGUSR1)
print('SIGUSR1 handled:', got)
signal.signal(signal.SIGUSR1, signal.SIG_IGN)
os.kill(os.getpid(), signal.SIGUSR1)
print('SIGUSR1 ignored:', got)

# blocked signals: pending, then sigwait
signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR2])
os.kill(os.getpid(), signal.SIGUSR2)
print('pending:', signal.sigpending())
print('sigwait:', signal.sigwait([signal.SIGUSR2]))
signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGUSR2])

# setitimer: periodic SIGALRM
ticks = []
signal.signal(signal.SIGALRM, lambda s, f: ticks.append(s))
signal.setitimer(signal.ITIMER_REAL, 0.02, 0.02)
while len(ticks) < 3:
    signal.pause()
signal.setitimer(signal.ITIMER_REAL, 0)
print('ITIMER_REAL ticks:', len(ticks) >= 3, signal.getitimer(signal.ITIMER_REAL))
# a one-shot timer interrupting a sleep: PEP 475 resumes the sleep
ticks.clear()
signal.setitimer(signal.ITIMER_REAL, 0.02)
t0 = time.monotonic()
time.sleep(0.1)
print('sleep resumed after SIGALRM:', ticks == [signal.SIGALRM], time.monotonic() - t0 >= 0.1)
# a handler that raises interrupts the sleep
class Alarm(Exception):
    pass
def raise_alarm(s, f):
    raise Alarm()
signal.signal(signal.SIGALRM, raise_alarm)
try:
    signal.setitimer(signal.ITIMER_REAL, 0.02)
    time.sleep(5)
except Alarm:
    print('sleep interrupted by Alarm')

# os.fork + os.waitpid
pid = os.fork()
if pid == 0:
    os._exit(5)
wpid, st = os.waitpid(pid, 0)
print('child exit:', wpid == pid, os.waitstatus_to_exitcode(st))
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    signal.signal(signal.SIGTERM, lambda s, f: os._exit(9))
    os.write(w, b'x')
    while True:
        signal.pause()
os.read(r, 1)
os.kill(pid, signal.SIGTERM)
print('child handled SIGTERM:', os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
pid = os.fork()
if pid == 0:
    os.kill(os.getpid(), signal.SIGSTOP)
    os._exit(4)
_, st = os.waitpid(pid, os.WUNTRACED)
print('stopped:', os.WIFSTOPPED(st), os.WSTOPSIG(st))
os.kill(pid, signal.SIGCONT)
_, st = os.waitpid(pid, 0)
print('continued, then exit:', os.waitstatus_to_exitcode(st))
chld = []
signal.signal(signal.SIGCHLD, lambda s, f: chld.append(s))
pid = os.fork()
if pid == 0:
    os._exit(0)
os.waitpid(pid, 0)
print('SIGCHLD:', chld)
print('done')
`

// pyThreads mixes threads with processes and signals: subprocess from
// several threads at once, a signal handler waking a thread, a signal sent
// while the sending thread blocks it, setitimer while threads wait,
// threading.Timer, os.fork from a threaded process, os.waitpid in a
// thread.
const pyThreads = `import os, queue, signal, subprocess, threading, time

# subprocess from several threads at once
out = {}
def run_echo(i):
    out[i] = subprocess.run(['/bin/echo', 'thread', str(i)], stdout=subprocess.PIPE).stdout
ts = [threading.Thread(target=run_echo, args=(i,)) for i in range(4)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print(sorted(out.items()))
def sort_in_thread(q):
    q.put(subprocess.run(['/usr/bin/sort', '-n'], input=b'3\n1\n2\n', capture_output=True).stdout)
q = queue.Queue()
t = threading.Thread(target=sort_in_thread, args=(q,))
t.start()
t.join()
print(q.get())

# a signal handled by the main thread wakes a waiting thread
ev = threading.Event()
woke = []
def waiter():
    ev.wait()
    woke.append(threading.current_thread().name)
signal.signal(signal.SIGUSR1, lambda s, f: ev.set())
t = threading.Thread(target=waiter, name='waiter')
t.start()
os.kill(os.getpid(), signal.SIGUSR1)
t.join()
print('woken by SIGUSR1:', woke)
# a process-directed signal sent by a thread that blocks it goes to the
# main thread
def blocked():
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR2])
    os.kill(os.getpid(), signal.SIGUSR2)
got = []
signal.signal(signal.SIGUSR2, lambda s, f: got.append(threading.current_thread().name))
t = threading.Thread(target=blocked)
t.start()
t.join()
for _ in range(500):
    if got:
        break
    time.sleep(0.01)
print('SIGUSR2 handled in:', got)
# setitimer while threads run
ticks = []
signal.signal(signal.SIGALRM, lambda s, f: ticks.append(s))
stop = threading.Event()
waiters = [threading.Thread(target=stop.wait) for _ in range(3)]
for t in waiters:
    t.start()
signal.setitimer(signal.ITIMER_REAL, 0.02, 0.02)
for _ in range(500):
    if len(ticks) >= 3:
        break
    time.sleep(0.01)
signal.setitimer(signal.ITIMER_REAL, 0)
stop.set()
for t in waiters:
    t.join()
print('SIGALRM with threads running:', len(ticks) >= 3)
# threading.Timer
fired = threading.Event()
threading.Timer(0.02, fired.set).start()
print('threading.Timer fired:', fired.wait(5))

# os.fork from a process with threads; the child has one thread
lock = threading.Lock()
pid = os.fork()
if pid == 0:
    with lock:
        os._exit(10 + threading.active_count())
print('forked child:', os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
# waitpid in a thread
res = []
pid = os.fork()
if pid == 0:
    time.sleep(0.05)
    os._exit(6)
t = threading.Thread(target=lambda: res.append(os.waitpid(pid, 0)))
t.start()
t.join()
print('waitpid in a thread:', res[0][0] == pid, os.waitstatus_to_exitcode(res[0][1]))
print('threads left:', threading.active_count())
print('done')
`

// pyCPUTimers arms setitimer's CPU-time timers, ITIMER_VIRTUAL and
// ITIMER_PROF, and burns CPU until they fire (at most 5 s).
const pyCPUTimers = `import signal, time
for name, sig in (('ITIMER_VIRTUAL', signal.SIGVTALRM), ('ITIMER_PROF', signal.SIGPROF)):
    which = getattr(signal, name)
    got = []
    signal.signal(sig, lambda s, f: got.append(s))
    signal.setitimer(which, 0.05)
    print(name, 'armed:', 0 < signal.getitimer(which)[0] <= 0.1)
    deadline = time.monotonic() + 5
    while not got and time.monotonic() < deadline:
        pass
    print(name, 'fired after CPU time:', got == [sig], signal.getitimer(which))
print('done')
`

// TestPythonProcesses runs python3 scripts that start processes and
// threads and handle signals and timers, natively and in moat, and each
// twice natively: if those differ, the script is at fault, not moat.
func TestPythonProcesses(t *testing.T) {
	if !fileExists(python3) {
		t.Skipf("%s is not installed on this host", python3)
	}
	cases := []struct {
		name    string
		code    string
		threads bool
	}{
		{"signals-subprocess-fork", pySignals, false},
		{"threads", pyThreads, true},
		{"cpu-timers", pyCPUTimers, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.threads {
			}
			t.Parallel()
			argv := []string{python3, "-c", c.code}
			t.Run("compare", func(t *testing.T) {
				t.Parallel()
				compare(t, argv...)
			})
			t.Run("native-deterministic", func(t *testing.T) {
				t.Parallel()
				nativeDeterministic(t, argv, "done\n")
			})
		})
	}
}

// TestSqlite3 creates, fills and queries a database in /tmp with the
// sqlite3 shell: SQL on stdin (a here-document) and as arguments, -cmd, a
// rolled back transaction, a constraint error, WAL mode (its -shm file is
// a shared file mapping), VACUUM, dot
// commands. sqlite3 locks with fcntl and syncs its journal.
func TestSqlite3(t *testing.T) {
	const sqlite3 = "/usr/bin/sqlite3"
	if !fileExists(sqlite3) {
		t.Skipf("%s is not installed on this host", sqlite3)
	}
	t.Parallel()
	compare(t, "/bin/sh", "-c", tmpScratch+`sqlite3 -batch -bail test.db <<'SQL'
CREATE TABLE fruit(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, price REAL);
INSERT INTO fruit(name, price) VALUES ('apple', 1.25), ('banana', 0.5), ('cherry', 4.0);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)
  INSERT INTO fruit(name, price) SELECT 'fruit' || i, i % 7 FROM n;
CREATE INDEX fruit_price ON fruit(price);
SELECT count(*), sum(price), max(name) FROM fruit;
SELECT name, price FROM fruit WHERE price > 1 ORDER BY price DESC, name LIMIT 3;
BEGIN; DELETE FROM fruit WHERE name LIKE 'fruit%'; ROLLBACK;
SELECT count(*) FROM fruit;
INSERT INTO fruit(name) VALUES ('apple');
SQL
echo "duplicate insert: $?"
sqlite3 -batch test.db 'PRAGMA integrity_check; SELECT name FROM fruit WHERE id <= 3 ORDER BY id;'
sqlite3 -batch -cmd 'PRAGMA journal_mode=WAL;' test.db "UPDATE fruit SET price = price * 2 WHERE name = 'apple'; SELECT price FROM fruit WHERE name = 'apple';"
sqlite3 -batch -header -csv test.db 'SELECT name, price FROM fruit ORDER BY id LIMIT 2;'
sqlite3 -batch test.db 'PRAGMA journal_mode=DELETE; VACUUM; SELECT count(*) FROM fruit;'
printf '.tables\n.schema fruit\nSELECT 6 * 7;\n' | sqlite3 -batch test.db
ls`)
}

// TestMake writes a small C project (two .c files and a Makefile) in /tmp
// and builds it with make and gcc: a full build, an up-to-date check, a
// parallel rebuild (make -j2), a rebuild of one changed file, a failing
// build; and runs the program it built.
func TestMake(t *testing.T) {
	const makeBin = "/usr/bin/make"
	if !fileExists(makeBin) {
		t.Skipf("%s is not installed on this host", makeBin)
	}
	t.Parallel()
	compare(t, "/bin/sh", "-c", tmpScratch+`cat > main.c <<'C'
#include <stdio.h>
int square(int);
int main(void) { printf("square(7) = %d\n", square(7)); return 3; }
C
cat > square.c <<'C'
int square(int x) { return x * x; }
C
printf 'prog: main.o square.o\n\t$(CC) -o $@ main.o square.o\n%%.o: %%.c\n\t$(CC) -O1 -c -o $@ $<\nclean:\n\trm -f prog *.o\n.PHONY: clean\n' > Makefile
make CC=gcc; echo "make: $?"
./prog; echo "prog: $?"
make CC=gcc; echo "again: $?"
make -s -j2 clean; make -s -j2 CC=gcc; echo "make -j2: $?"; ./prog
echo 'int square(int x) { return x * x * x; }' > square.c
touch -d 2000-01-01 square.o
make CC=gcc; ./prog
echo 'int broken(' > square.c; make CC=gcc 2>/dev/null; echo "broken build: $?"
ls`)
}
