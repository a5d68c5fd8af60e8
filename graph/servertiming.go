package graph

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/salesgraph/salesgraph/gqlhttp"
)

// The Server-Timing of an answer (gqlhttp.Options.ServerTiming, the
// -server-timing setting): besides the endpoint's total, the time the
// request spent waiting for the upstream and the time it spent on its own
// work, and how its upstream calls were answered:
//
//	Server-Timing: total;dur=48.2, app;dur=6.1, upstream;dur=42.1;desc="calls=3 shared=1 cached=0"
//
// upstream is wall time during which at least one of the request's
// upstream calls was in flight (calls run concurrently: their durations
// added up would exceed the request's), its retries and waits for a slot
// included; app is the rest of total. calls are the HTTP exchanges the
// request made itself, retries included; shared, the calls answered by an
// identical call of another request in flight; cached, those answered by
// the response cache: the counts of the operation's log line
// (upstreamCount), added up over a batch's operations.

// busyClock measures the wall time during which at least one of a
// request's upstream calls is in flight.
type busyClock struct {
	mu       sync.Mutex
	inFlight int
	since    time.Time     // when inFlight last went from 0 to 1
	total    time.Duration // of the intervals that ended
}

func (b *busyClock) start() {
	b.mu.Lock()
	if b.inFlight == 0 {
		b.since = time.Now()
	}
	b.inFlight++
	b.mu.Unlock()
}

func (b *busyClock) done() {
	b.mu.Lock()
	if b.inFlight--; b.inFlight == 0 {
		b.total += time.Since(b.since)
	}
	b.mu.Unlock()
}

// elapsed is the busy time so far, an interval still open included.
func (b *busyClock) elapsed() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.total
	if b.inFlight > 0 {
		t += time.Since(b.since)
	}
	return t
}

// serverTiming is the endpoint's Server.ServerTiming hook.
func serverTiming(ctx context.Context, total time.Duration, m []gqlhttp.TimingMetric) []gqlhttp.TimingMetric {
	rec := recordFrom(ctx)
	if rec == nil {
		return m
	}
	up := rec.upstreamTime.elapsed()
	var sent, shared, cached int64
	rec.mu.Lock()
	for _, op := range rec.ops {
		sent += op.upstream.sent.Load()
		shared += op.upstream.shared.Load()
		cached += op.upstream.cached.Load()
	}
	rec.mu.Unlock()
	return appendTimings(m, total, up, sent, shared, cached)
}

// appendTimings adds to m the application's metrics of an answer that took
// total, up of it waiting for upstream calls (sent, shared and cached):
// the hook's, and an answer from memory's (opcache.go), which made none.
func appendTimings(m []gqlhttp.TimingMetric, total, up time.Duration, sent, shared, cached int64) []gqlhttp.TimingMetric {
	b := make([]byte, 0, 40)
	b = append(b, "calls="...)
	b = strconv.AppendInt(b, sent, 10)
	b = append(b, " shared="...)
	b = strconv.AppendInt(b, shared, 10)
	b = append(b, " cached="...)
	b = strconv.AppendInt(b, cached, 10)
	return append(m,
		gqlhttp.TimingMetric{Name: "app", Dur: max(total-up, 0)},
		gqlhttp.TimingMetric{Name: "upstream", Dur: up, Desc: string(b)},
	)
}
