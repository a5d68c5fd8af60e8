// Package replicas builds what salesgraph's replicas share through Redis
// (issue 13), from its settings (Options): one Redis client when redis-url
// is set, the persisted queries (pqstore), the upstream response cache
// (respcache) and the upstream rate limit (ratelimit). Without Redis each
// part works in this process alone. Package main hands the result to the
// upstream client and the endpoint.
package replicas

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/salesgraph/salesgraph/gqlhttp"
	"github.com/salesgraph/salesgraph/observe"
	"github.com/salesgraph/salesgraph/pqstore"
	"github.com/salesgraph/salesgraph/ratelimit"
	"github.com/salesgraph/salesgraph/redisconn"
	"github.com/salesgraph/salesgraph/respcache"
	"github.com/salesgraph/salesgraph/restclient"
)

// Options are the settings of what the replicas share (package main
// copies them from config.Replicas, field for field).
type Options struct {
	RedisURL           string        // redis:// or rediss://; empty shares nothing
	RedisTimeout       time.Duration // bounds every Redis call of every part
	CacheTTL           time.Duration // how long an upstream answer is fresh; 0: no cache
	CacheStaleIfError  time.Duration // how long past CacheTTL an answer is served when the upstream fails
	CacheKeySecret     string        // keys the cache's HMAC, shared by the replicas; empty: random per process
	CacheMaxBytes      int64         // the cache's in-process tier
	CacheIgnoreNoStore bool          // cache answers the upstream marks no-store or no-cache anyway
	UpstreamRateLimit  float64       // calls per second across the replicas; 0: no limit
	Count              int           // the most replicas that run: while Redis is down each keeps to UpstreamRateLimit / Count
}

// Parts is what New builds: restclient options, the APQ store for the
// endpoint (nil: gqlhttp's own LRU), and what closes Redis.
type Parts struct {
	Client []restclient.Option
	APQ    gqlhttp.APQStore
	Close  func()
}

// New builds what the replicas share from cfg: one
// Redis client when -redis-url is set, persisted queries in it (behind an
// LRU of apqSize documents), the upstream response cache when -cache-ttl is,
// the upstream rate limit when -upstream-rate-limit is. Without Redis each
// part works in this process alone.
func New(cfg Options, apqSize int, m *observe.Metrics, log *slog.Logger) (Parts, error) {
	opts, closeRedis, rdb, err := clientParts(cfg, m, log)
	if err != nil {
		return Parts{}, err
	}
	parts := Parts{Client: opts, Close: closeRedis}
	if rdb != nil {
		parts.APQ = sharedAPQ{pqstore.NewShared(rdb, pqstore.NewLocal(apqSize), pqstore.Options{
			Prefix: pqstore.DefaultPrefix, Logger: log, Timeout: cfg.RedisTimeout,
			Hooks: pqstore.Hooks{RedisError: func(op string, _ error) { m.RedisError("apq", op) }},
		})}
	}
	return parts, nil
}

// sharedAPQ is pqstore's two-tier store as the endpoint's APQStore. A hash
// that neither this process nor an unreachable Redis can answer for is a
// miss: the client then sends the document again, the protocol's normal
// step, and the operation runs; a failed Put only costs a later miss.
type sharedAPQ struct{ s *pqstore.Shared }

func (a sharedAPQ) Get(ctx context.Context, hash string) (string, bool) {
	q, ok, _ := a.s.Get(ctx, hash)
	return q, ok
}

func (a sharedAPQ) Put(ctx context.Context, hash, query string) { _ = a.s.Put(ctx, hash, query) }

// clientParts is the Redis client and the restclient options of New.
func clientParts(cfg Options, m *observe.Metrics, log *slog.Logger) ([]restclient.Option, func(), *redis.Client, error) {
	var rdb *redis.Client
	closeRedis := func() {}
	if cfg.RedisURL != "" {
		var err error
		if rdb, err = redisconn.New(cfg.RedisURL, redisconn.Options{Timeout: cfg.RedisTimeout}); err != nil {
			return nil, nil, nil, err
		}
		closeRedis = func() { _ = rdb.Close() }
		redisconn.SetLogger(log) // go-redis's own lines too, as JSON with -log-format json
		// No Ping: a Redis that is down at start-up must not stop the
		// facade from serving, any more than one that goes down later.
	}
	var opts []restclient.Option
	if cfg.CacheTTL > 0 {
		ro := respcache.Options{
			TTL: cfg.CacheTTL, StaleIfError: cfg.CacheStaleIfError, MaxBytes: cfg.CacheMaxBytes, Logger: log,
			Timeout:       cfg.RedisTimeout,
			IgnoreNoStore: cfg.CacheIgnoreNoStore,
			Hooks: respcache.Hooks{
				Hit:        func(tier string) { m.UpstreamCache("hit_" + tier) },
				Miss:       func() { m.UpstreamCache("miss") },
				RedisError: func(op string, _ error) { m.RedisError("cache", op) },
				Revoke:     func() { m.UpstreamCache("revoked") },
			},
		}
		if rdb != nil {
			ro.Redis = rdb
		}
		cache, err := respcache.New(ro)
		if err != nil {
			closeRedis()
			return nil, nil, nil, err
		}
		keyer, err := respcache.KeyerFor([]byte(cfg.CacheKeySecret), rdb != nil)
		if err != nil {
			closeRedis()
			return nil, nil, nil, fmt.Errorf("cache-key-secret: %w", err)
		}
		opts = append(opts, restclient.WithResponseCache(restclient.ResponseCache{
			Cache: cache, Keyer: keyer,
			// restclient decides when a stale answer stands in, so it
			// counts them.
			OnStale:     func(string, time.Duration) { m.UpstreamCache("stale") },
			OnNotStored: notStoredReporter(m, log),
		}))
	}
	if cfg.UpstreamRateLimit > 0 {
		hooks := ratelimit.Hooks{
			Limited:    func(time.Duration) { m.UpstreamRateLimited() },
			RedisError: func(error) { m.RedisError("ratelimit", "allow") },
		}
		var (
			l   ratelimit.Limiter
			err error
		)
		if rdb != nil {
			l, err = ratelimit.NewShared(rdb, cfg.UpstreamRateLimit, ratelimit.Options{Replicas: cfg.Count, Logger: log, Hooks: hooks, Timeout: cfg.RedisTimeout})
		} else {
			l, err = ratelimit.NewLocal(cfg.UpstreamRateLimit, 0, hooks)
		}
		if err != nil {
			closeRedis()
			return nil, nil, nil, fmt.Errorf("upstream-rate-limit: %w", err)
		}
		// Each credential's calls queue apart and take turns, in this
		// process; the rate stays the fleet's.
		fair := ratelimit.NewFair(l, ratelimit.FairOptions{Hooks: hooks})
		m.WatchRateLimitQueues(fair.Waiting, fair.Queues)
		opts = append(opts, restclient.WithRateLimiter(fair))
	}
	return opts, closeRedis, rdb, nil
}

// notStoredReporter counts each answer the upstream forbade the cache to
// keep, and logs it once per endpoint: an upstream that marks every answer
// no-store (PHP's session default) makes the cache do nothing, which its
// operator should learn without a line per call.
func notStoredReporter(m *observe.Metrics, log *slog.Logger) func(endpoint, forbiddenBy string) {
	var told sync.Map // endpoint templates: a handful
	return func(endpoint, forbiddenBy string) {
		m.UpstreamCache("not_stored_upstream_forbids")
		if _, again := told.LoadOrStore(endpoint, true); !again {
			log.Warn("upstream answers not cached: the upstream forbids it", "endpoint", endpoint, "forbiddenBy", forbiddenBy,
				"hint", "-cache-ignore-upstream-no-store caches no-store and no-cache answers anyway (see docs/operators/replicas.md for the risk)")
		}
	}
}
