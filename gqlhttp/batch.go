package gqlhttp

import (
	"context"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
)

// A batch's operations are answered in request order, each told its
// position (OperationIndex), so that extensions and hooks can keep state
// per operation.
//
// Each operation's response is bounded by MaxResponseBytes as a request's
// is, and charged to MaxResponseMemory while it is built; the batch as a
// whole must fit in MaxResponseBytes too, and where it does not, the later
// answers give way to RESPONSE_TOO_LARGE.

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
	for i, q := range reqs {
		ctxs[i] = context.WithValue(ctx, operationIndexKey{}, i)
		results[i] = t.serveOne(ctxs[i], exec, q, ex, i, meter(t.opts.MaxResponseBytes))
	}

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
