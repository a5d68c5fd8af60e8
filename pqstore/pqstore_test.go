package pqstore_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/salesgraph/salesgraph/internal/redistest"
	"github.com/salesgraph/salesgraph/pqstore"
	"github.com/salesgraph/salesgraph/redisconn"
)

func hashOf(q string) string {
	sum := sha256.Sum256([]byte(q))
	return hex.EncodeToString(sum[:])
}

// counts records what the hooks saw.
type counts struct {
	redisErrors, misses atomic.Int64
	mu                  sync.Mutex
	hits                map[string]int
}

func (c *counts) hooks() pqstore.Hooks {
	return pqstore.Hooks{
		Hit: func(tier string) {
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.hits == nil {
				c.hits = map[string]int{}
			}
			c.hits[tier]++
		},
		Miss:       func() { c.misses.Add(1) },
		RedisError: func(string, error) { c.redisErrors.Add(1) },
	}
}

func (c *counts) hit(tier string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits[tier]
}

// logRecorder is a slog handler that keeps the messages it gets.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, rec.Level.String()+" "+rec.Message)
	return nil
}
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *logRecorder) WithGroup(string) slog.Handler      { return r }
func (r *logRecorder) messages() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.msgs...)
}

// replica is one facade's view of the shared store: its own client, its
// own process tier.
type replica struct {
	store *pqstore.Shared
	seen  *counts
	log   *logRecorder
}

func newReplica(t *testing.T, url string, o pqstore.Options) *replica {
	t.Helper()
	rdb, err := redisconn.New(url, redisconn.Options{Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	r := &replica{seen: &counts{}, log: &logRecorder{}}
	o.Hooks = r.seen.hooks()
	o.Logger = slog.New(r.log)
	if o.Backoff == 0 {
		o.Backoff = 50 * time.Millisecond
	}
	r.store = pqstore.NewShared(rdb, pqstore.NewLocal(100), o)
	return r
}

func directClient(t *testing.T, url string) *redis.Client {
	t.Helper()
	rdb, err := redisconn.New(url, redisconn.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// within fails the test if f has not returned after limit: the stores'
// Redis calls time out after 100 ms, so this proves they do not hang
// without asserting how long they took.
func within[T any](t *testing.T, limit time.Duration, f func() T) T {
	t.Helper()
	done := make(chan T, 1)
	go func() { done <- f() }()
	select {
	case v := <-done:
		return v
	case <-time.After(limit):
		t.Fatalf("a store call still running after %v", limit)
		var zero T
		return zero
	}
}

// getResult is what Get returned, passed through within.
type getResult struct {
	q   string
	ok  bool
	err error
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline:
			t.Fatalf("%s: not reached within 10s", what)
		case <-tick.C:
		}
	}
}

func TestLocalIsBounded(t *testing.T) {
	ctx := context.Background()
	l := pqstore.NewLocal(2)
	for _, q := range []string{"{ a }", "{ b }", "{ c }"} {
		_ = l.Put(ctx, hashOf(q), q)
	}
	if l.Len() != 2 {
		t.Fatalf("Len %d, want 2", l.Len())
	}
	if _, ok, _ := l.Get(ctx, hashOf("{ a }")); ok {
		t.Error("the least recently used document was kept")
	}
	if q, ok, err := l.Get(ctx, hashOf("{ c }")); !ok || err != nil || q != "{ c }" {
		t.Errorf("Get: %q, %v, %v", q, ok, err)
	}
}

func TestTwoReplicasShareDocuments(t *testing.T) {
	srv := redistest.Start(t)
	a := newReplica(t, srv.URL, pqstore.Options{})
	b := newReplica(t, srv.URL, pqstore.Options{})
	ctx := context.Background()
	q := "query UsersWithMeetings { users(ids: [\"1\"]) { id } }"
	h := hashOf(q)

	if _, ok, err := b.store.Get(ctx, h); ok || err != nil {
		t.Fatalf("before registration: ok %v, err %v", ok, err)
	}
	if err := a.store.Put(ctx, h, q); err != nil {
		t.Fatal(err)
	}
	got, ok, err := b.store.Get(ctx, h)
	if !ok || err != nil || got != q {
		t.Fatalf("registered on a, Get on b: %q, %v, %v", got, ok, err)
	}
	if _, ok, _ := b.store.Get(ctx, h); !ok {
		t.Fatal("second Get on b missed")
	}
	if b.seen.hit("redis") != 1 || b.seen.hit("process") != 1 || b.seen.misses.Load() != 1 {
		t.Errorf("b's hooks: redis hits %d, process hits %d, misses %d; want 1, 1, 1",
			b.seen.hit("redis"), b.seen.hit("process"), b.seen.misses.Load())
	}
	if a.seen.redisErrors.Load()+b.seen.redisErrors.Load() != 0 {
		t.Error("Redis errors counted with Redis up")
	}
}

func TestKeysAreNamespacedAndExpire(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	rdb := directClient(t, srv.URL)
	apq := newReplica(t, srv.URL, pqstore.Options{TTL: time.Hour})
	allow := newReplica(t, srv.URL, pqstore.Options{Prefix: "test:allow:", TTL: -1})
	q := "{ users(ids: [\"2\"]) { id } }"
	h := hashOf(q)
	if err := apq.store.Put(ctx, h, q); err != nil {
		t.Fatal(err)
	}
	if err := allow.store.Put(ctx, h, q); err != nil {
		t.Fatal(err)
	}
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{pqstore.DefaultPrefix + h: true, "test:allow:" + h: true}
	if len(keys) != 2 || !want[keys[0]] || !want[keys[1]] {
		t.Fatalf("keys %q, want %v", keys, want)
	}
	if ttl := rdb.PTTL(ctx, pqstore.DefaultPrefix+h).Val(); ttl <= 0 || ttl > time.Hour {
		t.Errorf("APQ key's TTL %v, want (0, 1h]", ttl)
	}
	if ttl := rdb.PTTL(ctx, "test:allow:"+h).Val(); ttl != -1 {
		t.Errorf("allow-list key's TTL %v, want none (-1)", ttl)
	}
	// A fetch from Redis renews the TTL, so documents in use never expire.
	if err := rdb.PExpire(ctx, pqstore.DefaultPrefix+h, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	other := newReplica(t, srv.URL, pqstore.Options{TTL: time.Hour})
	if _, ok, _ := other.store.Get(ctx, h); !ok {
		t.Fatal("other replica missed")
	}
	if ttl := rdb.PTTL(ctx, pqstore.DefaultPrefix+h).Val(); ttl <= time.Minute {
		t.Errorf("TTL after a fetch %v, want renewed to about 1h", ttl)
	}
}

func TestHashesTooLongNeverReachRedis(t *testing.T) {
	srv := redistest.Start(t)
	r := newReplica(t, srv.URL, pqstore.Options{})
	ctx := context.Background()
	long := strings.Repeat("a", pqstore.MaxHashLen+1)
	if err := r.store.Put(ctx, long, "{ x }"); err == nil {
		t.Error("Put of an overlong hash: no error")
	}
	if _, ok, err := r.store.Get(ctx, long); ok || err != nil {
		t.Errorf("Get of an overlong hash: ok %v, err %v", ok, err)
	}
	if n := directClient(t, srv.URL).DBSize(ctx).Val(); n != 0 {
		t.Errorf("Redis holds %d keys", n)
	}
}

func TestRedisKilledServesFromProcessAndRecovers(t *testing.T) {
	srv := redistest.Start(t)
	a := newReplica(t, srv.URL, pqstore.Options{})
	b := newReplica(t, srv.URL, pqstore.Options{})
	ctx := context.Background()
	q1, q2, q3 := "{ one }", "{ two }", "{ three }"
	if err := a.store.Put(ctx, hashOf(q1), q1); err != nil {
		t.Fatal(err)
	}

	srv.Kill()
	get := func(s *pqstore.Shared, h string) getResult {
		q, ok, err := s.Get(ctx, h)
		return getResult{q, ok, err}
	}
	// a registered q1, so it keeps serving it without Redis.
	if r := within(t, 2*time.Second, func() getResult { return get(a.store, hashOf(q1)) }); !r.ok || r.err != nil || r.q != q1 {
		t.Fatalf("a's own document with Redis down: %+v", r)
	}
	// b never saw it: it cannot tell, and says so.
	if r := within(t, 2*time.Second, func() getResult { return get(b.store, hashOf(q1)) }); r.ok || !errors.Is(r.err, pqstore.ErrUnavailable) {
		t.Fatalf("b's lookup with Redis down: %+v, want ErrUnavailable", r)
	}
	// b can still register documents for itself.
	if err := within(t, 2*time.Second, func() error { return b.store.Put(ctx, hashOf(q2), q2) }); err != nil && !errors.Is(err, pqstore.ErrUnavailable) {
		t.Fatalf("Put with Redis down: %v", err)
	}
	if r := get(b.store, hashOf(q2)); !r.ok || r.q != q2 {
		t.Fatalf("b's own document with Redis down: %+v", r)
	}
	if b.seen.redisErrors.Load() == 0 {
		t.Error("no Redis error counted")
	}

	srv.Restart()
	waitUntil(t, "shared again after the restart", func() bool {
		if a.store.Put(ctx, hashOf(q3), q3) != nil {
			return false
		}
		r := get(b.store, hashOf(q3))
		return r.ok && r.q == q3
	})
	if got := b.log.messages(); len(got) != 2 || !strings.HasPrefix(got[0], "WARN redis unavailable") || !strings.HasPrefix(got[1], "INFO redis available again") {
		t.Errorf("b logged %q; want one warning and one recovery", got)
	}
}

func TestFrozenRedisCostsOneTimeoutPerBackoff(t *testing.T) {
	srv := redistest.Start(t)
	r := newReplica(t, srv.URL, pqstore.Options{Backoff: time.Hour})
	ctx := context.Background()
	srv.Freeze()
	got := within(t, 2*time.Second, func() getResult {
		q, ok, err := r.store.Get(ctx, hashOf("{ a }"))
		return getResult{q, ok, err}
	})
	if got.ok || !errors.Is(got.err, pqstore.ErrUnavailable) {
		t.Fatalf("Get from a frozen Redis: %+v", got)
	}
	// In the backoff, lookups are answered without asking Redis: the
	// error count stays at the one call that timed out.
	for range 10 {
		if _, _, err := r.store.Get(ctx, hashOf("{ b }")); !errors.Is(err, pqstore.ErrUnavailable) {
			t.Fatalf("Get in the backoff: %v", err)
		}
	}
	if n := r.seen.redisErrors.Load(); n != 1 {
		t.Errorf("%d Redis errors counted, want 1 (the others skipped by the backoff)", n)
	}
	srv.Thaw()
}
