package graph

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestReadBody proves that a body read at its declared length is the body
// whatever that length says, as io.ReadAll up to one byte past the limit
// would read it, and that a body shorter than declared is an error.
func TestReadBody(t *testing.T) {
	const max = 10
	for _, tc := range []struct {
		name, body string
		length     int64
		want       string
		err        bool
	}{
		{name: "declared", body: `{"a":1}`, length: 7, want: `{"a":1}`},
		{name: "unknown length", body: `{"a":1}`, length: -1, want: `{"a":1}`},
		{name: "empty", body: "", length: 0, want: ""},
		{name: "at the limit", body: "0123456789", length: 10, want: "0123456789"},
		{name: "longer than declared", body: "0123456789", length: 3, want: "0123456789"},
		{name: "longer than declared, past the limit", body: "0123456789abc", length: 3, want: "0123456789a"},
		{name: "unknown length, past the limit", body: "0123456789abc", length: -1, want: "0123456789a"},
		{name: "shorter than declared", body: "01", length: 5, want: "01", err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readBody(strings.NewReader(tc.body), tc.length, max)
			assert.Equal(t, tc.want, string(got))
			if tc.err {
				assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
			} else {
				assert.NoError(t, err)
			}
		})
	}
}

// TestAWaiterExecutesWithinWhatIsLeftOfItsDeadline: when the execution a
// request waited for cannot be handed over (here, a streamed response),
// the request executes on its own with its deadline counted from its own
// arrival, not from when it stopped waiting, nor from the execution's.
func TestAWaiterExecutesWithinWhatIsLeftOfItsDeadline(t *testing.T) {
	const timeout = time.Hour
	base := time.Now().Add(-10 * time.Minute) // arrivals in the past
	var clock atomic.Int64
	joined := make(chan struct{})
	hooks := testHooks{
		opShareNow: func() time.Time { return base.Add(time.Duration(clock.Add(1)) * time.Minute) },
		opShareEvent: func(e string) {
			if e == "join" {
				close(joined)
			}
		},
	}

	deadlines := make(chan time.Time, 2)
	var calls atomic.Int64
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel, passed := withOperationDeadline(r.Context(), timeout)
		defer cancel()
		assert.False(t, passed)
		d, _ := ctx.Deadline()
		deadlines <- d
		if calls.Add(1) == 1 {
			<-joined
			w.Header().Set("Content-Type", "multipart/mixed; boundary=\"-\"")
			_, _ = w.Write([]byte("---\r\n"))
			return
		}
		_, _ = w.Write([]byte(`{"data":{}}`))
	})
	m := &middleware{next: next, cfg: Options{OperationTimeout: timeout}, share: newOpShare(1<<20, hooks, func(bool) {})}
	send := func() <-chan *httptest.ResponseRecorder {
		out := make(chan *httptest.ResponseRecorder, 1)
		go func() {
			rec := httptest.NewRecorder()
			m.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query":"{ a }"}`)))
			out <- rec
		}()
		return out
	}
	first := send()
	assert.Equal(t, base.Add(time.Minute+timeout), <-deadlines, "the execution's: the first request's arrival")
	then := send()
	<-first
	rec := <-then
	assert.Equal(t, `{"data":{}}`, rec.Body.String(), "executed on its own")
	assert.Equal(t, base.Add(2*time.Minute+timeout), <-deadlines, "the waiter's own arrival")
	assert.EqualValues(t, 2, calls.Load())
}
