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
