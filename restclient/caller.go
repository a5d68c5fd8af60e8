package restclient

import (
	"context"
	"hash/maphash"

	"github.com/salesgraph/salesgraph/flight"
	"github.com/salesgraph/salesgraph/ratelimit"
)

// callerKey names the caller of a call in the per-caller state the client
// keeps (path ejections, outlier.go; rate-limit queues, ratelimit.Fair): a
// hash of the headers the call sends (c.header), salted with a seed random
// to the client, so that the state holds no credential and its keys cannot
// be matched against guessed ones. The per-request headers
// (flight.PerRequest: X-Request-Id, trace context) are left out, so a
// caller's key is the same from one request to the next; every other
// header counts, so callers whose credentials differ never share a key (a
// 64-bit collision would only make two callers share that state).
func (c *Client) callerKey(ctx context.Context) uint64 {
	var buf [256]byte
	return maphash.Bytes(c.callerSeed, flight.AppendHeader(buf[:0], c.header(ctx)))
}

// fairLimiter is l with its turns shared among callers, round-robin,
// unless l does that already.
func fairLimiter(l ratelimit.Limiter) *ratelimit.Fair {
	if f, ok := l.(*ratelimit.Fair); ok {
		return f
	}
	return ratelimit.NewFair(l, ratelimit.FairOptions{})
}
