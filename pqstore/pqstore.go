// Package pqstore keeps persisted queries (APQ's hash → document, or an
// allow-list's) where every replica can find them: an in-process LRU, and
// optionally Redis behind it.
//
// Redis is never a single point of failure here. A lookup is answered from
// the process first; Redis is asked only on a local miss, with a short
// timeout, and when it fails or is slow the store keeps serving what the
// process holds, logs the outage once, counts every failed call through
// [Hooks], and leaves Redis alone for a short backoff before trying again,
// so it recovers by itself when Redis returns.
//
// The store holds whatever it is given: the caller must check that a hash
// is its document's hash before Put (APQ servers do), so that one client
// cannot register a document under another's hash.
//
// Of salesgraph it imports only redisconn (for Health, its Redis fallback
// state); it knows nothing of GraphQL.
package pqstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/redis/go-redis/v9"

	"github.com/salesgraph/salesgraph/redisconn"
)

// A Store holds persisted queries by hash. Implementations are safe for
// concurrent use.
type Store interface {
	// Get returns the document stored under hash. ok is false when it is
	// not stored; err is non-nil only when the store could not tell (the
	// shared tier failed and the process does not have it), so that an
	// allow-list can answer "try again" rather than "not allowed". APQ
	// can treat both as not found: the client then sends the document.
	Get(ctx context.Context, hash string) (query string, ok bool, err error)
	// Put stores query under hash. The process always keeps it; err
	// reports only that the shared tier did not, and may be ignored.
	Put(ctx context.Context, hash, query string) error
}

// ErrUnavailable is wrapped by the errors of a [Shared] store whose Redis
// failed or is in its backoff after a failure.
var ErrUnavailable = errors.New("pqstore: shared store unavailable")

// MaxHashLen is the longest hash accepted. APQ's are 64 hex characters;
// longer ones are refused without a Redis call, so no client can make
// Redis hold keys of its choosing size.
const MaxHashLen = 128

// DefaultSize is how many documents [NewLocal] keeps when asked for 0.
const DefaultSize = 1000

// Local is a bounded in-process store: the least recently used document
// goes first.
type Local struct {
	c *lru.Cache[string, string]
}

// NewLocal returns a store of at most size documents (DefaultSize if
// size <= 0).
func NewLocal(size int) *Local {
	if size <= 0 {
		size = DefaultSize
	}
	c, _ := lru.New[string, string](size) // only fails for size <= 0
	return &Local{c: c}
}

// Get implements [Store]; it never fails.
func (l *Local) Get(_ context.Context, hash string) (string, bool, error) {
	q, ok := l.c.Get(hash)
	return q, ok, nil
}

// Put implements [Store]; it never fails.
func (l *Local) Put(_ context.Context, hash, query string) error {
	l.c.Add(hash, query)
	return nil
}

// Len reports how many documents the process holds.
func (l *Local) Len() int { return l.c.Len() }

// Defaults for the zero [Options].
const (
	DefaultPrefix = "salesgraph:apq:"
	DefaultTTL    = 24 * time.Hour
)

// Options configures a [Shared] store; zero fields take the defaults.
type Options struct {
	// Prefix namespaces the keys: a key is Prefix + hash. Use one prefix
	// per kind of document (APQ, allow-list) and per deployment sharing a
	// Redis.
	Prefix string
	// TTL is how long Redis keeps a document after it was last stored or
	// fetched from Redis, so documents in use stay and abandoned ones go;
	// negative means for ever (an allow-list).
	TTL time.Duration
	// Timeout bounds each Redis call, whatever the caller's deadline
	// (redisconn.DefaultTimeout if 0).
	Timeout time.Duration
	// Backoff is how long Redis is left alone after a failed call, during
	// which local misses are answered ErrUnavailable at once
	// (redisconn.DefaultBackoff if 0); negative means no backoff (every
	// call tries Redis).
	Backoff time.Duration
	// Logger receives one warning when Redis becomes unavailable and one
	// line when it is back; nil means slog.Default().
	Logger *slog.Logger
	// Hooks, for metrics.
	Hooks Hooks
}

// Hooks are called synchronously; nil hooks are skipped.
type Hooks struct {
	// Hit is called for a document found, with the tier that had it:
	// "process" or "redis".
	Hit func(tier string)
	// Miss is called for a document neither tier had, or that the process
	// did not have while Redis was unavailable.
	Miss func()
	// RedisError is called for every failed Redis call, with the
	// operation ("get" or "put"); calls skipped during the backoff are
	// not counted.
	RedisError func(op string, err error)
}

// Shared is a [Local] store in front of Redis.
type Shared struct {
	local   *Local
	rdb     redis.Cmdable
	prefix  string
	ttl     time.Duration
	timeout time.Duration
	hooks   Hooks
	health  *redisconn.Health
}

// NewShared returns a store that keeps documents in local and in rdb,
// which should come from redisconn (short timeouts, honoured deadlines).
func NewShared(rdb redis.Cmdable, local *Local, o Options) *Shared {
	if local == nil {
		local = NewLocal(0)
	}
	s := &Shared{local: local, rdb: rdb, prefix: o.Prefix, ttl: o.TTL, timeout: o.Timeout, hooks: o.Hooks}
	if s.prefix == "" {
		s.prefix = DefaultPrefix
	}
	if s.ttl == 0 {
		s.ttl = DefaultTTL
	}
	if s.timeout <= 0 {
		s.timeout = redisconn.DefaultTimeout
	}
	s.health = redisconn.NewHealth(o.Backoff, o.Logger,
		"redis unavailable: persisted queries served from this process only",
		"redis available again: persisted queries shared")
	return s
}

// Get implements [Store]: the process first, then Redis, whose answer the
// process then keeps.
func (s *Shared) Get(ctx context.Context, hash string) (string, bool, error) {
	if q, ok, _ := s.local.Get(ctx, hash); ok {
		call(s.hooks.Hit, "process")
		return q, true, nil
	}
	if len(hash) == 0 || len(hash) > MaxHashLen {
		callMiss(s.hooks.Miss)
		return "", false, nil
	}
	if s.health.Skip() {
		callMiss(s.hooks.Miss)
		return "", false, fmt.Errorf("%w: in backoff after a failure", ErrUnavailable)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var cmd *redis.StringCmd
	if s.ttl > 0 {
		// GETEX renews the TTL, so a document in use never expires.
		cmd = s.rdb.GetEx(ctx, s.prefix+hash, s.ttl)
	} else {
		cmd = s.rdb.Get(ctx, s.prefix+hash)
	}
	q, err := cmd.Result()
	switch {
	case errors.Is(err, redis.Nil):
		s.health.Succeeded()
		callMiss(s.hooks.Miss)
		return "", false, nil
	case err != nil:
		s.failed("get", err)
		callMiss(s.hooks.Miss)
		return "", false, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	s.health.Succeeded()
	_ = s.local.Put(ctx, hash, q)
	call(s.hooks.Hit, "redis")
	return q, true, nil
}

// Put implements [Store].
func (s *Shared) Put(ctx context.Context, hash, query string) error {
	if len(hash) == 0 || len(hash) > MaxHashLen {
		return fmt.Errorf("pqstore: hash of %d bytes, want 1 to %d", len(hash), MaxHashLen)
	}
	_ = s.local.Put(ctx, hash, query)
	if s.health.Skip() {
		return fmt.Errorf("%w: in backoff after a failure", ErrUnavailable)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	ttl := s.ttl
	if ttl < 0 {
		ttl = 0 // go-redis: no expiry
	}
	if err := s.rdb.Set(ctx, s.prefix+hash, query, ttl).Err(); err != nil {
		s.failed("put", err)
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	s.health.Succeeded()
	return nil
}

func (s *Shared) failed(op string, err error) {
	if s.hooks.RedisError != nil {
		s.hooks.RedisError(op, err)
	}
	s.health.Failed(op, err)
}

func call(f func(string), arg string) {
	if f != nil {
		f(arg)
	}
}

func callMiss(f func()) {
	if f != nil {
		f()
	}
}
