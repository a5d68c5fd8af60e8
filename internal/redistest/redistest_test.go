package redistest

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"
)

// roundTrip sends one inline command and returns the first line of the
// answer, or the error that stopped it within timeout.
func roundTrip(addr, cmd string, timeout time.Duration) (string, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write([]byte(cmd + "\r\n")); err != nil {
		return "", err
	}
	return bufio.NewReader(c).ReadString('\n')
}

func TestStartKillRestart(t *testing.T) {
	s := Start(t)
	if !strings.HasPrefix(s.URL, "redis://127.0.0.1:") || strings.HasSuffix(s.Addr, ":6379") {
		t.Fatalf("URL %q, Addr %q: want a private port on 127.0.0.1", s.URL, s.Addr)
	}
	if got, err := roundTrip(s.Addr, "SET k v", time.Second); err != nil || got != "+OK\r\n" {
		t.Fatalf("SET: %q, %v", got, err)
	}
	// No persistence: the server was started without save points or AOF.
	if got, err := roundTrip(s.Addr, "CONFIG GET save", time.Second); err != nil || !strings.HasPrefix(got, "*2") {
		t.Fatalf("CONFIG GET save: %q, %v", got, err)
	}

	s.Kill()
	if _, err := roundTrip(s.Addr, "PING", time.Second); err == nil {
		t.Fatal("the killed server still answers")
	}

	s.Restart()
	if got, err := roundTrip(s.Addr, "GET k", time.Second); err != nil || got != "$-1\r\n" {
		t.Fatalf("GET after restart: %q, %v; want an empty server (no persistence)", got, err)
	}
}

func TestFreezeThaw(t *testing.T) {
	s := Start(t)
	s.Freeze()
	if got, err := roundTrip(s.Addr, "PING", 200*time.Millisecond); err == nil {
		t.Fatalf("a frozen server answered %q", got)
	} else if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		t.Fatalf("frozen server: %v; want a timeout", err)
	}
	s.Thaw()
	if got, err := roundTrip(s.Addr, "PING", time.Second); err != nil || got != "+PONG\r\n" {
		t.Fatalf("after Thaw: %q, %v", got, err)
	}
}

func TestTwoServersAreApart(t *testing.T) {
	a, b := Start(t), Start(t)
	if a.Addr == b.Addr {
		t.Fatalf("both servers on %s", a.Addr)
	}
	if _, err := roundTrip(a.Addr, "SET only-a 1", time.Second); err != nil {
		t.Fatal(err)
	}
	if got, err := roundTrip(b.Addr, "EXISTS only-a", time.Second); err != nil || got != ":0\r\n" {
		t.Fatalf("EXISTS on the other server: %q, %v", got, err)
	}
}
