package graph_test

import (
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/graph"
	"github.com/salesgraph/salesgraph/graph/model"
	"github.com/salesgraph/salesgraph/restclient"
)

func TestInvalidDateTimeArgumentsAreBadUserInput(t *testing.T) {
	var logs syncBuffer
	e := newEnv(t, withGraph(func(o *graph.Options) { o.Logger = slog.New(slog.NewTextHandler(&logs, nil)) }))
	filterVar := `query($f: MeetingFilter) { user(id: "1") { meetings(filter: $f) { totalCount } } }`
	dateVar := `query($d: DateTime) { user(id: "1") { meetings(filter: {startFrom: $d}) { totalCount } } }`
	cases := []struct {
		name  string
		query string
		vars  map[string]any
		names string // what the message must name
	}{
		{"a word", `{ user(id: "1") { meetings(filter: {startFrom: "yesterday"}) { totalCount } } }`, nil, "filter.startFrom"},
		{"a number", `{ user(id: "1") { meetings(filter: {startFrom: 12345}) { totalCount } } }`, nil, "filter.startFrom"},
		{"no offset", `{ user(id: "1") { meetings(filter: {startFrom: "2026-01-01T10:00:00"}) { totalCount } } }`, nil, "filter.startFrom"},
		{"empty", `{ user(id: "1") { meetings(filter: {startTo: ""}) { totalCount } } }`, nil, "filter.startTo"},
		{"no such day", `{ user(id: "1") { meetings(filter: {startTo: "2026-02-30"}) { totalCount } } }`, nil, "filter.startTo"},
		{"a DateTime variable", dateVar, map[string]any{"d": "yesterday"}, "filter.startFrom (variable $d)"},
		{"a number variable", dateVar, map[string]any{"d": 12345}, "filter.startFrom (variable $d)"},
		{"inside a filter variable", filterVar, map[string]any{"f": map[string]any{"startTo": "tomorrow"}}, "filter.startTo (variable $f)"},
		{"a variable's default", `query($d: DateTime = "yesterday") { user(id: "1") { meetings(filter: {startFrom: $d}) { totalCount } } }`, nil, "filter.startFrom (variable $d)"},
		// The sibling's calls must not start either.
		{"after a sibling that calls", `{ a: user(id: "1") { threads { totalCount } } b: user(id: "2") { meetings(filter: {startFrom: "yesterday"}) { totalCount } } }`, nil, "filter.startFrom"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.upstream.Reset()
			res := e.do(c.query, c.vars, nil)
			require.Len(t, res.Errors, 1, "%s", res.Data)
			assert.Equal(t, graph.CodeBadUserInput, res.Errors[0].code())
			assert.Equal(t, c.names+" must be a DateTime: "+model.DateFormats, res.Errors[0].Message)
			assert.Equal(t, 400, res.status, "a request error")
			assert.Zero(t, e.upstream.Calls())
		})
	}
	assert.NotContains(t, logs.String(), "level=ERROR")
}

// A plain date means midnight in the upstream's zone, the zone the CRM's
// own dates are read in. Auckland is far enough from UTC that the two
// readings of a date disagree about meetings held in its mornings.
func TestPlainDatesAreDaysInTheUpstreamZone(t *testing.T) {
	auckland, err := time.LoadLocation("Pacific/Auckland")
	require.NoError(t, err)
	e := newEnv(t, withClient(restclient.WithLocation(auckland)), withGraph(func(o *graph.Options) { o.TimeZone = auckland }))
	meetings := user(t, e.data, 6).Meetings
	var starts []time.Time
	for _, m := range meetings {
		if d, err := time.ParseInLocation(time.DateTime, m.StartDate, auckland); err == nil {
			starts = append(starts, d)
		}
	}
	slices.SortFunc(starts, time.Time.Compare)
	// A morning meeting that is not the first: the range leaves one out.
	i := slices.IndexFunc(starts, func(s time.Time) bool { return s.Hour() < 12 && s.After(starts[0]) })
	require.GreaterOrEqual(t, i, 1, "the dataset should hold a morning meeting")
	from := starts[i].Format(time.DateOnly)
	to := starts[len(starts)-1].Format(time.DateOnly) // the last day is left out
	count := func(loc *time.Location) int {
		f, _ := time.ParseInLocation(time.DateOnly, from, loc)
		t, _ := time.ParseInLocation(time.DateOnly, to, loc)
		n := 0
		for _, s := range starts {
			if !s.Before(f) && s.Before(t) {
				n++
			}
		}
		return n
	}
	want := count(auckland)
	require.NotEqual(t, count(time.UTC), want, "the test needs the readings to disagree")

	query := func(filter map[string]any) int {
		var got struct {
			User struct{ Meetings struct{ TotalCount int } }
		}
		e.ok(`query($f: MeetingFilter) { user(id: "6") { meetings(filter: $f) { totalCount } } }`, map[string]any{"f": filter}, &got)
		return got.User.Meetings.TotalCount
	}
	assert.Equal(t, want, query(map[string]any{"startFrom": from, "startTo": to}))
	fromT, _ := time.ParseInLocation(time.DateOnly, from, auckland)
	toT, _ := time.ParseInLocation(time.DateOnly, to, auckland)
	assert.Equal(t, want, query(map[string]any{"startFrom": fromT.Format(time.RFC3339), "startTo": toT.Format(time.RFC3339)}), "the same instants in RFC 3339")

	var inline struct {
		User struct{ Meetings struct{ TotalCount int } }
	}
	e.ok(fmt.Sprintf(`{ user(id: "6") { meetings(filter: {startFrom: %q, startTo: %q}) { totalCount } } }`, from, to), nil, &inline)
	assert.Equal(t, want, inline.User.Meetings.TotalCount)
}

func TestThreadIDFilterIsChecked(t *testing.T) {
	e := newEnv(t)
	byVar := `query($f: MeetingFilter) { user(id: "1") { meetings(filter: $f) { totalCount } } }`
	for _, c := range []struct {
		name, query string
		vars        map[string]any
		names       string
	}{
		{"letters", `{ user(id: "1") { meetings(filter: {threadId: "abc"}) { totalCount } } }`, nil, "filter.threadId"},
		{"zero", `{ user(id: "1") { meetings(filter: {threadId: "0"}) { totalCount } } }`, nil, "filter.threadId"},
		{"negative number", `{ user(id: "1") { meetings(filter: {threadId: -3}) { totalCount } } }`, nil, "filter.threadId"},
		{"a global id", byVar, map[string]any{"f": map[string]any{"threadId": "VGhyZWFkOjE6MzE2MQ"}}, "filter.threadId (variable $f)"},
		{"padded", byVar, map[string]any{"f": map[string]any{"threadId": " 12"}}, "filter.threadId (variable $f)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e.upstream.Reset()
			res := e.do(c.query, c.vars, nil)
			require.Len(t, res.Errors, 1, "%s", res.Data)
			assert.Equal(t, graph.CodeBadUserInput, res.Errors[0].code())
			assert.Equal(t, c.names+" must be a thread id, a positive integer such as 3161", res.Errors[0].Message)
			assert.Zero(t, e.upstream.Calls())
		})
	}

	// A thread id as the facade serves it, string or number, still filters.
	var thread string
	for _, m := range user(t, e.data, 1).Meetings {
		if m.ThreadID != "" {
			thread = m.ThreadID
			break
		}
	}
	require.NotEmpty(t, thread)
	want := 0
	for _, m := range user(t, e.data, 1).Meetings {
		if m.ThreadID == thread {
			want++
		}
	}
	n, err := strconv.Atoi(thread)
	require.NoError(t, err)
	for _, v := range []any{thread, n} {
		var got struct {
			User struct{ Meetings struct{ TotalCount int } }
		}
		e.ok(byVar, map[string]any{"f": map[string]any{"threadId": v}}, &got)
		assert.Equal(t, want, got.User.Meetings.TotalCount, "%#v", v)
	}
}

// The schema's description of first states its bounds; the code enforces
// exactly those.
func TestFirstBoundsAreTheSchemasBounds(t *testing.T) {
	e := newEnv(t)
	var schema struct {
		Type struct {
			Fields []struct {
				Name string
				Args []struct{ Name, Description string }
			}
		} `json:"__type"`
	}
	e.ok(`{ __type(name: "User") { fields { name args { name description } } } }`, nil, &schema)
	bounds := regexp.MustCompile(`(\d+) to (\d+)`)
	checked := 0
	totals := map[string]int{} // by connection field
	for _, l := range graph.UpstreamLists() {
		totals[l.Field] = len(e.upstream.ListIDs(l.Endpoint, 2))
	}
	for _, f := range schema.Type.Fields {
		for _, a := range f.Args {
			if a.Name != "first" {
				continue
			}
			checked++
			m := bounds.FindStringSubmatch(a.Description)
			require.NotNil(t, m, "%s: %q states no bounds", f.Name, a.Description)
			lo, _ := strconv.Atoi(m[1])
			hi, _ := strconv.Atoi(m[2])
			q := fmt.Sprintf(`query($n: Int) { user(id: "2") { %s(first: $n) { totalCount edges { cursor } nodes { id } pageInfo { hasNextPage endCursor } } } }`, f.Name)
			for _, n := range []int{lo - 1, hi + 1} {
				e.upstream.Reset()
				res := e.do(q, map[string]any{"n": n}, nil)
				require.NotEmpty(t, res.Errors, "%s(first: %d) is outside %q but was accepted", f.Name, n, a.Description)
				assert.Equal(t, graph.CodeBadUserInput, res.Errors[0].code())
				assert.Zero(t, e.upstream.Calls())
			}
			for _, n := range []int{lo, hi} {
				res := e.do(q, map[string]any{"n": n}, nil)
				require.Empty(t, res.Errors, "%s(first: %d) is within %q but was refused", f.Name, n, a.Description)
			}
			// first: 0 is a count: the total, whether there is a page, no nodes.
			if lo == 0 {
				var got struct {
					User map[string]struct {
						TotalCount int
						Edges      []any
						Nodes      []any
						PageInfo   struct {
							HasNextPage bool
							EndCursor   *string
						}
					}
				}
				e.ok(q, map[string]any{"n": 0}, &got)
				c := got.User[f.Name]
				assert.Equal(t, totals[f.Name], c.TotalCount)
				assert.Empty(t, c.Edges)
				assert.Empty(t, c.Nodes)
				assert.True(t, c.PageInfo.HasNextPage)
				assert.Nil(t, c.PageInfo.EndCursor)
			}
		}
	}
	assert.Equal(t, len(totals), checked, "every list's connection takes first")
}

// A variable's coercion error names the place in its value as a quoted
// path, not as a word of the sentence.
func TestVariableErrorsQuoteTheFieldPath(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		vars map[string]any
		want string
	}{
		{map[string]any{"f": map[string]any{"type": 5}}, `variable $f at "type": not a valid value (expected MeetingFilter)`},
		{map[string]any{"f": map[string]any{"status": []any{"FINISHED", "NOPE"}}}, `variable $f at "status[1]": not a valid value (expected MeetingFilter)`},
		{map[string]any{"f": map[string]any{"typo": 1}}, `variable $f at "typo": unknown field (expected MeetingFilter)`},
	} {
		res := e.do(`query($f: MeetingFilter) { user(id: "1") { meetings(filter: $f) { totalCount } } }`, c.vars, nil)
		require.Len(t, res.Errors, 1)
		assert.Equal(t, graph.CodeBadUserInput, res.Errors[0].code())
		assert.Equal(t, c.want, res.Errors[0].Message)
		assert.False(t, strings.Contains(res.Errors[0].Message, "at type"), res.Errors[0].Message)
	}
}
