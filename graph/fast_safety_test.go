package graph_test

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/salesgraph/salesgraph/graph"
	"github.com/salesgraph/salesgraph/observe"
)

// plainMeetingFields are the fields of Meeting the fast path writes
// (fast_gen.go, from graph/internal/gen): a struct field or a method of
// model.Meeting taking no context and no arguments, of a scalar or enum
// type.
const plainMeetingFields = `__typename id globalId hash personId companyId threadId status rawStatus type rawType
	startDate endDate createdAt modifiedAt address visits visitsOwner visitsCopy`

// fieldCounter is a field interceptor that counts the fields the field
// middleware resolves, by "Type.field".
type fieldCounter struct {
	mu   sync.Mutex
	seen map[string]int
}

func (*fieldCounter) ExtensionName() string                   { return "FieldCounter" }
func (*fieldCounter) Validate(graphql.ExecutableSchema) error { return nil }
func (c *fieldCounter) InterceptField(ctx context.Context, next graphql.Resolver) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	c.mu.Lock()
	c.seen[fc.Object+"."+fc.Field.Name]++
	c.mu.Unlock()
	return next(ctx)
}

func (c *fieldCounter) count(object string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for f, k := range c.seen {
		if strings.HasPrefix(f, object+".") {
			n += k
		}
	}
	return n
}

// TestMeetingListsTakeTheFastPath: every meeting of users' lists, with all
// its plain fields selected, is written by its fast path: none of its
// fields reaches the field middleware. With the fast path off, each does
// (the counter counts). It fails when the generator stops writing
// fast_Meeting or hooking it, or a field of Meeting stops being plain.
func TestMeetingListsTakeTheFastPath(t *testing.T) {
	const q = `{ users(ids: ["1", "2", "3", "4", "5"]) { id meetings(first: 100) { nodes { ` + plainMeetingFields + ` } } } }`
	meetings := func(fast bool) (n, middleware int) {
		defer graph.SetFastPath(fast)()
		e := newEnv(t)
		c := &fieldCounter{seen: map[string]int{}}
		graph.Endpoint(e.handler).Use(c)
		res := e.do(q, nil, nil)
		require.Empty(t, res.Errors)
		var data struct {
			Users []struct {
				Meetings struct{ Nodes []map[string]any }
			}
		}
		require.NoError(t, json.Unmarshal(res.Data, &data))
		require.Len(t, data.Users, 5)
		for i, u := range data.Users {
			require.Len(t, u.Meetings.Nodes, len(user(t, e.data, int64(i+1)).Meetings))
			n += len(u.Meetings.Nodes)
		}
		return n, c.count("Meeting")
	}
	n, middleware := meetings(true)
	require.Positive(t, n)
	assert.Zero(t, middleware, "fields of %d meetings went through the field middleware: the fast path was not taken", n)
	n, middleware = meetings(false)
	fields := len(strings.Fields(plainMeetingFields)) - 1 // __typename is not resolved
	assert.Equal(t, n*fields, middleware, "on the executor's path, every field of every meeting")
}

// fastPathSafeWith are the field interceptors the fast path is known to be
// safe with, and why. The fast path writes plain fields without the field
// middleware (fast.go), so a field interceptor added to the endpoint
// would not see them.
var fastPathSafeWith = map[string]string{
	"ResponseSize":  "gqlhttp's response meter: the fast path charges what it writes to the same meter, per object (fastWriter.finish)",
	"ResolverSpans": "a span per resolver (FieldContext.IsResolver); plain fields have no resolver",
}

// TestTheFastPathKnowsEveryFieldInterceptor: the field interceptors of the
// endpoint, in every configuration that changes them, are those the fast
// path is known to be safe with.
func TestTheFastPathKnowsEveryFieldInterceptor(t *testing.T) {
	tp := sdktrace.NewTracerProvider()
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	configs := map[string]*env{
		"demo":                  newEnv(t),
		"production":            newSecureEnv(t),
		"resolver spans":        newEnv(t, withGraph(func(o *graph.Options) { o.Tracing = observe.NewTracing(tp, observe.WithResolverSpans(true)) })),
		"no operation sharing":  newSecureEnv(t, withGraph(func(o *graph.Options) { o.DisableOperationSharing = true })),
		"tracing, no resolvers": newEnv(t, withGraph(func(o *graph.Options) { o.Tracing = observe.NewTracing(tp) })),
	}
	installed := map[string][]string{} // interceptor: the configurations that have it
	for _, name := range slices.Sorted(maps.Keys(configs)) {
		for _, fi := range graph.Endpoint(configs[name].handler).FieldInterceptors() {
			installed[fi] = append(installed[fi], name)
		}
	}
	for _, fi := range slices.Sorted(maps.Keys(installed)) {
		if _, ok := fastPathSafeWith[fi]; !ok {
			t.Errorf("the endpoint has a new field interceptor, %q (%s). The fast path (graph/fast.go, "+
				"fast_gen.go) writes plain fields without the field middleware, so %q will not see them. "+
				"Make the fast path do what it does for them (as it charges ResponseSize's meter), or have it "+
				"ignore plain fields (as ResolverSpans does), then add it to fastPathSafeWith with the reason.",
				fi, strings.Join(installed[fi], ", "), fi)
		}
	}
	for _, fi := range slices.Sorted(maps.Keys(fastPathSafeWith)) {
		if installed[fi] == nil {
			t.Errorf("the field interceptor %q is no longer installed in any configuration: remove it from "+
				"fastPathSafeWith, and what the fast path does for it from graph/fast.go if it did anything", fi)
		}
	}
}
