package graph_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/gqlhttp"
	"github.com/salesgraph/salesgraph/graph"
)

// batchAnswers decodes a batch's answer: one response object per operation.
func batchAnswers(t *testing.T, res *httpResult) []struct {
	Data   json.RawMessage `json:"data"`
	Errors []gqlError      `json:"errors"`
} {
	t.Helper()
	var out []struct {
		Data   json.RawMessage `json:"data"`
		Errors []gqlError      `json:"errors"`
	}
	require.NoError(t, json.Unmarshal(res.body, &out), "the answer to a batch must be a JSON array: %s", res.body)
	return out
}

// TestBatchRefusalAnswersEachOperation: a batch refused as a whole is
// answered with the refusal once per operation, in an array of the batch's
// length, because batching clients match answers to operations by position
// and reject an answer of another length, hiding the code.
func TestBatchRefusalAnswersEachOperation(t *testing.T) {
	batchOf := func(n int) string {
		return "[" + strings.TrimSuffix(strings.Repeat(`{"query":"{ user(id: \"1\") { meetings { totalCount } } }"},`, n), ",") + "]"
	}
	for _, c := range []struct {
		name   string
		env    func(*graph.Options)
		n      int
		code   string
		accept string
	}{
		{"batching off", func(*graph.Options) {}, 3, gqlhttp.CodeBatchingDisabled, ""},
		{"batching off, application/json", func(*graph.Options) {}, 1, gqlhttp.CodeBatchingDisabled, "application/json"},
		{"over the limit", func(o *graph.Options) { o.Batching, o.MaxBatchSize = true, 3 }, 4, gqlhttp.CodeBatchTooLarge, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newSecureEnv(t, withGraph(c.env))
			res := e.send(postReq(batchOf(c.n), "Accept", c.accept))
			assert.Equal(t, http.StatusBadRequest, res.status)
			answers := batchAnswers(t, res)
			require.Len(t, answers, c.n)
			for i, a := range answers {
				assert.Nil(t, a.Data, "answer %d has data", i)
				require.Len(t, a.Errors, 1, "answer %d", i)
				assert.Equal(t, c.code, a.Errors[0].code(), "answer %d", i)
			}
			assert.Zero(t, e.upstream.Calls(), "a refused batch makes no upstream call")
		})
	}

	t.Run("not a client's batch", func(t *testing.T) {
		// Past a hundred entries the refusal is one object: a megabyte of
		// empty entries must not earn a hundred thousand errors.
		e := newSecureEnv(t)
		res := e.send(postReq("[" + strings.TrimSuffix(strings.Repeat("{},", 101), ",") + "]"))
		assert.Equal(t, http.StatusBadRequest, res.status)
		assert.Equal(t, gqlhttp.CodeBatchingDisabled, res.code())
		// An array that is not JSON is malformed, batching or not.
		res = e.send(postReq(`[{"query": "{ __typename }"},`))
		assert.Equal(t, http.StatusBadRequest, res.status)
		assert.Equal(t, gqlhttp.CodeBadRequest, res.code())
	})
}
