// Package respcache caches raw upstream answers (status, a few headers,
// body) across requests and, with Redis, across replicas, and keeps a
// recent answer past its freshness for its caller to serve when the
// upstream fails (stale-if-error): when a failure is one a stale answer
// may stand in for is the caller's policy (restclient's cache.go), the
// stale window and the refusals that end it are the cache's.
//
// Each caller's data stays its own: entries are found by a [Key], an
// HMAC-SHA256 of the whole outgoing request with the credential and every
// other header sent, so another credential never finds the entry, and
// neither keys nor values hold the credential. Only 2xx answers are stored;
// the upstream's Cache-Control is honoured (see [Cache.Store]). A
// credential the upstream refuses is served nothing it cached, on any
// path, in either tier, on any replica ([Cache.Revoke], generation.go).
//
// Two tiers: the process holds entries in an LRU bounded by bytes, and
// Redis, when configured, holds them for every replica and drops them at
// the end of their stale window. Redis is never a single point of failure:
// every call has a short timeout, a failure is logged once, counted through
// [Hooks], and followed by a short backoff during which the cache works
// from the process alone (fresh answers only: see generation.go); it then
// recovers by itself.
//
// Of salesgraph it imports only redisconn (for Health, its Redis fallback
// state) and flight (for the headers a key leaves out, and their
// encoding); it knows nothing of the upstream's endpoints or of GraphQL.
package respcache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/salesgraph/salesgraph/redisconn"
)

// Defaults for the zero [Options].
const (
	DefaultMaxBytes      = 64 << 20
	DefaultMaxEntryBytes = 4 << 20
	DefaultPrefix        = "salesgraph:cache:"
)

// DefaultKeepHeaders are the answer's headers an entry keeps; the others
// (Set-Cookie, Date, hop-by-hop headers) are dropped.
var DefaultKeepHeaders = []string{"Content-Type", "Etag", "Last-Modified"}

// Options configures a [Cache].
type Options struct {
	// TTL is how long an answer is fresh when its Cache-Control gives no
	// max-age; it must be positive (a cache with TTL 0 is not built).
	TTL time.Duration
	// StaleIfError is how long past its freshness an answer may still be
	// served when the upstream fails; 0 means never.
	StaleIfError time.Duration
	// MaxTTL caps a max-age from the upstream; 0 means TTL, so the upstream
	// can shorten our freshness but not lengthen it past what the operator
	// chose.
	MaxTTL time.Duration
	// IgnoreNoStore stores answers whose Cache-Control says no-store or
	// no-cache as if they had no Cache-Control: for TTL, with the stale
	// window. For upstreams that send it on everything (PHP's session
	// default); wrong for one that means it (per-user or fast-changing
	// data), which is then served up to TTL old.
	IgnoreNoStore bool
	// MaxBytes bounds what the process tier holds (DefaultMaxBytes if 0).
	MaxBytes int64
	// MaxEntryBytes is the largest entry stored in either tier
	// (DefaultMaxEntryBytes if 0, and never more than MaxBytes/4), so one
	// huge answer cannot flush the others.
	MaxEntryBytes int64
	// KeepHeaders are the answer's headers kept (DefaultKeepHeaders if nil).
	KeepHeaders []string

	// Redis, when set, shares entries between replicas; it should come
	// from redisconn. Replicas sharing it must compute keys with the same
	// secret ([NewKeyer]).
	Redis redis.Cmdable
	// Prefix namespaces the Redis keys (DefaultPrefix if empty).
	Prefix string
	// Timeout bounds each Redis call (redisconn.DefaultTimeout if 0).
	Timeout time.Duration
	// Backoff is how long Redis is left alone after a failed call
	// (redisconn.DefaultBackoff if 0; negative means none).
	Backoff time.Duration
	// Logger gets one warning when Redis becomes unavailable and one line
	// when it is back (slog.Default() if nil).
	Logger *slog.Logger
	// Hooks, for metrics.
	Hooks Hooks

	// Now is the clock (time.Now if nil); tests move it.
	Now func() time.Time
}

// Hooks are called synchronously; nil hooks are skipped.
type Hooks struct {
	// Hit: a fresh entry was found, in tier "process" or "redis".
	Hit func(tier string)
	// Miss: no fresh entry (there may be a stale one).
	Miss func()
	// RedisError: a Redis call failed ("get", "set", "del"), or a value in
	// Redis could not be read ("decode"); calls skipped in the backoff are
	// not counted.
	RedisError func(op string, err error)
	// Revoke: a credential was refused and lost what it had cached.
	Revoke func()
}

// A Cache is safe for concurrent use.
type Cache struct {
	ttl, stale, maxTTL time.Duration
	ignoreNoStore      bool
	maxEntry           int64
	keep               []string
	mem                *memory
	rdb                redis.Cmdable
	prefix             string
	timeout            time.Duration
	health             *redisconn.Health
	hooks              Hooks
	now                func() time.Time
	gens               *generations
}

// New returns a cache configured by o.
func New(o Options) (*Cache, error) {
	if o.TTL <= 0 {
		return nil, fmt.Errorf("respcache: TTL %v, want > 0", o.TTL)
	}
	if o.StaleIfError < 0 || o.MaxTTL < 0 || o.MaxBytes < 0 || o.MaxEntryBytes < 0 {
		return nil, errors.New("respcache: negative StaleIfError, MaxTTL, MaxBytes or MaxEntryBytes")
	}
	c := &Cache{
		ttl: o.TTL, stale: o.StaleIfError, maxTTL: o.MaxTTL, ignoreNoStore: o.IgnoreNoStore,
		keep: o.KeepHeaders, rdb: o.Redis, prefix: o.Prefix, timeout: o.Timeout,
		hooks: o.Hooks, now: o.Now,
	}
	if c.maxTTL == 0 {
		c.maxTTL = c.ttl
	}
	maxBytes := o.MaxBytes
	if maxBytes == 0 {
		maxBytes = DefaultMaxBytes
	}
	c.mem = newMemory(maxBytes)
	c.gens = newGenerations(maxBytes)
	c.maxEntry = o.MaxEntryBytes
	if c.maxEntry == 0 {
		c.maxEntry = DefaultMaxEntryBytes
	}
	c.maxEntry = min(c.maxEntry, maxBytes/4)
	if c.keep == nil {
		c.keep = DefaultKeepHeaders
	}
	if c.prefix == "" {
		c.prefix = DefaultPrefix
	}
	if c.timeout <= 0 {
		c.timeout = redisconn.DefaultTimeout
	}
	c.health = redisconn.NewHealth(o.Backoff, o.Logger,
		"redis unavailable: upstream cache served from this process only",
		"redis available again: upstream cache shared")
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

// A Lookup is what [Cache.Lookup] found for a key, and what [Cache.Store]
// needs to store the answer to the request it looked up.
type Lookup struct {
	// Entry is the entry found; the zero Entry when none was. It is
	// shared: do not modify it.
	Entry
	// Found: there is an entry within its stale window that may stand in
	// for a failed call. Fresh: it may be served as is.
	Found, Fresh bool

	key Key
	gen generation // the credential's, before the request was sent
}

// Lookup returns the entry stored under key, if its credential has not
// been refused since it was stored. A stale entry is returned (Found but
// not Fresh) so that the caller can serve it if the upstream then fails
// (restclient decides when), except while Redis is configured but cannot be
// asked: another replica may have seen the credential refused. The process
// tier is asked first, then Redis, in one round trip that also reads the
// credential's generation (for a process-tier hit too); a Redis failure is
// counted and leaves the process alone to answer.
func (c *Cache) Lookup(ctx context.Context, key Key) Lookup {
	now := c.now()
	l := Lookup{key: key}
	local, ok := c.mem.get(key)
	if ok && local.expired(now) {
		c.mem.remove(key)
		ok = false
	}
	var remote *Entry
	asked := false
	if c.rdb != nil {
		mark := c.gens.mark()
		if remote, l.gen, asked = c.redisLookup(ctx, key, !ok || !local.fresh(now)); asked {
			c.gens.learn(key.credential, l.gen, mark)
		}
	}
	if !asked {
		l.gen = c.gens.own(key.credential)
	}
	// Only a generation from the authority, Redis when there is one,
	// knows of every refusal: without it nothing stale is offered.
	authoritative := asked || c.rdb == nil
	if ok && local.gen != l.gen {
		c.mem.remove(key) // its credential was refused since
		ok = false
	}
	if ok && local.fresh(now) {
		callTier(c.hooks.Hit, "process")
		l.Entry, l.Found, l.Fresh = *local, true, true
		return l
	}
	// Another replica may have stored a fresher answer than our stale one.
	if remote != nil && remote.gen == l.gen && !remote.expired(now) && (!ok || remote.StoredAt.After(local.StoredAt)) {
		if remote.size() <= c.maxEntry {
			c.mem.add(key, remote)
		}
		if remote.fresh(now) {
			callTier(c.hooks.Hit, "redis")
			l.Entry, l.Found, l.Fresh = *remote, true, true
			return l
		}
		local, ok = remote, true
	}
	callNone(c.hooks.Miss)
	if ok && authoritative {
		l.Entry, l.Found = *local, true
	}
	return l
}

// Store keeps an upstream answer under key, if it may be kept: e.Header is
// the answer's whole header, from which Cache-Control and Vary are read and
// KeepHeaders kept. The rules:
//   - only 2xx answers (but 206) are stored: errors, 401 and 403 never;
//   - Cache-Control no-store or no-cache (we never revalidate), or Vary: *,
//     and the answer is not stored (unless IgnoreNoStore: then a no-store
//     or no-cache answer is stored as if it had no Cache-Control);
//   - s-maxage, else max-age, replaces the TTL, capped at MaxTTL; an
//     invalid value counts as 0, as RFC 9111 says, leaving the answer only
//     for stale-if-error;
//   - without Cache-Control, or without an age in it, the TTL applies;
//   - must-revalidate or proxy-revalidate: never served stale;
//   - private is allowed: the key holds the credential, so an answer only
//     ever goes back to the caller who could have asked for it;
//   - Expires and Age are not read.
//
// The answer is stored under the key l was looked up with, for the
// credential's generation at that lookup: if the credential was refused
// since, it is not stored, or never served. StoredAt, FreshFor and
// StaleFor are set here. The body is copied. It reports whether the answer
// was stored (in the process at least; a Redis failure is counted, not
// returned) and, when the answer itself forbade it, what did: "no-store",
// "no-cache", "Vary: *" or "max-age=0".
func (c *Cache) Store(ctx context.Context, l Lookup, e Entry) (stored bool, forbiddenBy string) {
	p := cachePolicy(e.Status, e.Header, c.ttl, c.stale, c.maxTTL, c.ignoreNoStore)
	if !p.store {
		return false, p.forbiddenBy
	}
	if l.gen.none() || c.gens.current(l.key.credential) != l.gen {
		return false, ""
	}
	kept := Entry{
		Status:   e.Status,
		Body:     bytes.Clone(e.Body),
		StoredAt: c.now(),
		FreshFor: p.freshFor,
		StaleFor: p.staleFor,
		gen:      l.gen,
	}
	for _, name := range c.keep {
		if vs := e.Header.Values(name); len(vs) > 0 {
			if kept.Header == nil {
				kept.Header = make(http.Header, len(c.keep))
			}
			kept.Header[http.CanonicalHeaderKey(name)] = append([]string(nil), vs...)
		}
	}
	if kept.Body == nil {
		kept.Body = []byte{}
	}
	if kept.size() > c.maxEntry {
		return false, ""
	}
	c.mem.add(l.key, &kept)
	c.redisSet(ctx, l.key, &kept)
	return true, ""
}

// Usage reports the entries and bytes the process tier holds.
func (c *Cache) Usage() (entries int, bytes int64) { return c.mem.usage() }

func (c *Cache) redisKey(k Key) string { return c.prefix + k.String() }

// redisLookup asks Redis, in one round trip, for key's credential's
// generation, creating it (and the epoch) if absent, and, if withEntry,
// for the entry; it first deletes the generations of the refusals Redis
// has not heard of. asked is false when Redis could not be asked; gen is
// none if a refusal deleted it in between. An entry is returned whatever
// its generation.
func (c *Cache) redisLookup(ctx context.Context, key Key, withEntry bool) (e *Entry, gen generation, asked bool) {
	if c.health.Skip() {
		return nil, generation{}, false
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	refused, lost := c.gens.pendingNow()
	epoch, own := randomHalf(), randomHalf()
	genKey := c.genKey(key.credential)
	var epochCmd, genCmd, entryCmd *redis.StringCmd
	cmds, _ := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		if lost {
			p.Del(ctx, c.epochKey())
		}
		for _, cr := range refused {
			p.Del(ctx, c.genKey(cr))
		}
		p.SetNX(ctx, c.epochKey(), epoch[:], 0)
		p.SetNX(ctx, genKey, own[:], pendingGenTTL)
		epochCmd, genCmd = p.Get(ctx, c.epochKey()), p.Get(ctx, genKey)
		if withEntry {
			entryCmd = p.Get(ctx, c.redisKey(key))
		}
		return nil
	})
	for _, cmd := range cmds {
		if err := cmd.Err(); err != nil && !errors.Is(err, redis.Nil) {
			c.failed("get", err)
			return nil, generation{}, false
		}
	}
	c.health.Succeeded()
	c.gens.sent(refused, lost)
	ep, _ := epochCmd.Bytes()
	g, _ := genCmd.Bytes()
	if len(ep) == 8 && len(g) == 8 {
		copy(gen[:8], ep)
		copy(gen[8:], g)
	}
	if entryCmd == nil {
		return nil, gen, true
	}
	b, err := entryCmd.Bytes()
	if err != nil {
		return nil, gen, true // none
	}
	got, err := decode(b)
	if err != nil {
		// Not Redis's fault: count it, but no backoff.
		if c.hooks.RedisError != nil {
			c.hooks.RedisError("decode", err)
		}
		return nil, gen, true
	}
	return &got, gen, true
}

// redisSet stores e until the end of its stale window, by Redis's clock,
// so Redis never holds an entry no replica could serve, and keeps its
// generation as long. An entry of a generation the process made alone is
// not shared.
func (c *Cache) redisSet(ctx context.Context, key Key, e *Entry) {
	if c.rdb == nil || e.gen.local() || c.health.Skip() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	cmds, _ := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, c.redisKey(key), encode(e), e.FreshFor+e.StaleFor)
		p.PExpire(ctx, c.genKey(key.credential), c.genTTL())
		return nil
	})
	for _, cmd := range cmds {
		if err := cmd.Err(); err != nil {
			c.failed("set", err)
			return
		}
	}
	c.health.Succeeded()
}

func (c *Cache) failed(op string, err error) {
	if c.hooks.RedisError != nil {
		c.hooks.RedisError(op, err)
	}
	c.health.Failed(op, err)
}

func callTier(f func(string), tier string) {
	if f != nil {
		f(tier)
	}
}

func callNone(f func()) {
	if f != nil {
		f()
	}
}

// Age is e's age by the cache's clock, for a caller serving an entry
// from Lookup.
func (c *Cache) Age(e Entry) time.Duration { return e.Age(c.now()) }
