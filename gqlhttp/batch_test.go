package gqlhttp_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/salesgraph/salesgraph/gqlhttp"
	"github.com/salesgraph/salesgraph/gqlhttp/internal/testschema"
)

// orderRecorder is an extension that records, for each operation, its
// position in the batch when it is prepared and when it is answered.
type orderRecorder struct {
	mu                 sync.Mutex
	prepared, answered []int
}

var (
	_ graphql.OperationContextMutator = (*orderRecorder)(nil)
	_ graphql.ResponseInterceptor     = (*orderRecorder)(nil)
)

func (*orderRecorder) ExtensionName() string                   { return "OrderRecorder" }
func (*orderRecorder) Validate(graphql.ExecutableSchema) error { return nil }

func (o *orderRecorder) MutateOperationContext(ctx context.Context, _ *graphql.OperationContext) *gqlerror.Error {
	i, ok := gqlhttp.OperationIndex(ctx)
	if !ok {
		i = -1
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.prepared = append(o.prepared, i)
	return nil
}

func (o *orderRecorder) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	i, _ := gqlhttp.OperationIndex(ctx)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.answered = append(o.answered, i)
	return resp
}

// TestBatchOperationsIndex: a request of one operation has no
// batch position; a batch's operations have theirs.
func TestBatchOperationsIndex(t *testing.T) {
	e := newEnv(t, func(o *gqlhttp.Options) { o.Batching = true })
	rec := &orderRecorder{}
	e.srv.Use(rec)
	res := e.post(`{ hello }`, nil)
	require.Empty(t, res.errors)
	assert.Equal(t, []int{-1}, rec.prepared)

	rec.prepared, rec.answered = nil, nil
	res = e.send(postReq(`[{"query":"{ hello }"},{"query":"{ hello }"}]`))
	require.Empty(t, res.errors)
	assert.Equal(t, []int{0, 1}, rec.prepared)
	assert.ElementsMatch(t, []int{0, 1}, rec.answered)
}

// TestBatchOperationsRunConcurrently: the slow field of every operation of
// a batch is waiting at the gate at the same time, which operations run one
// after another never are; the operations are still prepared in request
// order (so that a per-request budget is drawn as before) and answered in
// request order, each told its position.
func TestBatchOperationsRunConcurrently(t *testing.T) {
	const n = 3
	r := &testschema.Resolver{Gate: make(chan struct{}), Arrived: make(chan struct{}, n)}
	var once sync.Once
	open := func() { once.Do(func() { close(r.Gate) }) }
	t.Cleanup(open)
	e := newEnvWith(t, r, func(o *gqlhttp.Options) { o.Batching = true })
	rec := &orderRecorder{}
	e.srv.Use(rec)

	done := make(chan *httpResult, 1)
	go func() {
		done <- e.send(postReq(`[{"query":"{ a: slow }"},{"query":"{ b: slow }"},{"query":"{ c: slow }"}]`))
	}()
	for i := range n {
		select {
		case <-r.Arrived:
		case <-time.After(10 * time.Second):
			open()
			t.Fatalf("only %d of the batch's %d operations were executing at once", i, n)
		}
	}
	open()
	res := <-done
	require.Equal(t, http.StatusOK, res.status)
	var answers []map[string]map[string]string
	require.NoError(t, json.Unmarshal(res.body, &answers), string(res.body))
	assert.Equal(t, []map[string]map[string]string{
		{"data": {"a": "slow"}}, {"data": {"b": "slow"}}, {"data": {"c": "slow"}},
	}, answers, "in request order")
	assert.Equal(t, []int{0, 1, 2}, rec.prepared, "prepared one after another, in request order")
	assert.ElementsMatch(t, []int{0, 1, 2}, rec.answered, "each operation knows its position")
}
