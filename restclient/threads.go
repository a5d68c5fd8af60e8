package restclient

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// UserThreads returns one page (1-based) of the threads user userID owns,
// with the upstream's pagination. The page size is the upstream's, or the
// one set with WithPerPage. A page beyond the last is an empty page, as the
// upstream answers it; pagination that contradicts itself is a
// *PaginationError. The page may be shared with concurrent callers that
// asked the same (see WithoutSharing): treat it as read-only.
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
	return share(c, ctx, EndpointUserThreads, path, q, func(ctx context.Context) (*ThreadPage, error) {
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
	})
}

// AllUserThreads returns every thread user userID owns, in the upstream's
// order: page 1 first, which tells how many pages there are, then the other
// pages at most WithPageConcurrency at a time, joined by FollowPages, whose
// checks they pass: any failed page fails the whole, and so do more pages
// than WithMaxPages and pages that disagree about the pagination. Like
// UserThreads' pages, the slice may be shared: treat it as read-only.
func (c *Client) AllUserThreads(ctx context.Context, userID int64) ([]Thread, error) {
	first, err := c.UserThreads(ctx, userID, 1)
	if err != nil {
		return nil, err
	}
	return FollowPages(ctx, EndpointUserThreads, userID, Page[Thread]{first.Threads, first.Pagination}, c.maxPages, c.pageConcurrency,
		func(ctx context.Context, page int) (Page[Thread], error) {
			tp, err := c.UserThreads(ctx, userID, page)
			if err != nil {
				return Page[Thread]{}, err
			}
			return Page[Thread]{tp.Threads, tp.Pagination}, nil
		})
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
			t.ID = p.readID(s, "id", v)
		case "number":
			t.Number = s.idText(v)
		case "name":
			t.Name = s.text(v)
		case "id_user":
			t.UserID = p.readInt("id_user", v)
		case "id_company":
			company = s.refID(v)
		case "id_comapny":
			comapny = s.refID(v)
		case "id_person":
			t.PersonID = s.refID(v)
		case "status":
			t.Status = s.trimmedText(v)
		case "description":
			t.Description = s.text(v)
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
