package restclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// This file is the one request path every call takes (get), from the
// cache and the rate limit to the body read within its budget and the
// typed error of a failure.

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
		status, err = c.do(ctx, caller, endpoint, path, q, into)
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
	status, err = c.do(ctx, caller, endpoint, path, q, into)
	class = Classify(err)
	done(ctx, class)
	c.ejector.record(ctx, caller, endpoint, path, class, err, !probe)
	return status, class, err
}

func (c *Client) do(ctx context.Context, caller uint64, endpoint, path string, q url.Values, into func(*scanner) error) (int, error) {
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

	resp, err := c.send(ctx, callCtx, caller, endpoint, path, req) // hedged, if the client hedges (hedge.go)
	if err != nil {
		return 0, &TransportError{Endpoint: endpoint, Path: path, Err: c.cause(ctx, callCtx, unwrapURLError(err))}
	}
	defer resp.Body.Close()

	// The records copy their text out of the body (scanner.sub), so its
	// buffer is free once they are decoded, unless the response cache
	// keeps it (fill): then it is pooled for the next call's body.
	hold := bodyHoldFrom(ctx)
	pooled := bodyBuffers.Get().(*[]byte)
	body, reserved, readErr := c.readBody(callCtx, endpoint, path, resp, (*pooled)[:0], hold)
	var kept int64 // what the hold keeps for the records decoded
	reuse := false
	defer func() {
		c.budget.release(reserved - kept) // decoding is over: the bytes are no longer read
		if kept > 0 {
			hold.keep(c.budget, kept)
		}
		if reuse && cap(body) <= maxPooledBody {
			*pooled = body[:0]
			bodyBuffers.Put(pooled)
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
	if err := decodeSuccess(body, into); err != nil {
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
		kept = min(int64(len(body)), reserved) // what the records hold: their text and themselves, about the body's size
	}
	reuse = !c.fill(ctx, status, resp.Header, body)
	return status, nil
}

// bodyBuffers pool the buffers of upstream bodies that nothing keeps once
// decoded: a fan-out of 50 calls read 1 MB of bodies per operation, a
// seventh of what it allocated. Only buffers up to maxPooledBody are
// pooled, so that the pool, which no budget counts and which the garbage
// collector empties over two cycles, never holds a large answer's memory;
// the budget counts every body while it is read, pooled buffer or not.
var bodyBuffers = sync.Pool{New: func() any { return new([]byte) }}

const maxPooledBody = 256 << 10

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
