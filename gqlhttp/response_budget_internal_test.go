package gqlhttp

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestDataSizeHint: the size an operation's data buffer is allocated at
// covers what its fields were charged and not yet sent, with a margin for
// what the estimate leaves out, within what the response may still hold;
// nothing outside an operation or once the response is refused.
func TestDataSizeHint(t *testing.T) {
	assert.Zero(t, DataSizeHint(context.Background()), "outside an operation")

	const limit = 1 << 20
	mem := &responseMemory{limit: 4 * limit, srv: &Server{}}
	m := newResponseMeter(limit, mem)
	ctx := context.WithValue(context.Background(), preparedKey{}, &preparedDoc{meter: m})
	assert.Positive(t, DataSizeHint(ctx), "a small margin even for nothing charged")

	for _, charged := range []int64{1000, 100_000, 500_000} {
		m.charge(charged - m.used.Load())
		hint := DataSizeHint(ctx)
		assert.GreaterOrEqual(t, hint, int(charged), "charged %d", charged)
		assert.LessOrEqual(t, hint, int(charged+charged/32+1024), "charged %d: a margin, not a multiple", charged)
	}
	m.sent(400_000) // an incremental response's first payload
	assert.InDelta(t, 100_000, DataSizeHint(ctx), 100_000/32+1024, "only what is left to send")

	m.charge(limit - m.used.Load()) // at the limit: what it may still hold
	assert.LessOrEqual(t, DataSizeHint(ctx), m.remaining())

	m.charge(1) // past it: refused
	assert.Zero(t, DataSizeHint(ctx))
	m.release()
}
