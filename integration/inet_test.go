package integration

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// pyInet: what interpreters do with loopback networking. asyncio with many
// tasks and sleeps and a TCP echo server and clients; a multiprocessing
// Pool; a UDP echo; an http.server on 127.0.0.1 fetched by curl run as a
// child (when the host has curl) and by urllib.
const pyInet = `
import asyncio, http.server, multiprocessing, os, shutil, socket, socketserver, subprocess, threading, urllib.request

async def sleeper(i):
    await asyncio.sleep(0.001 * (i % 7))
    return i

async def handle(reader, writer):
    data = await reader.readline()
    writer.write(data.upper())
    await writer.drain()
    writer.close()

async def client(port, i):
    reader, writer = await asyncio.open_connection('127.0.0.1', port)
    writer.write(b'line %d\n' % i)
    await writer.drain()
    reply = await reader.readline()
    writer.close()
    return reply

async def main():
    total = sum(await asyncio.gather(*(sleeper(i) for i in range(500))))
    print('asyncio tasks:', total)
    server = await asyncio.start_server(handle, '127.0.0.1', 0)
    port = server.sockets[0].getsockname()[1]
    replies = await asyncio.gather(*(client(port, i) for i in range(50)))
    print('asyncio echo:', sorted(replies) == sorted(b'LINE %d\n' % i for i in range(50)))
    server.close()
    await server.wait_closed()

asyncio.run(main())

def square(x):
    return x * x

if __name__ == '__main__':
    with multiprocessing.Pool(3) as pool:
        print('pool:', sum(pool.map(square, range(100))))

u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(('127.0.0.1', 0))
def echo():
    data, addr = u.recvfrom(100)
    u.sendto(data[::-1], addr)
t = threading.Thread(target=echo)
t.start()
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
c.sendto(b'udp echo', u.getsockname())
print('udp:', c.recvfrom(100)[0])
t.join()

os.chdir('/')
class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass
httpd = socketserver.ThreadingTCPServer(('127.0.0.1', 0), Quiet)
threading.Thread(target=httpd.serve_forever, daemon=True).start()
url = 'http://127.0.0.1:%d/etc/hostname' % httpd.server_address[1]
body = urllib.request.urlopen(url).read()
print('urllib:', len(body) > 0)
curl = shutil.which('curl')
if curl:
    out = subprocess.run([curl, '-s', '-o', '/dev/null', '-w', '%{http_code}', url], capture_output=True, text=True)
    print('curl:', out.stdout, out.returncode)
else:
    print('curl: 200 0')  # the host has no curl: what it would print
httpd.shutdown()
print('done')
`

// TestPythonInet runs pyInet natively and in moat.
func TestPythonInet(t *testing.T) {
	if !fileExists(python3) {
		t.Skipf("%s is not installed on this host", python3)
	}
	t.Parallel()
	argv := []string{python3, "-c", pyInet}
	t.Run("compare", func(t *testing.T) {
		t.Parallel()
		compare(t, argv...)
	})
	t.Run("native-deterministic", func(t *testing.T) {
		t.Parallel()
		nativeDeterministic(t, argv, "done\n")
	})
}

// TestNetNone: with --net none (the default) the sandbox has loopback
// only, so connecting anywhere else fails as Linux does without a route
// (ENETUNREACH), for TCP and for UDP, and the sandbox's interface list
// has lo alone.
func TestNetNone(t *testing.T) {
	if !fileExists(python3) {
		t.Skipf("%s is not installed on this host", python3)
	}
	t.Parallel()
	const py = `
import errno, socket
for typ in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
    s = socket.socket(socket.AF_INET, typ)
    try:
        s.connect(('192.0.2.1', 80))
        print('connected')
    except OSError as e:
        print(errno.errorcode[e.errno])
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
try:
    s.connect(('2001:db8::1', 80))
except OSError as e:
    print(errno.errorcode[e.errno])
`
	out, err := exec.Command(moatBin, "run", "--", python3, "-c", py).CombinedOutput()
	if err != nil {
		t.Fatalf("moat: %v\n%s", err, out)
	}
	if got, want := string(out), "ENETUNREACH\nENETUNREACH\nENETUNREACH\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	// The interface and a listening socket, as tools see them (netlink,
	// interface ioctls, /proc/net/tcp).
	const tools = `
import socket, subprocess
l = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen()
port = l.getsockname()[1]
addr = subprocess.run(['busybox', 'ip', 'addr'], capture_output=True, text=True)
print('ip addr:', 'inet 127.0.0.1/8 scope host lo' in addr.stdout, repr(addr.stderr))
conf = subprocess.run(['busybox', 'ifconfig', 'lo'], capture_output=True, text=True)
print('ifconfig:', 'inet addr:127.0.0.1  Mask:255.0.0.0' in conf.stdout, repr(conf.stderr))
ns = subprocess.run(['busybox', 'netstat', '-tln'], capture_output=True, text=True).stdout
print('netstat:', any(f.split()[3:6:2] == ['127.0.0.1:%d' % port, 'LISTEN'] for f in ns.splitlines()[2:]))
print('hostname:', socket.gethostname(), socket.gethostbyname(socket.gethostname()))
u = socket.socket(socket.AF_UNIX); u.bind('/tmp/tools.sock'); u.listen()
xs = subprocess.run(['busybox', 'netstat', '-xl'], capture_output=True, text=True).stdout
print('netstat -x:', any(f.split()[-1] == '/tmp/tools.sock' and 'LISTENING' in f for f in xs.splitlines()))
`
	out, err = exec.Command(moatBin, "run", "--", python3, "-c", tools).CombinedOutput()
	if want := "ip addr: True ''\nifconfig: True ''\nnetstat: True\nhostname: moat 127.0.1.1\nnetstat -x: True\n"; err != nil || string(out) != want {
		t.Fatalf("network tools in moat: %v\n%s\nwant:\n%s", err, out, want)
	}
	// ping: raw ICMP sockets for root, refused to another user.
	for _, target := range [][]string{{"127.0.0.1"}, {"-6", "::1"}} {
		out, err = exec.Command(moatBin, append([]string{"run", "--", "busybox", "ping", "-c", "1"}, target...)...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "1 packets transmitted, 1 packets received") {
			t.Errorf("ping %v in moat: %v\n%s", target, err, out)
		}
	}
	out, err = exec.Command(moatBin, "run", "--user", "1000", "--", "busybox", "ping", "-c", "1", "127.0.0.1").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "permission denied") {
		t.Errorf("ping as uid 1000 in moat: want permission denied, got %v\n%s", err, out)
	}
	out, err = exec.Command(moatBin, "run", "--net", "nonsense", "--", "/bin/true").CombinedOutput()
	if err == nil || strings.Count(strings.TrimSpace(string(out)), "\n") != 0 {
		t.Fatalf("--net nonsense: want one error line and a failure, got %v: %q", err, out)
	}
}

// TestNetHost: with --net host the sandbox's internet sockets are host
// sockets. progs/inet_sockets.c behaves exactly as natively; curl inside
// reaches a server this test runs on the host's loopback; and churning
// through hundreds of sockets (refused connects, accepted connections,
// datagrams) leaves the sentry holding no more host descriptors than
// before.
func TestNetHost(t *testing.T) {
	t.Parallel()
	t.Run("programs", func(t *testing.T) {
		t.Parallel()
		compareWith(t, []string{"--net", "host"}, "", prog("inet_sockets"))
	})
	t.Run("curl", func(t *testing.T) {
		t.Parallel()
		curl, err := exec.LookPath("curl")
		if err != nil {
			t.Skip("curl is not installed on this host")
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "hello from the host, %s\n", r.URL.Path)
		})}
		go srv.Serve(ln)
		defer srv.Close()
		url := "http://" + ln.Addr().String() + "/moat"
		out, errOut, code := runMoat(t, []string{"--net", "host"}, []string{curl, "-sS", url}, "")
		if code != 0 || out != "hello from the host, /moat\n" {
			t.Fatalf("curl in moat: status %d, stdout %q, stderr %q", code, out, errOut)
		}
		// Without --net host the host's loopback is not the sandbox's.
		_, _, code = runMoat(t, nil, []string{curl, "-sS", "--max-time", "5", url}, "")
		if code != 7 { // curl: failed to connect
			t.Fatalf("curl in moat with --net none: status %d, want 7", code)
		}
	})
	t.Run("no-leak", func(t *testing.T) {
		t.Parallel()
		if !fileExists(python3) {
			t.Skipf("%s is not installed on this host", python3)
		}
		const churn = `
import socket, sys
def step():
    print('ready', flush=True)
    sys.stdin.readline()
step()
for i in range(100):
    l = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen(1)
    c = socket.create_connection(l.getsockname()); a, _ = l.accept()
    c.sendall(b'x'); a.recv(1); a.close(); c.close(); l.close()
    port = socket.socket().getsockname()[1]
    try:
        socket.create_connection(('127.0.0.1', 1))
    except OSError:
        pass
    u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); u.sendto(b'y', ('::1', 9)); u.close()
    try:
        socket.socket().bind(('192.0.2.1', 0))
    except OSError:
        pass
step()
`
		cmd := exec.Command(moatBin, moatArgv([]string{"--net", "host"}, []string{python3, "-c", churn})[1:]...)
		in, _ := cmd.StdinPipe()
		outPipe, _ := cmd.StdoutPipe()
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer cmd.Process.Kill()
		r := bufio.NewReader(outPipe)
		fds := func() int {
			if line, err := r.ReadString('\n'); err != nil || line != "ready\n" {
				t.Fatalf("sandbox said %q, %v", line, err)
			}
			ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", cmd.Process.Pid))
			if err != nil {
				t.Fatal(err)
			}
			return len(ents)
		}
		before := fds()
		io.WriteString(in, "\n")
		after := fds()
		io.WriteString(in, "\n")
		if err := cmd.Wait(); err != nil {
			t.Fatalf("moat: %v", err)
		}
		// The poller's epoll descriptor appears with the first socket.
		if after > before+1 {
			t.Fatalf("the sentry holds %d descriptors after the churn, %d before", after, before)
		}
	})
}

// TestNetSandbox: with --net sandbox the sandbox has eth0 (10.0.2.15/24)
// routed through the sentry: TCP and UDP to the gateway reach the host's
// loopback; -p publishes a sandbox server on a host port; -p without
// --net sandbox, or on a port the host already uses, is one clear error.
func TestNetSandbox(t *testing.T) {
	if !fileExists(python3) {
		t.Skipf("%s is not installed on this host", python3)
	}
	t.Parallel()
	// Host servers on the host's loopback: HTTP and a UDP echo.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "host saw %s\n", r.URL.Path)
	})}
	go srv.Serve(ln)
	defer srv.Close()
	uc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	go func() {
		buf := make([]byte, 100)
		for {
			n, from, err := uc.ReadFrom(buf)
			if err != nil {
				return
			}
			uc.WriteTo(append([]byte("echo "), buf[:n]...), from)
		}
	}()
	tcpPort, udpPort := ln.Addr().(*net.TCPAddr).Port, uc.LocalAddr().(*net.UDPAddr).Port
	py := fmt.Sprintf(`
import socket, subprocess, urllib.request
addr = subprocess.run(['busybox', 'ip', 'addr', 'show', 'eth0'], capture_output=True, text=True).stdout
print('eth0:', 'inet 10.0.2.15/24' in addr)
print(urllib.request.urlopen('http://10.0.2.2:%d/from-sandbox').read().decode(), end='')
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(10)
u.sendto(b'datagram', ('10.0.2.2', %d))
data, src = u.recvfrom(100)
print(data.decode(), src[0])
try:
    socket.create_connection(('10.0.2.2', 1), timeout=10)
except OSError as e:
    print('closed port:', type(e).__name__)
print(open('/etc/resolv.conf').read(), end='')
print(socket.gethostname(), socket.gethostbyname(socket.gethostname()))
`, tcpPort, udpPort)
	out, errOut, code := runMoat(t, []string{"--net", "sandbox"}, []string{python3, "-c", py}, "")
	want := "eth0: True\nhost saw /from-sandbox\necho datagram 10.0.2.2\nclosed port: ConnectionRefusedError\nnameserver 10.0.2.3\nmoat 10.0.2.15\n"
	if code != 0 || out != want {
		t.Fatalf("moat --net sandbox: status %d\nstdout:\n%s\nwant:\n%s\nstderr:\n%s", code, out, want, errOut)
	}

	// -p: a server in the sandbox answers on a host port.
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hostPort := free.Addr().(*net.TCPAddr).Port
	free.Close()
	const server = `
import http.server, socketserver
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ('sandbox served %s to %s\n' % (self.path, self.client_address[0])).encode()
        self.send_response(200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
socketserver.TCPServer(('0.0.0.0', 8080), H).serve_forever()
`
	cmd := exec.Command(moatBin, moatArgv([]string{"--net", "sandbox", "-p", fmt.Sprintf("127.0.0.1:%d:8080", hostPort)}, []string{python3, "-c", server})[1:]...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	url := fmt.Sprintf("http://127.0.0.1:%d/published", hostPort)
	// curl on the host when it has one, else Go's client.
	get := func() (string, error) {
		if curl, err := exec.LookPath("curl"); err == nil {
			out, err := exec.Command(curl, "-sSf", "--max-time", "10", url).Output()
			return string(out), err
		}
		resp, err := http.Get(url)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	var body string
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, err := get()
		if err == nil {
			body = b
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v (moat stderr: %s)", url, err, stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if body != "sandbox served /published to 10.0.2.2\n" {
		t.Fatalf("GET %s: %q", url, body)
	}

	// Errors: one line, non-zero status.
	for _, flags := range [][]string{
		{"-p", "8080:80"},
		{"--net", "sandbox", "-p", fmt.Sprintf("127.0.0.1:%d:80", hostPort)}, // in use by the server above
		{"--net", "sandbox", "-p", "99999:80"},
	} {
		out, err := exec.Command(moatBin, append(append([]string{"run"}, flags...), "--", "/bin/true")...).CombinedOutput()
		if err == nil || strings.Count(strings.TrimSpace(string(out)), "\n") != 0 || len(out) == 0 {
			t.Errorf("moat run %v: want one error line and a failure, got %v: %q", flags, err, out)
		}
	}
}
