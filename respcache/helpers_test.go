package respcache_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/salesgraph/salesgraph/redisconn"
	"github.com/salesgraph/salesgraph/respcache"
)

// clock is a settable clock shared by the replicas of a test.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// counts is what a cache's hooks saw.
type counts struct {
	misses, redisErrors atomic.Int64
	mu                  sync.Mutex
	hits                map[string]int
}

func (c *counts) hooks() respcache.Hooks {
	return respcache.Hooks{
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

// replica is one facade's cache in front of the fake upstream: its own
// Redis client and process tier, the keyer secret all replicas share.
type replica struct {
	cache    *respcache.Cache
	keyer    *respcache.Keyer
	seen     *counts
	upstream string
	client   *http.Client
}

// options are the cache settings of the tests unless one says otherwise.
func options(clk *clock) respcache.Options {
	o := respcache.Options{
		TTL:          30 * time.Second,
		StaleIfError: 5 * time.Minute,
		Timeout:      time.Second, // a busy CI machine stalls a Redis write past 100 ms; tests of timeouts set their own
		Backoff:      50 * time.Millisecond,
		Logger:       slog.New(slog.DiscardHandler),
	}
	if clk != nil {
		o.Now = clk.Now
	}
	return o
}

func newReplica(t *testing.T, upstream, redisURL string, o respcache.Options) *replica {
	t.Helper()
	if redisURL != "" {
		rdb, err := redisconn.New(redisURL, redisconn.Options{Timeout: o.Timeout})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { rdb.Close() })
		o.Redis = rdb
	}
	r := &replica{seen: &counts{}, upstream: upstream, keyer: mustKeyer(t, secret)}
	r.client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{}}
	t.Cleanup(r.client.CloseIdleConnections)
	o.Hooks = r.seen.hooks()
	c, err := respcache.New(o)
	if err != nil {
		t.Fatal(err)
	}
	r.cache = c
	return r
}

// answer is what get got: the entry it answered with and where from, and
// what the cache held before it asked the upstream.
type answer struct {
	respcache.Entry
	source string // "fresh" (from the cache) or "upstream"
	// lookup is what the cache found before the upstream was asked: an
	// entry Found but not Fresh is one its caller may serve instead of a
	// failed answer (restclient's policy says when; its tests, which).
	lookup respcache.Lookup
}

// staleReady says that a stale entry stood ready to answer for the
// upstream.
func (a answer) staleReady() bool { return a.lookup.Found && !a.lookup.Fresh }

// get asks for path with credential (none if ""), through the cache, as
// restclient does: a fresh entry answers; else the upstream does, its 2xx
// answer stored, a 401 or 403 revoking the credential. Serving the stale
// entry when the upstream fails is the caller's (restclient's) policy:
// get returns the upstream's answer or error, with what the lookup found.
func (r *replica) get(ctx context.Context, path, credential string) (answer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.upstream+path, nil)
	if err != nil {
		return answer{}, err
	}
	if credential != "" {
		req.Header.Set("Authorization", credential)
	}
	req.Header.Set("X-Request-Id", "differs-every-time-"+time.Now().String())
	key := r.keyer.Key(req)
	l := r.cache.Lookup(ctx, key)
	if l.Fresh {
		return answer{Entry: l.Entry, source: "fresh", lookup: l}, nil
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return answer{lookup: l}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return answer{lookup: l}, err
	}
	e := respcache.Entry{Status: resp.StatusCode, Header: resp.Header, Body: body}
	if e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden {
		r.cache.Revoke(ctx, key)
	} else {
		r.cache.Store(ctx, l, e) // a 2xx only: Store refuses the rest
	}
	return answer{Entry: e, source: "upstream", lookup: l}, nil
}

func (r *replica) mustGet(t *testing.T, path, credential string) answer {
	t.Helper()
	res, err := r.get(context.Background(), path, credential)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return res
}

// allRedis returns every key in Redis with its value, read with SCAN so
// that nothing is missed whatever the count.
func allRedis(t *testing.T, redisURL string) map[string]string {
	t.Helper()
	rdb, err := redisconn.New(redisURL, redisconn.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	ctx := context.Background()
	out := map[string]string{}
	iter := rdb.Scan(ctx, 0, "*", 100).Iterator()
	for iter.Next(ctx) {
		v, err := rdb.Get(ctx, iter.Val()).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			t.Fatalf("GET %s: %v", iter.Val(), err)
		}
		out[iter.Val()] = v
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// entries keeps, of allRedis's answer, the cached answers: not the
// credentials' generations nor the epoch (generation.go).
func entries(all map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range all {
		if name := strings.TrimPrefix(k, respcache.DefaultPrefix); len(name) == 64 && strings.Trim(name, "0123456789abcdef") == "" {
			out[k] = v
		}
	}
	return out
}

func redisClient(t *testing.T, redisURL string) *redis.Client {
	t.Helper()
	rdb, err := redisconn.New(redisURL, redisconn.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// within fails the test if f has not returned after limit: Redis calls
// time out after 100 ms, so this proves nothing hangs on Redis without
// asserting how long anything took.
func within[T any](t *testing.T, limit time.Duration, f func() T) T {
	t.Helper()
	done := make(chan T, 1)
	go func() { done <- f() }()
	select {
	case v := <-done:
		return v
	case <-time.After(limit):
		t.Fatalf("still running after %v", limit)
		var zero T
		return zero
	}
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
