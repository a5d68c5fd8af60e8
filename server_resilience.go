package main

import (
	"time"

	"github.com/salesgraph/salesgraph/graph"
	"github.com/salesgraph/salesgraph/restclient"
)

// resilienceConfig is how the facade treats a misbehaving upstream: the
// operation deadline, retries and the circuit breaker.
type resilienceConfig struct {
	OperationTimeout time.Duration
	Retry            restclient.RetryPolicy // MaxAttempts 1: off
	Breaker          restclient.BreakerSettings
	BreakerOn        bool
}

// clientOptions are the restclient options the configuration makes.
func (r resilienceConfig) clientOptions() []restclient.Option {
	opts := []restclient.Option{restclient.WithRetry(r.Retry)}
	if r.BreakerOn {
		return append(opts, restclient.WithCircuitBreaker(r.Breaker))
	}
	return append(opts, restclient.WithoutCircuitBreaker())
}

// resilienceFlags registers the resilience flags, each with its
// SALESGRAPH_* variable. The function it returns, called after
// fs.Parse, builds the settings and reports every invalid value.
func resilienceFlags(ef *envFlags) func() (resilienceConfig, []string) {
	var problems []string
	rp, bs := restclient.DefaultRetryPolicy(), restclient.DefaultBreakerSettings()
	var (
		opTimeout     = ef.Duration("operation-timeout", "OPERATION_TIMEOUT", graph.DefaultOperationTimeout, "deadline of one request's operations, upstream calls and waits included")
		retries       = ef.Int("upstream-retries", "UPSTREAM_RETRIES", rp.MaxAttempts-1, "retries of a failed upstream call (connection errors, 429, 502-504), 0 to 9; 0 turns retries off")
		retryBase     = ef.Duration("upstream-retry-base-delay", "UPSTREAM_RETRY_BASE_DELAY", rp.BaseDelay, "backoff before the first retry; doubles each retry, with full jitter")
		retryMax      = ef.Duration("upstream-retry-max-delay", "UPSTREAM_RETRY_MAX_DELAY", rp.MaxDelay, "longest backoff between retries")
		retryAfterMax = ef.Duration("upstream-retry-after-max", "UPSTREAM_RETRY_AFTER_MAX", rp.MaxRetryAfter, "longest Retry-After honoured; a longer one is passed on to the caller unretried")
		budget        = ef.Float64("upstream-retry-budget", "UPSTREAM_RETRY_BUDGET", rp.Budget, "retries allowed as a share of recent upstream calls, above 0 up to 1")
		budgetWindow  = ef.Duration("upstream-retry-budget-window", "UPSTREAM_RETRY_BUDGET_WINDOW", rp.BudgetWindow, "how far back the retry budget counts calls")
		minRetries    = ef.Int("upstream-retry-min", "UPSTREAM_RETRY_MIN", rp.MinRetries, "retries allowed per budget window whatever the share")
		breakerOn     = ef.Bool("upstream-breaker", "UPSTREAM_BREAKER", true, "circuit breaker in front of the upstream")
		ratio         = ef.Float64("upstream-breaker-failure-ratio", "UPSTREAM_BREAKER_FAILURE_RATIO", bs.FailureRatio, "share of failed upstream calls in the window that opens the breaker, above 0 up to 1")
		minRequests   = ef.Int("upstream-breaker-min-requests", "UPSTREAM_BREAKER_MIN_REQUESTS", bs.MinRequests, "upstream calls the window must hold before the breaker may open")
		window        = ef.Duration("upstream-breaker-window", "UPSTREAM_BREAKER_WINDOW", bs.Window, "rolling window over which the breaker counts upstream calls")
		openTimeout   = ef.Duration("upstream-breaker-open-timeout", "UPSTREAM_BREAKER_OPEN_TIMEOUT", bs.OpenTimeout, "how long the breaker stays open before it lets probes through")
		probes        = ef.Int("upstream-breaker-probes", "UPSTREAM_BREAKER_PROBES", bs.HalfOpenProbes, "probe calls a half-open breaker lets through; all must succeed to close it")
	)
	return func() (resilienceConfig, []string) {
		r := resilienceConfig{
			OperationTimeout: *opTimeout,
			Retry: restclient.RetryPolicy{
				MaxAttempts: *retries + 1, BaseDelay: *retryBase, MaxDelay: *retryMax, MaxRetryAfter: *retryAfterMax,
				Budget: *budget, BudgetWindow: *budgetWindow, MinRetries: *minRetries,
			},
			Breaker: restclient.BreakerSettings{
				FailureRatio: *ratio, MinRequests: *minRequests, Window: *window, OpenTimeout: *openTimeout, HalfOpenProbes: *probes,
			},
			BreakerOn: *breakerOn,
		}
		check := func(ok bool, msg string) {
			if !ok {
				problems = append(problems, msg)
			}
		}
		// Zero means "the default" in the option structs; on the command
		// line a zero is a mistake worth saying so.
		check(*opTimeout > 0, "operation-timeout must be positive")
		check(*retries >= 0 && *retries <= 9, "upstream-retries must be between 0 and 9")
		check(*retryBase > 0 && *retryMax > 0 && *retryAfterMax > 0 && *budgetWindow > 0,
			"upstream retry delays and the budget window must be positive")
		check(*retryMax >= *retryBase, "upstream-retry-max-delay must not be below upstream-retry-base-delay")
		check(*budget > 0 && *budget <= 1, "upstream-retry-budget must be above 0 and at most 1")
		check(*minRetries > 0, "upstream-retry-min must be positive")
		check(*ratio > 0 && *ratio <= 1, "upstream-breaker-failure-ratio must be above 0 and at most 1")
		check(*minRequests > 0, "upstream-breaker-min-requests must be positive")
		check(*window > 0 && *openTimeout > 0, "upstream-breaker-window and upstream-breaker-open-timeout must be positive")
		check(*probes > 0 && *probes <= 1000, "upstream-breaker-probes must be between 1 and 1000")
		return r, problems
	}
}
