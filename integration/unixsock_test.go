package integration

import "testing"

// pyUnixSockets: socketpair across fork, a unix-domain server and client
// on a path (the client a forked child), descriptors passed with
// send_fds/recv_fds, an abstract datagram socket, and a socket file's
// stat.
const pyUnixSockets = `
import os, socket, stat, tempfile

a, b = socket.socketpair()
pid = os.fork()
if pid == 0:
    a.close()
    data = b.recv(100)
    b.sendall(data.upper())
    os._exit(0)
b.close()
a.sendall(b'ping over socketpair')
print('pair reply:', a.recv(100))
print('pair child:', os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
a.close()

d = tempfile.mkdtemp()
path = os.path.join(d, 'srv.sock')
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(4)
print('socket file:', stat.S_ISSOCK(os.stat(path).st_mode), os.path.basename(srv.getsockname()))
pid = os.fork()
if pid == 0:
    srv.close()
    for i in range(3):
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.connect(path)
        c.sendall(b'request %d' % i)
        c.shutdown(socket.SHUT_WR)
        reply = b''
        while True:
            chunk = c.recv(4096)
            if not chunk:
                break
            reply += chunk
        if reply != b'REQUEST %d' % i:
            os._exit(1)
        c.close()
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.connect(path)
    msg, fds, flags, addr = socket.recv_fds(c, 10, 2)
    os.write(fds[0], b'written by the child through a passed pipe')
    os._exit(0 if msg == b'fd' and len(fds) == 1 else 2)
for i in range(3):
    conn, addr = srv.accept()
    data = b''
    while True:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    print('server got:', data, 'peer:', repr(addr))
    conn.sendall(data.upper())
    conn.close()
conn, _ = srv.accept()
r, w = os.pipe()
socket.send_fds(conn, [b'fd'], [w])
os.close(w)
conn.close()
print('child:', os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
print('pipe:', os.read(r, 100))
srv.close()
try:
    socket.socket(socket.AF_UNIX).connect(path)
except OSError as e:
    print('connect after close:', type(e).__name__)
os.unlink(path)
os.rmdir(d)

name = b'\0moat-it-py-%010d' % os.getpid()
x = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
x.bind(name)
y = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
y.sendto(b'datagram', name)
print('abstract:', x.recvfrom(100), x.getsockname() == name)
try:
    socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).bind(name)
except OSError as e:
    print('bind twice:', os.strerror(e.errno))
print('done')
`

// TestPythonUnixSockets runs pyUnixSockets natively and in moat.
func TestPythonUnixSockets(t *testing.T) {
	if !fileExists(python3) {
		t.Skipf("%s is not installed on this host", python3)
	}
	t.Parallel()
	argv := []string{python3, "-c", pyUnixSockets}
	t.Run("compare", func(t *testing.T) {
		t.Parallel()
		compare(t, argv...)
	})
	t.Run("native-deterministic", func(t *testing.T) {
		t.Parallel()
		nativeDeterministic(t, argv, "done\n")
	})
}
