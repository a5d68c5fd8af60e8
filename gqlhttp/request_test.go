package gqlhttp_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/gqlhttp"
)

// TestPrereadBody: a body a handler in front already read is answered as
// the same body read by the endpoint, from where its reader stands, and
// the size limit holds for it too.
func TestPrereadBody(t *testing.T) {
	e := newEnv(t, func(o *gqlhttp.Options) { o.MaxRequestBytes = 400 })
	preread := func(b string, skip int) *http.Request {
		req := postReq("")
		rc := gqlhttp.PrereadBody([]byte(b))
		_, err := io.CopyN(io.Discard, rc, int64(skip))
		require.NoError(t, err)
		req.Body, req.ContentLength = rc, -1
		return req
	}
	ok := body(`{ item(id: "1") { id } }`, nil)
	want := e.send(postReq(ok))
	require.Equal(t, http.StatusOK, want.status, "%s", want.body)
	require.Empty(t, want.errors)
	got := e.send(preread(ok, 0))
	assert.Equal(t, want.status, got.status)
	assert.Equal(t, string(want.body), string(got.body))

	got = e.send(preread("junk"+ok, len("junk")))
	assert.Equal(t, string(want.body), string(got.body), "what is left of it")

	got = e.send(preread(body(`{ item(id: "1") { id } }`+strings.Repeat(" ", 400), nil), 0))
	assert.Equal(t, http.StatusRequestEntityTooLarge, got.status)
	assert.Equal(t, gqlhttp.CodeRequestTooLarge, got.code())
}
