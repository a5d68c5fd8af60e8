package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/salesgraph/salesgraph/graph"
	"github.com/salesgraph/salesgraph/restclient"
	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

// benchQueries are the four queries of ../shared/bench (queries/ours), over
// a fake shaped like its data: 40 meetings and 30 threads per user, threads
// in pages of 20. Each benchmark goes through the whole HTTP handler, with
// the default configuration, so that what it tracks is what wrk measures,
// less the network.
var benchQueries = []struct {
	name  string
	query string
	users []int64
	// threads says whether the answer lists every thread of each user.
	threads bool
}{
	{"Q1", `{ users(ids: [%s]) { id meetings(first: 100) { nodes { id status address visits } } } }`, span(1, 50), false},
	{"Q2", `{ users(ids: [%s]) { id meetings(first: 100) { nodes { id } } threads(first: 100) { nodes { id name contractValue } } } }`, span(1, 20), true},
	{"Q3", `{ user(id: %s) { meetings(first: 100) { nodes { id thread { id name } } } } }`, []int64{7}, false},
	{"Q4", `{ user(id: %s) { id } }`, []int64{7}, false},
}

func span(from, to int64) []int64 {
	out := make([]int64, 0, to-from+1)
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

// BenchmarkBenchQueries reports, per query, time and allocations per
// operation and upstream calls per operation. Every answer is checked in the
// loop: no errors, and as many meeting and thread nodes as the upstream
// itself holds for those users (read once through restclient, not copied).
func BenchmarkBenchQueries(b *testing.B) {
	fake := fakeapi.NewServer(fakeapi.WithUsers(200), fakeapi.WithMeetingsPerUser(40), fakeapi.WithThreadsPerUser(30))
	defer fake.Close()
	client, err := restclient.New(fake.URL, restclient.WithCredentials(http.Header{"Authorization": {fakeapi.DefaultToken}}))
	if err != nil {
		b.Fatal(err)
	}
	handler := graph.NewHandler(graph.Options{Upstream: client, Logger: slog.New(slog.DiscardHandler)})

	for _, q := range benchQueries {
		b.Run(q.name, func(b *testing.B) {
			ids := make([]string, len(q.users))
			wantMeetings, wantThreads := 0, 0
			for i, id := range q.users {
				ids[i] = fmt.Sprint(id)
				if q.name == "Q4" {
					continue
				}
				ms, err := client.UserMeetings(context.Background(), id)
				if err != nil {
					b.Fatal(err)
				}
				wantMeetings += len(ms)
				if q.threads {
					ts, err := client.AllUserThreads(context.Background(), id)
					if err != nil {
						b.Fatal(err)
					}
					wantThreads += len(ts)
				}
			}
			body, _ := json.Marshal(map[string]string{"query": fmt.Sprintf(q.query, strings.Join(ids, ", "))})
			fake.Reset()
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", fakeapi.DefaultToken)
				rec := httptest.NewRecorder()
				handler.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d: %.300s", rec.Code, rec.Body.String())
				}
				if got := countNodes(b, rec.Body.Bytes()); got != [2]int{wantMeetings, wantThreads} {
					b.Fatalf("%s answered %d meetings and %d threads, want %d and %d: %.300s", q.name, got[0], got[1], wantMeetings, wantThreads, rec.Body.String())
				}
			}
			b.ReportMetric(float64(fake.Calls())/float64(b.N), "upstream-calls/op")
		})
	}
}

// countNodes counts the meeting and thread nodes of an answer to one of
// benchQueries, failing on any error in it.
func countNodes(b *testing.B, body []byte) [2]int {
	var resp struct {
		Data   map[string]json.RawMessage `json:"data"`
		Errors []json.RawMessage          `json:"errors"`
	}
	if err := json.Unmarshal(body, &resp); err != nil || len(resp.Errors) > 0 {
		b.Fatalf("answer with errors: %.300s", body)
	}
	type user struct {
		Meetings *struct {
			Nodes []json.RawMessage `json:"nodes"`
		} `json:"meetings"`
		Threads *struct {
			Nodes []json.RawMessage `json:"nodes"`
		} `json:"threads"`
	}
	var users []user
	if raw, ok := resp.Data["users"]; ok {
		if err := json.Unmarshal(raw, &users); err != nil {
			b.Fatal(err)
		}
	} else {
		var u user
		if err := json.Unmarshal(resp.Data["user"], &u); err != nil {
			b.Fatal(err)
		}
		users = []user{u}
	}
	var n [2]int
	for _, u := range users {
		if u.Meetings != nil {
			n[0] += len(u.Meetings.Nodes)
		}
		if u.Threads != nil {
			n[1] += len(u.Threads.Nodes)
		}
	}
	return n
}
