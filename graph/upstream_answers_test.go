package graph_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/graph"
	"github.com/salesgraph/salesgraph/restclient"
	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

// Tests of what the facade makes of upstream answers that are large,
// paginated or hold values it cannot read.

// serve runs one query against h with the demo credential, on the calling
// goroutine, and returns the recorded answer undecoded, so that it may run
// on a goroutine of its own.
func serve(h http.Handler, query string) *httptest.ResponseRecorder {
	body, _ := json.Marshal(map[string]any{"query": query})
	req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", fakeapi.DefaultToken)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func decodeResponse(t *testing.T, rec *httptest.ResponseRecorder) *gqlResponse {
	t.Helper()
	var out gqlResponse
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &out), rec.Body.String())
	return &out
}

// TestUpstreamBodiesStayWithinTheMemoryBudget: with a 1 MiB budget, a
// 700 kB answer being read leaves no room for a second one. A second answer
// of declared length waits and is then served; one of unknown length fails
// at once with UPSTREAM_MEMORY_LIMIT at its path while the rest of its
// operation stands; the budget is never exceeded.
func TestUpstreamBodiesStayWithinTheMemoryBudget(t *testing.T) {
	const budget, big = 1 << 20, 700_000
	fake := fakeapi.NewServer()
	t.Cleanup(fake.Close)
	stall := make(chan struct{})
	resume := func() {
		select {
		case <-stall:
		default:
			close(stall)
		}
	}
	t.Cleanup(resume)
	client, err := restclient.New(fake.URL, restclient.WithBodyBudget(budget), restclient.WithMaxResponseBytes(budget),
		restclient.WithoutRetry(), restclient.WithoutCircuitBreaker())
	require.NoError(t, err)
	h := graph.NewHandler(graph.Options{Upstream: client})
	data := fake.Dataset()
	fake.Inject(fakeapi.Fault{Path: "/api/v1/users/1/meetings", Kind: fakeapi.FaultLargeBody, Size: big, MidBody: stall})
	fake.Inject(fakeapi.Fault{Path: "/api/v1/users/2/meetings", Kind: fakeapi.FaultLargeBody, Size: big})
	fake.Inject(fakeapi.Fault{Path: "/api/v1/users/3/meetings", Kind: fakeapi.FaultLargeBody, Size: 600_000, Chunked: true})

	held := make(chan *httptest.ResponseRecorder, 1)
	go func() { held <- serve(h, `{ user(id: "1") { meetings { totalCount } } }`) }()
	require.Eventually(t, func() bool { return client.BodyMemory().InUse == big }, 10*time.Second, time.Millisecond,
		"user 1's answer is being read")
	waiting := make(chan *httptest.ResponseRecorder, 1)
	go func() { waiting <- serve(h, `{ user(id: "2") { meetings { totalCount } } }`) }()
	require.Eventually(t, func() bool { return client.BodyMemory().Waiting == 1 }, 10*time.Second, time.Millisecond,
		"user 2's answer waits for room")

	res := decodeResponse(t, serve(h, `{ a: user(id: "3") { meetings { totalCount } } b: user(id: "4") { meetings { totalCount } } }`))
	require.Len(t, res.Errors, 1, "%+v", res.Errors)
	e := res.Errors[0]
	assert.Equal(t, graph.CodeUpstreamMemoryLimit, e.code())
	assert.Equal(t, []any{"a", "meetings"}, e.Path)
	assert.Equal(t, map[string]any{"endpoint": restclient.EndpointUserMeetings}, e.Extensions["upstream"])
	assert.JSONEq(t, fmt.Sprintf(`{"a": null, "b": {"meetings": {"totalCount": %d}}}`, len(user(t, data, 4).Meetings)), string(res.Data),
		"user 4's small answer fits beside the big one")

	resume()
	for id, ch := range map[int64]chan *httptest.ResponseRecorder{1: held, 2: waiting} {
		res := decodeResponse(t, <-ch)
		assert.Empty(t, res.Errors, "user %d", id)
		assert.JSONEq(t, fmt.Sprintf(`{"user": {"meetings": {"totalCount": %d}}}`, len(user(t, data, id).Meetings)), string(res.Data))
	}
	m := client.BodyMemory()
	assert.LessOrEqual(t, m.Peak, m.Limit, "the budget was never exceeded")
	assert.Zero(t, m.InUse)
}

// TestPaginatedMeetingsAreServedWhole: an upstream that pages the meetings
// answer (5 to a page, 12 meetings) gets every page asked for, and the
// connection counts and orders all 12, not page 1's five.
func TestPaginatedMeetingsAreServedWhole(t *testing.T) {
	e := newEnv(t, withFake(fakeapi.WithPaginatedMeetings(5)))
	var got struct {
		User struct {
			Meetings struct {
				TotalCount int
				Nodes      []struct{ ID string }
			}
		}
	}
	e.ok(`{ user(id: "6") { meetings(first: 100) { totalCount nodes { id } } } }`, nil, &got)
	want := newestFirst(user(t, e.data, 6).Meetings)
	require.Len(t, want, 12)
	assert.Equal(t, len(want), got.User.Meetings.TotalCount)
	ids := make([]string, len(got.User.Meetings.Nodes))
	for i, n := range got.User.Meetings.Nodes {
		ids[i] = n.ID
	}
	wantIDs := make([]string, len(want))
	for i, m := range want {
		wantIDs[i] = itoa(m.ID)
	}
	assert.Equal(t, wantIDs, ids)
	assert.Equal(t, 3, e.upstream.CallsTo("/api/v1/users/6/meetings"), "three pages")
}

// TestUnreadableValueIsAnErrorAtItsPath: one meeting's start date is
// "wczoraj". That field is null with an UPSTREAM_BAD_RESPONSE error at its
// path; the meeting's other fields and every other meeting are served as
// the dataset holds them. (The meeting sorts as undated, last.)
func TestUnreadableValueIsAnErrorAtItsPath(t *testing.T) {
	e := newEnv(t, withFake(fakeapi.WithCleanData()))
	const id, bad = 3, 5 // user, index of the corrupted record in the upstream's list
	e.upstream.Inject(fakeapi.Fault{Path: "/api/v1/users/3/meetings", Kind: fakeapi.FaultFieldValue, Record: bad, Field: "start_date", Value: `"wczoraj"`})
	ms := user(t, e.data, id).Meetings
	corrupted := ms[bad]
	undated := append([]fakeapi.Meeting(nil), ms...)
	undated[bad].StartDate = "" // how the facade can order it
	want := newestFirst(undated)
	require.Equal(t, corrupted.ID, want[len(want)-1].ID, "the corrupted meeting sorts last")

	res := e.do(`{ user(id: "3") { meetings(first: 100) { totalCount nodes { `+meetingFields+` } } } }`, nil, nil)
	require.Len(t, res.Errors, 1, "%+v", res.Errors)
	er := res.Errors[0]
	assert.Equal(t, graph.CodeUpstreamBadResponse, er.code())
	assert.Equal(t, []any{"user", "meetings", "nodes", float64(len(want) - 1), "startDate"}, er.Path)
	assert.Equal(t, "the upstream API sent a value for this field that could not be read: not a date", er.Message)
	assert.Equal(t, map[string]any{"endpoint": restclient.EndpointUserMeetings, "field": "start_date"}, er.Extensions["upstream"])
	assert.NotContains(t, er.Message, "wczoraj")

	var got struct {
		User struct {
			Meetings struct {
				TotalCount int
				Nodes      []meetingJSON
			}
		}
	}
	require.NoError(t, json.Unmarshal(res.Data, &got))
	require.Len(t, got.User.Meetings.Nodes, len(ms))
	assert.Equal(t, len(ms), got.User.Meetings.TotalCount)
	for i, w := range want {
		g := got.User.Meetings.Nodes[i]
		assert.Equal(t, itoa(w.ID), g.ID)
		assert.Equal(t, rfc3339(w.StartDate), str(g.StartDate), "meeting %d start", w.ID)
		assert.Equal(t, rfc3339(w.EndDate), str(g.EndDate))
		assert.Equal(t, &w.Visits, g.Visits)
		require.NotNil(t, g.User)
		assert.Equal(t, itoa(w.UserID), g.User.ID)
	}
	assert.Nil(t, got.User.Meetings.Nodes[len(want)-1].StartDate, "no date invented")
}

// badValueQuery selects, on user 3, a field for each upstream value the
// tests below spoil, and the lists a spoilt value must not take with it.
const badValueQuery = `{ user(id: "3") {
	meetings(first: 100) { totalCount nodes { id status rawStatus type rawType visits visitsOwner visitsCopy user { id } } }
	threads(first: 10) { totalCount nodes { id name contractValue owner { id } } } } }`

// meetingAnswer is a meeting of badValueQuery as the dataset says it is served.
func meetingAnswer(m fakeapi.Meeting) map[string]any {
	return map[string]any{
		"id": itoa(m.ID), "status": strings.ToUpper(m.Status), "rawStatus": m.Status,
		"type": strings.ToUpper(m.Type), "rawType": m.Type,
		"visits": m.Visits, "visitsOwner": m.VisitsOwner, "visitsCopy": m.VisitsCopy,
		"user": map[string]any{"id": itoa(m.UserID)},
	}
}

// threadAnswer is a thread of badValueQuery as the dataset says it is served.
func threadAnswer(th fakeapi.Thread) map[string]any {
	return map[string]any{"id": th.ID, "name": th.Name, "contractValue": th.ContractValue, "owner": map[string]any{"id": itoa(th.UserID)}}
}

// badValueAnswer is badValueQuery's data for user u, with change applied
// to the meetings (in the order served) and threads (first ten) first.
func badValueAnswer(t *testing.T, u *fakeapi.User, change func(meetings, threads []any)) string {
	t.Helper()
	ms := newestFirst(u.Meetings)
	meetings := make([]any, len(ms))
	for i, m := range ms {
		meetings[i] = meetingAnswer(m)
	}
	threads := make([]any, min(10, len(u.Threads)))
	for i := range threads {
		threads[i] = threadAnswer(u.Threads[i])
	}
	change(meetings, threads)
	b, err := json.Marshal(map[string]any{"user": map[string]any{
		"meetings": map[string]any{"totalCount": len(ms), "nodes": meetings},
		"threads":  map[string]any{"totalCount": len(u.Threads), "nodes": threads},
	}})
	require.NoError(t, err)
	return string(b)
}

// servedAt is where the upstream's record of user u's meetings lands in
// the default order.
func servedAt(t *testing.T, u *fakeapi.User, record int) int {
	t.Helper()
	for i, m := range newestFirst(u.Meetings) {
		if m.ID == u.Meetings[record].ID {
			return i
		}
	}
	t.Fatalf("meeting %d not served", u.Meetings[record].ID)
	return 0
}

// TestOneBadValueCostsOnlyItself: one value of one record of user 3 is
// null or unreadable, for each field such a value can reach. Only the field
// it serves is null (or, where the schema says so, served from what the
// facade knows without it); one it could not read carries an
// UPSTREAM_BAD_RESPONSE error at the field's path naming the upstream key,
// and a null is null without an error. Every other value of the user (the
// record's other fields, the other meetings, the threads) is served as the
// dataset holds it: before, "visits": "x" nulled the whole user.
func TestOneBadValueCostsOnlyItself(t *testing.T) {
	const record = 2 // in the upstream's list
	cases := []struct {
		name, list, key, value string // the list ("meetings" or "threads"), the spoilt upstream key and its raw JSON
		field                  string // the GraphQL field it reaches
		served                 func(u *fakeapi.User) any
		reason                 string // the error's; "" for none
	}{
		{"unreadable visits", "meetings", "visits", `"x"`, "visits", nil, "not an integer"},
		{"visits null", "meetings", "visits", `null`, "visits", nil, ""},
		{"visits empty", "meetings", "visits", `""`, "visits", nil, ""},
		{"unreadable visits_owner", "meetings", "visits_owner", `12.5`, "visitsOwner", nil, "not an integer"},
		{"visits_owner null", "meetings", "visits_owner", `null`, "visitsOwner", nil, ""},
		{"unreadable visits_copy", "meetings", "visits_copy", `{"n": 1}`, "visitsCopy", nil, "not an integer"},
		{"visits_copy null", "meetings", "visits_copy", `null`, "visitsCopy", nil, ""},
		{"unreadable id_user", "meetings", "id_user", `"ja"`, "user", nil, "not an integer"},
		{"id_user null: the list's owner", "meetings", "id_user", `null`, "user", func(u *fakeapi.User) any { return map[string]any{"id": itoa(u.ID)} }, ""},
		{"status null", "meetings", "status", `null`, "rawStatus", nil, ""},
		{"type null", "meetings", "type", `null`, "rawType", nil, ""},
		{"unreadable thread id_user", "threads", "id_user", `"ja"`, "owner", nil, "not an integer"},
		{"thread id_user null: the list's owner", "threads", "id_user", `null`, "owner", func(u *fakeapi.User) any { return map[string]any{"id": itoa(u.ID)} }, ""},
		{"unreadable contract_value", "threads", "contract_value", `"dużo"`, "contractValue", nil, "not a number"},
		{"contract_value null", "threads", "contract_value", `null`, "contractValue", nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			e.upstream.Inject(fakeapi.Fault{Path: "/api/v1/users/3/" + c.list, Kind: fakeapi.FaultFieldValue, Record: record, Field: c.key, Value: c.value})
			u := user(t, e.data, 3)
			at := record
			if c.list == "meetings" {
				at = servedAt(t, u, record)
			}
			want := badValueAnswer(t, u, func(meetings, threads []any) {
				list := map[string][]any{"meetings": meetings, "threads": threads}[c.list]
				node := list[at].(map[string]any)
				node[c.field] = nil
				if c.served != nil {
					node[c.field] = c.served(u)
				}
				switch c.field { // what the enumerations make of no value
				case "rawStatus":
					node["status"] = "UNKNOWN"
				case "rawType":
					node["type"] = "UNKNOWN"
				}
			})

			res := e.do(badValueQuery, nil, nil)
			assert.JSONEq(t, want, string(res.Data))
			if c.reason == "" {
				assert.Empty(t, res.Errors, "a null is no error")
				return
			}
			require.Len(t, res.Errors, 1, "%+v", res.Errors)
			er := res.Errors[0]
			assert.Equal(t, graph.CodeUpstreamBadResponse, er.code())
			assert.Equal(t, []any{"user", c.list, "nodes", float64(at), c.field}, er.Path)
			assert.Equal(t, "the upstream API sent a value for this field that could not be read: "+c.reason, er.Message)
			endpoint := map[string]string{"meetings": restclient.EndpointUserMeetings, "threads": restclient.EndpointUserThreads}[c.list]
			assert.Equal(t, map[string]any{"endpoint": endpoint, "field": c.key}, er.Extensions["upstream"])
		})
	}
}

// TestARecordWithoutAnIDIsNullInItsPlace: a meeting the upstream sent with
// an id that is null, empty or no id at all cannot be served as a Meeting
// (no globalId, no cache key, no node lookup could name it); before, a null
// id was served as "". It is null in each list it appears in, with an
// UPSTREAM_BAD_RESPONSE error at that place naming "id"; its edge keeps a
// cursor that pages on past it, totalCount still counts it, and the rest of
// the user stands.
func TestARecordWithoutAnIDIsNullInItsPlace(t *testing.T) {
	const q = `{ user(id: "3") {
		meetings(first: 100) { totalCount edges { cursor node { id visits } } nodes { id visits } }
		threads(first: 10) { nodes { id meetings { id } } } } }`
	for _, c := range []struct{ value, reason string }{{`null`, "missing"}, {`""`, "missing"}, {`true`, "not an id"}, {`{"id": 5}`, "not an id"}} {
		t.Run(c.value, func(t *testing.T) {
			e := newEnv(t)
			u := user(t, e.data, 3)
			// A meeting of a thread among the ten served, so that
			// Thread.meetings holds it too.
			record, thread := -1, -1
			for i, m := range u.Meetings {
				for j := range min(10, len(u.Threads)) {
					if m.ThreadID == u.Threads[j].ID && record < 0 {
						record, thread = i, j
					}
				}
			}
			require.GreaterOrEqual(t, record, 0, "the dataset has such a meeting")
			bad := u.Meetings[record]
			e.upstream.Inject(fakeapi.Fault{Path: "/api/v1/users/3/meetings", Kind: fakeapi.FaultFieldValue, Record: record, Field: "id", Value: c.value})

			ms := newestFirst(u.Meetings)
			at := servedAt(t, u, record)
			var inThread []fakeapi.Meeting // the thread's meetings, as Thread.meetings orders them
			for _, m := range ms {
				if m.ThreadID == bad.ThreadID {
					inThread = append(inThread, m)
				}
			}
			atInThread := slices.IndexFunc(inThread, func(m fakeapi.Meeting) bool { return m.ID == bad.ID })

			res := e.do(q, nil, nil)
			var got struct {
				User struct {
					Meetings struct {
						TotalCount int
						Edges      []struct {
							Cursor string
							Node   *struct{ ID string }
						}
						Nodes []*struct {
							ID     string
							Visits int64
						}
					}
					Threads struct {
						Nodes []*struct {
							ID       string
							Meetings []*struct{ ID string }
						}
					}
				}
			}
			require.NoError(t, json.Unmarshal(res.Data, &got), "%s", res.Data)
			gm := got.User.Meetings
			assert.Equal(t, len(ms), gm.TotalCount, "the record still counts")
			require.Len(t, gm.Nodes, len(ms))
			require.Len(t, gm.Edges, len(ms))
			for i, m := range ms {
				if i == at {
					assert.Nil(t, gm.Nodes[i], "no meeting made up")
					assert.Nil(t, gm.Edges[i].Node)
					assert.NotEmpty(t, gm.Edges[i].Cursor, "its place keeps a cursor")
					continue
				}
				if assert.NotNil(t, gm.Nodes[i]) && assert.NotNil(t, gm.Edges[i].Node) {
					assert.Equal(t, itoa(m.ID), gm.Nodes[i].ID)
					assert.Equal(t, m.Visits, gm.Nodes[i].Visits)
					assert.Equal(t, itoa(m.ID), gm.Edges[i].Node.ID)
				}
			}
			threads := got.User.Threads.Nodes
			require.Len(t, threads, min(10, len(u.Threads)))
			for j, th := range threads {
				require.NotNil(t, th)
				assert.Equal(t, u.Threads[j].ID, th.ID, "the threads stand")
			}
			require.Len(t, threads[thread].Meetings, len(inThread))
			assert.Nil(t, threads[thread].Meetings[atInThread])

			paths := map[string]bool{}
			for _, er := range res.Errors {
				paths[fmt.Sprint(er.Path...)] = true
				assert.Equal(t, graph.CodeUpstreamBadResponse, er.code())
				assert.Equal(t, "the upstream API sent a record without a usable id, so it is served as null: "+c.reason, er.Message)
				assert.Equal(t, map[string]any{"endpoint": restclient.EndpointUserMeetings, "field": "id"}, er.Extensions["upstream"])
			}
			assert.Equal(t, map[string]bool{
				fmt.Sprint("user", "meetings", "edges", at, "node"):                    true,
				fmt.Sprint("user", "meetings", "nodes", at):                            true,
				fmt.Sprint("user", "threads", "nodes", thread, "meetings", atInThread): true,
			}, paths, "one error where each null stands")
			assert.Len(t, res.Errors, 3)

			// The null's cursor pages on to the meeting after it.
			if at+1 < len(ms) {
				var next struct {
					User struct {
						Meetings struct{ Nodes []struct{ ID string } }
					}
				}
				e.ok(`query($after: String) { user(id: "3") { meetings(first: 1, after: $after) { nodes { id } } } }`,
					map[string]any{"after": gm.Edges[at].Cursor}, &next)
				require.Len(t, next.User.Meetings.Nodes, 1)
				assert.Equal(t, itoa(ms[at+1].ID), next.User.Meetings.Nodes[0].ID)
			}
		})
	}
}

// TestAThreadWithoutAnIDIsNullInItsPlace: as for meetings, a thread with no
// usable id is null in its page, with the error there; its neighbours, the
// page's cursors and the meetings stand.
func TestAThreadWithoutAnIDIsNullInItsPlace(t *testing.T) {
	const record = 1
	e := newEnv(t)
	u := user(t, e.data, 3)
	e.upstream.Inject(fakeapi.Fault{Path: "/api/v1/users/3/threads", Kind: fakeapi.FaultFieldValue, Record: record, Field: "id", Value: `null`})
	res := e.do(`{ user(id: "3") { threads(first: 3) { totalCount edges { cursor node { id name } } nodes { id name } }
		meetings(first: 100) { totalCount } } }`, nil, nil)
	var got struct {
		User struct {
			Threads struct {
				TotalCount int
				Edges      []struct {
					Cursor string
					Node   *struct{ ID, Name string }
				}
				Nodes []*struct{ ID, Name string }
			}
			Meetings struct{ TotalCount int }
		}
	}
	require.NoError(t, json.Unmarshal(res.Data, &got), "%s", res.Data)
	assert.Equal(t, len(u.Threads), got.User.Threads.TotalCount)
	assert.Equal(t, len(u.Meetings), got.User.Meetings.TotalCount, "the meetings stand")
	require.Len(t, got.User.Threads.Nodes, 3)
	for i, n := range got.User.Threads.Nodes {
		if i == record {
			assert.Nil(t, n)
			assert.Nil(t, got.User.Threads.Edges[i].Node)
			assert.NotEmpty(t, got.User.Threads.Edges[i].Cursor)
			continue
		}
		if assert.NotNil(t, n) {
			assert.Equal(t, u.Threads[i].ID, n.ID)
			assert.Equal(t, u.Threads[i].Name, n.Name)
		}
	}
	require.Len(t, res.Errors, 2, "%+v", res.Errors)
	var paths []string
	for _, er := range res.Errors {
		paths = append(paths, fmt.Sprint(er.Path...))
		assert.Equal(t, graph.CodeUpstreamBadResponse, er.code())
		assert.Equal(t, map[string]any{"endpoint": restclient.EndpointUserThreads, "field": "id"}, er.Extensions["upstream"])
	}
	assert.ElementsMatch(t, []string{fmt.Sprint("user", "threads", "edges", record, "node"), fmt.Sprint("user", "threads", "nodes", record)}, paths)
}
