package restclient

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"golang.org/x/sync/errgroup"
)

// UserThreads returns one page (1-based) of the threads user userID owns,
// with the upstream's pagination. The page size is the upstream's, or the
// one set with WithPerPage. A page beyond the last is an empty page, as the
// upstream answers it; pagination that contradicts itself is a
// *PaginationError.
//
// API: GET /api/v1/users/{id}/threads?page=N
func (c *Client) UserThreads(ctx context.Context, userID int64, page int) (*ThreadPage, error) {
	if userID <= 0 {
		return nil, &ArgumentError{Endpoint: EndpointUserThreads, Name: "userID", Value: userID}
	}
	if page <= 0 {
		return nil, &ArgumentError{Endpoint: EndpointUserThreads, Name: "page", Value: int64(page)}
	}
	q := url.Values{c.pageParam: {strconv.Itoa(page)}}
	if c.perPage > 0 {
		q.Set(c.perPageParam, strconv.Itoa(c.perPage))
	}
	path := expand(EndpointUserThreads, strconv.FormatInt(userID, 10))
	var out *ThreadPage
	err := c.get(ctx, EndpointUserThreads, path, q, func(s *scanner) error {
		p, reason, err := decodeThreadPage(s, c.loc, page)
		if err != nil {
			return err
		}
		if reason != "" {
			return &PaginationError{Endpoint: EndpointUserThreads, Path: path, Reason: reason}
		}
		out = p
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// AllUserThreads returns every thread user userID owns, in the upstream's
// order: page 1 first, which tells how many pages there are, then the other
// pages at most WithPageConcurrency at a time. Any failed page fails the
// whole; so do more pages than WithMaxPages and pages that disagree about
// the pagination (counts that change mid-way, records that do not add up to
// the total), since their union could miss or repeat threads.
func (c *Client) AllUserThreads(ctx context.Context, userID int64) ([]Thread, error) {
	first, err := c.UserThreads(ctx, userID, 1)
	if err != nil {
		return nil, err
	}
	path := expand(EndpointUserThreads, strconv.FormatInt(userID, 10))
	return followPages(ctx, c, EndpointUserThreads, path, listPage[Thread]{first.Threads, first.Pagination},
		func(ctx context.Context, page int) (listPage[Thread], error) {
			tp, err := c.UserThreads(ctx, userID, page)
			if err != nil {
				return listPage[Thread]{}, err
			}
			return listPage[Thread]{tp.Threads, tp.Pagination}, nil
		})
}

// listPage is one page of a paginated list.
type listPage[T any] struct {
	list []T
	p    Pagination
}

// followPages returns the records of every page of a list whose first page
// is given, in page order: fetch gets pages 2 onwards, at most
// WithPageConcurrency at a time. Any failed page fails the whole; so do
// more pages than WithMaxPages and pages that disagree about the
// pagination (counts that change mid-way, records that do not add up to the
// total), since their union could miss or repeat records.
func followPages[T any](ctx context.Context, c *Client, endpoint, path string, first listPage[T], fetch func(context.Context, int) (listPage[T], error)) ([]T, error) {
	paginationError := func(format string, args ...any) error {
		return &PaginationError{Endpoint: endpoint, Path: path, Reason: fmt.Sprintf(format, args...)}
	}
	n := first.p.PagesCount
	if n > c.maxPages {
		return nil, paginationError("%d pages exceed the limit of %d", n, c.maxPages)
	}
	if n <= 1 {
		return first.list, nil
	}

	pages := make([][]T, n)
	pages[0] = first.list
	fetched := make([]bool, n)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.pageConcurrency)
	for p := 2; p <= n && gctx.Err() == nil; p++ {
		g.Go(func() error {
			lp, err := fetch(gctx, p)
			if err != nil {
				return err
			}
			if got, want := lp.p, first.p; got.PagesCount != want.PagesCount || got.Total != want.Total || got.PerPage != want.PerPage {
				return paginationError("page %d says %d pages, %d records, %d per page; page 1 said %d, %d, %d",
					p, got.PagesCount, got.Total, got.PerPage, want.PagesCount, want.Total, want.PerPage)
			}
			pages[p-1], fetched[p-1] = lp.list, true
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
	if total := first.p.Total; total > 0 && count != total {
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

// decodeThreads decodes a whole threads response body for page: the path a
// 2xx answer takes, without the HTTP around it.
func decodeThreads(body []byte, loc *time.Location, page int) (out *ThreadPage, reason string, err error) {
	err = decodeSuccess(body, func(s *scanner) (err error) {
		out, reason, err = decodeThreadPage(s, loc, page)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	return out, reason, nil
}

// decodeThreadPage decodes the data value at the scanner, the answer to
// page. A non-empty reason says why its pagination cannot be trusted.
func decodeThreadPage(s *scanner, loc *time.Location, page int) (*ThreadPage, string, error) {
	list, raw, err := decodeList(s, loc, decodeThread)
	if err != nil {
		return nil, "", err
	}
	if list == nil {
		list = []Thread{}
	}
	p, reason := parsePagination(raw).resolve(page, len(list))
	return &ThreadPage{Threads: list, Pagination: p}, reason, nil
}

// decodeThread reads the object at the scanner into t.
func decodeThread(s *scanner, loc *time.Location, t *Thread) error {
	var company, comapny string
	p := (*problems)(&t.Problems)
	err := s.object(func(key, v []byte) {
		switch string(plainKey(key)) {
		case "id":
			t.ID = idText(v)
		case "number":
			t.Number = idText(v)
		case "name":
			t.Name = text(v)
		case "id_user":
			t.UserID = p.readInt("id_user", v)
		case "id_company":
			company = refID(v)
		case "id_comapny":
			comapny = refID(v)
		case "id_person":
			t.PersonID = refID(v)
		case "status":
			t.Status = trimmedText(v)
		case "description":
			t.Description = text(v)
		case "end_date":
			t.EndDate = p.readTime("end_date", v, loc)
		case "contract_value":
			t.ContractValue = nil
			reason := ""
			if f, ok := floatValue(v); ok {
				t.ContractValue = &f
			} else if !absent(v) {
				reason = notANumber
			}
			if reason != "" || len(*p) > 0 {
				p.note("contract_value", reason)
			}
		case "fields":
			t.Fields = rawJSON(v)
		case "created_at":
			t.CreatedAt = p.readTime("created_at", v, loc)
		case "modified_at":
			t.ModifiedAt = p.readTime("modified_at", v, loc)
		}
	})
	if err != nil {
		return err
	}
	// Threads are documented with the correct spelling, meetings with the
	// other; either is accepted on both.
	t.CompanyID = firstNonEmpty(company, comapny)
	return nil
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
