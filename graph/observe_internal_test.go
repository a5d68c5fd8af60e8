package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/salesgraph/salesgraph/gqlhttp"
)

// A refusal written by a transport before any operation runs is logged with
// its code, and its errors get the request id.
func TestNoteRefusal(t *testing.T) {
	var buf bytes.Buffer
	o := &observer{log: slog.New(slog.NewJSONHandler(&buf, nil))}
	ctx, done := o.begin(context.Background(), httptest.NewRequest("PUT", "/graphql", nil), "req-1")
	errs := gqlerror.List{{Message: "no", Extensions: map[string]any{"code": "METHOD_NOT_ALLOWED"}}}
	noteRefusal(ctx, errs)
	done()
	assert.Equal(t, "req-1", errs[0].Extensions["requestId"])
	var line map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &line))
	assert.Equal(t, "error", line["outcome"])
	assert.Equal(t, []any{"METHOD_NOT_ALLOWED"}, line["errorCodes"])
	assert.NotPanics(t, func() { noteRefusal(context.Background(), errs) }, "outside the handler it does nothing")
}

// The codes gqlhttp makes during execution are the ones graph's error
// table names, so that a client sees one code for one failure.
func TestSharedCodesAgree(t *testing.T) {
	assert.Equal(t, gqlhttp.CodeInternal, CodeInternal)
	assert.Equal(t, gqlhttp.CodeCancelled, CodeCancelled)
	assert.Equal(t, gqlhttp.CodeBadUserInput, CodeBadUserInput)
}
