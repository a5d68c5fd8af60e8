package restclient

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/salesgraph/salesgraph/ratelimit"
	"github.com/salesgraph/salesgraph/respcache"
)

// This file is the response cache and the rate limit around the one request
// path (get and do in request.go). The cache holds raw bodies, so an answer
// served from it is decoded by the same code as one from the wire.

// ResponseCache configures WithResponseCache.
type ResponseCache struct {
	Cache *respcache.Cache
	// Keyer names each request by everything sent; replicas sharing a
	// Redis must use the same secret.
	Keyer *respcache.Keyer
	// OnStale, if set, is called for each stale answer served, for
	// metrics; keep it cheap.
	OnStale func(endpoint string, age time.Duration)
	// OnNotStored, if set, is called for each answer that decoded but was
	// not stored because the upstream forbade it, with what did
	// ("no-store", "no-cache", "Vary: *", "max-age=0"): an operator who
	// turned the cache on should learn that it does nothing. Keep it
	// cheap: it runs while the call holds the answer's body.
	OnNotStored func(endpoint, forbiddenBy string)
}

// WithResponseCache answers calls from rc.Cache while an answer is fresh,
// without calling the upstream, and stores each 2xx answer that decoded.
// When a call fails in a way the upstream is to blame for (5xx, 429, a
// timeout, no answer, the circuit breaker or the rate limit refusing it), an
// answer past its freshness but within its stale window is served instead,
// and reported to the context's WithCacheReport function. 401 and 403 are
// never stored, and revoke the credential (respcache.Cache.Revoke): nothing
// it cached, on any path, is served again, fresh or stale.
func WithResponseCache(rc ResponseCache) Option {
	return func(c *Client) {
		if rc.Cache == nil || rc.Keyer == nil {
			c.invalid("WithResponseCache: nil Cache or Keyer")
			return
		}
		c.cache = &rc
	}
}

// WithRateLimiter makes every attempt, retries included, wait for its turn
// with l before it is sent, each caller (credential) in a queue of its own,
// the queues served in turn (ratelimit.Fair; l is used as it is if it is
// one). A turn that would come after the call's context deadline fails the
// call with a *RateLimitError (KindLimited), which is neither retried nor
// counted by the circuit breaker.
func WithRateLimiter(l ratelimit.Limiter) Option {
	return func(c *Client) {
		if l == nil {
			c.invalid("WithRateLimiter: nil Limiter")
			return
		}
		c.limiter = l
	}
}

// RateLimitError is a call the facade's own rate limit refused unsent.
type RateLimitError struct {
	Endpoint string
	Path     string
	// Wait is how long the call would have had to wait for its turn.
	Wait time.Duration
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("restclient: %s: refused by the facade's upstream rate limit (next turn in %v, after the deadline)", e.Path, e.Wait.Round(time.Millisecond))
}

// Unwrap makes errors.Is(err, ratelimit.ErrRateLimited) hold.
func (e *RateLimitError) Unwrap() error { return ratelimit.ErrRateLimited }

// waitTurn waits for the rate limiter, if any, within ctx, in caller's
// queue (ratelimit.Fair).
func (c *Client) waitTurn(ctx context.Context, caller uint64, endpoint, path string) error {
	if c.fair == nil {
		return nil
	}
	err := c.fair.WaitKey(ctx, caller)
	var le *ratelimit.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &le):
		return &RateLimitError{Endpoint: endpoint, Path: path, Wait: le.Wait}
	case ctx.Err() != nil:
		return &TransportError{Endpoint: endpoint, Path: path, Err: contextCause(ctx)}
	}
	return &RateLimitError{Endpoint: endpoint, Path: path}
}

// StaleAnswer is a cached answer served in place of a failed call.
type StaleAnswer struct {
	Endpoint string        // endpoint template
	Path     string        // the path asked for, without host or query
	Age      time.Duration // since the answer was fetched
	// Failure is what the call that failed returned.
	Failure error
}

type cacheReportKey struct{}

// WithCacheReport returns a context whose calls tell f of every stale
// answer they serve, so that the caller can mark its response. f is called
// on the calling goroutine, possibly from several at once.
func WithCacheReport(ctx context.Context, f func(StaleAnswer)) context.Context {
	return context.WithValue(ctx, cacheReportKey{}, f)
}

// cacheFill is how get asks do to store the body it read and decoded, while
// do still holds it (the buffer is pooled).
type cacheFill struct {
	endpoint string
	lookup   respcache.Lookup
}

type cacheFillKey struct{}

// fill stores a decoded 2xx answer when ctx asks for it. Once handed to
// the cache, body is the cache's (it may keep it as it is).
func (c *Client) fill(ctx context.Context, status int, h http.Header, body []byte) (handedOver bool) {
	if c.cache == nil {
		return false
	}
	f, ok := ctx.Value(cacheFillKey{}).(*cacheFill)
	if !ok {
		return false
	}
	// Without the caller's cancellation: a caller who goes away must not
	// count as a Redis failure and switch sharing off for everyone (the
	// cache bounds each Redis call itself).
	_, forbiddenBy := c.cache.Cache.Store(context.WithoutCancel(ctx), f.lookup, respcache.Entry{Status: status, Header: h, Body: body})
	if forbiddenBy != "" && c.cache.OnNotStored != nil {
		c.cache.OnNotStored(f.endpoint, forbiddenBy)
	}
	return true
}

// outgoing is the request get will send, for its key: the URL and headers
// exactly as do builds them.
func (c *Client) outgoing(ctx context.Context, path string, q url.Values) (*http.Request, error) {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header = c.header(ctx)
	return req, nil
}

// cachedGet is get through the cache.
func (c *Client) cachedGet(ctx context.Context, endpoint, path string, q url.Values, into func(*scanner) error) error {
	req, err := c.outgoing(ctx, path, q)
	if err != nil {
		return c.fetch(ctx, endpoint, path, q, into) // do reports the same error
	}
	key := c.cache.Keyer.Key(req)
	l := c.cache.Cache.Lookup(context.WithoutCancel(ctx), key) // as in fill
	if l.Fresh {
		reportAnswer(ctx, endpoint, AnswerCached)
		return c.decodeCached(ctx, endpoint, path, l.Entry, into)
	}
	// A stale entry may stand in only for a call that decoded nothing, or
	// into would see two answers.
	decoded := false
	err = c.fetch(context.WithValue(ctx, cacheFillKey{}, &cacheFill{endpoint: endpoint, lookup: l}), endpoint, path, q, func(s *scanner) error {
		decoded = true
		return into(s)
	})
	if refusesCredential(err) {
		c.cache.Cache.Revoke(context.WithoutCancel(ctx), key)
		return err
	}
	if err == nil || !l.Found || decoded || !servesStale(err) {
		return err
	}
	if c.decodeCached(ctx, endpoint, path, l.Entry, into) != nil {
		return err
	}
	age := c.cache.Cache.Age(l.Entry)
	if c.cache.OnStale != nil {
		c.cache.OnStale(endpoint, age)
	}
	if f, ok := ctx.Value(cacheReportKey{}).(func(StaleAnswer)); ok && f != nil {
		f(StaleAnswer{Endpoint: endpoint, Path: path, Age: age, Failure: err})
	}
	return nil
}

// decodeCached decodes a cached answer. Its records keep a copy of it as
// those of an answer read do, so under a WithBodyHold it takes room in the
// body budget as one does.
func (c *Client) decodeCached(ctx context.Context, endpoint, path string, e respcache.Entry, into func(*scanner) error) error {
	hold, n := bodyHoldFrom(ctx), int64(len(e.Body))
	if hold != nil {
		if err := c.reserve(ctx, endpoint, path, n, hold); err != nil {
			return err
		}
	}
	// A cached body is never written to: its records may alias it.
	if err := decodeSuccess(e.Body, owned(into)); err != nil {
		if hold != nil {
			c.budget.release(n)
		}
		ct, _, _ := strings.Cut(e.Header.Get("Content-Type"), ";")
		return &DecodeError{Endpoint: endpoint, Path: path, HTTPStatus: e.Status, ContentType: ct, Err: err}
	}
	if hold != nil {
		hold.keep(c.budget, n)
	}
	return nil
}

// refusesCredential says whether a call failed because the upstream
// refused its credential: 401 or 403, in the HTTP status or the envelope.
func refusesCredential(err error) bool {
	if err == nil {
		return false
	}
	cl := Classify(err)
	for _, s := range []int{cl.Status, cl.HTTPStatus} {
		if s == http.StatusUnauthorized || s == http.StatusForbidden {
			return true
		}
	}
	return false
}

// servesStale says whether a failed call is one a stale answer may stand
// in for: the upstream failed or is being spared, not the request or the
// caller.
func servesStale(err error) bool {
	switch Classify(err).Kind {
	case KindServerError, KindRateLimited, KindTimeout, KindUnreachable, KindCircuitOpen, KindPathEjected, KindLimited:
		return true
	}
	return false
}
