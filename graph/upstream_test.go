package graph_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/graph"
	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

// Tests that range over every declared upstream list (upstream.go), so
// that a list added to the declarations is held to what the others do
// without a test of its own: its connection serves the upstream's records,
// a record without an id is null, its cursors are its own, the estimate
// counts its calls as its loaders make them, and its loaders are in the
// metrics.

// connPage is one page of a connection, whatever the list.
type connPage struct {
	TotalCount int
	PageInfo   struct {
		HasNextPage bool
		EndCursor   string
	}
	Nodes []struct{ ID string }
}

// connection runs query, which selects one connection as `c` below
// user(id:), and returns its page.
func (e *env) connection(query string, vars map[string]any) connPage {
	e.t.Helper()
	var got struct{ User struct{ C connPage } }
	e.ok(query, vars, &got)
	return got.User.C
}

func pageQuery(l graph.UpstreamList) string {
	return fmt.Sprintf(`query($id: ID!, $first: Int, $after: String) { user(id: $id) { c: %s(first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } nodes { id } } } }`, l.Field)
}

// TestEveryListPagesThroughTheUpstreamsRecords: walked by its endCursor
// in small pages, across the upstream's smaller ones, each list's
// connection serves every record of the fake's list once: in the
// upstream's order for a paged list, in the facade's own for a list
// answered whole.
func TestEveryListPagesThroughTheUpstreamsRecords(t *testing.T) {
	e := newEnv(t, withFake(fakeapi.WithPerPage(7)))
	for _, l := range graph.UpstreamLists() {
		t.Run(l.Name, func(t *testing.T) {
			want := e.upstream.ListIDs(l.Endpoint, 3)
			require.NotEmpty(t, want)
			var got []string
			vars := map[string]any{"id": "3", "first": 5}
			for range len(want) {
				page := e.connection(pageQuery(l), vars)
				assert.Equal(t, len(want), page.TotalCount)
				for _, n := range page.Nodes {
					got = append(got, n.ID)
				}
				if !page.PageInfo.HasNextPage {
					break
				}
				vars["after"] = page.PageInfo.EndCursor
			}
			if l.Paged {
				assert.Equal(t, want, got)
			} else {
				assert.ElementsMatch(t, want, got)
			}
		})
	}
}

// TestNoListAcceptsAnotherListsCursor: the kind a cursor carries is its
// list's, so a cursor one list issued is refused by every other, before
// any upstream call, naming both.
func TestNoListAcceptsAnotherListsCursor(t *testing.T) {
	e := newEnv(t)
	ls := graph.UpstreamLists()
	require.GreaterOrEqual(t, len(ls), 2)
	cursors := map[string]string{}
	for _, l := range ls {
		cursors[l.Name] = e.connection(pageQuery(l), map[string]any{"id": "1", "first": 2}).PageInfo.EndCursor
		require.NotEmpty(t, cursors[l.Name])
	}
	for _, from := range ls {
		for _, to := range ls {
			if from.Name == to.Name {
				continue
			}
			e.upstream.Reset()
			res := e.do(pageQuery(to), map[string]any{"id": "1", "after": cursors[from.Name]}, nil)
			refusedWithoutCalls(t, e, res)
			assert.Equal(t, fmt.Sprintf("after is a cursor of %s, not of %s", from.Name, to.Name), res.Errors[0].Message)
		}
	}
}

// TestEveryListIsEstimatedAsItIsLoaded: the estimate counts each list's
// calls as its loaders make them: a first page, a cursor's pages, and
// every list of several users at once, each list's pages its own.
func TestEveryListIsEstimatedAsItIsLoaded(t *testing.T) {
	ls := graph.UpstreamLists()
	agree := func(t *testing.T, query string, vars map[string]any) {
		t.Helper()
		e := newSecureEnv(t)
		res := e.send(postReq(body(query, vars)))
		require.Empty(t, res.errors, "%s", res.body)
		assert.Equal(t, e.upstream.Calls(), estimateOf(t, query, vars), "estimate of %s", query)
	}
	for _, l := range ls {
		t.Run(l.Name, func(t *testing.T) {
			agree(t, pageQuery(l), map[string]any{"id": "5", "first": 25})
			e := newSecureEnv(t)
			after := e.connection(pageQuery(l), map[string]any{"id": "5", "first": 25}).PageInfo.EndCursor
			agree(t, pageQuery(l), map[string]any{"id": "5", "first": 30, "after": after})
		})
	}
	var all strings.Builder
	for i, l := range ls {
		fmt.Fprintf(&all, " l%d: %s(first: 45) { totalCount }", i, l.Field)
	}
	agree(t, `{ users(ids: ["1", "2", "1"]) {`+all.String()+` } }`, nil)
}

// TestEveryListsLoadersAreInTheMetrics: each list's loaders are labelled
// by their names, batches and cache lookups alike, one miss per call.
func TestEveryListsLoadersAreInTheMetrics(t *testing.T) {
	o := newObserved(t)
	var all strings.Builder
	for i, l := range graph.UpstreamLists() {
		fmt.Fprintf(&all, " l%d: %s(first: 45) { totalCount }", i, l.Field)
	}
	res := o.do(`{ users(ids: ["1", "2"]) {`+all.String()+` } }`, nil, nil)
	require.Empty(t, res.Errors)
	s := scrape(t, o.metrics)
	for _, l := range graph.UpstreamLists() {
		calls := float64(o.upstream.CallsTo(strings.Replace(l.Endpoint, "{id}", "*", 1)))
		require.Positive(t, calls, l.Name)
		_, keys := s.histogram("salesgraph_dataloader_batch_size", map[string]string{"loader": l.Loaders[0]})
		assert.Equal(t, calls, keys, "%s: one key per call", l.Name)
		assert.Equal(t, calls, s.value("salesgraph_cache_lookups_total", map[string]string{"cache": "loader_" + l.Loaders[0], "result": "miss"}), l.Name)
	}
}

// TestListLoaderNames: the loaders' metric labels, which dashboards read,
// are what they were before lists were declared.
func TestListLoaderNames(t *testing.T) {
	names := map[string][]string{}
	for _, l := range graph.UpstreamLists() {
		names[l.Name] = l.Loaders
	}
	assert.Equal(t, []string{"meetings"}, names["meetings"])
	assert.Equal(t, []string{"threadPages", "allThreads"}, names["threads"])
}

// TestEveryListServesARecordWithoutAnIDAsNull: a record the upstream sent
// without a usable id is no particular object: whatever its list, it is
// null in its place, with UPSTREAM_BAD_RESPONSE naming its list and the
// key, and the rest of its page stands.
func TestEveryListServesARecordWithoutAnIDAsNull(t *testing.T) {
	e := newEnv(t)
	for _, l := range graph.UpstreamLists() {
		t.Run(l.Name, func(t *testing.T) {
			e.upstream.Reset()
			e.upstream.Inject(fakeapi.Fault{Path: strings.Replace(l.Endpoint, "{id}", "2", 1), Kind: fakeapi.FaultFieldValue, Record: 0, Field: "id", Value: `null`, Times: 1})
			res := e.do(pageQuery(l), map[string]any{"id": "2", "first": 100}, nil)
			var got struct {
				User struct {
					C struct{ Nodes []*struct{ ID string } }
				}
			}
			require.NoError(t, jsonUnmarshal(res.Data, &got))
			nulls := 0
			for _, n := range got.User.C.Nodes {
				if n == nil {
					nulls++
				}
			}
			assert.Equal(t, 1, nulls, "%s", res.Data)
			assert.Len(t, got.User.C.Nodes, min(len(e.upstream.ListIDs(l.Endpoint, 2)), 100))
			require.Len(t, res.Errors, 1, "%+v", res.Errors)
			assert.Equal(t, graph.CodeUpstreamBadResponse, res.Errors[0].code())
			up, _ := res.Errors[0].Extensions["upstream"].(map[string]any)
			assert.Equal(t, "id", up["field"])
			assert.Equal(t, l.Endpoint, up["endpoint"])
		})
	}
}
