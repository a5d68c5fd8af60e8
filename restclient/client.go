package restclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
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
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return "", fmt.Errorf("restclient: base URL is not a valid URL: %w", err)
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

// get is the one request path: it sends GET base+path?q, reads the body
// under the size cap, turns every failure into a typed error, and has into
// decode a success envelope's "data" in place, in the same pass that
// validates the body. into must consume the value, must not retain the
// bytes it reads, and its errors become *DecodeError unless they are
// *PaginationError. Each attempt passes the circuit breaker; failed ones
// are retried as the retry policy says (retry.go).
func (c *Client) get(ctx context.Context, endpoint, path string, q url.Values, into func(*scanner) error) error {
	if c.cache != nil {
		return c.cachedGet(ctx, endpoint, path, q, into)
	}
	return c.fetch(ctx, endpoint, path, q, into)
}

// fetch is get without the cache: each attempt waits for the rate limit,
// passes the circuit breaker, and is retried as the policy says. A retry
// that the rate limit, the breaker or a path ejection refuses unsent
// returns the attempt before it: what the upstream said is what the caller
// needs to know, and our refusal would hide it.
func (c *Client) fetch(ctx context.Context, endpoint, path string, q url.Values, into func(*scanner) error) error {
	c.retry.started()
	var caller uint64 // callerKey, for the per-caller state
	if c.fair != nil || c.ejector != nil {
		caller = c.callerKey(ctx)
	}
	var previous error
	for attempt := 1; ; attempt++ {
		start := time.Now()
		if err := c.waitTurn(ctx, caller, endpoint, path); err != nil {
			// Refused unsent, like the breaker's refusals: observed, not retried.
			if c.observe != nil {
				c.observe(CallInfo{Endpoint: endpoint, Path: path, Method: http.MethodGet, Duration: time.Since(start), Err: err, Class: Classify(err), Attempt: attempt})
			}
			if previous != nil && refusedUnsent(Classify(err).Kind) {
				return previous
			}
			return err
		}
		status, class, err := c.attempt(ctx, caller, endpoint, path, q, into)
		if c.observe != nil {
			c.observe(CallInfo{Endpoint: endpoint, Path: path, Method: http.MethodGet, HTTPStatus: status, Duration: time.Since(start), Err: err, Class: class, Attempt: attempt})
		}
		if previous != nil && refusedUnsent(class.Kind) {
			return previous
		}
		wait, again := c.retry.next(ctx, endpoint, path, attempt, err, class)
		if !again {
			return err
		}
		previous = err
		if c.retry.sleep(ctx, wait) != nil {
			return &TransportError{Endpoint: endpoint, Path: path, Err: contextCause(ctx)}
		}
	}
}

// attempt is one HTTP exchange, if the path is not ejected for the caller
// and the circuit breaker allows it, and the class of its error: the one
// classification the breaker, the ejection, the retry policy and the
// observer act on.
func (c *Client) attempt(ctx context.Context, caller uint64, endpoint, path string, q url.Values, into func(*scanner) error) (status int, class Class, err error) {
	if c.breaker == nil {
		status, err = c.do(ctx, endpoint, path, q, into)
		return status, Classify(err), err
	}
	if err := c.ejector.check(caller, endpoint, path); err != nil {
		return 0, Classify(err), err
	}
	done, probe, err := c.breaker.allow(endpoint, path)
	if err != nil {
		return 0, Classify(err), err
	}
	defer func() {
		if v := recover(); v != nil {
			// Reported as counting for nothing, or a half-open breaker
			// would lose a probe for good.
			done(ctx, Class{Kind: KindUnknown})
			panic(v)
		}
	}()
	status, err = c.do(ctx, endpoint, path, q, into)
	class = Classify(err)
	done(ctx, class)
	c.ejector.record(ctx, caller, endpoint, path, class, err, !probe)
	return status, class, err
}

func (c *Client) do(ctx context.Context, endpoint, path string, q url.Values, into func(*scanner) error) (int, error) {
	callCtx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(callCtx, http.MethodGet, u, nil)
	if err != nil {
		return 0, &TransportError{Endpoint: endpoint, Path: path, Err: &hostFreeError{err}}
	}
	req.Header = c.header(ctx)

	reportAnswer(ctx, endpoint, AnswerSent)
	resp, err := c.httpClient.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, &TransportError{Endpoint: endpoint, Path: path, Err: c.cause(ctx, callCtx, err)}
	}
	defer resp.Body.Close()

	// Each body has a buffer of its own, not a pooled one: its records
	// keep it (scanner.own), which saves copying it, and a pool of large
	// buffers would hold memory no budget counts.
	hold := bodyHoldFrom(ctx)
	body, reserved, readErr := c.readBody(callCtx, endpoint, path, resp, nil, hold)
	var kept int64 // what the hold keeps for the records decoded
	defer func() {
		c.budget.release(reserved - kept) // decoding is over: the bytes are no longer read
		if kept > 0 {
			hold.keep(c.budget, kept)
		}
	}()
	status := resp.StatusCode

	var budgetErr *BodyBudgetError
	overBudget := errors.As(readErr, &budgetErr)
	cutShort := readErr != nil && !overBudget && !errors.Is(readErr, ErrResponseTooLarge)
	switch callerLeft := ctx.Err() != nil; {
	case cutShort && (callerLeft || callCtx.Err() != nil),
		// A wait for the budget that the call's own timeout ended is the
		// budget's failure; one the caller ended is the caller's.
		overBudget && budgetErr.Waited && callerLeft:
		return status, &TransportError{Endpoint: endpoint, Path: path, Err: c.cause(ctx, callCtx, readErr)}
	}
	if !is2xx(status) {
		// Status known: an APIError even if the body is unreadable.
		return status, c.apiError(endpoint, path, resp, body, readErr == nil, req.Header)
	}
	if overBudget {
		return status, budgetErr
	}
	if cutShort {
		// The answer started but never arrived whole: a failure of the
		// exchange, like a dropped connection, not an unreadable answer.
		return status, &TransportError{Endpoint: endpoint, Path: path, Err: &cutShortError{readErr}}
	}
	if readErr != nil {
		return status, c.decodeError(endpoint, path, resp, body, readErr, req.Header)
	}
	if cap(body)-len(body) > len(body)/4 {
		// A body of unknown length grew by doubling: its records keep
		// it, so not with up to as much again unused.
		body = bytes.Clone(body)
	}
	if err := decodeSuccess(body, owned(into)); err != nil {
		var (
			ae *APIError
			pe *PaginationError
		)
		switch {
		case errors.As(err, &ae):
			return status, c.completeAPIError(ae, endpoint, path, resp, req.Header)
		case errors.As(err, &pe):
			return status, err
		}
		return status, c.decodeError(endpoint, path, resp, body, err, req.Header)
	}
	if hold != nil {
		kept = min(int64(len(body)), reserved) // the records' copy of the body
	}
	c.fill(ctx, status, resp.Header, body)
	return status, nil
}

// owned has into decode a body that is the call's own, which the text of
// its records may alias (scanner.own).
func owned(into func(*scanner) error) func(*scanner) error {
	return func(s *scanner) error {
		s.own()
		return into(s)
	}
}

// cause turns a failed exchange into the cause a *TransportError carries:
// the caller's cancellation or deadline first, then this call's timeout.
func (c *Client) cause(ctx, callCtx context.Context, err error) error {
	switch ctxErr := ctx.Err(); {
	case errors.Is(ctxErr, context.Canceled):
		return ctxErr
	case ctxErr != nil:
		return &timeoutError{cause: ctxErr}
	case callCtx.Err() != nil:
		return &timeoutError{after: c.timeout, cause: callCtx.Err()}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &timeoutError{cause: err} // e.g. the response header timeout
	}
	return err
}

// readBody reads the body into buf, at most maxBody bytes, within the
// memory budget. It returns what it read (on error too, for the excerpt)
// and the bytes it reserved, which the caller releases once it is done
// with them. A declared length over the cap is refused unread; any body
// stops being read as soon as it crosses the cap or finds no room in the
// budget, so neither is ever exceeded. hold is the call's WithBodyHold, if
// any: see reserve.
func (c *Client) readBody(ctx context.Context, endpoint, path string, resp *http.Response, buf []byte, hold *bodyHold) (body []byte, reserved int64, err error) {
	tooLarge := fmt.Errorf("%w: over %d bytes", ErrResponseTooLarge, c.maxBody)
	declared := resp.ContentLength >= 0
	first := min(int64(firstBodyBlock), c.maxBody)
	if declared {
		if resp.ContentLength > c.maxBody {
			return nil, 0, tooLarge
		}
		first = resp.ContentLength
	}
	if err := c.reserve(ctx, endpoint, path, first, hold); err != nil {
		return nil, 0, err
	}
	reserved = first
	buf = slices.Grow(buf, int(reserved))
	for {
		if int64(len(buf)) == reserved {
			if declared || reserved == c.maxBody {
				// Full: only the end may follow.
				switch err := readEnd(resp.Body); {
				case err == io.EOF:
					return buf, reserved, nil
				case err == errMore:
					return buf, reserved, tooLarge
				default:
					return buf, reserved, err
				}
			}
			next := min(2*reserved, c.maxBody)
			if !c.budget.grow(next - reserved) {
				return buf, reserved, &BodyBudgetError{Endpoint: endpoint, Path: path, Need: next - reserved, Budget: c.budget.size}
			}
			reserved = next
			buf = slices.Grow(buf, int(reserved)-len(buf))
		}
		n, err := resp.Body.Read(buf[len(buf):reserved])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, reserved, nil
		}
		if err != nil {
			return buf, reserved, err
		}
	}
}

// reserve takes n bytes of the body budget for a body about to be read:
// waiting for them in turn until ctx ends, or until hold starts keeping
// room; once it keeps room, only room free at once will do.
func (c *Client) reserve(ctx context.Context, endpoint, path string, n int64, hold *bodyHold) error {
	if hold.keeps() || n > c.budget.size { // the latter from a cache filled under another budget
		if !c.budget.grow(n) {
			return &BodyBudgetError{Endpoint: endpoint, Path: path, Need: n, Budget: c.budget.size}
		}
		return nil
	}
	switch err := c.budget.acquireUnless(ctx, n, hold.started()); {
	case err == errHolding:
		return &BodyBudgetError{Endpoint: endpoint, Path: path, Need: n, Budget: c.budget.size}
	case err != nil:
		return &BodyBudgetError{Endpoint: endpoint, Path: path, Need: n, Budget: c.budget.size, Waited: true}
	}
	return nil
}

var errMore = errors.New("body goes on")

// readEnd reads on from a body whose buffer is full: io.EOF says it ended
// there, errMore that it goes on.
func readEnd(r io.Reader) error {
	var b [1]byte
	for {
		n, err := r.Read(b[:])
		if n > 0 {
			return errMore
		}
		if err != nil {
			return err
		}
	}
}

func (c *Client) apiError(endpoint, path string, resp *http.Response, body []byte, complete bool, sent http.Header) *APIError {
	e := &APIError{HTTPStatus: resp.StatusCode}
	if complete {
		if env, err := parseEnvelope(body); err == nil {
			e.Status, e.Description = env.status, env.description
		}
	}
	return c.completeAPIError(e, endpoint, path, resp, sent)
}

// completeAPIError adds what the envelope cannot know to an *APIError, and
// makes its description safe to show.
func (c *Client) completeAPIError(e *APIError, endpoint, path string, resp *http.Response, sent http.Header) *APIError {
	e.HTTPStatus, e.Endpoint, e.Path = resp.StatusCode, endpoint, path
	if e.Description != "" {
		e.Description = safeText(e.Description, secrets(sent), maxDescriptionBytes)
	}
	if code := e.Code(); code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable ||
		e.HTTPStatus == http.StatusTooManyRequests || e.HTTPStatus == http.StatusServiceUnavailable {
		e.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), c.now())
	}
	return e
}

// retryAfter reads a Retry-After value: delay seconds or an HTTP-date.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		return time.Duration(min(n, int64(365*24*time.Hour/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			if r := d % time.Second; r > 0 { // the date has whole seconds; now does not
				d += time.Second - r
			}
			return d
		}
	}
	return 0
}

// Limits on upstream text kept in errors.
const (
	excerptBytes        = 120
	maxDescriptionBytes = 512
)

func (c *Client) decodeError(endpoint, path string, resp *http.Response, body []byte, err error, sent http.Header) *DecodeError {
	ct, _, _ := strings.Cut(resp.Header.Get("Content-Type"), ";")
	return &DecodeError{
		Endpoint:    endpoint,
		Path:        path,
		HTTPStatus:  resp.StatusCode,
		ContentType: safeText(strings.ToLower(ct), nil, 100),
		Excerpt:     excerpt(body, secrets(sent)),
		Err:         err,
	}
}

// excerpt is the start of body made safe to log. It reads a few times more
// bytes than it keeps, since cleaning drops some, and never stops inside an
// occurrence of a secret, so that no part of one survives the cut.
func excerpt(body []byte, secrets []string) string {
	end := min(len(body), 4*excerptBytes)
	for moved := true; moved; {
		moved = false
		for _, s := range secrets {
			lo, hi := max(0, end-len(s)+1), min(len(body), end+len(s)-1)
			if lo >= hi {
				continue
			}
			if i := bytes.Index(body[lo:hi], []byte(s)); i >= 0 && lo+i < end && lo+i+len(s) > end {
				end, moved = lo+i+len(s), true
			}
		}
	}
	return safeText(string(body[:end]), secrets, excerptBytes)
}

// safeText makes upstream text fit for logs and errors: secrets redacted,
// then cleaned, then redacted again (cleaning can join a secret's parts
// split by a newline), then cut to max bytes.
func safeText(s string, secrets []string, max int) string {
	return cutText(redact(cleanText(redact(s, secrets)), secrets), max)
}
