package gqlhttp_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/gqlhttp"
	"github.com/salesgraph/salesgraph/gqlhttp/internal/testschema"
)

// ids is "1" to n.
func ids(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = itoa(i + 1)
	}
	return out
}

// TestAResponseTooLargeStopsBeingBuiltAtTheLimit: 100 strings of 8 KiB
// make an 800 KiB answer; with a 16 KiB limit, what gqlgen buffers before
// the transport refuses it stays near 16 KiB.
func TestAResponseTooLargeStopsBeingBuiltAtTheLimit(t *testing.T) {
	const limit = 16 << 10
	var mu sync.Mutex
	var buffered []int
	e := newEnv(t, func(o *gqlhttp.Options) {
		o.MaxResponseBytes = limit
		gqlhttp.SetEncodeHook(o, func(n int) {
			mu.Lock()
			buffered = append(buffered, n)
			mu.Unlock()
		})
	})
	res := e.post(`query($ids: [ID!]!) { items(ids: $ids) { id big(bytes: 8192) } }`, map[string]any{"ids": ids(100)})
	assert.Equal(t, http.StatusBadRequest, res.status)
	require.Len(t, res.errors, 1, "%s", res.body)
	assert.Equal(t, gqlhttp.CodeResponseTooLarge, res.code())
	assert.EqualValues(t, limit, res.errors[0].Extensions["limit"])
	assert.False(t, res.hasData)

	mu.Lock()
	require.Len(t, buffered, 1)
	got := buffered[0]
	mu.Unlock()
	full := 100 * (8 << 10)
	t.Logf("buffered %d bytes of a %d-byte answer, limit %d", got, full, limit)
	assert.LessOrEqual(t, got, limit+8<<10, "gqlgen stopped near the limit (one string past it at most)")

	_, replaced, _, _ := e.events.take()
	assert.Equal(t, []string{"0:" + gqlhttp.CodeResponseTooLarge}, replaced, "the hook is told what replaced the answer")
	assert.Zero(t, e.events.memoryHeld(), "the budget is given back")

	// Under the limit, the same fields are answered whole.
	res = e.post(`{ items(ids: ["1"]) { big(bytes: 1000) } }`, nil)
	require.Empty(t, res.errors)
	assert.Contains(t, string(res.data), strings.Repeat("x", 1000))
}

// TestTheResponseMemoryBudgetIsShared: while one operation holds its
// built response (its other field waits at the gate), a second that needs
// more than the rest of the budget is refused with
// RESPONSE_MEMORY_BUDGET_EXCEEDED; the first still completes.
func TestTheResponseMemoryBudgetIsShared(t *testing.T) {
	const limit = 64 << 10
	r := &testschema.Resolver{Gate: make(chan struct{}), Arrived: make(chan struct{}, 1)}
	e := newEnvWith(t, r, func(o *gqlhttp.Options) {
		o.MaxResponseBytes = limit
		o.MaxResponseMemory = limit
	})
	const n = 12 // 12 × 3 KiB held: more than half the budget
	vars := map[string]any{"ids": ids(n)}

	first := make(chan *httpResult, 1)
	go func() {
		first <- e.post(`query($ids: [ID!]!) { items(ids: $ids) { big(bytes: 3072) } slow }`, vars)
	}()
	<-r.Arrived // its items resolved or resolving; slow held
	require.Eventually(t, func() bool { return e.events.memoryHeld() >= n*3072 },
		10*time.Second, time.Millisecond, "the first operation holds its items' share")

	res := e.post(`query($ids: [ID!]!) { items(ids: $ids) { big(bytes: 3072) } }`, vars)
	assert.Equal(t, http.StatusServiceUnavailable, res.status, "%s", res.body)
	assert.Equal(t, gqlhttp.CodeResponseMemory, res.code())
	assert.False(t, res.hasData)

	close(r.Gate)
	r1 := <-first
	require.Empty(t, r1.errors)
	assert.Contains(t, string(r1.data), `"slow":"slow"`)
	assert.Zero(t, e.events.memoryHeld())
}
