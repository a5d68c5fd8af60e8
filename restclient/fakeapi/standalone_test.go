package fakeapi_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

// fetch is a GET of url with the credential ("" for none), usable from a
// goroutine of its own.
func fetch(url, credential string) (int, []byte, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	if credential != "" {
		req.Header.Set("Authorization", credential)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

// TestListenAndServe: the fake served alone (-demo-upstream-only) answers
// its probe and its endpoints from the dataset, and once ctx ends refuses
// new connections while the request in flight is still answered.
func TestListenAndServe(t *testing.T) {
	s := fakeapi.New(fakeapi.WithUsers(3))
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrc, done := make(chan string, 1), make(chan error, 1)
	go func() {
		done <- s.ListenAndServe(ctx, fakeapi.ServeOptions{
			Addr: "127.0.0.1:0", ShutdownTimeout: time.Minute,
			Ready: func(addr string) { addrc <- addr },
		})
	}()
	addr := <-addrc
	base := "http://" + addr

	status, body, err := fetch(base+"/healthz", "")
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "ok\n", string(body))

	status, body, err = fetch(base+meetingsPath(1), fakeapi.DefaultToken)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status, "%s", body)
	want := user(t, fakeapi.NewDataset(fakeapi.WithUsers(3)), 1).Meetings
	require.NotEmpty(t, want)
	assert.Len(t, list(t, decode(t, body)), len(want))

	// A request held in flight when ctx ends.
	gate := s.Gate(2)
	type answer struct {
		status int
		err    error
	}
	inflight := make(chan answer, 1)
	go func() {
		status, _, err := fetch(base+meetingsPath(2), fakeapi.DefaultToken)
		inflight <- answer{status, err}
	}()
	require.Eventually(t, func() bool { return gate.Arrived() == 1 }, 30*time.Second, time.Millisecond)
	cancel()
	require.Eventually(t, func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			_ = c.Close()
		}
		return err != nil
	}, 30*time.Second, time.Millisecond, "new connections are refused once ctx ends")
	select {
	case err := <-done:
		t.Fatalf("ListenAndServe returned (%v) with a request in flight", err)
	default:
	}
	gate.Release()
	a := <-inflight
	require.NoError(t, a.err)
	assert.Equal(t, http.StatusOK, a.status, "the request in flight is answered")
	require.NoError(t, <-done)
}

func TestListenAndServeRefusesABadAddress(t *testing.T) {
	s := fakeapi.New()
	defer s.Close()
	err := s.ListenAndServe(context.Background(), fakeapi.ServeOptions{Addr: "127.0.0.1:-1"})
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), "listen: "), err.Error())
}
