package restclient_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/salesgraph/salesgraph/restclient"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// threadPage renders a threads page whose records have the given ids.
func threadPage(ids []int, page, pages, perPage, total int) string {
	recs := make([]string, len(ids))
	for i, id := range ids {
		recs[i] = fmt.Sprintf(`{"id": "%d", "number": "%06d", "name": "Thread %d", "id_user": 7, "contract_value": "%d.50"}`, id, id, id, id)
	}
	return fmt.Sprintf(`{"status": 200, "data": {"list": [%s], "pagination": {"page": %d, "pages_count": %d, "per_page": %d, "total": %d}}}`,
		strings.Join(recs, ","), page, pages, perPage, total)
}

// pagedThreads serves total threads (ids 1..total) perPage at a time, as
// the documentation describes, counting calls per page.
type pagedThreads struct {
	total, perPage int
	mu             sync.Mutex
	calls          map[int]int
	// before, when set, runs before a page is answered (a gate, a fault).
	before func(w http.ResponseWriter, r *http.Request, page int) bool
}

func (p *pagedThreads) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	page, err := strconv.Atoi(r.URL.Query().Get("page"))
	if err != nil || page < 1 {
		reply(400, `{"status": 400, "description": "Nieprawid\u0142owe parametry"}`)(w, r)
		return
	}
	p.mu.Lock()
	if p.calls == nil {
		p.calls = map[int]int{}
	}
	p.calls[page]++
	p.mu.Unlock()
	if p.before != nil && !p.before(w, r, page) {
		return
	}
	pages := (p.total + p.perPage - 1) / p.perPage
	var ids []int
	for id := (page-1)*p.perPage + 1; id <= min(page*p.perPage, p.total); id++ {
		ids = append(ids, id)
	}
	reply(200, threadPage(ids, page, pages, p.perPage, p.total))(w, r)
}

func (p *pagedThreads) callsTo(page int) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[page]
}

func (p *pagedThreads) callCount() (n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.calls {
		n += c
	}
	return n
}

func threadIDs(ts []restclient.Thread) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.ID
	}
	return out
}

func idRange(from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, strconv.Itoa(i))
	}
	return out
}

func TestUserThreads(t *testing.T) {
	c, mux, _ := setup(t)
	mux.HandleFunc("/api/v1/users/7/threads", func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, "page=2", r.URL.RawQuery, "no per_page unless configured")
		reply(200, threadPage([]int{21, 22}, 2, 2, 20, 22))(w, r)
	})
	p, err := c.UserThreads(context.Background(), 7, 2)
	require.NoError(t, err)
	assert.Equal(t, restclient.Pagination{Page: 2, PagesCount: 2, PerPage: 20, Total: 22}, p.Pagination)
	assert.Equal(t, []string{"21", "22"}, threadIDs(p.List))
	assert.Equal(t, "000021", p.List[0].Number)
	assert.Equal(t, 21.5, *p.List[0].ContractValue)
}

func TestPageParameters(t *testing.T) {
	tests := []struct {
		name  string
		opts  []restclient.Option
		query string
	}{
		{"defaults", nil, "page=3"},
		{"per_page configured", []restclient.Option{restclient.WithPerPage("", 50)}, "page=3&per_page=50"},
		{"renamed", []restclient.Option{restclient.WithPageParam("p"), restclient.WithPerPage("limit", 10)}, "limit=10&p=3"},
		{"per_page 0 sends none", []restclient.Option{restclient.WithPerPage("limit", 0)}, "page=3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, mux, _ := setup(t, tt.opts...)
			var got string
			mux.HandleFunc("/api/v1/users/7/threads", func(w http.ResponseWriter, r *http.Request) {
				got = r.URL.RawQuery
				reply(200, threadPage(nil, 3, 2, 20, 40))(w, r)
			})
			_, err := c.UserThreads(context.Background(), 7, 3)
			require.NoError(t, err)
			assert.Equal(t, tt.query, got)
		})
	}
}

func TestUserThreadsPaginationContradictions(t *testing.T) {
	tests := map[string]string{
		"another page":             threadPage([]int{1}, 1, 3, 20, 47),
		"negative count":           threadPage([]int{41}, 3, -1, 20, 47),
		"more records than a page": threadPage([]int{41, 42, 43}, 3, 3, 2, 47),
		"count against total":      threadPage([]int{41}, 3, 9, 20, 47),
	}
	for name, body := range tests {
		t.Run(name, func(t *testing.T) {
			c, mux, _ := setup(t)
			mux.HandleFunc("/api/v1/users/7/threads", reply(200, body))
			_, err := c.UserThreads(context.Background(), 7, 3)
			var pe *restclient.PaginationError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, restclient.EndpointUserThreads, pe.Endpoint)
			assert.Equal(t, "/api/v1/users/7/threads", pe.Path)
			assert.NotEmpty(t, pe.Reason)
		})
	}
}

func TestAllUserThreadsOnePage(t *testing.T) {
	c, mux, _ := setup(t)
	srv := &pagedThreads{total: 5, perPage: 20}
	mux.Handle("/api/v1/users/7/threads", srv)
	ts, err := c.AllUserThreads(context.Background(), 7)
	require.NoError(t, err)
	assert.Equal(t, idRange(1, 5), threadIDs(ts))
	assert.Equal(t, 1, srv.callCount())
}

func TestAllUserThreadsEmpty(t *testing.T) {
	c, mux, _ := setup(t)
	srv := &pagedThreads{total: 0, perPage: 20}
	mux.Handle("/api/v1/users/7/threads", srv)
	ts, err := c.AllUserThreads(context.Background(), 7)
	require.NoError(t, err)
	assert.NotNil(t, ts)
	assert.Empty(t, ts)
	assert.Equal(t, 1, srv.callCount())
}

func TestAllUserThreadsManyPagesInOrder(t *testing.T) {
	c, mux, _ := setup(t, restclient.WithPageConcurrency(3))
	// Page 2 is answered only after page 4, so arrival order is not page order.
	page4 := make(chan struct{})
	srv := &pagedThreads{total: 95, perPage: 10, before: func(w http.ResponseWriter, r *http.Request, page int) bool {
		switch page {
		case 2:
			select {
			case <-page4:
			case <-r.Context().Done():
				return false
			}
		case 4:
			defer close(page4)
		}
		return true
	}}
	mux.Handle("/api/v1/users/7/threads", srv)
	ts, err := c.AllUserThreads(context.Background(), 7)
	require.NoError(t, err)
	assert.Equal(t, idRange(1, 95), threadIDs(ts))
	for page := 1; page <= 10; page++ {
		assert.Equal(t, 1, srv.callsTo(page), "page %d fetched once", page)
	}
}

// The remaining pages are fetched at once, up to the limit: with a limit of
// 4 and 4 remaining pages, each page waits until all 4 are in flight, which
// a sequential client would never reach.
func TestAllUserThreadsConcurrentPages(t *testing.T) {
	c, mux, _ := setup(t, restclient.WithPageConcurrency(4))
	var arrived sync.WaitGroup
	arrived.Add(4)
	all := make(chan struct{})
	go func() { arrived.Wait(); close(all) }()
	var inFlight, maxInFlight atomic.Int32
	srv := &pagedThreads{total: 50, perPage: 10, before: func(w http.ResponseWriter, r *http.Request, page int) bool {
		if page == 1 {
			return true
		}
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := maxInFlight.Load(); n > m && !maxInFlight.CompareAndSwap(m, n); m = maxInFlight.Load() {
		}
		arrived.Done()
		select {
		case <-all:
			return true
		case <-r.Context().Done():
			return false
		}
	}}
	mux.Handle("/api/v1/users/7/threads", srv)
	ts, err := c.AllUserThreads(context.Background(), 7)
	require.NoError(t, err)
	assert.Len(t, ts, 50)
	assert.Equal(t, int32(4), maxInFlight.Load())
}

func TestAllUserThreadsBoundsConcurrency(t *testing.T) {
	c, mux, _ := setup(t, restclient.WithPageConcurrency(2))
	var inFlight, maxInFlight atomic.Int32
	srv := &pagedThreads{total: 200, perPage: 10, before: func(w http.ResponseWriter, r *http.Request, page int) bool {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := maxInFlight.Load(); n > m && !maxInFlight.CompareAndSwap(m, n); m = maxInFlight.Load() {
		}
		return true
	}}
	mux.Handle("/api/v1/users/7/threads", srv)
	ts, err := c.AllUserThreads(context.Background(), 7)
	require.NoError(t, err)
	assert.Len(t, ts, 200)
	assert.LessOrEqual(t, maxInFlight.Load(), int32(2))
}

func TestAllUserThreadsFailedPage(t *testing.T) {
	c, mux, _ := setup(t, restclient.WithPageConcurrency(2))
	srv := &pagedThreads{total: 100, perPage: 10, before: func(w http.ResponseWriter, r *http.Request, page int) bool {
		if page == 5 {
			reply(503, `{"status": 503, "description": "maintenance"}`)(w, r)
			return false
		}
		return true
	}}
	mux.Handle("/api/v1/users/7/threads", srv)
	ts, err := c.AllUserThreads(context.Background(), 7)
	assert.Nil(t, ts)
	assert.True(t, restclient.IsServerError(err), "%v", err)
}

func TestAllUserThreadsMaxPages(t *testing.T) {
	c, mux, _ := setup(t, restclient.WithMaxPages(3))
	srv := &pagedThreads{total: 40, perPage: 10}
	mux.Handle("/api/v1/users/7/threads", srv)
	_, err := c.AllUserThreads(context.Background(), 7)
	var pe *restclient.PaginationError
	require.ErrorAs(t, err, &pe)
	assert.Contains(t, pe.Reason, "4 pages exceed the limit of 3")
	assert.Equal(t, 1, srv.callCount(), "no page beyond the first")
}

func TestAllUserThreadsLyingPagination(t *testing.T) {
	tests := map[string]func(page int) string{
		"page number echoed wrong": func(page int) string {
			if page == 3 {
				return threadPage([]int{5, 6}, 2, 3, 2, 6)
			}
			return threadPage([]int{2*page - 1, 2 * page}, page, 3, 2, 6)
		},
		"pages_count changes": func(page int) string {
			if page == 1 {
				return threadPage([]int{1, 2}, 1, 3, 2, 6)
			}
			return threadPage([]int{2*page - 1, 2 * page}, page, 4, 2, 8)
		},
		"records do not add up": func(page int) string {
			if page == 3 {
				return threadPage([]int{5}, 3, 3, 2, 6)
			}
			return threadPage([]int{2*page - 1, 2 * page}, page, 3, 2, 6)
		},
	}
	for name, body := range tests {
		t.Run(name, func(t *testing.T) {
			c, mux, _ := setup(t)
			mux.HandleFunc("/api/v1/users/7/threads", func(w http.ResponseWriter, r *http.Request) {
				page, _ := strconv.Atoi(r.URL.Query().Get("page"))
				reply(200, body(page))(w, r)
			})
			ts, err := c.AllUserThreads(context.Background(), 7)
			assert.Nil(t, ts)
			var pe *restclient.PaginationError
			require.ErrorAs(t, err, &pe, "%v", err)
			assert.Equal(t, "/api/v1/users/7/threads", pe.Path)
			assert.Contains(t, err.Error(), "unusable pagination")
		})
	}
}

func TestAllUserThreadsCancelled(t *testing.T) {
	c, mux, _ := setup(t, restclient.WithPageConcurrency(1))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := &pagedThreads{total: 100, perPage: 10, before: func(w http.ResponseWriter, r *http.Request, page int) bool {
		if page == 3 {
			cancel()
			<-r.Context().Done()
			return false
		}
		return true
	}}
	mux.Handle("/api/v1/users/7/threads", srv)
	_, err := c.AllUserThreads(ctx, 7)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Less(t, srv.callCount(), 10, "no new pages once cancelled")
}
