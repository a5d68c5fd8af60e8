package restclient

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// RetryPolicy says when and how a failed call is sent again. Every call of
// this client is an idempotent GET, so a retry can never do anything twice;
// what a policy guards against is making a sick upstream sicker.
//
// A call is retried when it got no answer because of the connection
// (refused, reset, closed before or during the response), or when the
// upstream answered 429, 502, 503 or 504. It is not retried when it timed
// out (the upstream is slow, and asking again makes it slower), when the
// caller's context ended, when the breaker refused it, or on any other
// answer: a 400, 403, 404 or 500 says the same thing the second time.
//
// The zero value of every field means its default.
type RetryPolicy struct {
	// MaxAttempts counts the first attempt too: 3 (the default) means up
	// to two retries; 1 turns retries off.
	MaxAttempts int
	// BaseDelay and MaxDelay shape the backoff. The wait before retry n is
	// drawn uniformly from [0, min(MaxDelay, BaseDelay·2^(n-1))] ("full
	// jitter"), so that clients that failed together do not come back
	// together. Defaults 50ms and 1s.
	BaseDelay time.Duration
	MaxDelay  time.Duration
	// MaxRetryAfter is the longest Retry-After the client waits for before
	// a retry (default 2s). A 429 or 503 asking for a longer wait is
	// returned at once, its APIError.RetryAfter telling the caller.
	MaxRetryAfter time.Duration
	// Budget caps retries at this share of the calls of the last
	// BudgetWindow (default 0.2, at most 1), plus MinRetries: when the
	// upstream fails most calls, retries stop instead of multiplying the
	// load on it.
	Budget float64
	// BudgetWindow is how far back the budget looks (default 10s).
	BudgetWindow time.Duration
	// MinRetries are allowed per BudgetWindow whatever the share, so that a
	// client with little traffic can still retry (default 10).
	MinRetries int
}

// DefaultRetryPolicy returns the policy a client has unless told
// otherwise.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{
		MaxAttempts:   3,
		BaseDelay:     50 * time.Millisecond,
		MaxDelay:      time.Second,
		MaxRetryAfter: 2 * time.Second,
		Budget:        0.2,
		BudgetWindow:  10 * time.Second,
		MinRetries:    10,
	}
}

// withDefaults fills in zero fields.
func (p RetryPolicy) withDefaults() RetryPolicy {
	d := DefaultRetryPolicy()
	if p.MaxAttempts == 0 {
		p.MaxAttempts = d.MaxAttempts
	}
	if p.BaseDelay == 0 {
		p.BaseDelay = d.BaseDelay
	}
	if p.MaxDelay == 0 {
		p.MaxDelay = max(d.MaxDelay, p.BaseDelay)
	}
	if p.MaxRetryAfter == 0 {
		p.MaxRetryAfter = d.MaxRetryAfter
	}
	if p.Budget == 0 {
		p.Budget = d.Budget
	}
	if p.BudgetWindow == 0 {
		p.BudgetWindow = d.BudgetWindow
	}
	if p.MinRetries == 0 {
		p.MinRetries = d.MinRetries
	}
	return p
}

// MaxAttempts bounds RetryPolicy.MaxAttempts: beyond a few retries the
// answer is not coming, and the caller's deadline is better spent
// elsewhere.
const MaxAttempts = 10

// Problems reports what is wrong with p as it is, without the defaults (a
// zero is not a valid value, but for MaxDelay, which is then BaseDelay's
// default's own), by field: WithRetry's rules, which it applies after
// filling in the zero fields, for a caller whose settings have no zero
// default and that names each field in its own words (salesgraph's
// config, by its flags).
func (p RetryPolicy) Problems() []SettingProblem {
	var out settingProblems
	out.check(p.MaxAttempts >= 1 && p.MaxAttempts <= MaxAttempts, "MaxAttempts", "must be between 1 and %d, got %d", MaxAttempts, p.MaxAttempts)
	out.positive("BaseDelay", p.BaseDelay)
	out.positive("MaxDelay", p.MaxDelay)
	out.check(p.MaxDelay <= 0 || p.MaxDelay >= p.BaseDelay, "MaxDelay", "must not be below BaseDelay (%v), got %v", p.BaseDelay, p.MaxDelay)
	out.positive("MaxRetryAfter", p.MaxRetryAfter)
	out.check(p.Budget > 0 && p.Budget <= 1, "Budget", "must be a share above 0 and at most 1, got %v", p.Budget)
	out.positive("BudgetWindow", p.BudgetWindow)
	out.check(p.MinRetries > 0, "MinRetries", "must be positive, got %d", p.MinRetries)
	return out
}

// WithRetry sets the retry policy; zero fields keep their defaults (see
// DefaultRetryPolicy). Retries are on by default.
func WithRetry(p RetryPolicy) Option {
	return func(c *Client) {
		if ps := p.withDefaults().Problems(); len(ps) > 0 {
			c.invalid("WithRetry: %s", joinProblems(ps))
			return
		}
		c.retryPolicy = p.withDefaults()
	}
}

// WithoutRetry turns retries off: every call is one attempt.
func WithoutRetry() Option {
	return WithRetry(RetryPolicy{MaxAttempts: 1})
}

// RetryDenial says why a retryable failure was not retried.
type RetryDenial string

// The reasons a retryable failure is returned instead of retried.
const (
	RetryDeniedAttempts   RetryDenial = "attempts"    // MaxAttempts reached
	RetryDeniedBudget     RetryDenial = "budget"      // the retry budget is spent
	RetryDeniedDeadline   RetryDenial = "deadline"    // the caller's deadline would pass during the wait
	RetryDeniedRetryAfter RetryDenial = "retry_after" // the upstream asked for a wait over MaxRetryAfter
)

// RetryEvent describes an attempt that failed with a retryable error, for
// metrics and logs: either a retry follows after Delay, or Denied says why
// none does. Like CallInfo it carries no host and no header.
type RetryEvent struct {
	Endpoint string        // endpoint template
	Path     string        // the path asked for, without host or query
	Attempt  int           // the attempt that failed, from 1
	Err      error         // its error
	Delay    time.Duration // the wait before the next attempt; 0 when denied
	Denied   RetryDenial   // "" when a retry follows
}

// WithRetryObserver has f called for every failed attempt whose error is
// retryable, retried or not, on the calling goroutine: keep it cheap and
// non-blocking. Attempts themselves are reported to WithObserver, with
// CallInfo.Attempt above 1 for retries.
func WithRetryObserver(f func(RetryEvent)) Option {
	return func(c *Client) { c.onRetry = f }
}

// retrier runs a client's retry policy. A nil *retrier retries nothing.
type retrier struct {
	policy  RetryPolicy
	budget  *retryBudget
	observe func(RetryEvent)
	sleep   func(context.Context, time.Duration) error
	jitter  func(n int64) int64 // uniform in [0, n)
}

func newRetrier(p RetryPolicy, now func() time.Time, observe func(RetryEvent)) *retrier {
	if p.MaxAttempts <= 1 {
		return nil
	}
	return &retrier{
		policy:  p,
		budget:  newRetryBudget(p.Budget, p.MinRetries, p.BudgetWindow, now),
		observe: observe,
		sleep:   sleep,
		jitter:  rand.Int64N,
	}
}

// started counts a call, first attempts only, towards the budget.
func (r *retrier) started() {
	if r != nil {
		r.budget.call()
	}
}

// next decides whether attempt, which failed with err of class, is
// retried, and after how long. What may be retried is the class's to say
// (Classify); an attempt whose caller has left is not.
func (r *retrier) next(ctx context.Context, endpoint, path string, attempt int, err error, class Class) (time.Duration, bool) {
	if r == nil || !class.Retryable || ctx.Err() != nil {
		return 0, false
	}
	deny := func(why RetryDenial) (time.Duration, bool) {
		r.notify(RetryEvent{Endpoint: endpoint, Path: path, Attempt: attempt, Err: err, Denied: why})
		return 0, false
	}
	if attempt >= r.policy.MaxAttempts {
		return deny(RetryDeniedAttempts)
	}
	wait := class.RetryAfter
	if wait > r.policy.MaxRetryAfter {
		return deny(RetryDeniedRetryAfter)
	}
	if wait == 0 {
		wait = r.backoff(attempt)
	}
	// A retry that cannot finish before the deadline only adds load; the
	// caller gets the last answer instead, which says more than a timeout.
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= wait {
		return deny(RetryDeniedDeadline)
	}
	if !r.budget.withdraw() {
		return deny(RetryDeniedBudget)
	}
	r.notify(RetryEvent{Endpoint: endpoint, Path: path, Attempt: attempt, Err: err, Delay: wait})
	return wait, true
}

// backoff is the full-jitter wait before the retry that follows attempt.
func (r *retrier) backoff(attempt int) time.Duration {
	ceiling := r.policy.MaxDelay
	if shift := attempt - 1; shift < 32 {
		ceiling = min(ceiling, r.policy.BaseDelay<<shift)
	}
	if ceiling <= 0 {
		return 0
	}
	return time.Duration(r.jitter(int64(ceiling) + 1))
}

func (r *retrier) notify(e RetryEvent) {
	if r.observe != nil {
		r.observe(e)
	}
}

// sleep waits d or until ctx ends, whichever is first.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// retryBudget is a sliding window of calls and retries: a retry is allowed
// while retries stay within min + ratio × calls over the window. The window
// is kept in buckets, so that old traffic leaves it gradually.
type retryBudget struct {
	mu      sync.Mutex
	ratio   float64
	min     int
	width   int64 // of one bucket, in nanoseconds
	now     func() time.Time
	buckets [budgetBuckets]budgetBucket
}

const budgetBuckets = 10

type budgetBucket struct {
	epoch          int64 // the bucket's start, in widths since the Unix epoch
	calls, retries int
}

func newRetryBudget(ratio float64, min int, window time.Duration, now func() time.Time) *retryBudget {
	return &retryBudget{ratio: ratio, min: min, width: max(int64(window)/budgetBuckets, 1), now: now}
}

// current returns the bucket for epoch e, emptied if it held an older one.
func (b *retryBudget) current(e int64) *budgetBucket {
	bk := &b.buckets[uint64(e)%budgetBuckets]
	if bk.epoch != e {
		*bk = budgetBucket{epoch: e}
	}
	return bk
}

func (b *retryBudget) epoch() int64 { return b.now().UnixNano() / b.width }

func (b *retryBudget) call() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.current(b.epoch()).calls++
}

// withdraw takes a retry from the budget if there is one left.
func (b *retryBudget) withdraw() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.epoch()
	calls, retries := 0, 0
	for i := range b.buckets {
		if bk := &b.buckets[i]; bk.epoch > e-budgetBuckets && bk.epoch <= e {
			calls += bk.calls
			retries += bk.retries
		}
	}
	if float64(retries+1) > float64(b.min)+b.ratio*float64(calls) {
		return false
	}
	b.current(e).retries++
	return true
}
