package restclient

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/salesgraph/salesgraph/flight"
	"github.com/salesgraph/salesgraph/ratelimit"
)

// Defaults, chosen for a facade that fans out to one upstream host.
const (
	DefaultTimeout          = 10 * time.Second // WithTimeout
	DefaultPageParam        = "page"           // WithPageParam
	DefaultPerPageParam     = "per_page"       // WithPerPage
	DefaultMaxResponseBytes = 32 << 20         // WithMaxResponseBytes
	DefaultBodyBudget       = 256 << 20        // WithBodyBudget

	defaultUserAgent       = "salesgraph"
	defaultMaxPages        = 500
	defaultPageConcurrency = 4
)

// Client calls the REST API. It is safe for concurrent use and meant to be
// shared: it owns a connection pool sized for many concurrent calls to one
// host. Create it with New.
type Client struct {
	base            string // scheme://host/prefix, no trailing slash
	httpClient      *http.Client
	timeout         time.Duration
	userAgent       string
	pageParam       string
	perPageParam    string
	perPage         int
	loc             *time.Location
	maxBody         int64
	bodyBudget      int64       // WithBodyBudget; 0 for the default
	budget          *bodyBudget // built by New from bodyBudget and maxBody
	creds           http.Header
	maxPages        int
	pageConcurrency int
	observe         func(CallInfo)
	now             func() time.Time // for Retry-After dates and the retry budget; replaced in tests

	// Resilience (retry.go, breaker.go): the options set the first three
	// fields, New builds the rest from them.
	retryPolicy     RetryPolicy
	breakerSettings BreakerSettings
	breakerOff      bool
	onRetry         func(RetryEvent)
	onBreaker       func(from, to BreakerState)
	onEjection      func(PathEjection)
	retry           *retrier // nil when retries are off
	breaker         *breaker // nil when the breaker is off
	ejector         *ejector // nil when paths are never ejected (outlier.go)
	callerSeed      maphash.Seed

	cache   *ResponseCache    // WithResponseCache; nil: none (cache.go)
	limiter ratelimit.Limiter // WithRateLimiter; nil: none (cache.go)
	fair    *ratelimit.Fair   // limiter, its turns shared among callers (caller.go)

	// Sharing of identical calls in flight (share.go): flights is nil
	// when WithoutSharing turned it off.
	shareOff bool
	onShare  func(endpoint string)
	flights  *flight.Group[shared]

	// Hedging (hedge.go): WithHedging sets hedgePolicy, New builds
	// hedger from it; nil when hedging is off.
	hedgePolicy *HedgePolicy
	hedger      *hedger
	onHedge     func(HedgeEvent)

	optErrs []error // invalid option values, reported by New
}

// Option configures a Client in New.
type Option func(*Client)

// CallInfo describes one HTTP exchange with the upstream, for logs and
// metrics. It names the endpoint template and the path, never the host or
// any header.
type CallInfo struct {
	Endpoint   string        // endpoint template, a low-cardinality label
	Path       string        // the path asked for, without host or query
	Method     string        // always GET for now
	HTTPStatus int           // 0 when no answer came
	Duration   time.Duration // from sending to the body being read and decoded
	Err        error         // what the call returned; nil on success
	Class      Class         // Classify(Err), as the retry policy and the breaker saw it
	// Attempt numbers the attempts of one call from 1; above 1 it is a
	// retry (see WithRetry).
	Attempt int
}

// New returns a client for the API at baseURL, e.g. "https://crm.example.com"
// or, behind a path prefix, "https://example.com/crm" (the endpoints are then
// under /crm/api/v1/). Invalid options are reported here rather than at the
// first call.
func New(baseURL string, opts ...Option) (*Client, error) {
	base, err := parseBaseURL(baseURL)
	if err != nil {
		return nil, err
	}
	c := &Client{
		base:            base,
		timeout:         DefaultTimeout,
		userAgent:       defaultUserAgent,
		pageParam:       DefaultPageParam,
		perPageParam:    DefaultPerPageParam,
		loc:             time.UTC,
		maxBody:         DefaultMaxResponseBytes,
		maxPages:        defaultMaxPages,
		pageConcurrency: defaultPageConcurrency,
		now:             time.Now,
		retryPolicy:     DefaultRetryPolicy(),
		breakerSettings: DefaultBreakerSettings(),
	}
	for _, o := range opts {
		if o != nil {
			o(c)
		}
	}
	if len(c.optErrs) > 0 {
		return nil, errors.Join(c.optErrs...)
	}
	switch {
	case c.bodyBudget == 0:
		c.budget = newBodyBudget(max(DefaultBodyBudget, c.maxBody))
	case c.bodyBudget < c.maxBody:
		return nil, fmt.Errorf("restclient: WithBodyBudget: %d bytes is less than one body may hold (WithMaxResponseBytes %d)", c.bodyBudget, c.maxBody)
	default:
		c.budget = newBodyBudget(c.bodyBudget)
	}
	if c.httpClient == nil {
		c.httpClient = &http.Client{Transport: newTransport(c.timeout)}
	}
	c.retry = newRetrier(c.retryPolicy, func() time.Time { return c.now() }, c.onRetry)
	c.callerSeed = maphash.MakeSeed()
	if !c.breakerOff {
		c.breaker = newBreaker(c.breakerSettings, c.onBreaker)
		c.ejector = newEjector(c.breakerSettings, func() time.Time { return c.now() }, c.breaker.epoch, c.onEjection)
	}
	if c.limiter != nil {
		c.fair = fairLimiter(c.limiter)
	}
	if !c.shareOff {
		c.flights = &flight.Group[shared]{}
	}
	c.hedger = newHedger(c.hedgePolicy, func() time.Time { return c.now() })
	return c, nil
}

// CloseIdleConnections closes the client's idle connections to the
// upstream, e.g. at shutdown. Calls may still be made afterwards.
func (c *Client) CloseIdleConnections() { c.httpClient.CloseIdleConnections() }

// parseBaseURL checks the base URL and returns it without a trailing slash.
// Its errors never repeat the URL, which might carry a password.
func parseBaseURL(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "", fmt.Errorf("restclient: base URL is not a valid URL: %w", unwrapURLError(err))
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", errors.New("restclient: base URL must be an absolute http:// or https:// URL")
	case u.Hostname() == "":
		return "", errors.New("restclient: base URL has no host")
	case u.User != nil:
		return "", errors.New("restclient: base URL must not carry credentials; use WithCredentials")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "", errors.New("restclient: base URL must not have a query or a fragment")
	}
	return u.Scheme + "://" + u.Host + strings.TrimRight(u.EscapedPath(), "/"), nil
}

// newTransport is http.DefaultTransport's settings with a pool sized for
// fan-out to a single host: the default keeps 2 idle connections per host,
// so a burst of concurrent calls would open and close connections each time.
func newTransport(responseHeaderTimeout time.Duration) *http.Transport {
	var t *http.Transport
	if dt, ok := http.DefaultTransport.(*http.Transport); ok {
		t = dt.Clone()
	} else {
		t = &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
		}
	}
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 128
	t.IdleConnTimeout = 90 * time.Second
	t.ForceAttemptHTTP2 = true
	t.ResponseHeaderTimeout = responseHeaderTimeout
	return t
}

func (c *Client) invalid(format string, args ...any) {
	c.optErrs = append(c.optErrs, fmt.Errorf("restclient: "+format, args...))
}

// WithHTTPClient makes the client send its requests through hc, e.g. to add
// tracing or a proxy. hc is used as given; the per-call timeout still
// applies through the request context.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc == nil {
			c.invalid("WithHTTPClient: nil *http.Client")
			return
		}
		c.httpClient = hc
	}
}

// WithTimeout bounds each HTTP call, from sending the request to reading the
// whole body (default 10s). Each page of a list is one call.
func WithTimeout(d time.Duration) Option {
	return func(c *Client) {
		if d <= 0 {
			c.invalid("WithTimeout: %v is not a positive duration", d)
			return
		}
		c.timeout = d
	}
}

// WithUserAgent sets the User-Agent header (default "salesgraph"), so the
// upstream's operators can tell the facade's traffic apart.
func WithUserAgent(ua string) Option {
	return func(c *Client) {
		if strings.TrimSpace(ua) == "" {
			c.invalid("WithUserAgent: empty user agent")
			return
		}
		c.userAgent = ua
	}
}

// WithPageParam names the query parameter that selects a page of a paginated
// endpoint (default "page"); the API does not document it for threads.
func WithPageParam(name string) Option {
	return func(c *Client) {
		if name == "" {
			c.invalid("WithPageParam: empty parameter name")
			return
		}
		c.pageParam = name
	}
}

// WithPerPage asks paginated endpoints for n records per page in the query
// parameter param ("" for the default, "per_page"). With n = 0, the default,
// no page size is sent and the upstream's own default applies; the size
// actually used is always read from the response.
func WithPerPage(param string, n int) Option {
	return func(c *Client) {
		if n < 0 {
			c.invalid("WithPerPage: negative page size %d", n)
			return
		}
		if param == "" {
			param = DefaultPerPageParam
		}
		c.perPageParam, c.perPage = param, n
	}
}

// WithLocation sets the zone of the API's dates that carry no offset
// ("2024-03-01 10:00:00"); default UTC. Dates with an offset keep it.
func WithLocation(loc *time.Location) Option {
	return func(c *Client) {
		if loc == nil {
			c.invalid("WithLocation: nil *time.Location")
			return
		}
		c.loc = loc
	}
}

// WithMaxResponseBytes caps the bytes read from one response body, error
// bodies included (default 32 MiB). A longer body fails the call with an
// error matching ErrResponseTooLarge instead of exhausting memory: refused
// unread when its Content-Length says so, else as soon as it crosses the
// cap. WithBodyBudget bounds all bodies together.
func WithMaxResponseBytes(n int64) Option {
	return func(c *Client) {
		if n <= 0 {
			c.invalid("WithMaxResponseBytes: %d is not a positive size", n)
			return
		}
		c.maxBody = n
	}
}

// WithCredentials sets headers sent with every call whose context forwards
// no credential of its caller, typically a static server-to-server
// Authorization. A call whose context holds any header through
// WithRequestHeaders other than the per-request ones (X-Request-Id,
// Traceparent, Tracestate, Baggage) sends those and none of h, whatever
// their names: were both sent, an upstream that accepts either would let a
// made-up or revoked caller credential act with the service's identity.
// Values are never logged or put into errors.
func WithCredentials(h http.Header) Option {
	return func(c *Client) {
		c.creds = canonicalClone(h)
	}
}

// WithMaxPages caps how many pages FetchAll, and Fetch of a Whole list,
// follow (default 500); a list of more pages fails with *PaginationError
// rather than making the facade flood the upstream.
func WithMaxPages(n int) Option {
	return func(c *Client) {
		if n <= 0 {
			c.invalid("WithMaxPages: %d is not a positive count", n)
			return
		}
		c.maxPages = n
	}
}

// WithPageConcurrency bounds how many pages FetchAll, and Fetch of a Whole
// list, fetch at once (default 4).
func WithPageConcurrency(n int) Option {
	return func(c *Client) {
		if n <= 0 {
			c.invalid("WithPageConcurrency: %d is not a positive count", n)
			return
		}
		c.pageConcurrency = n
	}
}

// WithObserver has f called once per attempt, after it completes, on the
// calling goroutine: keep it cheap and non-blocking. That is once per HTTP
// exchange, retries included (CallInfo.Attempt above 1), and once for an
// attempt refused unsent (HTTPStatus 0): by the circuit breaker (Err
// matching ErrCircuitOpen), a path ejection (ErrPathEjected) or the rate
// limit (ratelimit.ErrRateLimited). CallInfo carries no credentials or
// host, so it can go to logs and metrics as it is.
func WithObserver(f func(CallInfo)) Option {
	return func(c *Client) { c.observe = f }
}

type requestHeadersKey struct{}

// WithRequestHeaders returns a context whose calls send h, typically the
// credentials the facade's own caller sent. Any header in h but the
// per-request ones keeps the static credentials (WithCredentials) from
// being sent. h is copied, so the caller may reuse it.
func WithRequestHeaders(ctx context.Context, h http.Header) context.Context {
	return context.WithValue(ctx, requestHeadersKey{}, canonicalClone(h))
}

// RequestHeadersFrom returns a copy of the headers WithRequestHeaders put in
// ctx, and whether there were any.
func RequestHeadersFrom(ctx context.Context) (http.Header, bool) {
	h, ok := ctx.Value(requestHeadersKey{}).(http.Header)
	if !ok {
		return nil, false
	}
	return h.Clone(), true
}

// canonicalClone deep-copies h with canonical names, so that lookups by
// name during a call match however the caller spelt them.
func canonicalClone(h http.Header) http.Header {
	out := make(http.Header, len(h))
	for k, vs := range h {
		if len(vs) == 0 {
			continue
		}
		k = http.CanonicalHeaderKey(k)
		out[k] = append(out[k], vs...)
	}
	return out
}

// header builds a call's headers: defaults, then the context's headers,
// with the static credentials only when the context forwards none of the
// caller's.
func (c *Client) header(ctx context.Context) http.Header {
	perCall, _ := ctx.Value(requestHeadersKey{}).(http.Header)
	h := make(http.Header, 2+len(c.creds)+len(perCall))
	h["Accept"] = []string{"application/json"}
	h["User-Agent"] = []string{c.userAgent}
	if !forwardsCredential(perCall) {
		for k, vs := range c.creds {
			h[k] = vs
		}
	}
	for k, vs := range perCall {
		h[k] = vs
	}
	return h
}

// forwardsCredential says whether h, a context's forwarded headers, holds
// anything of the caller's but the per-request headers that never change
// an answer (flight.PerRequest): a forwarded header that is no
// credential still withholds the static one, which can cost a caller
// access but never lend one the service's identity.
func forwardsCredential(h http.Header) bool {
	for k := range h {
		if !flight.PerRequest(k) {
			return true
		}
	}
	return false
}

// secrets lists the credential values a call sent, whole and, for a
// "Scheme token" value, the token alone: text the upstream sends back is
// scrubbed of them.
func secrets(h http.Header) []string {
	var out []string
	for k, vs := range h {
		if k == "Accept" || k == "User-Agent" {
			continue
		}
		for _, v := range vs {
			out = append(out, v)
			if _, token, ok := strings.Cut(v, " "); ok && strings.TrimSpace(token) != "" {
				out = append(out, strings.TrimSpace(token))
			}
		}
	}
	return out
}

// expand fills an endpoint template's {id}.
func expand(endpoint, id string) string {
	return strings.Replace(endpoint, "{id}", url.PathEscape(id), 1)
}
