// Package redistest starts a private redis-server for a test, so that code
// that shares state through Redis is tested against the real thing.
//
// Each [Start] runs its own server on a free port of 127.0.0.1, with no
// persistence and a data directory in the test's temporary directory; it
// never touches a Redis the machine already runs (such as 127.0.0.1:6379).
// The server is stopped by PID when the test ends. [Server.Kill],
// [Server.Restart], [Server.Freeze] and [Server.Thaw] let failure tests take
// it away and bring it back on the same address.
//
// The binary is redis-server from PATH, else /usr/bin/redis-server
// (Debian's redis-server package; .ci/run installs it). Without it a test
// is skipped, except when CI is set, where it fails: a test that needs
// Redis must never pass in CI by not running.
package redistest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startTimeout bounds how long a server may take to answer PING; a server
// that needs longer is broken, and the test says so rather than hanging.
const startTimeout = 15 * time.Second

// A Server is one redis-server process owned by one test.
type Server struct {
	// URL is redis://127.0.0.1:port/0, ready for a client.
	URL string
	// Addr is 127.0.0.1:port.
	Addr string

	t    testing.TB
	bin  string
	port int
	dir  string

	mu   sync.Mutex
	proc *process // nil while killed
}

type process struct {
	cmd    *exec.Cmd
	out    *lockedBuffer
	exited chan struct{} // closed once the process has been waited for
}

// Start starts a redis-server for t and waits until it answers PING. It is
// stopped when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := binary()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("redistest: %v (CI is set: .ci/run must install Debian's redis-server)", err)
		}
		t.Skipf("redistest: %v (apt-get install redis-server)", err)
	}
	s := &Server{t: t, bin: bin, dir: t.TempDir()}
	// Another process may take the free port between our check and the
	// server's bind; a few attempts make that race harmless.
	var lastErr error
	for range 5 {
		port, err := freePort()
		if err != nil {
			t.Fatalf("redistest: %v", err)
		}
		s.port = port
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if lastErr = s.start(); lastErr == nil {
			break
		}
	}
	if lastErr != nil {
		t.Fatalf("redistest: %v", lastErr)
	}
	s.URL = "redis://" + s.Addr + "/0"
	t.Cleanup(s.stop)
	return s
}

// Kill stops the server at once with SIGKILL, as a crash would, and waits
// until the process is gone. Clients see connection errors from then on.
func (s *Server) Kill() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		s.t.Fatal("redistest: Kill of a server that is not running")
	}
	s.proc.kill()
	s.proc = nil
}

// Restart starts a killed server again on the same address, empty, and
// waits until it answers PING.
func (s *Server) Restart() {
	s.t.Helper()
	s.mu.Lock()
	running := s.proc != nil
	s.mu.Unlock()
	if running {
		s.t.Fatal("redistest: Restart of a server that is running: Kill it first")
	}
	if err := s.start(); err != nil {
		s.t.Fatalf("redistest: restart: %v", err)
	}
}

// Freeze stops the process with SIGSTOP: connections are still accepted by
// the kernel but nothing is answered, as with an overloaded or partitioned
// Redis. Clients see timeouts, not errors. Thaw undoes it.
func (s *Server) Freeze() { s.signal(syscall.SIGSTOP) }

// Thaw resumes a frozen server with SIGCONT.
func (s *Server) Thaw() { s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig syscall.Signal) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		s.t.Fatalf("redistest: %v to a server that is not running", sig)
	}
	if err := s.proc.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("redistest: %v: %v", sig, err)
	}
}

func (s *Server) start() error {
	out := &lockedBuffer{}
	cmd := exec.Command(s.bin,
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", s.dir,
		"--daemonize", "no",
		"--protected-mode", "yes",
		"--logfile", "",
	)
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %v", s.bin, err)
	}
	p := &process{cmd: cmd, out: out, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.exited)
	}()
	if err := waitPing(s.Addr, p.exited); err != nil {
		p.kill()
		return fmt.Errorf("redis-server on %s: %v; its output:\n%s", s.Addr, err, out.String())
	}
	s.mu.Lock()
	s.proc = p
	s.mu.Unlock()
	return nil
}

func (s *Server) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		s.proc.kill()
		s.proc = nil
	}
}

// kill sends SIGKILL to the process by its PID and waits for it; SIGKILL
// also ends a stopped (frozen) process.
func (p *process) kill() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// waitPing polls addr until it answers PING with PONG, the process exits,
// or startTimeout passes.
func waitPing(addr string, exited <-chan struct{}) error {
	deadline := time.Now().Add(startTimeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		err := ping(addr)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer to PING within %v: %v", startTimeout, err)
		}
		select {
		case <-exited:
			return errors.New("exited before answering PING")
		case <-tick.C:
		}
	}
}

// ping speaks just enough RESP to ask PING; the package needs no client.
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func binary() (string, error) {
	if p, err := exec.LookPath("redis-server"); err == nil {
		return p, nil
	}
	const debian = "/usr/bin/redis-server"
	if _, err := os.Stat(debian); err == nil {
		return debian, nil
	}
	return "", errors.New("redis-server not found in PATH or at " + debian)
}

// lockedBuffer collects the server's output, written by exec's copying
// goroutine and read by the test on failure.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
