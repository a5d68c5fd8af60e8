package restclient

import (
	"context"
	"fmt"
	"strconv"

	"golang.org/x/sync/errgroup"
)

// Page is one page of a paginated list: its records and the pagination the
// upstream sent with them.
type Page[T any] struct {
	List       []T
	Pagination Pagination
}

// FollowPages returns the records of every page of user userID's list at
// endpoint (a template such as EndpointUserThreads), whose first page is
// given, in page order. It is the one way this package, and its callers
// that fetch pages themselves (through a per-request cache, say), join a
// paginated list: fetch gets pages 2 onwards, at most concurrency at a
// time. Any failed page fails the whole; so do more pages than maxPages
// (refused before any is fetched) and pages that disagree about the
// pagination (counts that change mid-way, records that do not add up to
// the total), since their union could miss or repeat records: those are
// *PaginationError. A ctx that ends between pages is a *TransportError.
func FollowPages[T any](ctx context.Context, endpoint string, userID int64, first Page[T], maxPages, concurrency int, fetch func(context.Context, int) (Page[T], error)) ([]T, error) {
	path := expand(endpoint, strconv.FormatInt(userID, 10))
	paginationError := func(format string, args ...any) error {
		return &PaginationError{Endpoint: endpoint, Path: path, Reason: fmt.Sprintf(format, args...)}
	}
	n := first.Pagination.PagesCount
	if n > maxPages {
		return nil, paginationError("%d pages exceed the limit of %d", n, maxPages)
	}
	if n <= 1 {
		return first.List, nil
	}

	pages := make([][]T, n)
	pages[0] = first.List
	fetched := make([]bool, n)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(concurrency, 1))
	for p := 2; p <= n && gctx.Err() == nil; p++ {
		g.Go(func() error {
			lp, err := fetch(gctx, p)
			if err != nil {
				return err
			}
			if got, want := lp.Pagination, first.Pagination; got.PagesCount != want.PagesCount || got.Total != want.Total || got.PerPage != want.PerPage {
				return paginationError("page %d says %d pages, %d records, %d per page; page 1 said %d, %d, %d",
					p, got.PagesCount, got.Total, got.PerPage, want.PagesCount, want.Total, want.PerPage)
			}
			pages[p-1], fetched[p-1] = lp.List, true
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if !fetched[n-1] { // the loop stopped early: ctx ended between pages
		return nil, &TransportError{Endpoint: endpoint, Path: path, Err: contextCause(ctx)}
	}

	count := 0
	for _, p := range pages {
		count += len(p)
	}
	if total := first.Pagination.Total; total > 0 && count != total {
		return nil, paginationError("%d pages hold %d records, total says %d", n, count, total)
	}
	out := make([]T, 0, count)
	for _, p := range pages {
		out = append(out, p...)
	}
	return out, nil
}

// contextCause is the cause of a call cut short by the caller's context.
func contextCause(ctx context.Context) error {
	if err := ctx.Err(); err != context.DeadlineExceeded {
		return err
	}
	return &timeoutError{cause: ctx.Err()}
}

// wirePagination is "pagination" as sent, with which members were readable.
type wirePagination struct {
	present                                      bool
	page, pagesCount, perPage, total             int64
	hasPage, hasPagesCount, hasPerPage, hasTotal bool
}

func parsePagination(raw []byte) wirePagination {
	var w wirePagination
	if len(raw) == 0 || raw[0] != '{' {
		return w // absent, null, or PHP's [] for an empty object
	}
	w.present = true
	s := scanner{buf: raw}
	// raw was validated with the body, so the walk cannot fail.
	_ = s.object(func(key, v []byte) {
		switch string(plainKey(key)) {
		case "page":
			w.page, w.hasPage = intValue(v)
		case "pages_count":
			w.pagesCount, w.hasPagesCount = intValue(v)
		case "per_page":
			w.perPage, w.hasPerPage = intValue(v)
		case "total":
			w.total, w.hasTotal = intValue(v)
		}
	})
	return w
}

// resolve checks the pagination sent with page, which holds n records, and
// fills in what can be derived. A non-empty reason is a contradiction.
func (w wirePagination) resolve(page, n int) (Pagination, string) {
	if !w.present {
		// An unpaginated answer is all there is on page 1; a later page
		// would repeat it.
		if page == 1 {
			return Pagination{Page: 1, PagesCount: min(n, 1), PerPage: n, Total: n}, ""
		}
		return Pagination{}, fmt.Sprintf("no pagination in the answer to page %d", page)
	}
	for _, f := range []struct {
		name string
		v    int64
	}{{"page", w.page}, {"pages_count", w.pagesCount}, {"per_page", w.perPage}, {"total", w.total}} {
		if f.v < 0 {
			return Pagination{}, fmt.Sprintf("negative %s %d", f.name, f.v)
		}
		if f.v > 1<<31 {
			return Pagination{}, fmt.Sprintf("%s %d is out of range", f.name, f.v)
		}
	}
	p := Pagination{Page: int(w.page), PagesCount: int(w.pagesCount), PerPage: int(w.perPage), Total: int(w.total)}
	switch {
	case !w.hasPage:
		p.Page = page
	case p.Page != page:
		return Pagination{}, fmt.Sprintf("asked for page %d, got page %d", page, p.Page)
	}
	if !w.hasPagesCount {
		if !w.hasTotal || !w.hasPerPage || p.PerPage == 0 {
			return Pagination{}, "no pages_count, and no total and per_page to derive it from"
		}
		p.PagesCount = (p.Total + p.PerPage - 1) / p.PerPage
	}
	if !w.hasPerPage && (page < p.PagesCount || p.PagesCount == 1) {
		p.PerPage = n // a page before the last is a full one
	}
	if !w.hasTotal && p.PagesCount <= 1 {
		p.Total = n
	}
	switch {
	case w.hasPerPage && n > p.PerPage:
		return Pagination{}, fmt.Sprintf("page %d holds %d records, more than per_page %d", page, n, p.PerPage)
	case w.hasTotal && n > p.Total:
		return Pagination{}, fmt.Sprintf("page %d holds %d records, more than total %d", page, n, p.Total)
	case n > 0 && page > p.PagesCount:
		return Pagination{}, fmt.Sprintf("page %d holds records but pages_count is %d", page, p.PagesCount)
	case w.hasTotal && w.hasPerPage && p.PerPage > 0 && p.PagesCount != (p.Total+p.PerPage-1)/p.PerPage && !(p.Total == 0 && p.PagesCount <= 1):
		return Pagination{}, fmt.Sprintf("pages_count %d does not match total %d at per_page %d", p.PagesCount, p.Total, p.PerPage)
	}
	return p, ""
}
