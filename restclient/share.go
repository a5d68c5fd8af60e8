package restclient

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"math"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"
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
// headers that never change the answer: X-Request-Id, Traceparent,
// Tracestate and Baggage, which go upstream as the first caller sent them.
// Naming what to leave out rather than what to include means that a
// credential header nobody thought of can only cost sharing, never hand one
// caller's answer to another: different credentials never share.
//
// The map is keyed by a SHA-256 of all that, salted with a secret random to
// the client, so it holds no credential and its keys cannot be checked
// against guessed ones.
//
// The shared call runs on its own goroutine with the first caller's context
// values (trace context, observers) but not its cancellation or deadline
// (context.WithoutCancel): each attempt is still bounded by WithTimeout, and
// retries by the latest of the callers' deadlines (flightCtx).
// Every caller waits for the result or for its own context, and one that
// leaves gets its own cancellation error at once, as an unshared call would.
// The call is cancelled only when every caller has left; the last one
// returns once the cancelled call has ended. The result, records
// and slices included, is handed to every caller as it is: callers must
// treat it as read-only. How it was served goes with it: a stale answer
// the cache stood in with (WithCacheReport) is reported to every caller's
// own context, not only to the first one's, whose values the call runs
// with.

// ignoredForSharing are the headers left out of the key, canonical. They
// match respcache.DefaultIgnoredHeaders, so that the two agree on which
// requests are the same.
var ignoredForSharing = map[string]bool{"X-Request-Id": true, "Traceparent": true, "Tracestate": true, "Baggage": true}

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

type flightKey [sha256.Size]byte

// flights are the shared calls in flight.
type flights struct {
	salt [32]byte
	mu   sync.Mutex
	m    map[flightKey]*flight
}

func newFlights() *flights {
	f := &flights{m: make(map[flightKey]*flight)}
	_, _ = rand.Read(f.salt[:]) // never fails on supported platforms
	return f
}

// flight is one shared call.
type flight struct {
	done    chan struct{} // closed once val, err and panicked are set
	val     any
	err     error
	panic   any // what the call panicked with, raised again in every caller
	waiters int // guarded by flights.mu; the call is cancelled at 0
	cancel  context.CancelFunc
	// latest is the latest deadline of the callers that joined, in Unix
	// nanoseconds; noDeadline once one joined without a deadline.
	latest atomic.Int64
	// stale are the stale answers the call was served with, reported to
	// each caller's WithCacheReport; none when it was served fresh.
	staleMu sync.Mutex
	stale   []StaleAnswer
}

const noDeadline = math.MaxInt64

// servedStale collects what the call's cache reports, in place of the
// first caller's WithCacheReport.
func (f *flight) servedStale(s StaleAnswer) {
	f.staleMu.Lock()
	f.stale = append(f.stale, s)
	f.staleMu.Unlock()
}

// joined widens the call's deadline to cover ctx's; under flights.mu.
func (f *flight) joined(ctx context.Context) {
	d, ok := ctx.Deadline()
	switch {
	case !ok:
		f.latest.Store(noDeadline)
	case d.UnixNano() > f.latest.Load():
		f.latest.Store(d.UnixNano())
	}
}

// flightCtx is the context a shared call runs with: the first caller's
// values, cancelled only when every caller has left, and for its deadline
// the latest of its callers'. That deadline is never enforced by a timer of
// its own (the callers leave by then, which cancels the call), but the
// retry policy reads it, so that a shared call, like an unshared one, never
// waits for a retry that no caller will be there to see. It is not
// shortened when a caller leaves, so such a wait may outlast the callers
// that remain; it then ends as they leave.
type flightCtx struct {
	context.Context
	f *flight
}

func (c flightCtx) Deadline() (time.Time, bool) {
	v := c.f.latest.Load()
	if v == noDeadline {
		return time.Time{}, false
	}
	return time.Unix(0, v), true
}

// key is the hash of the request a call to path with q sends in ctx.
func (fs *flights) key(c *Client, ctx context.Context, path string, q url.Values) flightKey {
	h := c.header(ctx)
	names := make([]string, 0, len(h))
	for name := range h {
		if !ignoredForSharing[name] {
			names = append(names, name)
		}
	}
	slices.Sort(names)

	b := make([]byte, 0, 256)
	b = append(b, fs.salt[:]...)
	field := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	field("GET")
	field(path)
	field(q.Encode()) // sorted by parameter name
	b = binary.AppendUvarint(b, uint64(len(names)))
	for _, name := range names {
		field(name)
		b = binary.AppendUvarint(b, uint64(len(h[name])))
		for _, v := range h[name] {
			field(v)
		}
	}
	return sha256.Sum256(b)
}

// join returns the flight for key and, when the caller starts it, the
// context to run it with: ctx's values without its cancellation.
func (fs *flights) join(ctx context.Context, key flightKey) (*flight, context.Context) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if f, ok := fs.m[key]; ok {
		f.waiters++
		f.joined(ctx)
		return f, nil
	}
	callCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	f := &flight{done: make(chan struct{}), waiters: 1, cancel: cancel}
	f.joined(ctx)
	fs.m[key] = f
	return f, flightCtx{callCtx, f}
}

// leave drops a caller that stopped waiting; the last one cancels the call
// and takes it out of the map, so that a later caller starts afresh rather
// than join a call on its way out, and is told so.
func (fs *flights) leave(key flightKey, f *flight) (last bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f.waiters--
	if f.waiters > 0 {
		return false
	}
	if fs.m[key] == f {
		delete(fs.m, key)
	}
	f.cancel()
	return true
}

// finish takes a completed call out of the map, so that no caller joins it
// once its result is set, then publishes the result.
func (fs *flights) finish(key flightKey, f *flight) {
	fs.mu.Lock()
	if fs.m[key] == f {
		delete(fs.m, key)
	}
	fs.mu.Unlock()
	close(f.done)
}

// share runs call, the one request a call to endpoint at path with q sends,
// or waits for the result of an identical one in flight (see above).
func share[T any](c *Client, ctx context.Context, endpoint, path string, q url.Values, call func(context.Context) (T, error)) (T, error) {
	if c.flights == nil || ctx.Err() != nil {
		// A caller already gone fails as it always did, without starting
		// a call that nobody would wait for.
		return call(ctx)
	}
	key := c.flights.key(c, ctx, path, q)
	f, callCtx := c.flights.join(ctx, key)
	if callCtx != nil {
		callCtx = WithCacheReport(callCtx, f.servedStale)
		go func() {
			defer f.cancel()
			defer c.flights.finish(key, f)
			defer func() { f.panic = recover() }()
			f.val, f.err = call(callCtx)
		}()
	} else {
		c.joined(ctx, endpoint)
	}

	select {
	case <-f.done:
		// No need to leave: a finished call is out of the map, and
		// cancelling it would change nothing.
		if f.panic != nil {
			panic(f.panic)
		}
		if report, ok := ctx.Value(cacheReportKey{}).(func(StaleAnswer)); ok && report != nil {
			for _, s := range f.stale { // complete: the call has ended
				report(s)
			}
		}
		v, _ := f.val.(T)
		return v, f.err
	case <-ctx.Done():
		if c.flights.leave(key, f) {
			// The last caller waits for the call it cancelled to end,
			// which is prompt, so that when it returns the call holds
			// nothing (a connection, room in the body budget), as an
			// unshared call would.
			<-f.done
		}
		var zero T
		return zero, &TransportError{Endpoint: endpoint, Path: path, Err: contextCause(ctx)}
	}
}
