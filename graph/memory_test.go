package graph_test

import (
	"bytes"
	"context"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/graph"
	"github.com/salesgraph/salesgraph/restclient"
	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

// Tests of what an operation holds in memory: its upstream answers and its
// response.

// fixedUpstream answers every user's meetings with the same records.
type fixedUpstream struct {
	graph.Upstream
	meetings []restclient.Meeting
}

func (f fixedUpstream) UserList(ctx context.Context, list restclient.AnyList, userID int64, page int) (restclient.Records, error) {
	if list != restclient.Meetings {
		return f.Upstream.UserList(ctx, list, userID, page)
	}
	return &restclient.Page[restclient.Meeting]{List: f.meetings}, nil
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
	fake := fakeapi.NewServer(fakeapi.WithMeetingsPerUser(100))
	t.Cleanup(fake.Close)
	client, err := restclient.New(fake.URL, restclient.WithCredentials(http.Header{"Authorization": {fakeapi.DefaultToken}}))
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

// signallingUpstream tells which users' meetings it handed over.
type signallingUpstream struct {
	graph.Upstream
	handed chan int64
}

func (u signallingUpstream) UserList(ctx context.Context, list restclient.AnyList, id int64, page int) (restclient.Records, error) {
	r, err := u.Upstream.UserList(ctx, list, id, page)
	if list == restclient.Meetings {
		u.handed <- id
	}
	return r, err
}

// TestAnOperationKeepsItsAnswersRoomUntilItsResponseIsBuilt: the records
// decoded from an upstream answer keep its text, so its room in the body
// budget stays taken while the operation uses them (user 1's, while user
// 2's answer is still being read), and is given back once the response is
// marshalled, before it is written.
func TestAnOperationKeepsItsAnswersRoomUntilItsResponseIsBuilt(t *testing.T) {
	const one, two = 200_000, 300_000
	fake := fakeapi.NewServer()
	t.Cleanup(fake.Close)
	stall := make(chan struct{})
	resume := sync.OnceFunc(func() { close(stall) })
	t.Cleanup(resume)
	fake.Inject(fakeapi.Fault{Path: "/api/v1/users/1/meetings", Kind: fakeapi.FaultLargeBody, Size: one, Field: "address"})
	fake.Inject(fakeapi.Fault{Path: "/api/v1/users/2/meetings", Kind: fakeapi.FaultLargeBody, Size: two, MidBody: stall})
	client, err := restclient.New(fake.URL, restclient.WithBodyBudget(1<<20), restclient.WithMaxResponseBytes(1<<20),
		restclient.WithoutRetry(), restclient.WithoutCircuitBreaker())
	require.NoError(t, err)
	handed := make(chan int64, 2)
	h := graph.NewHandler(graph.Options{Upstream: signallingUpstream{Upstream: client, handed: handed}})

	w := &countingWriter{header: http.Header{}}
	inUseAtWrite := int64(-1)
	w.onWrite = func() { inUseAtWrite = client.BodyMemory().InUse }
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.ServeHTTP(w, postReq(body(`{ a: user(id: "1") { meetings(first: 100) { nodes { address } } } b: user(id: "2") { meetings { totalCount } } }`, nil)))
	}()
	select {
	case id := <-handed:
		require.Equal(t, int64(1), id, "user 2's answer is held mid-body")
	case <-time.After(time.Minute):
		t.Fatal("user 1's meetings never came")
	}
	require.Eventually(t, func() bool { return client.BodyMemory().InUse == one+two }, 10*time.Second, time.Millisecond,
		"user 1's room is kept beside user 2's being read")

	resume()
	<-done
	require.Equal(t, http.StatusOK, w.status)
	assert.Greater(t, w.n, one*9/10, "user 1's addresses were served")
	assert.Zero(t, inUseAtWrite, "given back before the response was written")
	assert.Zero(t, client.BodyMemory().InUse)
	assert.LessOrEqual(t, client.BodyMemory().Peak, int64(1<<20))
}

// TestEachOperationOfABatchHoldsItsOwnAnswers: the operations of a batch
// run concurrently and each keeps its own answers' room until its own
// response is marshalled: the first to finish gives back its room only.
func TestEachOperationOfABatchHoldsItsOwnAnswers(t *testing.T) {
	sizes := map[int64]int64{1: 200_000, 2: 300_000}
	fake := fakeapi.NewServer()
	t.Cleanup(fake.Close)
	for id, size := range sizes {
		fake.Inject(fakeapi.Fault{Path: "/api/v1/users/" + itoa(id) + "/meetings", Kind: fakeapi.FaultLargeBody, Size: int(size), Field: "address"})
	}
	client, err := restclient.New(fake.URL, restclient.WithBodyBudget(1<<20), restclient.WithMaxResponseBytes(1<<20),
		restclient.WithoutRetry(), restclient.WithoutCircuitBreaker())
	require.NoError(t, err)
	handed := make(chan int64) // each operation waits here with its answer decoded
	o := graph.Options{Upstream: signallingUpstream{Upstream: client, handed: handed}}
	o.Batching = true
	h := graph.NewHandler(o)
	e := &env{t: t, handler: h, upstream: fake}

	done := make(chan *httpResult, 1)
	go func() {
		done <- e.send(postReq(`[{"query":"{ user(id: \"1\") { meetings(first: 100) { nodes { address } } } }"},
			{"query":"{ user(id: \"2\") { meetings(first: 100) { nodes { address } } } }"}]`))
	}()
	inUse := func() int64 { return client.BodyMemory().InUse }
	require.Eventually(t, func() bool { return inUse() == sizes[1]+sizes[2] }, 10*time.Second, time.Millisecond,
		"both answers decoded and kept")
	first := <-handed
	other := 3 - first
	require.Eventually(t, func() bool { return inUse() == sizes[other] }, 10*time.Second, time.Millisecond,
		"operation of user %d done: its room only is given back", first)
	require.Equal(t, other, <-handed)
	answers := batchTotals(t, <-done)
	for i := range answers {
		assert.Empty(t, answers[i].Errors)
	}
	assert.Zero(t, inUse())
}
