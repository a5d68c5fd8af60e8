package main

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/Khan/genqlient/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/salesgraph/salesgraph/clients/genqlient"
	"github.com/salesgraph/salesgraph/graph"
	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

// withAuthorization sets the Authorization header of every request, as a
// Go service forwarding its caller's credential would.
type withAuthorization string

func (a withAuthorization) Do(r *http.Request) (*http.Response, error) {
	r.Header.Set("Authorization", string(a))
	return http.DefaultTransport.RoundTrip(r)
}

// TestGenqlientClient runs genqlient's generated client (clients/genqlient)
// against salesgraph as `go run .` starts it: a nested query over the two
// REST endpoints, checked against the dataset, and a refused credential,
// whose error carries its code and path.
func TestGenqlientClient(t *testing.T) {
	base := startForBrowser(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	user := suiteUserOf(mustUser(t, fakeapi.NewDataset(fakeapi.WithUsers(50)), 2))

	client := graphql.NewClient(base+"/graphql", withAuthorization(fakeapi.DefaultToken))
	res, err := genqlient.UserMeetingsWithThreads(ctx, client, user.ID, 5)
	if err != nil {
		t.Fatal(err)
	}
	if res.User == nil || res.User.Id != user.ID || res.User.Meetings.TotalCount != user.MeetingCount {
		t.Fatalf("user = %+v, want user %s with %d meetings", res.User, user.ID, user.MeetingCount)
	}
	var got, want []suiteMeeting
	for i, m := range res.User.Meetings.Nodes {
		if m == nil { // a meeting the upstream sent without a usable id
			t.Errorf("meeting %d is null", i)
			continue
		}
		sm := suiteMeeting{ID: m.Id, Status: string(m.Status)}
		if m.Thread != nil {
			sm.ThreadID, sm.ThreadName = &m.Thread.Id, m.Thread.Name
		}
		got = append(got, sm)
		if m.StartDate == nil || m.StartDate.IsZero() {
			t.Errorf("meeting %s: startDate %v did not decode as a time", m.Id, m.StartDate)
		}
	}
	for _, m := range user.Meetings[:5] {
		if m.ThreadName == nil {
			m.ThreadID = nil // the facade found no such thread: thread is null
		}
		want = append(want, m)
	}
	if !slices.EqualFunc(got, want, equalMeeting) {
		t.Errorf("meetings:\n got %s\nwant %s", meetingsString(got), meetingsString(want))
	}

	_, err = genqlient.UserMeetingsWithThreads(ctx, graphql.NewClient(base+"/graphql", withAuthorization("Bearer wrong")), user.ID, 5)
	var errs gqlerror.List
	if !errors.As(err, &errs) || len(errs) == 0 {
		t.Fatalf("with a wrong credential: err = %v, want GraphQL errors", err)
	}
	if code := errs[0].Extensions["code"]; code != graph.CodeForbidden || !slices.Equal(errs[0].Path, ast.Path{ast.PathName("user"), ast.PathName("meetings")}) {
		t.Errorf("error %v: code %v at %v, want %s at user.meetings", errs[0], code, errs[0].Path, graph.CodeForbidden)
	}
}

func mustUser(t *testing.T, ds *fakeapi.Dataset, id int64) *fakeapi.User {
	t.Helper()
	u, ok := ds.User(id)
	if !ok {
		t.Fatalf("the dataset has no user %d", id)
	}
	return u
}

func equalMeeting(a, b suiteMeeting) bool {
	eq := func(x, y *string) bool { return (x == nil) == (y == nil) && (x == nil || *x == *y) }
	return a.ID == b.ID && a.Status == b.Status && eq(a.ThreadID, b.ThreadID) && eq(a.ThreadName, b.ThreadName)
}

func meetingsString(ms []suiteMeeting) string {
	s := ""
	for _, m := range ms {
		name := "<nil>"
		if m.ThreadName != nil {
			name = *m.ThreadName
		}
		s += " " + m.ID + "/" + m.Status + "/" + name
	}
	return s
}
