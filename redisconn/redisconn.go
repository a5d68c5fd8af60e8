// Package redisconn builds the Redis client that replicas share state
// through, configured so that Redis can never hold up a request: every
// call has a short timeout, the pool is small and a failed call is retried
// at most once.
//
// It imports nothing of salesgraph; the packages that use Redis (pqstore,
// respcache, ratelimit) take the client it returns and add their own
// per-call deadline and counting on top, with a Health each for the
// backoff after a failure. SetLogger sends go-redis's own log lines
// through slog.
package redisconn

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Defaults for the zero [Options].
const (
	// DefaultTimeout bounds each dial, read, write and pool wait, and in
	// the packages that use Redis (pqstore, respcache, ratelimit) each
	// call as a whole. A Redis on the same network answers in well under a
	// millisecond, so 200 ms means "down or overloaded", and a request
	// that pays it once still meets its deadline.
	DefaultTimeout = 200 * time.Millisecond
	// DefaultBackoff is how long a user of Redis leaves it alone after a
	// failed call (Health): one timeout per second at most while Redis is
	// down, and back within a second of its return.
	DefaultBackoff = time.Second
	// DefaultPoolSize is enough for a replica's concurrent lookups, which
	// each take a connection for well under a millisecond.
	DefaultPoolSize = 16
	// DefaultMaxRetries lets a command that met a connection broken by a
	// Redis restart go again on a fresh one, and no more: retrying a Redis
	// that is down only multiplies the wait.
	DefaultMaxRetries = 1
)

// Options tunes the client; zero fields take the defaults above.
type Options struct {
	// Timeout bounds each dial, socket read, socket write and wait for a
	// pooled connection.
	Timeout time.Duration
	// PoolSize is the most connections open at once.
	PoolSize int
	// MaxRetries is how many times a failed command is retried; negative
	// means never.
	MaxRetries int
}

// New returns a client for a redis:// or rediss:// (TLS) URL, such as
// redis://:password@host:6379/0. The URL's own timeout and pool parameters
// are overridden by o, so that no URL can turn the short timeouts off.
// Errors never contain the URL, which may hold a password.
//
// The client does not connect until first used; callers that want to fail
// at start-up can Ping it.
func New(rawURL string, o Options) (*redis.Client, error) {
	opt, err := Parse(rawURL, o)
	if err != nil {
		return nil, err
	}
	return redis.NewClient(opt), nil
}

// Parse returns the options New would use, for callers that build the
// client themselves (a test, a cluster client).
func Parse(rawURL string, o Options) (*redis.Options, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the url.Error repeats the URL, password included
		}
		return nil, fmt.Errorf("redis URL: %v", err)
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return nil, fmt.Errorf("redis URL: scheme %q, want redis or rediss", u.Scheme)
	}
	if u.Host == "" {
		return nil, errors.New("redis URL: no host")
	}
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		// go-redis's messages name a parameter or the database, never
		// the credentials; still, say only that the URL is at fault.
		return nil, fmt.Errorf("redis URL: %v", redactErr(err, u))
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	opt.DialTimeout = timeout
	opt.ReadTimeout = timeout
	opt.WriteTimeout = timeout
	opt.PoolTimeout = timeout
	// Honour a caller's shorter deadline too, so a per-call context
	// timeout really ends the call.
	opt.ContextTimeoutEnabled = true
	// One dial attempt per call: go-redis's pool already stops dialling a
	// Redis that keeps refusing (after PoolSize failures it answers with
	// the last error at once and probes in the background every second),
	// which is the fast failure and the automatic recovery we want.
	opt.DialerRetries = 1
	opt.PoolSize = DefaultPoolSize
	if o.PoolSize > 0 {
		opt.PoolSize = o.PoolSize
	}
	opt.MinIdleConns = 0
	opt.MaxRetries = DefaultMaxRetries
	switch {
	case o.MaxRetries < 0:
		opt.MaxRetries = -1
	case o.MaxRetries > 0:
		opt.MaxRetries = o.MaxRetries
	}
	opt.MinRetryBackoff = 8 * time.Millisecond
	opt.MaxRetryBackoff = 64 * time.Millisecond
	// No extra handshake commands: CLIENT SETINFO is unknown before Redis
	// 7.2 and maintenance notifications are for Redis Enterprise; each
	// would cost a round trip on every new connection.
	opt.DisableIdentity = true
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	return opt, nil
}

// Redact returns the URL with any password replaced by "xxxxx", for the
// start-up configuration log; an unparsable URL becomes "(invalid)".
func Redact(rawURL string) string {
	if rawURL == "" {
		return ""
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(invalid)"
	}
	return u.Redacted()
}

// redactErr removes the password from err's text, in case a future
// go-redis quotes the URL.
func redactErr(err error, u *url.URL) error {
	if p, ok := u.User.Password(); ok && p != "" {
		return errors.New(strings.ReplaceAll(err.Error(), p, "xxxxx"))
	}
	return err
}
