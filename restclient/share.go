package restclient

import (
	"context"
	"net/http"
	"net/url"
	"sync"
)

// Sharing identical calls in flight (WithoutSharing turns it off).
//
// Under load many operations ask for the same user at the same moment; each
// would send its own request and decode its own copy of the same answer.
// Instead, a call whose outgoing request is identical to one already in
// flight waits for that one's result. Identical means the same path, the
// same query and the same headers as sent (c.header: the static credentials
// and every header forwarded through WithRequestHeaders), by canonical name
// in sorted order with all their values in order, except the per-request
// headers that never change the answer (flight.PerRequest: X-Request-Id,
// Traceparent, Tracestate and Baggage), which go upstream as the first
// caller sent them. Naming what to leave out rather than what to include
// means that a credential header nobody thought of can only cost sharing,
// never hand one caller's answer to another: different credentials never
// share.
//
// The calls in flight are keyed by a SHA-256 of all that, salted with a
// secret random to the client (flight.Key), so the key holds no credential
// and cannot be checked against guessed ones.
//
// The shared call runs on its own goroutine with the first caller's context
// values (trace context, observers) but not its cancellation or deadline
// (context.WithoutCancel): each attempt is still bounded by WithTimeout, and
// retries by the latest of the callers' deadlines, which the call's context
// reports (package flight). Every caller waits for the result or for its own
// context, and one that leaves gets its own cancellation error at once, as
// an unshared call would. The call is cancelled only when every caller has
// left; the last one returns once the cancelled call has ended. The result,
// records and slices included, is handed to every caller as it is: callers
// must treat it as read-only. How it was served goes with it: a stale
// answer the cache stood in with (WithCacheReport) is reported to every
// caller's own context, not only to the first one's, whose values the call
// runs with.

// WithoutSharing makes every call send its own request, even when an
// identical one is in flight, e.g. for tests that count calls per caller.
func WithoutSharing() Option {
	return func(c *Client) { c.shareOff = true }
}

// WithShareObserver has f called, with the endpoint template, for each call
// answered by an identical call already in flight instead of by a request
// of its own, e.g. to count them in metrics. Keep it cheap: it runs on the
// caller's goroutine.
func WithShareObserver(f func(endpoint string)) Option {
	return func(c *Client) { c.onShare = f }
}

// shared is what a shared call hands every caller: its result, and the
// stale answers the cache stood in with (WithCacheReport), to be reported
// to each caller's own context; none when it was served fresh.
type shared struct {
	val   any
	err   error
	stale []StaleAnswer
}

// staleAnswers collects what a shared call's cache reports, in place of
// the first caller's WithCacheReport.
type staleAnswers struct {
	mu   sync.Mutex
	list []StaleAnswer
}

func (s *staleAnswers) add(a StaleAnswer) {
	s.mu.Lock()
	s.list = append(s.list, a)
	s.mu.Unlock()
}

// share runs call, the one request a call to endpoint at path with q sends,
// or waits for the result of an identical one in flight (see above).
func share[T any](c *Client, ctx context.Context, endpoint, path string, q url.Values, call func(context.Context) (T, error)) (T, error) {
	if c.flights == nil || ctx.Err() != nil {
		// A caller already gone fails as it always did, without starting
		// a call that nobody would wait for.
		return call(ctx)
	}
	target := path
	if len(q) > 0 {
		target += "?" + q.Encode() // sorted by parameter name
	}
	f, started := c.flights.Join(ctx, c.flights.Key(http.MethodGet, target, nil, c.header(ctx)))
	if started {
		f.Go(func(ctx context.Context) shared {
			var stale staleAnswers
			v, err := call(WithCacheReport(ctx, stale.add))
			return shared{v, err, stale.list}
		})
	} else {
		c.joined(ctx, endpoint)
	}
	res, err := f.Wait(ctx)
	if err != nil {
		if f.Abandoned() {
			// The last caller waits for the call it cancelled to end,
			// which is prompt, so that when it returns the call holds
			// nothing (a connection, room in the body budget), as an
			// unshared call would.
			<-f.Done()
		}
		var zero T
		return zero, &TransportError{Endpoint: endpoint, Path: path, Err: contextCause(ctx)}
	}
	if report, ok := ctx.Value(cacheReportKey{}).(func(StaleAnswer)); ok && report != nil {
		for _, s := range res.stale { // complete: the call has ended
			report(s)
		}
	}
	v, _ := res.val.(T)
	return v, res.err
}
