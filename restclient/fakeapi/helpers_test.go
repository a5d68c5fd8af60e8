package fakeapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

// client has a timeout so that a fake that hangs fails the test instead of
// the whole run.
var client = &http.Client{Timeout: 30 * time.Second}

type reply struct {
	status int
	header http.Header
	body   []byte
}

// get fetches path from s with the given credential ("" for none).
func get(t *testing.T, s *fakeapi.Server, path, credential string) reply {
	t.Helper()
	return do(t, s, http.MethodGet, path, credential)
}

func do(t *testing.T, s *fakeapi.Server, method, path, credential string) reply {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, nil)
	require.NoError(t, err)
	if credential != "" {
		req.Header.Set("Authorization", credential)
	}
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return reply{resp.StatusCode, resp.Header, body}
}

// serve calls the handler directly, which lets a test control the request's
// context.
func serve(s *fakeapi.Server, ctx context.Context, path string) *httptest.ResponseRecorder {
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, path, nil)
	req.Header.Set("Authorization", fakeapi.DefaultToken)
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	return rec
}

// blockedCtx reports, on waiting, the moment the handler first asks for
// Done: the handler only does that when it is about to block, so a test
// learns that a request is held without polling or sleeping.
type blockedCtx struct {
	context.Context
	once    sync.Once
	waiting chan struct{}
}

func newBlockedCtx(parent context.Context) *blockedCtx {
	return &blockedCtx{Context: parent, waiting: make(chan struct{})}
}

func (c *blockedCtx) Done() <-chan struct{} {
	c.once.Do(func() { close(c.waiting) })
	return c.Context.Done()
}

// decode parses a body keeping numbers as json.Number, so that a test can
// tell an integer on the wire from a string.
func decode(t *testing.T, body []byte) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v map[string]any
	require.NoError(t, dec.Decode(&v), "body: %s", body)
	return v
}

// list returns data.list of a decoded answer.
func list(t *testing.T, v map[string]any) []map[string]any {
	t.Helper()
	data, ok := v["data"].(map[string]any)
	require.True(t, ok, "no data object in %v", v)
	raw, ok := data["list"].([]any)
	require.True(t, ok, "no data.list array in %v", v)
	out := make([]map[string]any, len(raw))
	for i, r := range raw {
		out[i], ok = r.(map[string]any)
		require.True(t, ok)
	}
	return out
}

type pagination struct{ Page, PagesCount, PerPage, Total int64 }

func paging(t *testing.T, v map[string]any) pagination {
	t.Helper()
	p, ok := v["data"].(map[string]any)["pagination"].(map[string]any)
	require.True(t, ok, "no pagination in %v", v)
	n := func(k string) int64 {
		num, ok := p[k].(json.Number)
		require.True(t, ok, "pagination.%s is %T, want a JSON number", k, p[k])
		i, err := num.Int64()
		require.NoError(t, err)
		return i
	}
	return pagination{n("page"), n("pages_count"), n("per_page"), n("total")}
}

func num(n int64) json.Number { return json.Number(strconv.FormatInt(n, 10)) }

func meetingsPath(id int64) string { return "/api/v1/users/" + strconv.FormatInt(id, 10) + "/meetings" }
func threadsPath(id int64) string  { return "/api/v1/users/" + strconv.FormatInt(id, 10) + "/threads" }

func user(t *testing.T, d *fakeapi.Dataset, id int64) *fakeapi.User {
	t.Helper()
	u, ok := d.User(id)
	require.True(t, ok, "dataset has no user %d", id)
	return u
}
