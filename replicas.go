package main

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/salesgraph/salesgraph/config"
	"github.com/salesgraph/salesgraph/observe"
	"github.com/salesgraph/salesgraph/ratelimit"
	"github.com/salesgraph/salesgraph/redisconn"
	"github.com/salesgraph/salesgraph/respcache"
	"github.com/salesgraph/salesgraph/restclient"
)

// replicaOptions builds what the replicas share (issue 13) from cfg: one
// Redis client when -redis-url is set, the upstream response cache when
// -cache-ttl is, the upstream rate limit when -upstream-rate-limit is, and
// returns them as restclient options, with the function that closes the
// Redis client. Without Redis each part works in this process alone.
func replicaOptions(cfg config.Replicas, m *observe.Metrics, log *slog.Logger) ([]restclient.Option, func(), error) {
	var rdb *redis.Client
	closeRedis := func() {}
	if cfg.RedisURL != "" {
		var err error
		if rdb, err = redisconn.New(cfg.RedisURL, redisconn.Options{}); err != nil {
			return nil, nil, err
		}
		closeRedis = func() { _ = rdb.Close() }
		// No Ping: a Redis that is down at start-up must not stop the
		// facade from serving, any more than one that goes down later.
	}
	var opts []restclient.Option
	if cfg.CacheTTL > 0 {
		ro := respcache.Options{
			TTL: cfg.CacheTTL, StaleIfError: cfg.CacheStaleIfError, MaxBytes: cfg.CacheMaxBytes, Logger: log,
			Hooks: respcache.Hooks{
				Hit:        func(tier string) { m.UpstreamCache("hit_" + tier) },
				Miss:       func() { m.UpstreamCache("miss") },
				RedisError: func(op string, _ error) { m.RedisError("cache", op) },
			},
		}
		if rdb != nil {
			ro.Redis = rdb
		}
		cache, err := respcache.New(ro)
		if err != nil {
			closeRedis()
			return nil, nil, err
		}
		keyer := respcache.NewRandomKeyer(nil)
		if len(cfg.CacheKeySecret) > 0 {
			if keyer, err = respcache.NewKeyer([]byte(cfg.CacheKeySecret), nil); err != nil {
				closeRedis()
				return nil, nil, err
			}
		} else if rdb != nil {
			closeRedis()
			return nil, nil, errors.New("cache-key-secret is required with cache-ttl and redis-url")
		}
		opts = append(opts, restclient.WithResponseCache(restclient.ResponseCache{
			Cache: cache, Keyer: keyer,
			// respcache's StaleServe hook counts Cache.Do's; restclient
			// serves stale itself, so it counts here.
			OnStale: func(string, time.Duration) { m.UpstreamCache("stale") },
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
			l, err = ratelimit.NewShared(rdb, cfg.UpstreamRateLimit, ratelimit.Options{Replicas: cfg.Count, Logger: log, Hooks: hooks})
		} else {
			l, err = ratelimit.NewLocal(cfg.UpstreamRateLimit, 0, hooks)
		}
		if err != nil {
			closeRedis()
			return nil, nil, fmt.Errorf("upstream-rate-limit: %w", err)
		}
		opts = append(opts, restclient.WithRateLimiter(l))
	}
	return opts, closeRedis, nil
}
