package gqlhttp_test

import (
	"context"
	"sync"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/salesgraph/salesgraph/gqlhttp"
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
