package graph_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/graph"
	"github.com/salesgraph/salesgraph/restclient"
	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

func TestInvalidArgumentsAreRefusedBeforeAnyUpstreamCall(t *testing.T) {
	e := newEnv(t)
	many := make([]string, 101)
	for i := range many {
		many[i] = itoa(int64(i + 1))
	}
	cases := []struct {
		name  string
		query string
		vars  map[string]any
	}{
		{"non-numeric id", `{ user(id: "abc") { meetings { totalCount } } }`, nil},
		{"zero id", `{ user(id: "0") { meetings { totalCount } } }`, nil},
		{"negative id", `{ user(id: "-4") { meetings { totalCount } } }`, nil},
		{"overflowing id", `{ user(id: "99999999999999999999") { meetings { totalCount } } }`, nil},
		{"path in id", `{ user(id: "1/../../admin") { meetings { totalCount } } }`, nil},
		{"one bad id among good ones", `query($ids: [ID!]!) { users(ids: $ids) { meetings { totalCount } } }`, map[string]any{"ids": []string{"1", "2", "x"}}},
		{"too many ids", `query($ids: [ID!]!) { users(ids: $ids) { id } }`, map[string]any{"ids": many}},
		{"first too large", `{ user(id: "1") { meetings(first: 101) { totalCount } } }`, nil},
		{"first negative", `{ user(id: "1") { threads(first: -1) { totalCount } } }`, nil},
		{"bad meetings cursor", `{ user(id: "1") { meetings(after: "nope") { totalCount } } }`, nil},
		{"thread cursor given to meetings", `{ user(id: "1") { meetings(after: "dGhyZWFkOjIwOjQ1OjQ") { totalCount } } }`, nil},
		{"bad global id", `{ node(id: "garbage!") { globalId } }`, nil},
		// The invalid field is second: the first user's calls must not start either.
		{"bad sibling", `{ a: user(id: "1") { meetings { totalCount } } b: user(id: "1") { threads(first: 1000) { totalCount } } }`, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.upstream.Reset()
			res := e.do(c.query, c.vars, nil)
			require.NotEmpty(t, res.Errors)
			assert.Equal(t, graph.CodeBadUserInput, res.Errors[0].code(), "%+v", res.Errors)
			assert.NotEmpty(t, res.Errors[0].Path)
			assert.Zero(t, e.upstream.Calls(), "no upstream call for invalid input")
		})
	}
}

func TestUpstreamRefusals(t *testing.T) {
	t.Run("wrong credential is FORBIDDEN", func(t *testing.T) {
		e := newEnv(t)
		res := e.do(`{ user(id: "1") { meetings { totalCount } } }`, nil, map[string]*string{"Authorization": ptr("Bearer wrong")})
		require.Len(t, res.Errors, 1)
		assert.Equal(t, graph.CodeForbidden, res.Errors[0].code())
		assert.Equal(t, []any{"user", "meetings"}, res.Errors[0].Path)
		up := res.Errors[0].Extensions["upstream"].(map[string]any)
		assert.EqualValues(t, 403, up["httpStatus"])
		assert.Equal(t, "Niepoprawne dane logowania", up["description"])
		assert.Equal(t, restclient.EndpointUserMeetings, up["endpoint"])
		assert.JSONEq(t, `{"user": null}`, string(res.Data))
		assert.Equal(t, 1, e.upstream.CallsBy("Bearer wrong"))
	})
	t.Run("no credential is UNAUTHENTICATED", func(t *testing.T) {
		e := newEnv(t)
		res := e.do(`{ user(id: "1") { meetings { totalCount } } }`, nil, map[string]*string{"Authorization": nil})
		require.Len(t, res.Errors, 1)
		assert.Equal(t, graph.CodeUnauthenticated, res.Errors[0].code())
	})
	t.Run("static credential is used when the caller sends none", func(t *testing.T) {
		e := newEnv(t, withClient(restclient.WithCredentials(http.Header{"Authorization": {fakeapi.DefaultToken}})))
		var got struct {
			User struct{ Meetings struct{ TotalCount int } }
		}
		res := e.do(`{ user(id: "2") { meetings { totalCount } } }`, nil, map[string]*string{"Authorization": nil})
		require.Empty(t, res.Errors)
		require.NoError(t, jsonUnmarshal(res.Data, &got))
		assert.Equal(t, len(user(t, e.data, 2).Meetings), got.User.Meetings.TotalCount)
		// The caller's own credential still wins over the static one.
		res = e.do(`{ user(id: "2") { meetings { totalCount } } }`, nil, map[string]*string{"Authorization": ptr("Bearer other")})
		require.Len(t, res.Errors, 1)
		assert.Equal(t, graph.CodeForbidden, res.Errors[0].code())
	})
	t.Run("upstream 400 is BAD_USER_INPUT", func(t *testing.T) {
		e := newEnv(t)
		e.upstream.Inject(fakeapi.Fault{Path: "/api/v1/users/7/meetings", Kind: fakeapi.FaultStatus, Status: 400})
		res := e.do(`{ user(id: "7") { meetings { totalCount } } }`, nil, nil)
		require.Len(t, res.Errors, 1)
		assert.Equal(t, graph.CodeBadUserInput, res.Errors[0].code())
	})
}

func TestFailureNullsOnlyWhatDependsOnIt(t *testing.T) {
	e := newEnv(t)
	e.upstream.Inject(fakeapi.Fault{Path: "/api/v1/users/2/meetings", Kind: fakeapi.FaultStatus, Status: 503})
	e.upstream.Inject(fakeapi.Fault{Path: "/api/v1/users/3/threads", Kind: fakeapi.FaultStatus, Status: 500})
	res := e.do(`{ users(ids: ["1", "2", "3"]) { id meetings(first: 100) { totalCount nodes { id thread { id } } } } }`, nil, nil)

	var got struct {
		Users []*struct {
			ID       string
			Meetings struct {
				TotalCount int
				Nodes      []meetingJSON
			}
		}
	}
	require.NoError(t, jsonUnmarshal(res.Data, &got))
	require.Len(t, got.Users, 3)
	require.NotNil(t, got.Users[0])
	assert.Equal(t, len(user(t, e.data, 1).Meetings), got.Users[0].Meetings.TotalCount)
	assert.Nil(t, got.Users[1], "user 2's meetings failed, so user 2 is null")
	require.NotNil(t, got.Users[2], "user 3's threads failed: only each meeting's thread is null")
	for _, m := range got.Users[2].Meetings.Nodes {
		assert.Nil(t, m.Thread)
	}
	byCode := map[string]int{}
	for _, er := range res.Errors {
		byCode[er.code()]++
		assert.Equal(t, "users", er.Path[0])
		if er.Path[1] == float64(1) {
			assert.Equal(t, []any{"users", float64(1), "meetings"}, er.Path)
			assert.EqualValues(t, 503, er.Extensions["upstream"].(map[string]any)["httpStatus"])
		} else {
			assert.Equal(t, float64(2), er.Path[1])
			assert.Equal(t, "thread", er.Path[len(er.Path)-1])
		}
	}
	assert.Equal(t, 1, countPath(res.Errors, 1), "one error for user 2")
	assert.Equal(t, len(res.Errors), byCode[graph.CodeUpstreamUnavailable], "every error is UPSTREAM_UNAVAILABLE")
	// A failed call is made once and its error shared by every field that needed it.
	assert.Equal(t, 1, e.upstream.CallsTo("/api/v1/users/3/threads"))
}

func countPath(errs []gqlError, idx int) int {
	n := 0
	for _, e := range errs {
		if e.Path[1] == float64(idx) {
			n++
		}
	}
	return n
}

func TestUnknownEnumValuesDoNotFailTheQuery(t *testing.T) {
	// A literal upstream, go-github style, with values the documentation
	// does not list and every quirk at once.
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if strings.HasSuffix(r.URL.Path, "/meetings") {
			_, _ = w.Write([]byte(`{"status":200,"data":{"list":[
				{"id":"10","id_user":4,"status":"archived","type":"VIP","start_date":"0000-00-00 00:00:00","gps_lat":"abc","gps_lng":"21.0","visits":"7","id_comapny":"55","id_thread":""},
				{"id":11,"id_user":"4","status":"finished","type":"standard","start_date":"2026-01-02 10:00:00","gps_lat":"52.1","gps_lng":"21.0","id_company":"56"}]}}`))
			return
		}
		_, _ = w.Write([]byte(`{"status":200,"data":{"list":[],"pagination":{"page":1,"pages_count":0,"per_page":20,"total":0}}}`))
	}))
	t.Cleanup(up.Close)
	client, err := restclient.New(up.URL)
	require.NoError(t, err)
	h := graph.NewHandler(graph.Options{Upstream: client})
	e := &env{t: t, handler: h}
	var got struct {
		User struct{ Meetings struct{ Nodes []meetingJSON } }
	}
	e.ok(`{ user(id: "4") { meetings(orderBy: {field: START_DATE, direction: ASC}) { nodes { `+meetingFields+` thread { id } } } } }`, nil, &got)
	ns := got.User.Meetings.Nodes
	require.Len(t, ns, 2)
	assert.Equal(t, "11", ns[0].ID, "dated meetings first, undated last")
	assert.Equal(t, "UNKNOWN", ns[1].Status)
	assert.Equal(t, "archived", str(ns[1].RawStatus))
	assert.Equal(t, "UNKNOWN", ns[1].Type)
	assert.Equal(t, "VIP", str(ns[1].RawType))
	assert.Nil(t, ns[1].StartDate)
	assert.Nil(t, ns[1].Location)
	assert.Nil(t, ns[1].ThreadID)
	assert.Nil(t, ns[1].Thread)
	require.NotNil(t, ns[1].Visits)
	assert.EqualValues(t, 7, *ns[1].Visits)
	assert.Nil(t, ns[0].Visits, "no visits sent: no count, not 0")
	assert.Equal(t, "55", str(ns[1].CompanyID))
	assert.Equal(t, "56", str(ns[0].CompanyID))
	assert.Equal(t, "2026-01-02T10:00:00Z", str(ns[0].StartDate))
	require.NotNil(t, ns[0].Location)
	assert.InDelta(t, 52.1, ns[0].Location.Latitude, 1e-9)
}
