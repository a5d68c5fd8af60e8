package gqlhttp_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
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

func TestBatching(t *testing.T) {
	batch := func(queries ...string) string {
		items := make([]map[string]any, len(queries))
		for i, q := range queries {
			items[i] = map[string]any{"query": q}
		}
		b, _ := json.Marshal(items)
		return string(b)
	}
	t.Run("off by default", func(t *testing.T) {
		e := newEnv(t)
		res := e.send(postReq(batch(`{ item(id: "1") { id } }`)))
		assert.Equal(t, http.StatusBadRequest, res.status)
		assert.Equal(t, gqlhttp.CodeBatchingDisabled, res.code())
		assert.Zero(t, e.calls())
	})
	t.Run("bounded when on", func(t *testing.T) {
		e := newEnv(t, func(o *gqlhttp.Options) { o.Batching, o.MaxBatchSize = true, 3 })
		rec := httptest.NewRecorder()
		e.handler.ServeHTTP(rec, postReq(batch(`{ item(id: "1") { id } }`, `{ item(id: "2") { name } }`, `{`)))
		assert.Equal(t, http.StatusOK, rec.Code)
		var got []struct {
			Data   json.RawMessage
			Errors []gqlError
		}
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got), rec.Body.String())
		require.Len(t, got, 3)
		assert.JSONEq(t, `{"item": {"id": "1"}}`, string(got[0].Data))
		assert.JSONEq(t, `{"item": {"name": "item 2"}}`, string(got[1].Data))
		assert.Nil(t, got[2].Data)
		assert.Equal(t, gqlhttp.CodeParseFailed, got[2].Errors[0].code())

		res := e.send(postReq(batch(`{ __typename }`, `{ __typename }`, `{ __typename }`, `{ __typename }`)))
		assert.Equal(t, http.StatusBadRequest, res.status)
		assert.Equal(t, gqlhttp.CodeBatchTooLarge, res.code())

		res = e.send(postReq(`[{"query": "{ __typename }"}, 7]`))
		assert.Equal(t, http.StatusBadRequest, res.status)
		assert.Equal(t, gqlhttp.CodeBadRequest, res.code())
		res = e.send(postReq(`[]`))
		assert.Equal(t, gqlhttp.CodeBadRequest, res.code())
	})
	t.Run("the hooks are told each operation's position", func(t *testing.T) {
		e := newEnv(t, func(o *gqlhttp.Options) { o.Batching, o.MaxResponseBytes = true, 1024 })
		e.events.take()
		res := e.send(postReq(batch(`{ item(id: "1") { id } }`, `{ big(bytes: 2000) }`)))
		assert.Equal(t, http.StatusOK, res.status)
		_, replaced, _, _ := e.events.take()
		assert.Equal(t, []string{"1:" + gqlhttp.CodeResponseTooLarge}, replaced, "the second answer gave way")
	})
	t.Run("the batch as a whole fits", func(t *testing.T) {
		e := newEnv(t, func(o *gqlhttp.Options) { o.Batching, o.MaxResponseBytes = true, 1100 })
		res := e.send(postReq(batch(`{ a: big(bytes: 600) }`, `{ b: big(bytes: 600) }`)))
		assert.Equal(t, http.StatusOK, res.status)
		assert.LessOrEqual(t, len(res.body), 1100)
		require.Len(t, res.errors, 1)
		assert.Equal(t, gqlhttp.CodeResponseTooLarge, res.code(), "the second is refused, though alone it fits")
	})
}

// batchAnswers decodes a batch's answer: one response object per operation.
func batchAnswers(t *testing.T, res *httpResult) []struct {
	Data   json.RawMessage `json:"data"`
	Errors []gqlError      `json:"errors"`
} {
	t.Helper()
	var out []struct {
		Data   json.RawMessage `json:"data"`
		Errors []gqlError      `json:"errors"`
	}
	require.NoError(t, json.Unmarshal(res.body, &out), "the answer to a batch must be a JSON array: %s", res.body)
	return out
}

// TestBatchRefusalAnswersEachOperation: a batch refused as a whole is
// answered with the refusal once per operation, in an array of the batch's
// length, because batching clients match answers to operations by position
// and reject an answer of another length, hiding the code.
func TestBatchRefusalAnswersEachOperation(t *testing.T) {
	batchOf := func(n int) string {
		return "[" + strings.TrimSuffix(strings.Repeat(`{"query":"{ item(id: \"1\") { id } }"},`, n), ",") + "]"
	}
	for _, c := range []struct {
		name   string
		opts   func(*gqlhttp.Options)
		n      int
		code   string
		accept string
	}{
		{"batching off", func(*gqlhttp.Options) {}, 3, gqlhttp.CodeBatchingDisabled, ""},
		{"batching off, application/json", func(*gqlhttp.Options) {}, 1, gqlhttp.CodeBatchingDisabled, "application/json"},
		{"over the limit", func(o *gqlhttp.Options) { o.Batching, o.MaxBatchSize = true, 3 }, 4, gqlhttp.CodeBatchTooLarge, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, c.opts)
			res := e.send(postReq(batchOf(c.n), "Accept", c.accept))
			assert.Equal(t, http.StatusBadRequest, res.status)
			answers := batchAnswers(t, res)
			require.Len(t, answers, c.n)
			for i, a := range answers {
				assert.Nil(t, a.Data, "answer %d has data", i)
				require.Len(t, a.Errors, 1, "answer %d", i)
				assert.Equal(t, c.code, a.Errors[0].code(), "answer %d", i)
			}
			assert.Zero(t, e.calls(), "a refused batch runs no resolver")
			refused, _, _, _ := e.events.take()
			assert.Equal(t, []string{c.code}, refused, "told to OnRefused once")
		})
	}

	t.Run("not a client's batch", func(t *testing.T) {
		// Past a hundred entries the refusal is one object: a megabyte of
		// empty entries must not earn a hundred thousand errors.
		e := newEnv(t)
		res := e.send(postReq("[" + strings.TrimSuffix(strings.Repeat("{},", 101), ",") + "]"))
		assert.Equal(t, http.StatusBadRequest, res.status)
		assert.Equal(t, gqlhttp.CodeBatchingDisabled, res.code())
		// An array that is not JSON is malformed, batching or not.
		res = e.send(postReq(`[{"query": "{ __typename }"},`))
		assert.Equal(t, http.StatusBadRequest, res.status)
		assert.Equal(t, gqlhttp.CodeBadRequest, res.code())
	})
}
