package gqlhttp

import (
	"context"
	"fmt"
	"sync"

	"github.com/99designs/gqlgen/graphql"
)

// A batch's operations execute concurrently, each as a request of its own
// would, and are answered in request order. Each is prepared (persisted
// lookup, parse, validation, and the extensions given to Server.Use, such
// as a cost estimate drawing on a per-request budget) only once the one
// before it has been, so that what those extensions decide is the same as
// when the operations ran one after another: budgets are drawn in request
// order. The executions then overlap: a batch takes as long as its slowest
// operation rather than the sum of all, and holds at most one goroutine per
// operation (MaxBatchSize bounds them).
//
// Each operation's response is bounded by MaxResponseBytes as a request's
// is, and charged to MaxResponseMemory while it is built; the batch as a
// whole must fit in MaxResponseBytes too, and where it does not, the later
// answers give way to RESPONSE_TOO_LARGE, as they always did.

type operationIndexKey struct{}

// OperationIndex is the position of the operation ctx belongs to in its
// batch, for extensions and hooks that keep per-operation state; ok is
// false outside a batch (a request of one operation, whose index is 0).
func OperationIndex(ctx context.Context) (index int, ok bool) {
	index, ok = ctx.Value(operationIndexKey{}).(int)
	return index, ok
}

// serveBatch runs the operations of a batch and returns the parts of its
// answer, a JSON array.
func (t *httpTransport) serveBatch(ctx context.Context, exec graphql.GraphExecutor, reqs []*rawRequest, ex *exchange, meter func(limit int) *responseMeter) [][]byte {
	results := make([]result, len(reqs))
	ctxs := make([]context.Context, len(reqs))
	var wg sync.WaitGroup
	for i, q := range reqs {
		ctxs[i] = context.WithValue(ctx, operationIndexKey{}, i)
		m := meter(t.opts.MaxResponseBytes)
		prepared := make(chan struct{})
		ready := sync.OnceFunc(func() { close(prepared) })
		wg.Go(func() {
			defer ready() // refused before execution, or failed
			defer func() {
				if v := recover(); v != nil {
					t.srv.logger().ErrorContext(ctxs[i], "transport panic", "requestId", requestIDOf(ctx), "panic", fmt.Sprint(v))
					results[i] = t.refusal(ctxs[i], i, ex.media, refusalText{CodeInternal, "internal error"})
				}
			}()
			results[i] = t.serveOne(ctxs[i], exec, q, ex, i, m, ready)
		})
		<-prepared
	}
	wg.Wait()

	parts := make([][]byte, 0, 3*len(results)+len(results)+1)
	parts = append(parts, []byte("["))
	size := 1 + len(results) // the brackets and the commas
	for i, res := range results {
		if i > 0 {
			parts = append(parts, []byte(","))
		}
		if size+res.size() > t.opts.MaxResponseBytes {
			res = t.refusal(ctxs[i], i, ex.media, refusalText{CodeResponseTooLarge,
				fmt.Sprintf("the batch's response would be larger than %d bytes: send fewer operations, or select fewer fields or smaller pages", t.opts.MaxResponseBytes)})
		}
		size += res.size()
		parts = append(parts, res.parts()...)
	}
	return append(parts, []byte("]"))
}
