package respcache_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/salesgraph/salesgraph/internal/redistest"
	"github.com/salesgraph/salesgraph/respcache"
	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

// The refusal of a credential (generation.go). The end-to-end tests are in
// package main (TestARefusedCredentialLosesWhatItCached…); these hold what
// only the cache can show.

// refuse makes the upstream refuse token's next request.
func refuse(srv *fakeapi.Server) {
	srv.Inject(fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: http.StatusForbidden, Credential: token, Times: 1})
}

func keyFor(r *replica, path, credential string) respcache.Key {
	req, _ := http.NewRequest(http.MethodGet, r.upstream+path, nil)
	if credential != "" {
		req.Header.Set("Authorization", credential)
	}
	return r.keyer.Key(req)
}

// TestAnAnswerFetchedBeforeARefusalIsNotServedAfterIt: an answer whose
// request was looked up before the credential was refused, and stored
// after, is never served, with Redis or without.
func TestAnAnswerFetchedBeforeARefusalIsNotServedAfterIt(t *testing.T) {
	for _, shared := range []bool{false, true} {
		t.Run(map[bool]string{false: "process", true: "redis"}[shared], func(t *testing.T) {
			url := ""
			if shared {
				url = redistest.Start(t).URL
			}
			a := newReplica(t, "http://crm.example", url, options(nil))
			ctx := context.Background()
			key := keyFor(a, meetingsPath(1), token)
			before := a.cache.Lookup(ctx, key)
			a.cache.Revoke(ctx, keyFor(a, meetingsPath(2), token)) // another path, the same credential
			a.cache.Store(ctx, before, respcache.Entry{Status: 200, Body: []byte(`{}`)})
			if l := a.cache.Lookup(ctx, key); l.Found {
				t.Fatal("an answer fetched before the refusal was served after it")
			}
			// Looked up after the refusal: stored and served.
			after := a.cache.Lookup(ctx, key)
			if stored, _ := a.cache.Store(ctx, after, respcache.Entry{Status: 200, Body: []byte(`{}`)}); !stored || !a.cache.Lookup(ctx, key).Fresh {
				t.Fatal("an answer fetched after the refusal was not cached")
			}
		})
	}
}

// TestARefusalReachesEveryPathOfTheCredential: a 403 on one path revokes
// the credential: its entry on another path is no longer found, even
// stale, while another credential's is.
func TestARefusalReachesEveryPathOfTheCredential(t *testing.T) {
	srv := fakeapi.NewServer(fakeapi.WithTenant(tenantToken, 2))
	defer srv.Close()
	clk := newClock()
	o := options(clk)
	a := newReplica(t, srv.URL, "", o)
	a.mustGet(t, meetingsPath(4), token)
	a.mustGet(t, meetingsPath(4), tenantToken)
	clk.Advance(o.TTL + time.Second)
	refuse(srv)
	if res := a.mustGet(t, meetingsPath(5), token); res.Status != http.StatusForbidden {
		t.Fatalf("status %d, want the upstream's 403", res.Status)
	}
	srv.Inject(fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: http.StatusServiceUnavailable})
	if res := a.mustGet(t, meetingsPath(4), token); res.lookup.Found {
		t.Fatal("a refused credential's entry was found")
	}
	if res := a.mustGet(t, meetingsPath(4), tenantToken); !res.staleReady() {
		t.Fatal("another credential: its stale entry was not found")
	}
}

// credentialKeys counts the generations in Redis.
func credentialKeys(t *testing.T, url string) int {
	n := 0
	for k := range allRedis(t, url) {
		if strings.HasPrefix(k, respcache.DefaultPrefix+"cred:") {
			n++
		}
	}
	return n
}

// TestARefusalDuringARedisOutage: while Redis cannot be asked, nothing
// stale is served (another replica may have seen a refusal), fresh answers
// are; a refusal seen meanwhile reaches Redis with the first call that
// does, and the other replica then serves the credential nothing.
func TestARefusalDuringARedisOutage(t *testing.T) {
	srv := fakeapi.NewServer(fakeapi.WithTenant(tenantToken, 2))
	defer srv.Close()
	rs := redistest.Start(t)
	clk := newClock()
	o := options(clk)
	// Timeouts only while Redis is frozen, not because the machine is
	// loaded: the test counts upstream calls.
	o.Timeout, o.Backoff = time.Second, 200*time.Millisecond
	a := newReplica(t, srv.URL, rs.URL, o)
	b := newReplica(t, srv.URL, rs.URL, o)
	for _, r := range []*replica{a, b} {
		r.mustGet(t, meetingsPath(4), token)
		r.mustGet(t, meetingsPath(4), tenantToken)
	}
	if n := srv.Calls(); n != 2 {
		t.Fatalf("%d upstream calls, want 2", n)
	}

	rs.Freeze()
	thawed := false
	defer func() {
		if !thawed {
			rs.Thaw()
		}
	}()
	refuse(srv)
	if res := a.mustGet(t, meetingsPath(5), token); res.Status != http.StatusForbidden {
		t.Fatalf("status %d, want the upstream's 403", res.Status)
	}
	if res := b.mustGet(t, meetingsPath(4), token); res.source != "fresh" {
		t.Fatalf("b, fresh, Redis unreachable: source %v", res.source)
	}
	if res := a.mustGet(t, meetingsPath(4), token); res.source == "fresh" {
		t.Fatal("a served the credential it saw refused")
	}
	clk.Advance(o.TTL + time.Second)
	srv.Inject(fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: http.StatusServiceUnavailable})
	for _, cred := range []string{token, tenantToken} {
		if res := b.mustGet(t, meetingsPath(4), cred); res.staleReady() {
			t.Fatalf("b served %q a stale answer while Redis was unreachable", cred)
		}
	}

	rs.Thaw()
	thawed = true
	waitUntil(t, "a tells Redis of the refusal", func() bool {
		a.mustGet(t, meetingsPath(4), tenantToken) // any call that reaches Redis
		return credentialKeys(t, rs.URL) == 1
	})
	waitUntil(t, "b asks Redis again", func() bool {
		return b.mustGet(t, meetingsPath(4), tenantToken).staleReady()
	})
	if res := b.mustGet(t, meetingsPath(4), token); res.staleReady() {
		t.Fatal("b served the refused credential a stale answer once Redis was back")
	}
}

// roundTrips counts the calls a Redis client makes, a pipeline being one.
type roundTrips struct {
	mu       sync.Mutex
	n        int
	commands []string
}

func (r *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (r *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		r.count(cmd)
		return next(ctx, cmd)
	}
}

func (r *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		r.count(cmds...)
		return next(ctx, cmds)
	}
}

func (r *roundTrips) count(cmds ...redis.Cmder) {
	if len(cmds) == 1 && cmds[0].Name() == "hello" {
		return // a new connection's handshake
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	for _, c := range cmds {
		r.commands = append(r.commands, c.Name())
	}
}

func (r *roundTrips) take() (n int, commands []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n, commands = r.n, r.commands
	r.n, r.commands = 0, nil
	return n, commands
}

// TestWhatALookupCostsRedis: every lookup, a process-tier hit included, is
// one Redis round trip, which reads the credential's generation with the
// entry; a store is one, a refusal one.
func TestWhatALookupCostsRedis(t *testing.T) {
	rs := redistest.Start(t)
	rdb := redisClient(t, rs.URL)
	ctx := context.Background()
	trips := &roundTrips{}
	rdb.AddHook(trips)
	o := options(nil)
	o.Redis = rdb
	c, err := respcache.New(o)
	if err != nil {
		t.Fatal(err)
	}
	keyer := mustKeyer(t, secret)
	r, _ := http.NewRequest(http.MethodGet, "http://crm.example/api/v1/users/1/meetings", nil)
	r.Header.Set("Authorization", token)
	key := keyer.Key(r)
	var l respcache.Lookup
	for _, step := range []struct {
		name string
		do   func()
	}{
		{"a miss", func() { l = c.Lookup(ctx, key) }},
		{"a store", func() {
			if stored, _ := c.Store(ctx, l, respcache.Entry{Status: 200, Body: []byte(`{}`)}); !stored {
				t.Fatal("not stored")
			}
		}},
		{"a process-tier hit", func() {
			if !c.Lookup(ctx, key).Fresh {
				t.Fatal("no hit")
			}
		}},
		{"a refusal", func() { c.Revoke(ctx, key) }},
	} {
		step.do()
		n, commands := trips.take()
		t.Logf("%s: %d Redis round trip(s): %v", step.name, n, commands)
		if n != 1 {
			t.Errorf("%s: %d Redis round trips, want 1", step.name, n)
		}
	}
}
