package gqlhttp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
)

// The memory of responses being built. gqlgen's executor marshals an
// operation's data whole, into one buffer, before the transport sees it;
// the transport then writes the envelope around it without copying it. What
// that buffer may grow to is bounded twice:
//
//   - A meter per operation counts, as each field resolves, about what it
//     will add to the response: its name, punctuation, and its value (a
//     string by its length). Once the count passes MaxResponseBytes, the
//     string values resolved after it are replaced by empty ones and the
//     operation's context is cancelled, stopping its resolvers' work; the
//     response is refused with RESPONSE_TOO_LARGE. What gqlgen buffers thus
//     stays near the limit, whatever the resolvers' strings weigh, instead
//     of growing with the data and being measured once whole.
//   - The meters draw on one process-wide budget, MaxResponseMemory, in
//     chunks held until the response is written. An operation that cannot
//     get its next chunk is refused with RESPONSE_MEMORY_BUDGET_EXCEEDED
//     (503): the server is building too much at once, and the client may
//     retry shortly.
//
// Whatever the resolvers read to build a response (upstream bodies) is
// theirs to bound.

// meterChunk is how much of the process-wide budget a meter takes at a
// time: big enough that most operations take it once, small enough that a
// budget of DefaultMaxResponseMemory serves thousands of small ones.
const meterChunk = 32 << 10

// responseMemory is the process-wide budget.
type responseMemory struct {
	limit int64
	used  atomic.Int64
	srv   *Server // told of every change (Server.OnResponseMemory)
}

func (b *responseMemory) reserve(n int64) bool {
	if b.used.Add(n) > b.limit {
		b.used.Add(-n)
		return false
	}
	b.srv.responseMemory(n)
	return true
}

func (b *responseMemory) release(n int64) {
	if n > 0 {
		b.used.Add(-n)
		b.srv.responseMemory(-n)
	}
}

// Meter states.
const (
	meterOK       int32 = iota
	meterTooLarge       // the response passed MaxResponseBytes
	meterBudget         // the process-wide budget could not hold it
)

// responseMeter is one operation's response size: estimated while fields
// resolve, then the bytes actually encoded or sent.
type responseMeter struct {
	limit  int64
	mem    *responseMemory
	cancel context.CancelCauseFunc // stops the operation's work once it cannot be answered; may be nil

	used  atomic.Int64 // the estimate, from resolved fields
	state atomic.Int32

	mu      sync.Mutex
	held    int64 // taken from mem
	written int64 // encoded or sent
}

func newResponseMeter(limit int, mem *responseMemory) *responseMeter {
	return &responseMeter{limit: int64(limit), mem: mem}
}

// charge adds n estimated bytes and reports whether the response may
// still be built.
func (m *responseMeter) charge(n int64) bool {
	if m.state.Load() != meterOK {
		return false
	}
	u := m.used.Add(n)
	if u > m.limit {
		m.fail(meterTooLarge)
		return false
	}
	if !m.hold(u) {
		m.fail(meterBudget)
		return false
	}
	return true
}

// hold makes sure the meter holds at least n bytes of the budget.
func (m *responseMeter) hold(n int64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if n <= m.held {
		return true
	}
	want := (n - m.held + meterChunk - 1) / meterChunk * meterChunk
	if !m.mem.reserve(want) {
		return false
	}
	m.held += want
	return true
}

func (m *responseMeter) fail(state int32) {
	if m.state.CompareAndSwap(meterOK, state) && m.cancel != nil {
		m.cancel(errResponseRefused)
	}
}

var errResponseRefused = errors.New("gqlhttp: the response was refused for its size")

func (m *responseMeter) failed() int32 { return m.state.Load() }

// fits reports whether n more bytes can be sent: within the limit, and
// held.
func (m *responseMeter) fits(n int) bool {
	m.mu.Lock()
	total := m.written + int64(n)
	m.mu.Unlock()
	if total > m.limit {
		return false
	}
	if !m.hold(total) {
		m.fail(meterBudget)
		return false
	}
	return true
}

// sent records n bytes encoded or written.
func (m *responseMeter) sent(n int) {
	m.mu.Lock()
	m.written += int64(n)
	m.mu.Unlock()
}

// remaining is how many bytes the response may still hold.
func (m *responseMeter) remaining() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return int(max(m.limit-m.written, 0))
}

// release gives the meter's share of the budget back, once the response is
// written.
func (m *responseMeter) release() {
	m.mu.Lock()
	held := m.held
	m.held = 0
	m.mu.Unlock()
	m.mem.release(held)
}

// refusalText is the code and message of a response refused whole.
type refusalText struct{ code, msg string }

// refusal is why the meter refused the response.
func (m *responseMeter) refusal() refusalText {
	if m.failed() == meterBudget {
		return refusalText{CodeResponseMemory, "the server is building too many large responses at once: retry in a moment, or select fewer fields or smaller pages"}
	}
	return m.tooLarge()
}

func (m *responseMeter) tooLarge() refusalText {
	return refusalText{CodeResponseTooLarge, fmt.Sprintf("the response would be larger than %d bytes: select fewer fields or smaller pages", m.limit)}
}

// responseSize is the gqlgen extension that charges each resolved field to
// its operation's meter.
type responseSize struct{}

var (
	_ graphql.HandlerExtension = responseSize{}
	_ graphql.FieldInterceptor = responseSize{}
)

func (responseSize) ExtensionName() string                   { return "ResponseSize" }
func (responseSize) Validate(graphql.ExecutableSchema) error { return nil }

func (responseSize) InterceptField(ctx context.Context, next graphql.Resolver) (any, error) {
	res, err := next(ctx)
	if err != nil {
		return res, err
	}
	m := meterFrom(ctx)
	if m == nil {
		return res, err
	}
	n := int64(6) // "name": and a comma, for a name of two characters or fewer
	if fc := graphql.GetFieldContext(ctx); fc != nil {
		n += int64(len(fc.Field.Alias))
	}
	if m.charge(n + valueSize(res)) {
		return res, nil
	}
	// The response cannot be sent: keep what is left of it small.
	switch res.(type) {
	case string:
		return "", nil
	case *string:
		return (*string)(nil), nil
	}
	if t := reflect.TypeOf(res); isBytes(t) {
		return reflect.Zero(t).Interface(), nil
	}
	return res, nil
}

// isBytes reports a type whose values are raw bytes, such as
// json.RawMessage or a schema's own JSON scalar.
func isBytes(t reflect.Type) bool {
	return t != nil && t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8
}

// valueSize is about what v adds to the response as JSON. Objects and lists
// add little themselves: their fields are charged as they resolve.
func valueSize(v any) int64 {
	switch v := v.(type) {
	case nil:
		return 4
	case string:
		return int64(len(v)) + 2
	case *string:
		if v == nil {
			return 4
		}
		return int64(len(*v)) + 2
	case time.Time, *time.Time:
		return 27
	case []string:
		n := int64(2)
		for _, s := range v {
			n += int64(len(s)) + 3
		}
		return n
	}
	// Raw JSON (json.RawMessage, a JSON scalar) is written as it is.
	if isBytes(reflect.TypeOf(v)) {
		return int64(reflect.ValueOf(v).Len()) + 4
	}
	return 8
}

// errLimit is a limitedBuffer refusing to grow.
var errLimit = errors.New("gqlhttp: response size limit reached")

// limitedBuffer is a buffer that refuses a write that would take it past
// max bytes, so that encoding stops where the limit is crossed instead of
// after the whole response is built.
type limitedBuffer struct {
	bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > b.max {
		return 0, errLimit
	}
	return b.Buffer.Write(p)
}

func (b *limitedBuffer) WriteString(s string) (int, error) {
	if b.Len()+len(s) > b.max {
		return 0, errLimit
	}
	return b.Buffer.WriteString(s)
}

func (b *limitedBuffer) WriteByte(c byte) error {
	if b.Len()+1 > b.max {
		return errLimit
	}
	return b.Buffer.WriteByte(c)
}

// ChargeResponse charges n bytes to the response of ctx's operation, for a
// resolver that writes part of the response itself rather than field by
// field through the executor, which the ResponseSize extension charges. It
// reports false once the response can no longer be sent (too large, or the
// response memory budget is full): the caller should then write as little
// as it can, since the answer will be the refusal. Outside an operation
// served by a Server it charges nothing and reports true.
func ChargeResponse(ctx context.Context, n int) bool {
	m := meterFrom(ctx)
	return m == nil || m.charge(int64(n))
}

// DataSizeHint is about how many bytes the data of ctx's operation will
// take once marshalled: what its fields were charged and has not been sent
// yet, capped at what the response may still hold; 0 outside an operation
// served by a Server, or once the response is refused. The executor's
// buffer for the data, allocated at this size, is not grown by doubling: a
// 10 MB response grown so held a 16 MB buffer, after copying 15 MB of
// smaller ones on the way.
func DataSizeHint(ctx context.Context) int {
	m := meterFrom(ctx)
	if m == nil || m.failed() != meterOK {
		return 0
	}
	m.mu.Lock()
	n := m.used.Load() - m.written
	m.mu.Unlock()
	// The charges are close but not exact (a field's punctuation, escapes
	// in strings): a little more saves growing to twice the size for a few
	// bytes.
	n += n/64 + 64
	return int(min(max(n, 0), int64(m.remaining())))
}

// meterFrom is the meter of ctx's operation, nil outside one.
func meterFrom(ctx context.Context) *responseMeter {
	if p, _ := ctx.Value(preparedKey{}).(*preparedDoc); p != nil {
		return p.meter
	}
	return nil
}
