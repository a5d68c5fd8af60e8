package graph_test

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

// The root fields user and users wait for the loads their look-ahead
// started, and that the first payload needs, before their subtree runs
// (Resolver.settle): the fields below find their data ready instead of
// each waiting in a goroutine of gqlgen's.

// waitingInFields counts the goroutines whose stack is inside a User
// field's resolver.
func waitingInFields() int {
	buf := make([]byte, 8<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "graph.(*userResolver).") {
			n++
		}
	}
	return n
}

// TestTheRootFieldWaitsForTheFirstLoads holds every upstream call of 20
// users' meetings and threads: while the first calls (a meetings list and
// page 1 of the threads for each) are held, no goroutine waits in a User
// field; released, page 2 of each user's threads follows (the window asks
// for all of them), and the answer holds every record, with exactly the
// calls the data needs.
func TestTheRootFieldWaitsForTheFirstLoads(t *testing.T) {
	const users, perPage = 20, 20
	e := newEnv(t, withFake(fakeapi.WithPerPage(perPage)))
	ids := make([]string, users)
	wantCalls, wantThreads := 0, 0
	for i := range ids {
		ids[i] = fmt.Sprintf(`"%d"`, i+1)
		u := user(t, e.data, int64(i+1))
		wantThreads += len(u.Threads)
		wantCalls += 1 + max(1, (len(u.Threads)+perPage-1)/perPage)
	}
	require.Greater(t, wantCalls, 2*users, "the dataset must have users with a second page of threads")

	release := e.upstream.Hold()
	defer release()
	done := make(chan *httpResult, 1)
	go func() {
		q := `{ users(ids: [` + strings.Join(ids, ", ") + `]) { id meetings(first: 100) { nodes { id } } threads(first: 100) { nodes { id name } } } }`
		done <- e.send(postReq(body(q, nil)))
	}()
	require.Eventually(t, func() bool { return e.upstream.Calls() == 2*users }, 30*time.Second, time.Millisecond,
		"each user's meetings and page 1 of its threads are asked for at once")
	assert.Zero(t, waitingInFields(), "no field resolver has started while the first loads are held")

	release()
	res := <-done
	require.Empty(t, res.errors)
	var got struct {
		Users []struct {
			Meetings struct{ Nodes []struct{ ID string } }
			Threads  struct{ Nodes []struct{ ID string } }
		}
	}
	require.NoError(t, json.Unmarshal(res.data, &got))
	require.Len(t, got.Users, users)
	threads := 0
	for i, u := range got.Users {
		assert.Len(t, u.Meetings.Nodes, len(user(t, e.data, int64(i+1)).Meetings))
		threads += len(u.Threads.Nodes)
	}
	assert.Equal(t, wantThreads, threads)
	assert.Equal(t, wantCalls, e.upstream.Calls(), "no call more than the data needs")
}

// TestTheRootFieldDoesNotWaitForADeferredFragment: the threads of a
// deferred fragment are held, and the first payload, with the meetings,
// arrives all the same; the deferred part follows once they are let go.
func TestTheRootFieldDoesNotWaitForADeferredFragment(t *testing.T) {
	for _, f := range formats {
		t.Run(f.name, func(t *testing.T) {
			e := newEnv(t)
			u := user(t, e.data, 1)
			release := e.upstream.HoldPath("/api/v1/users/1/threads")
			defer release()
			srv := httptest.NewServer(e.handler)
			defer srv.Close()
			q := body(`{ user(id: "1") { meetings(first: 1) { totalCount } ... @defer { threads(first: 1) { totalCount } } } }`, nil)
			parts, done := openParts(t, srv, q, f.accept)
			defer done()

			got := make(chan string, 1)
			go func() {
				b, _ := parts.Next(t)
				got <- string(b)
			}()
			select {
			case initial := <-got:
				assert.Contains(t, initial, fmt.Sprintf(`"totalCount":%d`, len(u.Meetings)))
				assert.NotContains(t, initial, "threads")
			case <-time.After(30 * time.Second):
				release()
				require.FailNow(t, "the first payload waited for the deferred fragment's held call")
			}
			assert.Eventually(t, func() bool { return e.upstream.CallsTo("/api/v1/users/1/threads") == 1 }, 30*time.Second, time.Millisecond,
				"the deferred call is out, and held")

			release()
			rest, _ := parts.Next(t)
			assert.Contains(t, string(rest), fmt.Sprintf(`"totalCount":%d`, len(u.Threads)))
		})
	}
}
