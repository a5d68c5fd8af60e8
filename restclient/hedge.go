package restclient

import (
	"context"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Hedged requests ("The Tail at Scale", Dean and Barroso, 2013). Every
// call of this client is an idempotent GET, so when an attempt has waited
// for its answer's headers longer than most answers of its endpoint take
// (a high percentile of the endpoint's recent latencies, within a floor and
// a cap), a second identical request is sent and whichever answers first
// is used; the other is cancelled and its body closed. A fan-out of 50
// calls to an upstream whose answers are slow 1% of the time meets that
// tail in 40% of its requests: hedging cuts the tail for a few percent more
// upstream requests, bounded by a budget like the retry budget's.
//
// A hedge is a real request: it waits for no turn of the rate limit (one
// that is not free within the hedge delay refuses it), passes the path
// ejection and the circuit breaker (which must be closed: half-open probes
// are not spent on hedges), and counts in the answer report
// (WithAnswerReport) as AnswerSent and AnswerHedged. Refused, it is simply
// not sent. It is sent only while the attempt it doubles still waits for
// headers: once an attempt has failed, the retry policy owns what follows.
// A hedge in flight when its attempt fails is still waited for, and its
// success wins; a failure of the request that lost is ignored only when
// the winner succeeded.
//
// A hedge draws the tail as often as its attempt: when neither has
// answered one more delay after the hedge was sent, another is sent, up to
// MaxHedges per attempt (gRPC's hedging policy does the same, maxAttempts
// being MaxHedges+1), under the same rules; a hedge refused or answered
// with a failure is not hedged in turn. The first usable answer of all
// wins, and the others are cancelled.
//
// Hedging sits under the sharing of identical calls and the response
// cache, so a shared or cached call is one logical call, hedged at most
// MaxHedges times per attempt.

// HedgePolicy says when an attempt is hedged. The zero value of every
// field means its default (DefaultHedgePolicy).
type HedgePolicy struct {
	// Percentile of the endpoint's recent successful latencies (to the
	// answer's headers) after which a hedge is sent: 0.95 by default. The
	// last 1,024 answers of each endpoint template are kept; until 20 are,
	// the endpoint is not hedged, unless MinDelay equals MaxDelay (a fixed
	// delay, which needs no history).
	Percentile float64
	// MinDelay is the floor of the hedge delay (default 10ms): below it a
	// hedge would double a healthy upstream's load for little gain.
	MinDelay time.Duration
	// MaxDelay is its cap (default 1s), for an endpoint that is slow all
	// the time.
	MaxDelay time.Duration
	// Budget caps hedges at this share of the attempts of the last
	// BudgetWindow (default 0.05, at most 1), plus MinHedges, so that a
	// slow upstream is not sent twice its load.
	Budget float64
	// BudgetWindow is how far back the budget looks (default 10s).
	BudgetWindow time.Duration
	// MinHedges are allowed per BudgetWindow whatever the share (default
	// 10), so that a client with little traffic can still hedge.
	MinHedges int
	// MaxHedges is how many hedges one attempt may have (default 2, at
	// most 4; 1 hedges once): the next is due one delay after the last
	// was sent, while neither the attempt nor any hedge has answered, so
	// that a hedge that meets the tail itself is hedged in turn (gRPC's
	// hedging policy, maxAttempts MaxHedges+1).
	MaxHedges int
}

// DefaultHedgePolicy returns the policy WithHedging fills zero fields
// from.
func DefaultHedgePolicy() HedgePolicy {
	return HedgePolicy{
		Percentile:   0.95,
		MinDelay:     10 * time.Millisecond,
		MaxDelay:     time.Second,
		Budget:       0.05,
		BudgetWindow: 10 * time.Second,
		MinHedges:    10,
		MaxHedges:    2,
	}
}

func (p HedgePolicy) withDefaults() HedgePolicy {
	d := DefaultHedgePolicy()
	if p.Percentile == 0 {
		p.Percentile = d.Percentile
	}
	if p.MinDelay == 0 {
		p.MinDelay = d.MinDelay
	}
	if p.MaxDelay == 0 {
		p.MaxDelay = max(d.MaxDelay, p.MinDelay)
	}
	if p.Budget == 0 {
		p.Budget = d.Budget
	}
	if p.BudgetWindow == 0 {
		p.BudgetWindow = d.BudgetWindow
	}
	if p.MinHedges == 0 {
		p.MinHedges = d.MinHedges
	}
	if p.MaxHedges == 0 {
		p.MaxHedges = d.MaxHedges
	}
	return p
}

// Problems reports what is wrong with p as it is, by field, as
// RetryPolicy.Problems does: WithHedging's rules, which it applies after
// filling in the zero fields.
func (p HedgePolicy) Problems() []SettingProblem {
	var out settingProblems
	out.check(p.Percentile > 0 && p.Percentile < 1, "Percentile", "must be a share above 0 and below 1, got %v", p.Percentile)
	out.positive("MinDelay", p.MinDelay)
	out.positive("MaxDelay", p.MaxDelay)
	out.check(p.MaxDelay <= 0 || p.MaxDelay >= p.MinDelay, "MaxDelay", "must not be below MinDelay (%v), got %v", p.MinDelay, p.MaxDelay)
	out.check(p.Budget > 0 && p.Budget <= 1, "Budget", "must be a share above 0 and at most 1, got %v", p.Budget)
	out.positive("BudgetWindow", p.BudgetWindow)
	out.check(p.MinHedges >= 0, "MinHedges", "must not be negative, got %d", p.MinHedges)
	out.check(p.MaxHedges >= 1 && p.MaxHedges <= maxHedges, "MaxHedges", "must be from 1 to %d, got %d", maxHedges, p.MaxHedges)
	return out
}

// maxHedges caps HedgePolicy.MaxHedges as gRPC caps its maxAttempts (5):
// past a few, more copies of a request add load, not luck.
const maxHedges = 4

// WithHedging hedges slow attempts as p says; zero fields keep their
// defaults (DefaultHedgePolicy). Hedging is off unless this option is
// given.
func WithHedging(p HedgePolicy) Option {
	return func(c *Client) {
		if ps := p.withDefaults().Problems(); len(ps) > 0 {
			c.invalid("WithHedging: %s", joinProblems(ps))
			return
		}
		p = p.withDefaults()
		c.hedgePolicy = &p
	}
}

// WithoutHedging turns hedging off (the default).
func WithoutHedging() Option {
	return func(c *Client) { c.hedgePolicy = nil }
}

// HedgeResult is what became of a hedge.
type HedgeResult string

// The results a HedgeEvent reports, for each hedge of an attempt (up to
// MaxHedges). A hedge sent is reported twice when it wins: HedgeSent, then
// HedgeWon.
const (
	HedgeSent              HedgeResult = "sent"                 // a hedge was sent
	HedgeWon               HedgeResult = "won"                  // its answer was used, the attempt's cancelled
	HedgeRefusedBudget     HedgeResult = "refused_budget"       // the hedge budget was spent
	HedgeRefusedRateLimit  HedgeResult = "refused_rate_limit"   // the rate limit had no turn within the delay
	HedgeRefusedBreaker    HedgeResult = "refused_circuit_open" // the circuit breaker was not closed
	HedgeRefusedPathEjects HedgeResult = "refused_path_ejected" // the path is ejected for the caller
)

// HedgeEvent reports a hedge, for metrics. Like CallInfo it carries no
// host, path or header.
type HedgeEvent struct {
	Endpoint string        // endpoint template
	Result   HedgeResult   // what became of it
	Delay    time.Duration // how long the attempt had waited when the hedge was due (the delay, for the first)
}

// WithHedgeObserver has f called for every hedge due (sent or refused) and
// every hedge that won, on the hedge's goroutine: keep it cheap and
// non-blocking.
func WithHedgeObserver(f func(HedgeEvent)) Option {
	return func(c *Client) { c.onHedge = f }
}

// AnswerHedged is reported (WithAnswerReport), besides AnswerSent, for
// every hedge sent: of a caller's exchanges, those that were hedges.
const AnswerHedged Answer = AnswerCached + 1

// hedger is a client's hedging state. A nil *hedger hedges nothing.
type hedger struct {
	policy    HedgePolicy
	fixed     bool // MinDelay == MaxDelay: no history needed
	budget    *retryBudget
	latencies sync.Map // endpoint template -> *latencyWindow
	after     func(time.Duration, func()) hedgeTimer
}

func newHedger(p *HedgePolicy, now func() time.Time) *hedger {
	if p == nil {
		return nil
	}
	return &hedger{
		policy: *p,
		fixed:  p.MinDelay == p.MaxDelay,
		budget: newRetryBudget(p.Budget, p.MinHedges, p.BudgetWindow, now),
		after:  func(d time.Duration, f func()) hedgeTimer { return time.AfterFunc(d, f) },
	}
}

func (h *hedger) window(endpoint string) *latencyWindow {
	if w, ok := h.latencies.Load(endpoint); ok {
		return w.(*latencyWindow)
	}
	w, _ := h.latencies.LoadOrStore(endpoint, &latencyWindow{percentile: h.policy.Percentile})
	return w.(*latencyWindow)
}

// record keeps an answer's latency for its endpoint's percentile; a fixed
// delay reads none.
func (h *hedger) record(endpoint string, d time.Duration) {
	if !h.fixed {
		h.window(endpoint).record(d)
	}
}

// delay is how long an attempt of endpoint waits before its hedge; false
// when the endpoint has too little history to say.
func (h *hedger) delay(endpoint string) (time.Duration, bool) {
	if h.fixed {
		return h.policy.MinDelay, true
	}
	d, ok := h.window(endpoint).quantile()
	if !ok {
		return 0, false
	}
	return min(max(d, h.policy.MinDelay), h.policy.MaxDelay), true
}

// latencyWindow keeps an endpoint's last latencyWindowSize latencies and
// the percentile of them, recomputed every latencyRecompute samples: a
// copy and a sort of 1,024 numbers, about a microsecond per call.
type latencyWindow struct {
	percentile float64
	mu         sync.Mutex
	samples    [latencyWindowSize]time.Duration
	sorted     [latencyWindowSize]time.Duration // scratch for the percentile
	n          int                              // samples recorded, ever
	cached     atomic.Int64
}

// A window of 1,024 answers spans many requests: a fan-out's 50 calls
// are slow or fast together, and over a window of a few requests (128 was
// tried) the calls past its percentile were twice the share it names, the
// budget ran out on them, and the tail's calls went unhedged
// (BenchmarkTail: refused hedges 1.0 → 0.15 per Q1 request).
const (
	latencyWindowSize = 1024
	latencyMinSamples = 20
	latencyRecompute  = 32
)

func (w *latencyWindow) record(d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.samples[w.n%latencyWindowSize] = d
	w.n++
	if w.n >= latencyMinSamples && (w.n-latencyMinSamples)%latencyRecompute == 0 {
		s := w.sorted[:min(w.n, latencyWindowSize)]
		copy(s, w.samples[:len(s)])
		slices.Sort(s)
		i := min(int(w.percentile*float64(len(s))), len(s)-1)
		w.cached.Store(int64(s[i]))
	}
}

func (w *latencyWindow) quantile() (time.Duration, bool) {
	d := w.cached.Load()
	return time.Duration(d), d > 0
}

type hedgeKey struct{}

// IsHedge reports whether req, as a transport given to WithHTTPClient sees
// it, is a hedge: a second request identical to one still waiting, e.g.
// for a span attribute. Its headers are the same as the first's.
func IsHedge(req *http.Request) bool {
	is, _ := req.Context().Value(hedgeKey{}).(bool)
	return is
}

// exchange is the answer of one HTTP request.
type exchange struct {
	resp *http.Response
	err  error
}

// answered says the exchange is an answer a caller can use: no transport
// failure, and no status the retry policy or the breaker would call a
// failure of the upstream (429, 5xx).
func (e exchange) answered() bool {
	return e.err == nil && e.resp.StatusCode != http.StatusTooManyRequests && e.resp.StatusCode < 500
}

func (e exchange) close() {
	if e.resp != nil {
		// A little drained, so that a short body leaves its connection
		// reusable; a long one is cut with the connection.
		_, _ = io.CopyN(io.Discard, e.resp.Body, 4<<10)
		_ = e.resp.Body.Close()
	}
}

// hedgeRace is one attempt and its hedges.
type hedgeRace struct {
	ctx, callCtx   context.Context // the caller's (for the answer report), the attempt's
	caller         uint64
	endpoint, path string
	template       *http.Request // a copy of the attempt that is never sent: each hedge clones it
	delay          time.Duration
	start          time.Time

	mu          sync.Mutex
	primaryDone bool // the attempt's answer came: no hedge is sent after it
	waiting     bool // the attempt failed and waits for the hedges in flight
	inFlight    int  // hedges sent whose answer has not come
	failed      bool // a hedge's answer was a failure: no further hedge is sent
	won         *exchange
	wonIdx      int                  // the winner's index in cancels
	cancels     []context.CancelFunc // of every hedge begun, in order
	timers      []hedgeTimer         // of every hedge due
	settled     chan struct{}        // closed, once waiting, when a hedge won or none is in flight
	settledSet  bool

	cancelPrimary context.CancelFunc
}

// hedgeTimer is the *time.Timer of a hedge due: tests replace it
// (SetHedgeTimer) so that they decide when a hedge is due.
type hedgeTimer interface{ Stop() bool }

// send sends req, hedged when the client hedges: see the top of the file.
// ctx is the caller's context, callCtx the attempt's (req's). The
// response's body, when there is one, must be closed, which also ends the
// context of the request it came from.
func (c *Client) send(ctx, callCtx context.Context, caller uint64, endpoint, path string, req *http.Request) (*http.Response, error) {
	reportAnswer(ctx, endpoint, AnswerSent)
	h := c.hedger
	if h == nil {
		return c.httpClient.Do(req)
	}
	h.budget.call()
	start := time.Now()
	delay, ok := h.delay(endpoint)
	if !ok {
		resp, err := c.httpClient.Do(req)
		if (exchange{resp, err}).answered() {
			h.record(endpoint, time.Since(start))
		}
		return resp, err
	}

	// Each request has a context of its own, so that the losers can be
	// cancelled; the winner's ends when its body is closed.
	primaryCtx, cancelPrimary := context.WithCancel(callCtx)
	r := &hedgeRace{
		ctx: ctx, callCtx: callCtx, caller: caller, endpoint: endpoint, path: path,
		// Cloned before the attempt is sent: the same headers, credentials
		// included, and none a client's cookie jar adds to the attempt.
		template: req.Clone(callCtx),
		delay:    delay, start: start,
		settled:       make(chan struct{}),
		cancelPrimary: cancelPrimary,
	}
	r.mu.Lock() // the timer may fire, and arm the next, before append returns
	r.timers = append(r.timers, h.after(delay, func() { c.hedge(r, 1, delay) }))
	r.mu.Unlock()

	resp, err := c.httpClient.Do(req.WithContext(primaryCtx))
	mine := exchange{resp, err}
	r.mu.Lock()
	r.primaryDone = true
	if r.won == nil && !mine.answered() && r.inFlight > 0 {
		// The attempt failed while hedges are in flight: one may still
		// succeed, and the caller is better served by its answer.
		r.waiting = true
	}
	waiting, timers := r.waiting, r.timers
	r.mu.Unlock()
	for _, t := range timers {
		t.Stop() // a hedge not due yet never will be
	}
	if waiting {
		<-r.settled
	}
	// No hedge begins once primaryDone is set, and none wins once the race
	// is settled: cancels and won are final.
	r.mu.Lock()
	won, wonIdx, cancels := r.won, r.wonIdx, r.cancels
	r.mu.Unlock()
	for i, cancel := range cancels {
		if won == nil || i != wonIdx {
			cancel() // not sent yet, or in flight and lost
		}
	}
	if won != nil {
		// A hedge answered first: the attempt is cancelled, and took at
		// least this long (a lower bound, for the percentile).
		cancelPrimary() // first, so that closing cannot wait on a stalled body
		mine.close()
		if !waiting {
			h.record(endpoint, time.Since(start))
		}
		won.resp.Body = &cancelOnClose{won.resp.Body, cancels[wonIdx]}
		return won.resp, nil
	}
	if mine.answered() {
		h.record(endpoint, time.Since(start))
	}
	if resp == nil {
		cancelPrimary()
		return nil, err
	}
	resp.Body = &cancelOnClose{resp.Body, cancelPrimary}
	return resp, nil
}

// cancelOnClose ends a request's context once its body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// open says whether r may still send a hedge: the attempt waits for its
// answer, and no hedge has answered (a success ends the race, a failure is
// no reason to ask again). Called with r.mu held.
func (r *hedgeRace) open() bool {
	return !r.primaryDone && r.won == nil && !r.failed
}

// hedge is the n-th hedge of r (from 1), due after the attempt waited
// due: sent if the budget, the path ejection, the breaker and the rate
// limit allow and the race is still open, then raced against the attempt
// and the other hedges. Once sent, the next hedge, if the policy allows
// one, is due one delay later.
func (c *Client) hedge(r *hedgeRace, n int, due time.Duration) {
	r.mu.Lock()
	if !r.open() {
		r.mu.Unlock()
		return
	}
	hedgeCtx, cancelHedge := context.WithCancel(r.callCtx)
	r.cancels = append(r.cancels, cancelHedge) // send cancels it when the race is over
	idx := len(r.cancels) - 1
	r.mu.Unlock()

	endpoint, path := r.endpoint, r.path
	refused := func(why HedgeResult) { c.notifyHedge(endpoint, why, due) }
	if !c.hedger.budget.withdraw() {
		refused(HedgeRefusedBudget)
		return
	}
	if c.breaker != nil {
		if c.ejector.check(r.caller, endpoint, path) != nil {
			refused(HedgeRefusedPathEjects)
			return
		}
		if c.breaker.state() != BreakerClosed {
			refused(HedgeRefusedBreaker)
			return
		}
	}
	if c.fair != nil {
		// A turn that is not free within one more delay comes too late to
		// help: the attempt has then waited twice its percentile.
		turnCtx, cancel := context.WithTimeout(hedgeCtx, r.delay)
		err := c.waitTurn(turnCtx, r.caller, endpoint, path)
		cancel()
		if err != nil {
			if hedgeCtx.Err() == nil {
				refused(HedgeRefusedRateLimit)
			} // else the race was over meanwhile
			return
		}
	}
	var breakerDone func(context.Context, Class)
	if c.breaker != nil {
		d, _, err := c.breaker.allow(endpoint, path)
		if err != nil {
			refused(HedgeRefusedBreaker)
			return
		}
		breakerDone = d
	}
	r.mu.Lock()
	if !r.open() {
		r.mu.Unlock()
		if breakerDone != nil {
			breakerDone(hedgeCtx, Class{Kind: KindUnknown}) // never sent: counts for nothing
		}
		return
	}
	r.inFlight++
	// Reported before the attempt can return, so that the caller's count
	// of its exchanges holds the hedge by the time the call is over.
	reportAnswer(r.ctx, endpoint, AnswerSent)
	reportAnswer(r.ctx, endpoint, AnswerHedged)
	if n < c.hedger.policy.MaxHedges {
		// Due one delay after this one is sent, whatever the wait for
		// its turn: so that this hedge, too, has had its percentile.
		r.timers = append(r.timers, c.hedger.after(r.delay, func() { c.hedge(r, n+1, time.Since(r.start)) }))
	}
	r.mu.Unlock()
	c.notifyHedge(endpoint, HedgeSent, due)

	resp, err := c.httpClient.Do(r.template.Clone(context.WithValue(hedgeCtx, hedgeKey{}, true)))
	ex := exchange{resp, err}
	// An answer is the upstream's, even if another request won meanwhile
	// and ended the hedge's context; only a failure to get one may be the
	// cancellation's.
	outcomeCtx := hedgeCtx
	if err == nil || hedgeCtx.Err() == nil {
		outcomeCtx = context.WithoutCancel(hedgeCtx)
	}
	r.mu.Lock()
	r.inFlight--
	won := ex.answered() && r.won == nil && (!r.primaryDone || r.waiting)
	if won {
		r.won, r.wonIdx = &ex, idx // taken by send, which closes it
	} else if !ex.answered() && hedgeCtx.Err() == nil {
		r.failed = true
	}
	settle := r.waiting && !r.settledSet && (r.won != nil || r.inFlight == 0)
	if settle {
		r.settledSet = true
	}
	r.mu.Unlock()
	if won {
		// Told before the attempt is cancelled, and so before the call
		// can return: whoever counts hedges has this one once it has its
		// answer.
		c.notifyHedge(endpoint, HedgeWon, due)
		r.cancelPrimary()
	} else {
		ex.close()
	}
	if breakerDone != nil {
		breakerDone(outcomeCtx, hedgeClass(endpoint, path, ex))
	}
	if settle {
		close(r.settled)
	}
}

// hedgeClass is what the breaker hears of a hedge: its failure, or a
// success; a hedge that lost and was cancelled counts for nothing
// (breakerOutcome, its context being cancelled).
func hedgeClass(endpoint, path string, ex exchange) Class {
	switch {
	case ex.err != nil:
		return Classify(&TransportError{Endpoint: endpoint, Path: path, Err: unwrapURLError(ex.err)})
	case !ex.answered():
		return Classify(&APIError{HTTPStatus: ex.resp.StatusCode, Endpoint: endpoint, Path: path})
	}
	return Class{Kind: KindOK}
}

func (c *Client) notifyHedge(endpoint string, result HedgeResult, delay time.Duration) {
	if c.onHedge != nil {
		c.onHedge(HedgeEvent{Endpoint: endpoint, Result: result, Delay: delay})
	}
}
