package graph_test

import (
	"bytes"
	"context"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/graph"
	"github.com/salesgraph/salesgraph/restclient"
	"github.com/salesgraph/salesgraph/restclient/resttest"
)

// Tests of what an operation holds in memory: its upstream answers and its
// response.

// fixedUpstream answers every user's meetings with the same records.
type fixedUpstream struct {
	graph.Upstream
	meetings []restclient.Meeting
}

func (f fixedUpstream) UserMeetings(context.Context, int64) ([]restclient.Meeting, error) {
	return f.meetings, nil
}

// countingWriter is a ResponseWriter that keeps only the start of what is
// written, so that writing the response allocates nothing in the test.
type countingWriter struct {
	header  http.Header
	status  int
	n       int
	start   []byte
	onWrite func() // called at the first Write
}

func (w *countingWriter) Header() http.Header { return w.header }
func (w *countingWriter) WriteHeader(s int)   { w.status = s }
func (w *countingWriter) Write(p []byte) (int, error) {
	if w.n == 0 && w.onWrite != nil {
		w.onWrite()
	}
	w.n += len(p)
	if keep := 64 - len(w.start); keep > 0 {
		w.start = append(w.start, p[:min(keep, len(p))]...)
	}
	return len(p), nil
}

// TestALargeResponseIsCopiedOnce: a 6.5 MB response of 100 meetings with
// 64 KiB addresses allocates about its own size to be built and written.
// Before, each meeting's JSON was written ahead of the response (long
// addresses included) and copied into a data buffer grown by doubling:
// over four times the response in all, and twice it held at once.
func TestALargeResponseIsCopiedOnce(t *testing.T) {
	fake := resttest.NewServer(resttest.WithMeetingsPerUser(100))
	t.Cleanup(fake.Close)
	client, err := restclient.New(fake.URL, restclient.WithCredentials(http.Header{"Authorization": {resttest.DefaultToken}}))
	require.NoError(t, err)
	ms, err := client.UserMeetings(context.Background(), 1)
	require.NoError(t, err)
	require.Len(t, ms, 100)
	for i := range ms {
		ms[i].Address += strings.Repeat("x", 64<<10-len(ms[i].Address))
	}
	h := graph.NewHandler(graph.Options{Upstream: fixedUpstream{Upstream: client, meetings: ms}})
	query := body(`{ user(id: "1") { meetings(first: 100) { nodes { id address } } } }`, nil)
	serveOnce := func() *countingWriter {
		w := &countingWriter{header: http.Header{}}
		h.ServeHTTP(w, postReq(query))
		return w
	}
	serveOnce() // what is made once per process

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	w := serveOnce()
	runtime.ReadMemStats(&after)

	require.Equal(t, http.StatusOK, w.status)
	assert.True(t, bytes.HasPrefix(w.start, []byte(`{"data":{"user":{"meetings":{"nodes":[{"id":"`)), "%s", w.start)
	require.Greater(t, w.n, 100*64<<10, "every address was written")
	allocated := after.TotalAlloc - before.TotalAlloc
	assert.Less(t, allocated, uint64(w.n+w.n/2), "allocated %d bytes for a response of %d", allocated, w.n)
}
