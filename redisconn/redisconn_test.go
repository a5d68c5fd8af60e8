package redisconn_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9/logging"

	"github.com/salesgraph/salesgraph/internal/redistest"
	"github.com/salesgraph/salesgraph/redisconn"
)

func TestParseRefusesOtherURLs(t *testing.T) {
	for _, raw := range []string{
		"",
		"http://127.0.0.1:6379",
		"unix:///tmp/redis.sock",
		"redis://",
		"127.0.0.1:6379",
	} {
		if _, err := redisconn.Parse(raw, redisconn.Options{}); err == nil {
			t.Errorf("Parse(%q): no error", raw)
		}
	}
}

func TestErrorsNeverShowThePassword(t *testing.T) {
	for _, raw := range []string{
		"redis://:s3cret-pw@host:notaport/0",
		"redis://user:s3cret-pw@host:6379/notadb",
		"redis://user:s3cret-pw@host:6379/0?dial_timeout=forever",
		"redis://user:s3cret-pw@ho st:6379/0",
	} {
		_, err := redisconn.Parse(raw, redisconn.Options{})
		if err == nil {
			t.Errorf("Parse(%q): no error", raw)
			continue
		}
		if strings.Contains(err.Error(), "s3cret-pw") {
			t.Errorf("Parse(%q): %q shows the password", raw, err)
		}
	}
	if got := redisconn.Redact("redis://user:s3cret-pw@host:6379/0"); strings.Contains(got, "s3cret-pw") || !strings.Contains(got, "host:6379") {
		t.Errorf("Redact: %q", got)
	}
}

func TestParseOverridesTheURLsTimeouts(t *testing.T) {
	opt, err := redisconn.Parse("rediss://u:p@cache.example:6380/2?read_timeout=30s&dial_timeout=30s&pool_size=500&max_retries=10", redisconn.Options{Timeout: 150 * time.Millisecond, PoolSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string]time.Duration{
		"DialTimeout": opt.DialTimeout, "ReadTimeout": opt.ReadTimeout,
		"WriteTimeout": opt.WriteTimeout, "PoolTimeout": opt.PoolTimeout,
	} {
		if got != 150*time.Millisecond {
			t.Errorf("%s = %v, want 150ms", name, got)
		}
	}
	if opt.PoolSize != 4 || opt.MaxRetries != redisconn.DefaultMaxRetries || !opt.ContextTimeoutEnabled {
		t.Errorf("PoolSize %d, MaxRetries %d, ContextTimeoutEnabled %v", opt.PoolSize, opt.MaxRetries, opt.ContextTimeoutEnabled)
	}
	if opt.TLSConfig == nil || opt.Addr != "cache.example:6380" || opt.DB != 2 || opt.Username != "u" || opt.Password != "p" {
		t.Errorf("rediss URL parsed to TLS %v, addr %q, db %d, user %q", opt.TLSConfig != nil, opt.Addr, opt.DB, opt.Username)
	}
	if opt, _ := redisconn.Parse("redis://h:1", redisconn.Options{MaxRetries: -1}); opt.MaxRetries != -1 {
		t.Errorf("MaxRetries -1 became %d", opt.MaxRetries)
	}
}

// within runs f and fails the test if it has not returned after limit: the
// calls under test have a 100 ms timeout, so a limit many times that proves
// they do not hang without asserting how long they took.
func within(t *testing.T, limit time.Duration, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(limit):
		t.Fatalf("a Redis call still running after %v", limit)
		return nil
	}
}

func TestShortTimeoutsAgainstADeadOrFrozenRedis(t *testing.T) {
	srv := redistest.Start(t)
	rdb, err := redisconn.New(srv.URL, redisconn.Options{Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	ctx := context.Background()
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}

	srv.Freeze()
	err = within(t, 2*time.Second, func() error { return rdb.Get(ctx, "k").Err() })
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("GET from a frozen Redis: %v, want a timeout", err)
	}
	srv.Thaw()
	waitUntil(t, func() bool { return rdb.Get(ctx, "k").Val() == "v" })

	srv.Kill()
	for range 20 { // more calls than the pool has connections, to reach its fail-fast state
		if err := within(t, 2*time.Second, func() error { return rdb.Get(ctx, "k").Err() }); err == nil {
			t.Fatal("GET from a killed Redis succeeded")
		}
	}
	srv.Restart()
	// The restarted server is empty; the client must come back to it by
	// itself, without being rebuilt.
	waitUntil(t, func() bool { return rdb.Set(ctx, "k2", "v2", 0).Err() == nil })
}

// waitUntil polls cond until it holds, failing the test after a generous
// deadline.
func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline:
			t.Fatal("condition not reached within 10s")
		case <-tick.C:
		}
	}
}

func TestGoRedisLinesGoThroughSlog(t *testing.T) {
	var out syncBuffer
	redisconn.SetLogger(slog.New(slog.NewJSONHandler(&out, nil)))
	t.Cleanup(logging.Enable) // go-redis's own default
	// A port nothing listens on: the dial fails, which go-redis logs.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	rdb, err := redisconn.New("redis://"+addr+"/0", redisconn.Options{Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	if err := rdb.Get(context.Background(), "k").Err(); err == nil {
		t.Fatal("GET from no Redis succeeded")
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	found := false
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("a line that is not JSON: %q", l)
		}
		detail, _ := m["detail"].(string)
		if m["msg"] == "redis client" && m["level"] == "WARN" && strings.Contains(detail, "failed to dial") {
			found = true
		}
	}
	if !found {
		t.Errorf("go-redis's dial failure was not logged through slog: %q", out.String())
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
