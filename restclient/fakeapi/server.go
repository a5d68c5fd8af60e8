// Package fakeapi provides an in-process fake of the sales CRM's REST API,
// for tests, benchmarks and the demo mode: it ships in the binary, which
// serves it as the demo upstream (`go run .` with no upstream configured,
// or alone with -demo-upstream-only, [Server.ListenAndServe]), so it is no
// test-only package.
//
// A [Server] serves the lists of its table (dataset.go: one entry per
// list, today the two documented endpoints, which docs/upstream-api.md
// describes) from a generated, deterministic [Dataset], writing the wire
// JSON itself; it imports nothing from the rest of salesgraph, so a
// mistake in the client's JSON mapping cannot be mirrored here. It also
// counts and logs requests, can be slowed, gated or held to prove how a
// client behaves under concurrency, and can be told to fail in the ways
// real upstreams fail.
//
// # Endpoints
//
//	GET /api/v1/users/{id}/meetings            {"status":200,"data":{"list":[...]}}
//	GET /api/v1/users/{id}/threads?page=N&per_page=M
//	    {"status":200,"data":{"list":[...],"pagination":{"page":N,"pages_count":P,"per_page":M,"total":T}}}
//
// With [WithPaginatedMeetings], the meetings endpoint is paginated as the
// threads endpoint is.
//
// A request is checked in this order, the first failure deciding the answer:
//
//  1. faults injected with [Server.Inject] (so that any request can fail);
//  2. the credential: the Authorization header (see [WithAuthHeader]) must
//     equal an accepted token exactly, else 403 {"status":403,"description":"Niepoprawne dane logowania"};
//  3. the path: anything but the lists' endpoints is 404;
//  4. the method: anything but GET is 405;
//  5. the parameters: an id that is not a positive decimal int64, a page
//     that is not, or a per_page outside 1..100, is 400
//     {"status":400,"description":"Nieprawidłowe parametry"};
//  6. the user: an id beyond the dataset gets an empty list (or the status
//     set with [WithUnknownUserStatus]).
//
// Checking the credential first means that an unauthenticated caller learns
// nothing about which paths or ids exist. Every answer is
// "application/json; charset=utf-8" and the same options always give
// byte-identical answers.
//
// # Dataset
//
// By default 50 users (ids 1..50), each with 12 meetings and 45 threads, so a
// user's threads span three pages at the default page size of 20; seed 1.
// Names, companies and addresses are Polish-looking, coordinates lie in
// Poland, dates in 2025–2026. Ids are unique across the dataset and grow with
// time; thread numbers are sequential. Given three meetings or more, every
// user has meetings of each status and type and one outside any thread; most
// meetings belong to one of the same user's threads. Every field's wire form
// is described on [Meeting] and [Thread].
//
// Like real data, a few records are awkward. Unless [WithCleanData] is given,
// about 4% of meetings have no coordinates (gps_lat and gps_lng ""), 3% have
// one date "" and 3% one date "0000-00-00 00:00:00"; about 5% of threads have
// end_date "0000-00-00 00:00:00" and 3% one date "". A quarter of threads have
// "fields": [].
//
// # Instrumentation
//
// [Server.Requests], [Server.Calls], [Server.CallsTo], [Server.CallsBy] and
// [Server.MaxInFlight] report what clients did; [Server.Gate] and
// [Server.Hold] hold requests so that tests can prove concurrency and
// cancellation without timing; [Server.Inject] injects faults. All of them
// are safe for concurrent use.
package fakeapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultToken is the credential a server accepts unless [WithTokens] says
// otherwise, sent as the whole value of the Authorization header.
const DefaultToken = "Bearer fakeapi-demo-token"

// A Server is a fake upstream API. Create one with [NewServer] for a
// listening server, or with [New] to mount it on a listener of your own as an
// [http.Handler].
type Server struct {
	// URL is the base URL of the form http://127.0.0.1:port, with no
	// trailing slash; empty for a server created with New.
	URL string

	cfg     config
	ts      *httptest.Server
	main    *served
	byToken map[string]*served

	// done is closed by Close; every wait in a handler gives up on it, so
	// that Close never hangs on a request it is holding.
	done      chan struct{}
	closeOnce sync.Once

	mu          sync.Mutex
	log         []*Request // bounded by maxLog
	calls       int
	inFlight    int
	maxInFlight int
	faults      []*faultState
	faultSeq    uint64
	gate        *Gate
	holds       []*hold
	latency     time.Duration
	jitter      time.Duration
	jitterRand  *rand.Rand
	tail        tail // tail.go
	tailed      int  // answers the tail delayed
}

// served is a dataset with its answers rendered in advance, so that a
// request costs the benchmarks it serves as little as possible.
type served struct {
	data  *Dataset
	lists []servedList // by position in lists
}

// servedList is one list's answers, per user: the whole answer of a list
// answered whole, the rendered records of a paginated one.
type servedList struct {
	whole   [][]byte
	records [][][]byte
}

// Request is one request as the server saw it.
type Request struct {
	Method   string
	Path     string
	RawQuery string
	// Credential is the raw value of the credential header, kept so that
	// tests can check who asked; "" when absent.
	Credential string
	// Status is the status written, or 0 while the request is in flight,
	// when the client went away first or when a fault dropped the
	// connection.
	Status int
	Time   time.Time // arrival
}

// New returns a server that is not listening: use it as an
// [http.Handler]. [Server.Close] releases anything it is holding.
func New(opts ...Option) *Server {
	cfg := newConfig(opts)
	if cfg.pageParam == cfg.perPageParam {
		panic(fmt.Sprintf("fakeapi: page and page-size parameters are both %q", cfg.pageParam))
	}
	s := &Server{
		cfg:        cfg,
		byToken:    map[string]*served{},
		done:       make(chan struct{}),
		latency:    cfg.latency,
		jitter:     cfg.jitter,
		tail:       cfg.tail,
		jitterRand: rand.New(rand.NewPCG(uint64(cfg.seed), 0x6c6174656e6379)),
	}
	s.main = s.prepare(generate(cfg.shape, cfg.seed))
	for _, t := range cfg.tokens {
		s.accept(t, s.main)
	}
	for _, t := range cfg.tenants {
		s.accept(t.token, s.prepare(generate(cfg.shape, t.seed)))
	}
	return s
}

// NewServer starts a server listening on a random port of 127.0.0.1. The
// caller must Close it.
func NewServer(opts ...Option) *Server {
	s := New(opts...)
	s.ts = httptest.NewServer(s)
	s.URL = s.ts.URL
	return s
}

// Close releases every held request, stops the listener and waits for the
// requests in flight to finish. From then on nothing is held or delayed, so
// a server built with New that is still mounted somewhere answers at once.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.done) })
	s.releaseHeld()
	if s.ts != nil {
		s.ts.Close()
	}
}

func (s *Server) accept(token string, sv *served) {
	if _, dup := s.byToken[token]; dup {
		panic(fmt.Sprintf("fakeapi: credential %q accepted twice", token))
	}
	s.byToken[token] = sv
}

func (s *Server) prepare(d *Dataset) *served {
	sv := &served{data: d, lists: make([]servedList, len(lists))}
	for i, l := range lists {
		sl := &sv.lists[i]
		paged := l.perPage(&s.cfg) > 0
		if paged {
			sl.records = make([][][]byte, len(d.Users))
		} else {
			sl.whole = make([][]byte, len(d.Users))
		}
		for j := range d.Users {
			records := l.records(&d.Users[j], &s.cfg)
			if paged {
				sl.records[j] = records
			} else {
				sl.whole[j] = wholeBody(records)
			}
		}
	}
	return sv
}

// ListInfo is one list a server serves, as its table of lists says.
type ListInfo struct {
	// Endpoint is the list's path template, "/api/v1/users/{id}/" and its
	// name.
	Endpoint string
	// PerPage is the page size the list is answered in when a request
	// names none; 0 for a list answered whole, without a "pagination".
	PerPage int
}

// Lists returns the lists the server serves, with its options applied
// (WithPerPage, WithPaginatedMeetings), in the order of its table.
func (s *Server) Lists() []ListInfo {
	out := make([]ListInfo, len(lists))
	for i, l := range lists {
		out[i] = ListInfo{Endpoint: "/api/v1/users/{id}/" + l.name, PerPage: l.perPage(&s.cfg)}
	}
	return out
}

// ListIDs returns the ids of the records the list at endpoint (as
// [Server.Lists] names it) holds for user userID in [DefaultToken]'s
// dataset, in the order the endpoint serves them, as the wire writes them
// (numbers as their decimal text); nil for an unknown list or user. It
// lets a test that ranges over every list compute what to expect without
// knowing the list's record type.
func (s *Server) ListIDs(endpoint string, userID int64) []string {
	name, ok := strings.CutPrefix(endpoint, "/api/v1/users/{id}/")
	li := slices.IndexFunc(lists, func(l list) bool { return l.name == name })
	u, known := s.main.data.User(userID)
	if !ok || li < 0 || !known {
		return nil
	}
	var ids []string
	for _, r := range lists[li].records(u, &s.cfg) {
		var rec struct{ ID any }
		dec := json.NewDecoder(bytes.NewReader(r))
		dec.UseNumber()
		_ = dec.Decode(&rec) // the fake's own rendering
		ids = append(ids, fmt.Sprint(rec.ID))
	}
	return ids
}

// Dataset returns a copy of the dataset served to [DefaultToken] and the
// other tokens of [WithTokens].
func (s *Server) Dataset() *Dataset { return s.main.data.clone() }

// DatasetFor returns a copy of the dataset the given credential sees, or nil
// if the server does not accept it.
func (s *Server) DatasetFor(credential string) *Dataset {
	sv, ok := s.byToken[credential]
	if !ok {
		return nil
	}
	return sv.data.clone()
}

// ServeHTTP answers one request; see the package documentation for what.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cred := r.Header.Get(s.cfg.authHeader)
	req := &Request{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Credential: cred, Time: time.Now()}
	s.mu.Lock()
	if len(s.log) == maxLog {
		s.log = append(s.log[:0:0], s.log[maxLog/2:]...)
	}
	s.log = append(s.log, req)
	s.calls++
	s.inFlight++
	s.maxInFlight = max(s.maxInFlight, s.inFlight)
	gate, holds := s.gate, slices.Clone(s.holds)
	s.mu.Unlock()

	status := 0
	defer func() {
		s.mu.Lock()
		req.Status = status
		s.inFlight--
		s.mu.Unlock()
	}()

	ctx := r.Context()
	if gate != nil && !gate.hold(ctx, s.done) {
		return
	}
	for _, h := range holds {
		if !h.holds(r.URL.Path) {
			continue
		}
		if !s.wait(ctx, h.ch) {
			return
		}
	}
	if !s.sleep(ctx, s.delay()) {
		return
	}
	if f, ok := s.fault(r.URL.Path, cred); ok {
		status = s.fail(w, r, cred, f)
		return
	}
	code, body := s.answer(r, cred)
	status = write(w, code, jsonType, body)
}

// answer computes the normal answer to r: everything a fault does not
// preempt.
func (s *Server) answer(r *http.Request, cred string) (int, []byte) {
	sv, ok := s.byToken[cred]
	if !ok {
		return http.StatusForbidden, errorBody(http.StatusForbidden)
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/api/v1/users/")
	idText, name, ok2 := strings.Cut(rest, "/")
	li := slices.IndexFunc(lists, func(l list) bool { return l.name == name })
	if !ok || !ok2 || li < 0 {
		return http.StatusNotFound, errorBody(http.StatusNotFound)
	}
	if r.Method != http.MethodGet {
		return http.StatusMethodNotAllowed, errorBody(http.StatusMethodNotAllowed)
	}
	bad := func() (int, []byte) { return http.StatusBadRequest, errorBody(http.StatusBadRequest) }
	id, ok := parsePositive(idText)
	if !ok {
		return bad()
	}
	page, perPage := int64(1), lists[li].perPage(&s.cfg)
	paged := perPage > 0
	if paged {
		q := r.URL.Query()
		if q.Has(s.cfg.pageParam) {
			if page, ok = parsePositive(q.Get(s.cfg.pageParam)); !ok {
				return bad()
			}
		}
		if q.Has(s.cfg.perPageParam) {
			n, ok := parsePositive(q.Get(s.cfg.perPageParam))
			if !ok || n > 100 {
				return bad()
			}
			perPage = int(n)
		}
	}

	var records [][]byte
	whole := emptyList
	if id > int64(len(sv.data.Users)) {
		if code := s.cfg.unknownUserStatus; code != http.StatusOK {
			return code, errorBody(code)
		}
	} else if sl := &sv.lists[li]; paged {
		records = sl.records[id-1]
	} else {
		whole = sl.whole[id-1]
	}
	if paged {
		return http.StatusOK, pagedBody(records, page, perPage)
	}
	return http.StatusOK, whole
}

var emptyList = wholeBody(nil)

// parsePositive accepts decimal digits only: ParseInt alone would also let
// "+7" through, which an id in a path never is.
func parsePositive(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n > 0
}

const jsonType = "application/json; charset=utf-8"

// write sends a complete answer and returns its status for the log.
func write(w http.ResponseWriter, status int, contentType string, body []byte) int {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if status == http.StatusMethodNotAllowed {
		h.Set("Allow", http.MethodGet)
	}
	w.WriteHeader(status)
	_, _ = w.Write(body) // a client that hung up is the client's business
	return status
}

// wait blocks until ch is closed or the server closes, and reports false if
// the client went away first, in which case nothing should be written.
func (s *Server) wait(ctx context.Context, ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	case <-s.done:
		return true
	case <-ctx.Done():
		return false
	}
}

// sleep is wait with a timer.
func (s *Server) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.done:
		return true
	case <-ctx.Done():
		return false
	}
}

// SetLatency changes the delay added to every answer, as [WithLatency] sets
// it; it applies to requests that arrive afterwards.
func (s *Server) SetLatency(fixed, jitter time.Duration) {
	checkLatency(fixed, jitter)
	s.mu.Lock()
	s.latency, s.jitter = fixed, jitter
	s.mu.Unlock()
}

func (s *Server) delay() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.latency
	if s.jitter > 0 {
		d += time.Duration(s.jitterRand.Int64N(int64(s.jitter) + 1))
	}
	return d + s.tailDelayLocked()
}

// maxLog bounds the request log, so that a demo server that runs for days
// does not grow without limit; tests never come near it.
const maxLog = 100_000

// Requests returns the requests received since the server started or was
// last [Server.Reset], in arrival order. Past 100,000 requests the oldest
// half is forgotten; [Server.Calls] still counts them.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.log))
	for i, r := range s.log {
		out[i] = *r
	}
	return out
}

// Calls returns the number of requests received, including those still in
// flight, since the server started or was last reset.
func (s *Server) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// CallsTo counts the logged requests whose path matches pattern in the
// sense of [path.Match], e.g. "/api/v1/users/*/threads". It panics on a
// malformed pattern, which would otherwise silently count nothing.
func (s *Server) CallsTo(pattern string) int {
	mustPattern(pattern)
	return s.count(func(r *Request) bool {
		ok, _ := path.Match(pattern, r.Path)
		return ok
	})
}

// CallsBy counts the logged requests that carried exactly this credential
// ("" counts those that carried none).
func (s *Server) CallsBy(credential string) int {
	return s.count(func(r *Request) bool { return r.Credential == credential })
}

func (s *Server) count(match func(*Request) bool) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.log {
		if match(r) {
			n++
		}
	}
	return n
}

// MaxInFlight returns the largest number of requests the server was
// handling at once since it started or was last reset.
func (s *Server) MaxInFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxInFlight
}

// Reset forgets the request log and counters, removes every fault, and
// releases the gate and every hold, so that one server can serve several
// steps of a test. The dataset and latency are kept. Requests in flight at
// the time still count towards MaxInFlight.
func (s *Server) Reset() {
	s.releaseHeld()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = nil
	s.calls = 0
	s.tailed = 0
	s.maxInFlight = s.inFlight
	s.faults = nil
}

func mustPattern(pattern string) {
	if _, err := path.Match(pattern, ""); err != nil {
		panic(fmt.Sprintf("fakeapi: path pattern %q: %v", pattern, err))
	}
}
