package restclient

import (
	"context"
	"encoding/binary"
	"hash/maphash"
	"slices"

	"github.com/salesgraph/salesgraph/ratelimit"
)

// callerKey names the caller of a call in the per-caller state the client
// keeps (path ejections, outlier.go; rate-limit queues, ratelimit.Fair): a
// hash of the headers the call sends (c.header), salted with a seed random
// to the client, so that the state holds no credential and its keys cannot
// be matched against guessed ones. The per-request headers that sharing
// ignores (X-Request-Id, trace context) are left out, so a caller's key is
// the same from one request to the next; every other header counts, so
// callers whose credentials differ never share a key (a 64-bit collision
// would only make two callers share that state).
func (c *Client) callerKey(ctx context.Context) uint64 {
	h := c.header(ctx)
	names := make([]string, 0, len(h))
	for name := range h {
		if !ignoredForSharing[name] {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	var mh maphash.Hash
	mh.SetSeed(c.callerSeed)
	var n [8]byte
	field := func(s string) {
		binary.LittleEndian.PutUint64(n[:], uint64(len(s)))
		_, _ = mh.Write(n[:])
		_, _ = mh.WriteString(s)
	}
	for _, name := range names {
		field(name)
		binary.LittleEndian.PutUint64(n[:], uint64(len(h[name])))
		_, _ = mh.Write(n[:])
		for _, v := range h[name] {
			field(v)
		}
	}
	return mh.Sum64()
}

// fairLimiter is l with its turns shared among callers, round-robin,
// unless l does that already.
func fairLimiter(l ratelimit.Limiter) *ratelimit.Fair {
	if f, ok := l.(*ratelimit.Fair); ok {
		return f
	}
	return ratelimit.NewFair(l, ratelimit.FairOptions{})
}
