package respcache_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/salesgraph/salesgraph/internal/redistest"
	"github.com/salesgraph/salesgraph/respcache"
	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

const (
	token       = fakeapi.DefaultToken
	tenantToken = "Bearer tenant-b-token"
)

func meetingsPath(user int64) string { return fmt.Sprintf("/api/v1/users/%d/meetings", user) }

func threadsPath(user int64, page int) string {
	return fmt.Sprintf("/api/v1/users/%d/threads?page=%d", user, page)
}

// firstMeetingHash is what identifies user's meetings answer in the
// dataset behind credential.
func firstMeetingHash(t *testing.T, srv *fakeapi.Server, credential string, user int64) string {
	t.Helper()
	u, ok := srv.DatasetFor(credential).User(user)
	if !ok || len(u.Meetings) == 0 {
		t.Fatalf("dataset has no meetings for user %d", user)
	}
	return u.Meetings[0].Hash
}

func TestTwoReplicasShareAnswers(t *testing.T) {
	srv := fakeapi.NewServer()
	defer srv.Close()
	rs := redistest.Start(t)
	a := newReplica(t, srv.URL, rs.URL, options(nil))
	b := newReplica(t, srv.URL, rs.URL, options(nil))

	first := a.mustGet(t, meetingsPath(3), token)
	if first.source != "upstream" || first.Status != http.StatusOK {
		t.Fatalf("first answer: source %v, status %d", first.source, first.Status)
	}
	if !bytes.Contains(first.Body, []byte(firstMeetingHash(t, srv, token, 3))) {
		t.Fatal("the answer does not hold user 3's first meeting")
	}
	got := b.mustGet(t, meetingsPath(3), token)
	if got.source != "fresh" || !bytes.Equal(got.Body, first.Body) {
		t.Fatalf("b: source %v, same body %v", got.source, bytes.Equal(got.Body, first.Body))
	}
	if got.Header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Errorf("kept Content-Type %q", got.Header.Get("Content-Type"))
	}
	b.mustGet(t, meetingsPath(3), token)
	if n := srv.Calls(); n != 1 {
		t.Errorf("%d upstream calls for three requests on two replicas, want 1", n)
	}
	if b.seen.hit("redis") != 1 || b.seen.hit("process") != 1 || b.seen.misses.Load() != 0 {
		t.Errorf("b's hooks: redis hits %d, process hits %d, misses %d; want 1, 1, 0",
			b.seen.hit("redis"), b.seen.hit("process"), b.seen.misses.Load())
	}
}

func TestAnotherCredentialIsNeverServed(t *testing.T) {
	srv := fakeapi.NewServer(fakeapi.WithTenant(tenantToken, 2))
	defer srv.Close()
	rs := redistest.Start(t)
	a := newReplica(t, srv.URL, rs.URL, options(nil))
	b := newReplica(t, srv.URL, rs.URL, options(nil))

	a.mustGet(t, meetingsPath(5), token)
	other := b.mustGet(t, meetingsPath(5), tenantToken)
	if other.source != "upstream" || srv.CallsBy(tenantToken) != 1 {
		t.Fatalf("tenant's request: source %v, %d upstream calls by the tenant", other.source, srv.CallsBy(tenantToken))
	}
	if !bytes.Contains(other.Body, []byte(firstMeetingHash(t, srv, tenantToken, 5))) ||
		bytes.Contains(other.Body, []byte(firstMeetingHash(t, srv, token, 5))) {
		t.Fatal("the tenant got data that is not its own")
	}
	// Refused credentials are asked every time: a 403 is never stored.
	for _, cred := range []string{"Bearer wrong", ""} {
		for range 2 {
			res := a.mustGet(t, meetingsPath(5), cred)
			if res.source != "upstream" || res.Status != http.StatusForbidden {
				t.Fatalf("credential %q: source %v, status %d", cred, res.source, res.Status)
			}
		}
		if n := srv.CallsBy(cred); n != 2 {
			t.Errorf("credential %q: %d upstream calls for two requests, want 2", cred, n)
		}
	}
}

func TestRedisHoldsNoCredential(t *testing.T) {
	srv := fakeapi.NewServer(fakeapi.WithTenant(tenantToken, 2))
	defer srv.Close()
	rs := redistest.Start(t)
	a := newReplica(t, srv.URL, rs.URL, options(nil))
	for _, cred := range []string{token, tenantToken, "Bearer wrong", ""} {
		a.mustGet(t, meetingsPath(1), cred)
		a.mustGet(t, threadsPath(1, 2), cred)
	}
	all := allRedis(t, rs.URL)
	if n := len(entries(all)); n != 4 {
		t.Errorf("%d entries in Redis, want 4 (two answers for each accepted credential)", n)
	}
	for k, v := range all {
		if !strings.HasPrefix(k, respcache.DefaultPrefix) {
			t.Errorf("key %q outside the namespace", k)
		}
		for _, secret := range []string{token, tenantToken, "fakeapi-demo-token", "tenant-b-token", "Bearer", "Authorization"} {
			if strings.Contains(k, secret) || strings.Contains(v, secret) {
				t.Errorf("key %q or its value holds %q", k, secret)
			}
		}
	}
}

func TestRedisEntriesExpireAtTheEndOfTheStaleWindow(t *testing.T) {
	srv := fakeapi.NewServer()
	defer srv.Close()
	rs := redistest.Start(t)
	o := options(nil)
	a := newReplica(t, srv.URL, rs.URL, o)
	a.mustGet(t, meetingsPath(2), token)
	rdb := redisClient(t, rs.URL)
	all := allRedis(t, rs.URL)
	for k := range entries(all) {
		ttl := rdb.PTTL(context.Background(), k).Val()
		if ttl <= o.StaleIfError || ttl > o.TTL+o.StaleIfError {
			t.Errorf("PTTL %v, want in (%v, %v]", ttl, o.StaleIfError, o.TTL+o.StaleIfError)
		}
	}
	// The credential's generation lives as long as an entry may; the
	// epoch, for good.
	for k := range all {
		ttl := rdb.PTTL(context.Background(), k).Val()
		switch {
		case k == respcache.DefaultPrefix+"epoch":
			if ttl != -1 {
				t.Errorf("epoch: PTTL %v, want none", ttl)
			}
		case strings.HasPrefix(k, respcache.DefaultPrefix+"cred:"):
			if ttl <= o.StaleIfError || ttl > o.TTL+o.StaleIfError {
				t.Errorf("generation: PTTL %v, want in (%v, %v]", ttl, o.StaleIfError, o.TTL+o.StaleIfError)
			}
		}
	}
	if len(all) != 3 {
		t.Errorf("%d keys in Redis, want 3: the entry, its credential's generation, the epoch", len(all))
	}
}

// TestAStaleEntryStandsReadyWithinItsWindow: past its freshness, within
// its stale window, an entry is found (not fresh) by the replica that holds
// it in process and by another through Redis, with its age, ready to stand
// in for a failed answer; past the window, it is not found. Which failures
// it stands in for is restclient's policy (TestCacheStaleIfError).
func TestAStaleEntryStandsReadyWithinItsWindow(t *testing.T) {
	srv := fakeapi.NewServer()
	defer srv.Close()
	rs := redistest.Start(t)
	clk := newClock()
	o := options(clk)
	a := newReplica(t, srv.URL, rs.URL, o)
	b := newReplica(t, srv.URL, rs.URL, o)
	good := a.mustGet(t, meetingsPath(4), token)

	clk.Advance(o.TTL + time.Second)
	srv.Inject(fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: 503})
	// a has the entry in process, b only through Redis: both find it.
	for name, r := range map[string]*replica{"a": a, "b": b} {
		res := r.mustGet(t, meetingsPath(4), token)
		if res.Status != http.StatusServiceUnavailable || !res.staleReady() || !bytes.Equal(res.lookup.Body, good.Body) {
			t.Fatalf("%s past the TTL with the upstream failing: status %d, stale entry ready %v", name, res.Status, res.staleReady())
		}
		if age := r.cache.Age(res.lookup.Entry); age != o.TTL+time.Second {
			t.Errorf("%s: age %v, want %v", name, age, o.TTL+time.Second)
		}
	}

	clk.Advance(o.StaleIfError)
	if res := a.mustGet(t, meetingsPath(4), token); res.lookup.Found {
		t.Fatalf("past the stale window: found, %v old", a.cache.Age(res.lookup.Entry))
	}
}

// TestNoStaleEntryForARefusedCredential: a credential the upstream refused
// finds nothing its caller could serve stale.
func TestNoStaleEntryForARefusedCredential(t *testing.T) {
	srv := fakeapi.NewServer()
	defer srv.Close()
	clk := newClock()
	o := options(clk)
	a := newReplica(t, srv.URL, "", o)
	a.mustGet(t, meetingsPath(4), token)
	clk.Advance(o.TTL + time.Second)
	// The credential was revoked: its holder must not keep reading data.
	remove := srv.Inject(fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: http.StatusForbidden})
	if res := a.mustGet(t, meetingsPath(4), token); res.source != "upstream" || res.Status != http.StatusForbidden || !res.staleReady() {
		t.Fatalf("source %v, status %d, stale entry ready %v; want the upstream's 403, with the entry found before it", res.source, res.Status, res.staleReady())
	}
	remove()
	srv.Inject(fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: http.StatusServiceUnavailable})
	if res := a.mustGet(t, meetingsPath(4), token); res.lookup.Found {
		t.Fatal("the refused credential's entry is still found")
	}
}

func TestAStaleLocalEntryGivesWayToAFresherSharedOne(t *testing.T) {
	srv := fakeapi.NewServer()
	defer srv.Close()
	rs := redistest.Start(t)
	clk := newClock()
	o := options(clk)
	a := newReplica(t, srv.URL, rs.URL, o)
	b := newReplica(t, srv.URL, rs.URL, o)
	a.mustGet(t, meetingsPath(6), token)
	b.mustGet(t, meetingsPath(6), token) // b now holds it in process
	clk.Advance(o.TTL + time.Second)
	if res := a.mustGet(t, meetingsPath(6), token); res.source != "upstream" {
		t.Fatalf("a past the TTL: %v", res.source)
	}
	if res := b.mustGet(t, meetingsPath(6), token); res.source != "fresh" {
		t.Fatalf("b after a refreshed it: %v", res.source)
	}
	if n := srv.Calls(); n != 2 {
		t.Errorf("%d upstream calls, want 2 (one per TTL)", n)
	}
}

func TestCacheControlIsHonoured(t *testing.T) {
	rs := redistest.Start(t)
	o := options(nil)
	a := newReplica(t, "http://unused", rs.URL, o)
	ctx := context.Background()
	keyOf := func(path string) respcache.Key {
		r, _ := http.NewRequest(http.MethodGet, "http://crm.example"+path, nil)
		return a.keyer.Key(r)
	}
	answer := func(cc string) respcache.Entry {
		return respcache.Entry{Status: 200, Header: http.Header{"Cache-Control": {cc}, "Set-Cookie": {"s=1"}}, Body: []byte(`{}`)}
	}
	if stored, by := a.cache.Store(ctx, a.cache.Lookup(ctx, keyOf("/no-store")), answer("no-store")); stored || by != "no-store" {
		t.Errorf("a no-store answer: stored %v, forbidden by %q", stored, by)
	}
	if a.cache.Lookup(ctx, keyOf("/no-store")).Found {
		t.Error("a no-store answer was found")
	}
	if stored, _ := a.cache.Store(ctx, a.cache.Lookup(ctx, keyOf("/short")), answer("max-age=5")); !stored {
		t.Fatal("a max-age=5 answer was not stored")
	}
	l := a.cache.Lookup(ctx, keyOf("/short"))
	if !l.Found || !l.Fresh || l.FreshFor != 5*time.Second || l.Header.Get("Set-Cookie") != "" {
		t.Errorf("max-age=5: found %v, fresh %v, FreshFor %v, Set-Cookie %q", l.Found, l.Fresh, l.FreshFor, l.Header.Get("Set-Cookie"))
	}
	all := entries(allRedis(t, rs.URL))
	if len(all) != 1 {
		t.Fatalf("%d entries in Redis, want 1", len(all))
	}
	for k := range all {
		if ttl := redisClient(t, rs.URL).PTTL(ctx, k).Val(); ttl > 5*time.Second+o.StaleIfError {
			t.Errorf("PTTL %v, want at most max-age plus the stale window", ttl)
		}
	}
}

func TestTheProcessTierIsBoundedByBytes(t *testing.T) {
	o := options(nil)
	o.MaxBytes = 64 << 10
	a := newReplica(t, "http://unused", "", o)
	ctx := context.Background()
	body := bytes.Repeat([]byte("x"), 2<<10)
	var keys []respcache.Key
	for i := range 100 {
		r, _ := http.NewRequest(http.MethodGet, "http://crm.example/"+strconv.Itoa(i), nil)
		k := a.keyer.Key(r)
		keys = append(keys, k)
		if stored, _ := a.cache.Store(ctx, a.cache.Lookup(ctx, k), respcache.Entry{Status: 200, Body: body}); !stored {
			t.Fatalf("entry %d not stored", i)
		}
	}
	entries, used := a.cache.Usage()
	if used > o.MaxBytes || entries >= 100 || entries < 20 {
		t.Fatalf("%d entries, %d bytes; want at most %d bytes, so fewer than 100 entries but more than 20", entries, used, o.MaxBytes)
	}
	if a.cache.Lookup(ctx, keys[0]).Found {
		t.Error("the least recently used entry was kept")
	}
	if !a.cache.Lookup(ctx, keys[99]).Fresh {
		t.Error("the newest entry was evicted")
	}
	// One answer larger than a quarter of the budget would flush the rest.
	r, _ := http.NewRequest(http.MethodGet, "http://crm.example/huge", nil)
	if stored, _ := a.cache.Store(ctx, a.cache.Lookup(ctx, a.keyer.Key(r)), respcache.Entry{Status: 200, Body: make([]byte, o.MaxBytes/2)}); stored {
		t.Error("an entry of half the budget was stored")
	}
}

func TestRedisKilledMidLoad(t *testing.T) {
	srv := fakeapi.NewServer()
	defer srv.Close()
	rs := redistest.Start(t)
	a := newReplica(t, srv.URL, rs.URL, options(nil))
	b := newReplica(t, srv.URL, rs.URL, options(nil))
	replicas := []*replica{a, b}

	// Workers cycle through 200 requests (50 users' meetings and three
	// threads pages) on both replicas, so that misses keep reaching Redis;
	// the test kills Redis after the first 60 operations and restarts it
	// after 120 more, counting operations rather than waiting.
	const workers, users = 4, 50
	path := func(n int) string {
		user := int64(1 + n%users)
		if page := (n / users) % 4; page > 0 {
			return threadsPath(user, page)
		}
		return meetingsPath(user)
	}
	ops := make(chan error, 1024)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				r := replicas[(w+i)%2]
				res, err := r.get(context.Background(), path(w*61+i*workers), token)
				if err == nil && res.Status != http.StatusOK {
					err = fmt.Errorf("status %d", res.Status)
				}
				ops <- err
			}
		})
	}
	done := 0
	wait := func(n int) {
		t.Helper()
		within(t, 30*time.Second, func() bool {
			for range n {
				if err := <-ops; err != nil {
					t.Errorf("operation failed: %v", err)
				}
				done++
			}
			return true
		})
	}
	wait(60)
	rs.Kill()
	wait(120)
	rs.Restart()
	wait(60)
	close(stop)
	go func() { wg.Wait(); close(ops) }()
	for err := range ops {
		if err != nil {
			t.Errorf("operation failed: %v", err)
		}
	}
	if a.seen.redisErrors.Load()+b.seen.redisErrors.Load() == 0 {
		t.Error("no Redis error counted while Redis was down")
	}
	// Shared again: an answer a stores after the restart is served by b
	// from Redis. Each attempt asks for a request neither has seen.
	next := 0
	waitUntil(t, "sharing after the restart", func() bool {
		next++
		p := fmt.Sprintf("/api/v1/users/%d/threads?page=1&per_page=%d", 1+next%users, 1+next%100)
		hits := b.seen.hit("redis")
		a.mustGet(t, p, token)
		return b.mustGet(t, p, token).source == "fresh" && b.seen.hit("redis") == hits+1
	})
	t.Logf("%d operations, %d upstream calls for %d users; Redis errors counted: a %d, b %d",
		done, srv.Calls(), users, a.seen.redisErrors.Load(), b.seen.redisErrors.Load())
}

func TestFrozenRedisCostsOneTimeoutPerBackoff(t *testing.T) {
	srv := fakeapi.NewServer()
	defer srv.Close()
	rs := redistest.Start(t)
	o := options(nil)
	o.Backoff = time.Hour
	a := newReplica(t, srv.URL, rs.URL, o)
	rs.Freeze()
	defer rs.Thaw()
	for user := range int64(10) {
		res := within(t, 2*time.Second, func() answer { return a.mustGet(t, meetingsPath(user+1), token) })
		if res.source != "upstream" || res.Status != http.StatusOK {
			t.Fatalf("with Redis frozen: source %v, status %d", res.source, res.Status)
		}
	}
	// The first call timed out; the backoff spared the other nine.
	if n := a.seen.redisErrors.Load(); n != 1 {
		t.Errorf("%d Redis errors, want 1", n)
	}
	// The process tier still works.
	if res := a.mustGet(t, meetingsPath(1), token); res.source != "fresh" {
		t.Errorf("repeat with Redis frozen: %v", res.source)
	}
}

// TestUpstreamCallsWithAndWithoutTheCache runs one load, every user's
// meetings and first threads page asked three times on each of two
// replicas, without a cache, with a cache per process and with the shared
// cache, and counts the upstream calls each costs.
func TestUpstreamCallsWithAndWithoutTheCache(t *testing.T) {
	const rounds = 3
	run := func(t *testing.T, get func(r int, path string) answer, srv *fakeapi.Server) int {
		users := int64(len(srv.Dataset().Users))
		for range rounds {
			for r := range 2 {
				for u := int64(1); u <= users; u++ {
					for _, p := range []string{meetingsPath(u), threadsPath(u, 1)} {
						if res := get(r, p); res.Status != http.StatusOK {
							t.Fatalf("%s: status %d", p, res.Status)
						}
					}
				}
			}
		}
		return srv.Calls()
	}
	distinct := 2 * len(fakeapi.NewDataset().Users)
	requests := rounds * 2 * distinct

	srv := fakeapi.NewServer()
	defer srv.Close()
	client := &http.Client{Timeout: 10 * time.Second}
	none := run(t, func(_ int, p string) answer {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+p, nil)
		req.Header.Set("Authorization", token)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return answer{Entry: respcache.Entry{Status: resp.StatusCode}}
	}, srv)

	srv2 := fakeapi.NewServer()
	defer srv2.Close()
	local := []*replica{newReplica(t, srv2.URL, "", options(nil)), newReplica(t, srv2.URL, "", options(nil))}
	perProcess := run(t, func(r int, p string) answer { return local[r].mustGet(t, p, token) }, srv2)

	srv3 := fakeapi.NewServer()
	defer srv3.Close()
	rs := redistest.Start(t)
	shared := []*replica{newReplica(t, srv3.URL, rs.URL, options(nil)), newReplica(t, srv3.URL, rs.URL, options(nil))}
	sharedCalls := run(t, func(r int, p string) answer { return shared[r].mustGet(t, p, token) }, srv3)

	t.Logf("%d requests (%d distinct) on two replicas: %d upstream calls without a cache, %d with a cache per process, %d with the shared cache",
		requests, distinct, none, perProcess, sharedCalls)
	if none != requests || perProcess != 2*distinct || sharedCalls != distinct {
		t.Errorf("upstream calls %d, %d, %d; want %d, %d, %d", none, perProcess, sharedCalls, requests, 2*distinct, distinct)
	}
}
