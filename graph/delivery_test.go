package graph_test

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/restclient"
	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

// streamedPart is one part of an incremental response, or why the body
// could not be read on.
type streamedPart struct {
	payload incrementalPayload
	err     error
}

// streamParts sends the parts of an incremental response, each as soon as
// it has arrived, and closes the channel at the end of the body. The
// reader never blocks on the channel (a test that stops reading must not
// strand it), nor touches t, which it may outlive.
func streamParts(t *testing.T, resp *http.Response) <-chan streamedPart {
	t.Helper()
	mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	require.NoError(t, err)
	require.Equal(t, "multipart/mixed", mt)
	out := make(chan streamedPart, 64)
	go func() {
		defer close(out)
		r := multipart.NewReader(resp.Body, params["boundary"])
		for {
			p, err := r.NextPart()
			if err == io.EOF {
				return
			}
			var pl incrementalPayload
			if err == nil {
				err = json.NewDecoder(p).Decode(&pl)
			}
			out <- streamedPart{payload: pl, err: err}
			if err != nil {
				return
			}
		}
	}()
	return out
}

// nextPart is the next part of parts; it fails t if none comes before the
// guard, which is not a measurement: the part either is already on its way
// or waits for a call that only the test can release.
func nextPart(t *testing.T, parts <-chan streamedPart, what string) incrementalPayload {
	t.Helper()
	select {
	case p, ok := <-parts:
		require.True(t, ok, "the response ended before %s", what)
		require.NoError(t, p.err, what)
		return p.payload
	case <-time.After(10 * time.Second):
		require.FailNow(t, "no part came: "+what)
		return incrementalPayload{}
	}
}

// TestAKeyIsDeliveredWhenItsOwnCallEnds: the users look-ahead starts users
// 1 and 2's meetings calls in one batch; user 2's is held at the upstream,
// in the middle of its body, and user 1's deferred meetings still arrive
// while it is held. A batch that answered all its keys at once would keep
// user 1's waiting for user 2's call.
func TestAKeyIsDeliveredWhenItsOwnCallEnds(t *testing.T) {
	// The call's own timeout stays out of the way: only the test ends the hold.
	e := newEnv(t, withClient(restclient.WithTimeout(time.Minute)))
	const heldPath = "/api/v1/users/2/meetings"
	held := make(chan struct{})
	release := sync.OnceFunc(func() { close(held) })
	e.upstream.Inject(fakeapi.Fault{Path: heldPath, Kind: fakeapi.FaultLargeBody, Size: 64 << 10, MidBody: held})
	srv := httptest.NewServer(e.handler)
	t.Cleanup(srv.Close)
	t.Cleanup(release) // before srv.Close, which waits for the handler

	q := body(`{ users(ids: ["1", "2"]) { id ... @defer { meetings { totalCount } } } }`, nil)
	req, err := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(q))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", apolloDeferAccept)
	req.Header.Set("Authorization", fakeapi.DefaultToken)
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	parts := streamParts(t, resp)

	initial := nextPart(t, parts, "the initial payload")
	var ids struct {
		Users []struct {
			ID string `json:"id"`
		} `json:"users"`
	}
	require.NoError(t, json.Unmarshal(initial.Data, &ids))
	require.Len(t, ids.Users, 2)
	assert.Equal(t, "1", ids.Users[0].ID)
	assert.Equal(t, "2", ids.Users[1].ID)
	first := nextPart(t, parts, "user 1's meetings, while user 2's call is held")
	require.Len(t, first.Incremental, 1, "user 1's fragment alone")
	assert.Equal(t, []any{"users", float64(0)}, first.Incremental[0].Path)
	assert.JSONEq(t, fmt.Sprintf(`{"meetings": {"totalCount": %d}}`, len(user(t, e.data, 1).Meetings)), string(first.Incremental[0].Data))
	// Unanswered: held mid-body, or not even arrived yet (the batch may
	// start it after user 1's); either way its body cannot have ended.
	stillHeld := true
	for _, r := range e.upstream.Requests() {
		if r.Path == heldPath && r.Status != 0 {
			stillHeld = false
		}
	}
	assert.True(t, stillHeld, "user 2's call was still unanswered")

	release()
	second := nextPart(t, parts, "user 2's meetings")
	require.Len(t, second.Incremental, 1)
	assert.Equal(t, []any{"users", float64(1)}, second.Incremental[0].Path)
	assert.JSONEq(t, fmt.Sprintf(`{"meetings": {"totalCount": %d}}`, len(user(t, e.data, 2).Meetings)), string(second.Incremental[0].Data))
	assert.Empty(t, second.Incremental[0].Errors)
	require.NotNil(t, second.HasNext)
	assert.False(t, *second.HasNext)
	for p := range parts {
		t.Errorf("a part after the last fragment's: %+v", p)
	}
	assert.Equal(t, 1, e.upstream.CallsTo("/api/v1/users/1/meetings"))
	assert.Equal(t, 1, e.upstream.CallsTo(heldPath))
	assert.Equal(t, 2, e.upstream.Calls())
}
