package main

// The client suite: the GraphQL clients web frontends use (clients/), run
// against salesgraph as `go run .` starts it. This test starts the servers,
// computes from the fake upstream's dataset the values the clients must
// read, and runs `npm test` in clients/ (relay-compiler, GraphQL Code
// Generator, tsc, then node --test). genqlient, a Go client, is tested in
// clients_genqlient_test.go.

import (
	"cmp"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/salesgraph/salesgraph/gqlhttp"
	"github.com/salesgraph/salesgraph/graph"
	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

// requireTools returns the paths of the named programs, skipping the test
// when one is missing locally and failing it in CI (CI=true), where .ci/run
// installs them.
func requireTools(t *testing.T, names ...string) []string {
	t.Helper()
	var paths []string
	for _, n := range names {
		p, err := exec.LookPath(n)
		if err != nil {
			missing(t, "%s not found (the client suite needs Node.js 20 or later and npm): %v", n, err)
		}
		paths = append(paths, p)
	}
	return paths
}

// missing skips the test locally and fails it in CI.
func missing(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// TestClientSuite runs Apollo Client, urql, Relay and GraphQL Code
// Generator's output against two servers in demo mode: one with the default
// configuration (batching off) and one with -batching=true
// -max-batch-size=3. Each client asserts values from the dataset and an
// error's code and path; see clients/*.test.js.
func TestClientSuite(t *testing.T) {
	tools := requireTools(t, "node", "npm")
	if _, err := os.Stat(filepath.Join("clients", "node_modules")); err != nil {
		missing(t, "clients/node_modules is missing: run npm ci --prefix clients")
	}

	// The clients' code generators read the served schema, printed as
	// client teams are told to (docs/frontend/schema.md).
	schema, err := os.Create(filepath.Join("clients", "schema.graphql"))
	if err != nil {
		t.Fatal(err)
	}
	if err := graph.PrintSchema(schema, "sdl"); err != nil {
		t.Fatal(err)
	}
	if err := schema.Close(); err != nil {
		t.Fatal(err)
	}

	base := startForBrowser(t)
	batching := startForBrowser(t, "-batching=true", "-max-batch-size=3")
	values := expectedValues(t, fakeapi.NewDataset(fakeapi.WithUsers(50)))
	t.Logf("dataset: %d users, %d meetings, %d threads, %d ids that are a meeting's and a thread's",
		len(values.All.UserIDs), values.All.Meetings, values.All.Threads, len(values.All.SharedIDs))
	exp, err := json.Marshal(values)
	if err != nil {
		t.Fatal(err)
	}
	expFile := filepath.Join(t.TempDir(), "expected.json")
	if err := os.WriteFile(expFile, exp, 0o644); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, tools[1], "test")
	cmd.Dir = "clients"
	cmd.Env = append(os.Environ(),
		"SALESGRAPH_URL="+base,
		"SALESGRAPH_BATCH_URL="+batching,
		"SALESGRAPH_EXPECTED="+expFile,
		"NO_COLOR=1",
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("npm test in clients/: %v\n%s", err, out)
	}
	t.Logf("npm test in clients/:\n%s", out)
}

// suiteMeeting and the types below are what clients/suite.js reads as
// `expected`.
type suiteMeeting struct {
	ID         string  `json:"id"`
	Status     string  `json:"status"`
	ThreadID   *string `json:"threadId"`
	ThreadName *string `json:"threadName"`
}

type suiteThread struct {
	ID            string  `json:"id"`
	Name          string  `json:"name"`
	Number        string  `json:"number"`
	ContractValue float64 `json:"contractValue"`
}

type suiteUser struct {
	ID           string         `json:"id"`
	MeetingCount int            `json:"meetingCount"`
	Meetings     []suiteMeeting `json:"meetings"` // in the facade's default order, newest start first
	ThreadCount  int            `json:"threadCount"`
	Threads      []suiteThread  `json:"threads"` // in the upstream's order
}

type suiteExpected struct {
	Credential string      `json:"credential"`
	Users      []suiteUser `json:"users"` // users 1 to 3
	// All is what a query of every user's first 100 meetings and threads
	// returns: how many of each, and the ids that are a meeting's and a
	// thread's at once, which a cache keyed by id alone would merge.
	All struct {
		UserIDs   []string `json:"userIds"`
		Meetings  int      `json:"meetings"`
		Threads   int      `json:"threads"`
		SharedIDs []string `json:"sharedIds"`
	} `json:"all"`
	Codes map[string]string `json:"codes"`
}

// expectedValues computes what the clients must read, from the dataset.
func expectedValues(t *testing.T, ds *fakeapi.Dataset) suiteExpected {
	t.Helper()
	exp := suiteExpected{
		Credential: fakeapi.DefaultToken,
		Codes: map[string]string{
			"forbidden":              graph.CodeForbidden,
			"batchingDisabled":       gqlhttp.CodeBatchingDisabled,
			"batchTooLarge":          gqlhttp.CodeBatchTooLarge,
			"csrf":                   gqlhttp.CodeCSRFPrevented,
			"persistedQueryNotFound": gqlhttp.CodePersistedQueryNotFound,
		},
	}
	for id := int64(1); id <= 3; id++ {
		u, ok := ds.User(id)
		if !ok {
			t.Fatalf("the dataset has no user %d", id)
		}
		exp.Users = append(exp.Users, suiteUserOf(u))
	}
	meetingIDs, threadIDs := map[string]bool{}, map[string]bool{}
	for _, u := range ds.Users {
		exp.All.UserIDs = append(exp.All.UserIDs, strconv.FormatInt(u.ID, 10))
		su := suiteUserOf(&u)
		for _, m := range su.Meetings[:min(100, len(su.Meetings))] {
			meetingIDs[m.ID] = true
		}
		for _, th := range su.Threads[:min(100, len(su.Threads))] {
			threadIDs[th.ID] = true
		}
	}
	exp.All.Meetings, exp.All.Threads = len(meetingIDs), len(threadIDs)
	for id := range meetingIDs {
		if threadIDs[id] {
			exp.All.SharedIDs = append(exp.All.SharedIDs, id)
		}
	}
	slices.Sort(exp.All.SharedIDs)
	if len(exp.All.SharedIDs) == 0 {
		t.Fatal("no id is both a meeting's and a thread's: the record-merging tests would prove nothing")
	}
	if exp.Users[0].MeetingCount < 6 {
		t.Fatalf("user 1 has %d meetings: the pagination tests need two pages of 3", exp.Users[0].MeetingCount)
	}
	return exp
}

func suiteUserOf(u *fakeapi.User) suiteUser {
	su := suiteUser{ID: strconv.FormatInt(u.ID, 10), MeetingCount: len(u.Meetings), ThreadCount: len(u.Threads)}
	threadName := map[string]string{}
	for _, th := range u.Threads {
		threadName[th.ID] = th.Name
		su.Threads = append(su.Threads, suiteThread{ID: th.ID, Name: th.Name, Number: th.Number, ContractValue: th.ContractValue})
	}
	// The facade's default order: start date, newest first; meetings
	// without one last; ties by id. The wire dates are
	// "YYYY-MM-DD HH:MM:SS" in one zone, so their text sorts as their time.
	ms := slices.Clone(u.Meetings)
	absent := func(d string) bool { return d == "" || strings.HasPrefix(d, "0000-00-00") }
	slices.SortStableFunc(ms, func(a, b fakeapi.Meeting) int {
		switch aa, ab := absent(a.StartDate), absent(b.StartDate); {
		case aa && ab:
			return cmp.Compare(a.ID, b.ID)
		case aa:
			return 1
		case ab:
			return -1
		}
		if c := strings.Compare(b.StartDate, a.StartDate); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	for _, m := range ms {
		sm := suiteMeeting{ID: strconv.FormatInt(m.ID, 10), Status: strings.ToUpper(m.Status)}
		if m.ThreadID != "" {
			sm.ThreadID = &m.ThreadID
			if name, ok := threadName[m.ThreadID]; ok {
				sm.ThreadName = &name
			}
		}
		su.Meetings = append(su.Meetings, sm)
	}
	return su
}
