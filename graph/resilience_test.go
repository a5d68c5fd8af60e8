package graph_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/graph"
	"github.com/salesgraph/salesgraph/restclient"
	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

// resEnv builds an env whose upstream client and handler a resilience test
// chooses, with the handler's log kept for inspection.
type resEnv struct {
	*env
	client *restclient.Client
	log    *syncBuffer
}

type resOptions struct {
	fake   []fakeapi.Option
	client []restclient.Option
	graph  func(*graph.Options)
	wrap   func(graph.Upstream) graph.Upstream
}

// fastRetries keep the tests quick: the backoff is what restclient's
// retry_test.go checks, here only the number of attempts matters.
var fastRetries = restclient.WithRetry(restclient.RetryPolicy{BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond})

// noKeepAlives makes every attempt a new connection, so that Go's transport
// never replays a request on a reused connection that dropped, which would
// blur the attempts the fake counts.
func noKeepAlives() restclient.Option {
	return restclient.WithHTTPClient(&http.Client{Transport: &http.Transport{DisableKeepAlives: true}})
}

func newResEnv(t *testing.T, o resOptions) *resEnv {
	t.Helper()
	fake := fakeapi.NewServer(o.fake...)
	t.Cleanup(fake.Close)
	client, err := restclient.New(fake.URL, o.client...)
	require.NoError(t, err)
	t.Cleanup(client.CloseIdleConnections)
	log := &syncBuffer{}
	opts := graph.Options{Upstream: client, Logger: slog.New(slog.NewJSONHandler(log, nil))}
	if o.wrap != nil {
		opts.Upstream = o.wrap(client)
	}
	if o.graph != nil {
		o.graph(&opts)
	}
	return &resEnv{env: &env{t: t, upstream: fake, handler: graph.NewHandler(opts), data: fake.Dataset()}, client: client, log: log}
}

// twoUsers asks for a healthy user and one whose meetings the tests break.
const twoUsers = `{ healthy: user(id: "1") { meetings { totalCount } } sick: user(id: "2") { meetings { totalCount } } }`

const (
	healthyPath = "/api/v1/users/1/meetings"
	sickPath    = "/api/v1/users/2/meetings"
)

// upstreamSays is what a fake upstream with fault f answers to a request
// for the sick user's meetings: its HTTP status and envelope, read from a
// twin of the test's fake so that the test's counts stay untouched.
func upstreamSays(t *testing.T, f fakeapi.Fault) (status int, envelope map[string]any) {
	t.Helper()
	twin := fakeapi.NewServer()
	defer twin.Close()
	twin.Inject(f)
	req, err := http.NewRequest(http.MethodGet, twin.URL+sickPath, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", fakeapi.DefaultToken)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	_ = json.Unmarshal(body, &envelope)
	return resp.StatusCode, envelope
}

// apiExt is the extensions.upstream the facade must give for an upstream
// error answer to the sick user's meetings.
func apiExt(t *testing.T, f fakeapi.Fault) map[string]any {
	status, envelope := upstreamSays(t, f)
	ext := map[string]any{"endpoint": restclient.EndpointUserMeetings, "httpStatus": float64(status)}
	if envelope != nil {
		ext["status"] = envelope["status"]
		ext["description"] = envelope["description"]
	}
	return ext
}

// TestFaultInjection breaks the sick user's meetings in every way the fake
// knows and checks the whole response: the healthy user's data, the one
// error with its path, code, message and upstream details, and the
// attempts the upstream saw.
func TestFaultInjection(t *testing.T) {
	transportExt := map[string]any{"endpoint": restclient.EndpointUserMeetings}
	unreadable := map[string]any{"endpoint": restclient.EndpointUserMeetings, "httpStatus": float64(200)}
	status := func(code int) fakeapi.Fault {
		return fakeapi.Fault{Path: sickPath, Kind: fakeapi.FaultStatus, Status: code}
	}
	kind := func(k fakeapi.FaultKind) fakeapi.Fault { return fakeapi.Fault{Path: sickPath, Kind: k} }
	tests := []struct {
		name     string
		fault    fakeapi.Fault
		client   []restclient.Option
		code     string // "" when the sick user's data must arrive
		message  string
		upstream func(t *testing.T, f fakeapi.Fault) map[string]any
		extra    map[string]any // further extensions
		attempts int
	}{
		{"500", status(500), nil, graph.CodeUpstreamUnavailable, "the upstream API failed with status 500", apiExt, nil, 1},
		{"502", status(502), nil, graph.CodeUpstreamUnavailable, "the upstream API failed with status 502", apiExt, nil, 3},
		{"503", status(503), nil, graph.CodeUpstreamUnavailable, "the upstream API failed with status 503", apiExt, nil, 3},
		{"504", status(504), nil, graph.CodeUpstreamUnavailable, "the upstream API failed with status 504", apiExt, nil, 3},
		{"429", kind(fakeapi.FaultRateLimit), nil, graph.CodeUpstreamRateLimited, "the upstream API is rate limiting requests", apiExt, nil, 3},
		{"429 with a Retry-After over the cap", fakeapi.Fault{Path: sickPath, Kind: fakeapi.FaultRateLimit, RetryAfter: "120"}, nil,
			graph.CodeUpstreamRateLimited, "the upstream API is rate limiting requests", apiExt, map[string]any{"retryAfterSeconds": float64(120)}, 1},
		{"429 with a Retry-After, then an answer", fakeapi.Fault{Path: sickPath, Kind: fakeapi.FaultRateLimit, RetryAfter: "1", Times: 1}, nil, "", "", nil, nil, 2},
		{"400", status(400), nil, graph.CodeBadUserInput, "the upstream API rejected the request's parameters", apiExt, nil, 1},
		{"403", status(403), nil, graph.CodeForbidden, "the upstream API refused the credentials sent with this request", apiExt, nil, 1},
		{"404", status(404), nil, graph.CodeUpstreamError, "the upstream API answered with status 404", apiExt, nil, 1},
		{"403 in a 200 envelope", kind(fakeapi.FaultErrorEnvelope), nil, graph.CodeForbidden, "the upstream API refused the credentials sent with this request", apiExt, nil, 1},
		{"slow beyond the call timeout", fakeapi.Fault{Path: sickPath, Kind: fakeapi.FaultDelay, Delay: time.Minute}, []restclient.Option{restclient.WithTimeout(time.Second)},
			graph.CodeUpstreamTimeout, "the upstream API did not answer in time", nil, map[string]any{"upstream": transportExt}, 1},
		{"malformed JSON", kind(fakeapi.FaultMalformedJSON), nil, graph.CodeUpstreamBadResponse, "the upstream API sent a response that could not be read", nil, map[string]any{"upstream": unreadable}, 1},
		{"truncated body", kind(fakeapi.FaultTruncated), nil, graph.CodeUpstreamUnreachable, "the upstream API could not be reached", nil, map[string]any{"upstream": transportExt}, 3},
		{"connection reset mid-body", kind(fakeapi.FaultResetMidBody), nil, graph.CodeUpstreamUnreachable, "the upstream API could not be reached", nil, map[string]any{"upstream": transportExt}, 3},
		{"dropped connection", kind(fakeapi.FaultDropConnection), nil, graph.CodeUpstreamUnreachable, "the upstream API could not be reached", nil, map[string]any{"upstream": transportExt}, 3},
		{"HTML instead of JSON", kind(fakeapi.FaultWrongContentType), nil, graph.CodeUpstreamBadResponse, "the upstream API sent a response that could not be read", nil, map[string]any{"upstream": unreadable}, 1},
		{"empty body", kind(fakeapi.FaultEmptyBody), nil, graph.CodeUpstreamBadResponse, "the upstream API sent a response that could not be read", nil, map[string]any{"upstream": unreadable}, 1},
		{"numbers as strings", kind(fakeapi.FaultNumbersAsStrings), nil, "", "", nil, nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newResEnv(t, resOptions{client: append([]restclient.Option{fastRetries, noKeepAlives(), restclient.WithoutCircuitBreaker()}, tt.client...)})
			e.upstream.Inject(tt.fault)
			res := e.do(twoUsers, nil, nil)

			assert.Equal(t, http.StatusOK, res.status, "partial results are a 200 under GraphQL over HTTP")
			healthy := len(user(t, e.data, 1).Meetings)
			if tt.code == "" {
				require.Empty(t, res.Errors)
				assert.JSONEq(t, fmt.Sprintf(`{"healthy": {"meetings": {"totalCount": %d}}, "sick": {"meetings": {"totalCount": %d}}}`,
					healthy, len(user(t, e.data, 2).Meetings)), string(res.Data))
			} else {
				assert.JSONEq(t, fmt.Sprintf(`{"healthy": {"meetings": {"totalCount": %d}}, "sick": null}`, healthy), string(res.Data))
				require.Len(t, res.Errors, 1, "%+v", res.Errors)
				got := res.Errors[0]
				assert.Equal(t, []any{"sick", "meetings"}, got.Path)
				assert.Equal(t, tt.message, got.Message)
				want := map[string]any{"code": tt.code, "requestId": res.header.Get("X-Request-Id")}
				if tt.upstream != nil {
					want["upstream"] = tt.upstream(t, tt.fault)
				}
				for k, v := range tt.extra {
					want[k] = v
				}
				assert.Equal(t, want, got.Extensions)
			}
			assert.Equal(t, tt.attempts, e.upstream.CallsTo(sickPath), "attempts the upstream saw")
			assert.Equal(t, 1, e.upstream.CallsTo(healthyPath), "the healthy user's call is made once")
			assert.NotContains(t, mustJSON(t, res.Errors), strings.TrimPrefix(e.upstream.URL, "http://"), "no host in errors")
		})
	}
}

func TestOperationDeadline(t *testing.T) {
	e := newResEnv(t, resOptions{
		client: []restclient.Option{fastRetries},
		graph:  func(o *graph.Options) { o.OperationTimeout = 500 * time.Millisecond },
	})
	e.upstream.Inject(fakeapi.Fault{Path: sickPath, Kind: fakeapi.FaultDelay, Delay: time.Minute})
	res := e.do(twoUsers, nil, nil)

	assert.JSONEq(t, fmt.Sprintf(`{"healthy": {"meetings": {"totalCount": %d}}, "sick": null}`, len(user(t, e.data, 1).Meetings)), string(res.Data))
	require.Len(t, res.Errors, 1)
	assert.Equal(t, []any{"sick", "meetings"}, res.Errors[0].Path)
	assert.Equal(t, graph.CodeOperationTimeout, res.Errors[0].code(), "the operation's deadline, not the call's own timeout")
	assert.Equal(t, "the operation ran out of time before the upstream API answered", res.Errors[0].Message)
	assert.Equal(t, map[string]any{"endpoint": restclient.EndpointUserMeetings}, res.Errors[0].Extensions["upstream"])
	assert.Equal(t, 1, e.upstream.CallsTo(sickPath), "a call cut by the deadline is not retried")
}

// TestClientDisconnectCancelsUpstreamCalls holds both upstream calls at a
// gate that never fills, lets the caller go away, and watches the gate
// drop them: a held request leaves the gate's count when its client (the
// facade) gives up on it.
func TestClientDisconnectCancelsUpstreamCalls(t *testing.T) {
	e := newResEnv(t, resOptions{client: []restclient.Option{fastRetries}})
	gate := e.upstream.Gate(3)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan *httptest.ResponseRecorder)
	go func() {
		body := strings.NewReader(`{"query": ` + mustJSON(t, twoUsers) + `}`)
		req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/graphql", body)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", fakeapi.DefaultToken)
		rec := httptest.NewRecorder()
		e.handler.ServeHTTP(rec, req)
		done <- rec
	}()
	require.Eventually(t, func() bool { return gate.Arrived() == 2 }, 10*time.Second, time.Millisecond, "both calls reached the upstream")
	cancel()
	<-done
	require.Eventually(t, func() bool { return gate.Arrived() == 0 }, 10*time.Second, time.Millisecond, "the upstream saw both calls abandoned")
	e.upstream.Close()
	reqs := e.upstream.Requests()
	require.Len(t, reqs, 2, "cancelled calls are not retried")
	for _, r := range reqs {
		assert.Zero(t, r.Status, "%s was answered after its caller left", r.Path)
	}
}

// TestConcurrencyLimitWaitsUntilTheDeadline fills the only upstream slot,
// per service or per operation, with a held call: the other call of the
// operation waits for a slot, fails when the deadline passes, and is never
// sent.
func TestConcurrencyLimitWaitsUntilTheDeadline(t *testing.T) {
	for _, tc := range []struct {
		scope string
		set   func(*graph.Options)
	}{
		{"service", func(o *graph.Options) { o.MaxUpstreamConcurrency = 1 }},
		{"operation", func(o *graph.Options) { o.MaxOperationConcurrency = 1 }},
	} {
		t.Run(tc.scope, func(t *testing.T) {
			e := newResEnv(t, resOptions{
				client: []restclient.Option{fastRetries},
				graph: func(o *graph.Options) {
					o.OperationTimeout = 300 * time.Millisecond
					tc.set(o)
				},
			})
			release := e.upstream.Hold()
			defer release()
			res := e.do(twoUsers, nil, nil)
			assert.JSONEq(t, `{"healthy": null, "sick": null}`, string(res.Data))
			require.Len(t, res.Errors, 2)
			byCode := map[string]gqlError{}
			for _, er := range res.Errors {
				byCode[er.code()] = er
			}
			held, ok := byCode[graph.CodeOperationTimeout]
			require.True(t, ok, "the held call ran out of time: %+v", res.Errors)
			waiting, ok := byCode[graph.CodeUpstreamConcurrencyLimit]
			require.True(t, ok, "the other waited for a slot: %+v", res.Errors)
			assert.NotEqual(t, held.Path, waiting.Path)
			assert.Equal(t, float64(1), waiting.Extensions["limit"])
			assert.Equal(t, tc.scope, waiting.Extensions["scope"])
			assert.Contains(t, waiting.Message, "waiting for a free upstream slot")
			assert.Equal(t, 1, e.upstream.Calls(), "the waiting call was never sent")
		})
	}
}

func TestUpstreamCallBudget(t *testing.T) {
	const budget = 3
	e := newResEnv(t, resOptions{graph: func(o *graph.Options) { o.MaxUpstreamCallsPerOperation = budget }})
	ids := []string{"1", "2", "3", "4", "5"}
	res := e.do(`query($ids: [ID!]!) { users(ids: $ids) { id meetings { totalCount } } }`, map[string]any{"ids": ids}, nil)

	var got struct {
		Users []*struct {
			ID       string
			Meetings struct{ TotalCount int }
		}
	}
	require.NoError(t, json.Unmarshal(res.Data, &got))
	require.Len(t, got.Users, len(ids))
	served := 0
	for i, u := range got.Users {
		if u == nil {
			continue
		}
		served++
		assert.Equal(t, ids[i], u.ID)
		assert.Equal(t, len(user(t, e.data, int64(i+1)).Meetings), u.Meetings.TotalCount)
	}
	assert.Equal(t, budget, served, "the first calls are served")
	require.Len(t, res.Errors, len(ids)-budget)
	for _, er := range res.Errors {
		assert.Equal(t, graph.CodeUpstreamBudget, er.code())
		assert.Equal(t, float64(budget), er.Extensions["limit"])
		require.Len(t, er.Path, 3)
		assert.Nil(t, got.Users[int(er.Path[1].(float64))], "the refused user is null")
		assert.Equal(t, "meetings", er.Path[2])
	}
	assert.Equal(t, budget, e.upstream.Calls(), "calls beyond the budget are never sent")
}

func TestCircuitBreakerFailsFast(t *testing.T) {
	e := newResEnv(t, resOptions{client: []restclient.Option{
		restclient.WithoutRetry(),
		restclient.WithCircuitBreaker(restclient.BreakerSettings{FailureRatio: 0.5, MinRequests: 4, OpenTimeout: time.Hour}),
	}})
	// The upstream fails for users 2 to 4: one user per operation, so that
	// the order of the outcomes is known: two successes, then failures of
	// three paths, the third meeting the ratio.
	for _, id := range []string{"2", "3", "4"} {
		e.upstream.Inject(fakeapi.Fault{Path: "/api/v1/users/" + id + "/meetings", Kind: fakeapi.FaultStatus, Status: 503})
	}
	for range 2 {
		res := e.do(`{ user(id: "1") { meetings { totalCount } } }`, nil, nil)
		require.Empty(t, res.Errors)
	}
	for _, id := range []string{"2", "3"} {
		res := e.do(`{ user(id: "`+id+`") { meetings { totalCount } } }`, nil, nil)
		require.Len(t, res.Errors, 1)
		assert.Equal(t, graph.CodeUpstreamUnavailable, res.Errors[0].code())
	}
	require.Equal(t, restclient.BreakerOpen, e.client.BreakerState())

	calls := e.upstream.Calls()
	res := e.do(twoUsers, nil, nil)
	assert.JSONEq(t, `{"healthy": null, "sick": null}`, string(res.Data))
	require.Len(t, res.Errors, 2, "%s %+v", res.Data, res.Errors)
	for _, er := range res.Errors {
		assert.Equal(t, graph.CodeUpstreamCircuitOpen, er.code())
		assert.Equal(t, "the upstream API is failing, so calls to it are paused for a few seconds to let it recover", er.Message)
		assert.Equal(t, map[string]any{"endpoint": restclient.EndpointUserMeetings}, er.Extensions["upstream"])
	}
	assert.Equal(t, calls, e.upstream.Calls(), "nothing is sent while the breaker is open")
	assert.NotContains(t, e.log.String(), `"code":"UPSTREAM_CIRCUIT_OPEN"`, "refusals are counted, not logged at warn one by one")
}

// TestOneFailingPathDoesNotOpenTheBreakerForEveryone is issue 18's first
// item: the upstream answers 500 for one user's meetings, and one caller
// asks for that user in a loop while five others ask for healthy users.
// With the default breaker, the path is ejected for that caller after
// PathFailures failures, and the breaker refuses none of the others'
// requests; failures spread over 30 users' lists still open it.
func TestOneFailingPathDoesNotOpenTheBreakerForEveryone(t *testing.T) {
	e := newResEnv(t, resOptions{client: []restclient.Option{
		restclient.WithCircuitBreaker(restclient.BreakerSettings{OpenTimeout: time.Hour, PathEjection: time.Hour, MaxPathEjection: time.Hour}),
	}})
	defaults := restclient.DefaultBreakerSettings()
	e.upstream.Inject(fakeapi.Fault{Path: sickPath, Kind: fakeapi.FaultStatus, Status: 500})
	query := func(id int) string { return fmt.Sprintf(`{ user(id: "%d") { meetings { totalCount } } }`, id) }
	// post is e.do for goroutines: it reports instead of failing the test.
	post := func(q string) (gqlResponse, error) {
		body, _ := json.Marshal(map[string]any{"query": q})
		req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", fakeapi.DefaultToken)
		rec := httptest.NewRecorder()
		e.handler.ServeHTTP(rec, req)
		var res gqlResponse
		err := json.Unmarshal(rec.Body.Bytes(), &res)
		return res, err
	}
	type tally struct {
		codes  map[string]int
		served int
		wrong  int // served with a count the dataset does not have
	}
	run := func(ids []int, n int) tally {
		tl := tally{codes: map[string]int{}}
		for i := range n {
			id := ids[i%len(ids)]
			res, err := post(query(id))
			if err != nil {
				tl.codes["unreadable"]++
				continue
			}
			for _, er := range res.Errors {
				tl.codes[er.code()]++
			}
			var got struct {
				User struct{ Meetings *struct{ TotalCount int } }
			}
			if len(res.Errors) == 0 && json.Unmarshal(res.Data, &got) == nil && got.User.Meetings != nil {
				tl.served++
				if got.User.Meetings.TotalCount != len(user(t, e.data, int64(id)).Meetings) {
					tl.wrong++
				}
			}
		}
		return tl
	}

	// The attacker alone first: the breaker would have opened after 20 of
	// these.
	first := run([]int{2}, 100)
	assert.Equal(t, map[string]int{graph.CodeUpstreamUnavailable: defaults.PathFailures, graph.CodeUpstreamPathEjected: 100 - defaults.PathFailures}, first.codes)

	// Then five healthy callers, while the attacker goes on.
	const callers, each = 5, 40
	healthy := make([]int, 0, 49)
	for id := 1; id <= 50; id++ {
		if id != 2 {
			healthy = append(healthy, id)
		}
	}
	results := make([]tally, callers+1)
	var wg sync.WaitGroup
	for c := range callers {
		wg.Go(func() { results[c] = run(healthy[c*7:], each) })
	}
	wg.Go(func() { results[callers] = run([]int{2}, 200) })
	wg.Wait()
	for c := range callers {
		assert.Empty(t, results[c].codes, "caller %d's errors", c)
		assert.Equal(t, each, results[c].served, "caller %d's requests served", c)
		assert.Zero(t, results[c].wrong)
	}
	assert.Equal(t, map[string]int{graph.CodeUpstreamPathEjected: 200}, results[callers].codes, "the attacker's own calls fail fast")
	assert.Equal(t, defaults.PathFailures, e.upstream.CallsTo(sickPath), "the upstream saw the failures that ejected the path, no more")
	assert.Equal(t, restclient.BreakerClosed, e.client.BreakerState())

	// What the ejected path's callers see: the upstream's own last answer,
	// and how long the path is paused.
	res := e.do(twoUsers, nil, nil)
	var got struct {
		Healthy, Sick *struct{ Meetings *struct{ TotalCount int } }
	}
	require.NoError(t, json.Unmarshal(res.Data, &got))
	require.NotNil(t, got.Healthy)
	assert.Equal(t, len(user(t, e.data, 1).Meetings), got.Healthy.Meetings.TotalCount)
	assert.True(t, got.Sick == nil || got.Sick.Meetings == nil, "the sick user's meetings are null")
	require.Len(t, res.Errors, 1)
	er := res.Errors[0]
	assert.Equal(t, graph.CodeUpstreamPathEjected, er.code())
	assert.Equal(t, []any{"sick", "meetings"}, er.Path)
	assert.Equal(t, apiExt(t, fakeapi.Fault{Path: sickPath, Kind: fakeapi.FaultStatus, Status: 500}), er.Extensions["upstream"])
	left, _ := er.Extensions["retryAfterSeconds"].(float64)
	assert.True(t, left > 0 && left <= 3600, "retryAfterSeconds %v: the hour's ejection, less the time the test took", left)
	assert.Equal(t, fmt.Sprintf("the upstream API failed repeatedly for this list (last with status 500), so calls for it are paused for %d s; other lists are still served", int(left)), er.Message)

	// The upstream failing for 30 users' lists opens the breaker for all.
	e.upstream.Inject(fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: 500})
	ids := make([]string, 30)
	for i := range ids {
		ids[i] = fmt.Sprintf(`"%d"`, i+11)
	}
	res = e.do(`{ users(ids: [`+strings.Join(ids, ",")+`]) { meetings { totalCount } } }`, nil, nil)
	require.Len(t, res.Errors, 30)
	assert.Equal(t, restclient.BreakerOpen, e.client.BreakerState())
	res = e.do(query(1), nil, nil)
	require.Len(t, res.Errors, 1)
	assert.Equal(t, graph.CodeUpstreamCircuitOpen, res.Errors[0].code())
}

// panicky panics where the tests say, as a bug in a loader would.
type panicky struct {
	graph.Upstream
	meetingsOf int64 // the meetings call panics for this user
	nilPageOf  int64 // a threads call answers a nil page for this user, which the loader trips over
}

func (p panicky) UserList(ctx context.Context, list restclient.AnyList, user int64, page int) (restclient.Records, error) {
	switch {
	case list == restclient.Meetings && user == p.meetingsOf:
		panic("boom in UserMeetings")
	case list == restclient.Threads && user == p.nilPageOf:
		return (*restclient.Page[restclient.Thread])(nil), nil
	}
	return p.Upstream.UserList(ctx, list, user, page)
}

func TestPanicsAreMaskedAndLogged(t *testing.T) {
	e := newResEnv(t, resOptions{wrap: func(u graph.Upstream) graph.Upstream { return panicky{Upstream: u, meetingsOf: 2, nilPageOf: 3} }})
	res := e.do(`{
		healthy: user(id: "1") { meetings { totalCount } threads(first: 1) { totalCount } }
		inCall: user(id: "2") { meetings { totalCount } }
		afterCall: user(id: "3") { threads(first: 1) { totalCount } }
	}`, nil, nil)

	assert.Equal(t, http.StatusOK, res.status)
	assert.JSONEq(t, fmt.Sprintf(`{"healthy": {"meetings": {"totalCount": %d}, "threads": {"totalCount": %d}}, "inCall": null, "afterCall": null}`,
		len(user(t, e.data, 1).Meetings), len(user(t, e.data, 1).Threads)), string(res.Data))
	require.Len(t, res.Errors, 2)
	id := res.header.Get("X-Request-Id")
	require.NotEmpty(t, id)
	paths := map[string]bool{}
	for _, er := range res.Errors {
		paths[er.Path[0].(string)] = true
		assert.Equal(t, "internal error", er.Message, "masked")
		assert.Equal(t, map[string]any{"code": graph.CodeInternal, "requestId": id}, er.Extensions)
	}
	assert.Equal(t, map[string]bool{"inCall": true, "afterCall": true}, paths)
	logged := e.log.String()
	assert.Contains(t, logged, id, "the log line carries the request id")
	assert.Contains(t, logged, "boom in UserMeetings")
	assert.Contains(t, logged, "nil pointer dereference")
	assert.Contains(t, logged, "resilience_test.go", "the stack shows where it panicked")
	assert.NotContains(t, mustJSON(t, res.Errors), "boom")
}

func TestRecoveredResolverPanicIsMasked(t *testing.T) {
	var log syncBuffer
	gqlErr := graph.PresentRecoveredPanic(slog.New(slog.NewJSONHandler(&log, nil)), "boom in a resolver")
	assert.Equal(t, "internal error", gqlErr.Message)
	assert.Equal(t, graph.CodeInternal, gqlErr.Extensions["code"])
	assert.Contains(t, log.String(), "boom in a resolver")
	assert.Contains(t, log.String(), "stack")
	assert.NotContains(t, gqlErr.Error(), "boom")
}
