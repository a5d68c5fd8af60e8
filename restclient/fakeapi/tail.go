package fakeapi

import (
	"fmt"
	"time"
)

// A latency tail: real APIs answer most requests in about the same time
// and a few much later (a garbage collection, a cold cache, a slow
// replica). A fan-out of 50 calls meets a tail of 1% in 40% of its
// requests, which is what hedged requests (restclient.WithHedging) are for;
// this mode lets tests, benchmarks and the demo show it.

// tail is a share of answers delayed by extra on top of the latency.
type tail struct {
	share float64
	extra time.Duration
}

func checkTail(share float64, extra time.Duration) {
	if !(share >= 0 && share <= 1) || extra < 0 {
		panic(fmt.Sprintf("fakeapi: tail %v of answers %v later: want a share in [0, 1] and a non-negative delay", share, extra))
	}
}

// WithTail delays a share (0..1) of the answers by extra, on top of
// [WithLatency]'s latency: WithLatency(5*time.Millisecond, 0) with
// WithTail(0.01, 300*time.Millisecond) is an upstream that answers in 5 ms,
// and 1% of the time 300 ms later. Which answers are in the tail is drawn
// from the seed ([WithSeed]) in the order requests arrive, so a run of
// requests sent one after another meets the same tail every time.
// [Server.SetTail] changes it later.
func WithTail(share float64, extra time.Duration) Option {
	checkTail(share, extra)
	return func(c *config) { c.tail = tail{share, extra} }
}

// SetTail changes the latency tail, as [WithTail] sets it; it applies to
// requests that arrive afterwards. SetTail(0, 0) turns it off.
func (s *Server) SetTail(share float64, extra time.Duration) {
	checkTail(share, extra)
	s.mu.Lock()
	s.tail = tail{share, extra}
	s.mu.Unlock()
}

// Tailed returns how many answers the tail has delayed since the server
// started or was last reset.
func (s *Server) Tailed() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tailed
}

// tailDelayLocked draws, under s.mu, whether this answer is in the tail.
func (s *Server) tailDelayLocked() time.Duration {
	if s.tail.share <= 0 || s.tail.extra <= 0 {
		return 0
	}
	if s.jitterRand.Float64() >= s.tail.share {
		return 0
	}
	s.tailed++
	return s.tail.extra
}
