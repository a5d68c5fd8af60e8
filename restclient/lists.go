package restclient

import (
	"context"
	"net/url"
	"strconv"
	"time"
)

// Every endpoint of the API this client serves is a list of one user's
// records (GET /api/v1/users/{id}/<list>), and each is declared once, as a
// *List: its name, endpoint template, paging and record decoder. The rest
// is generic: one fetch for a page (Fetch), one for the whole list
// (FetchAll), one untyped entry point for callers that handle every list
// alike (Client.UserList). Adding a list is a record type, its decoder and
// one declaration (see Meetings and Threads); the facade's loaders,
// estimate, cursors and metrics read the declaration.

// Paging is how an upstream list is asked for.
type Paging int

const (
	// Whole: the endpoint answers every record at once and is asked
	// without parameters. An answer that carries a "pagination" of more
	// than one page anyway has its other pages followed (FollowPages),
	// asked with the page parameter alone, so that callers still get
	// every record in one answer.
	Whole Paging = iota + 1
	// Paged: the endpoint answers one page per call, asked with the page
	// parameter (WithPageParam) and, with WithPerPage, the page size;
	// callers fetch the pages they need.
	Paged
)

func (p Paging) String() string {
	switch p {
	case Whole:
		return "whole"
	case Paged:
		return "paged"
	}
	return "Paging(" + strconv.Itoa(int(p)) + ")"
}

// ListSpec is what a caller needs to know of an upstream list, whatever
// its records.
type ListSpec struct {
	// Name is short, stable and unique ("meetings"): callers make metric
	// labels, loader names and messages of it.
	Name string
	// Endpoint is the template of the list's path, {id} standing for the
	// user's id; errors and metrics carry it.
	Endpoint string
	Paging   Paging
}

// List is one upstream list of a user's records of type T: its ListSpec
// and how its records decode. Declare one with newList; its value is the
// only way to ask for the list (Fetch, FetchAll, Client.UserList).
type List[T any] struct {
	ListSpec
	decode func(*scanner, *time.Location, *T) error
}

// AnyList is a *List of any record type, for callers that handle every
// list alike without knowing its records' type (Client.UserList).
type AnyList interface {
	// Spec is the list's declaration, records aside.
	Spec() ListSpec
	userList(ctx context.Context, c *Client, userID int64, page int) (Records, error)
}

// Records is the answer to Client.UserList: the *Page[T] of the list's
// record type, which a caller gets back with a type assertion.
type Records interface{ records() }

func (*Page[T]) records() {}

// Spec is the list's declaration, records aside.
func (l *List[T]) Spec() ListSpec { return l.ListSpec }

func (l *List[T]) userList(ctx context.Context, c *Client, userID int64, page int) (Records, error) {
	p, err := Fetch(ctx, c, l, userID, page)
	if err != nil {
		return nil, err // not a nil *Page in a non-nil Records
	}
	return p, nil
}

// lists are the declared lists, in declaration order.
var lists []AnyList

// newList declares a list.
func newList[T any](spec ListSpec, decode func(*scanner, *time.Location, *T) error) *List[T] {
	l := &List[T]{ListSpec: spec, decode: decode}
	for _, o := range lists {
		if o.Spec().Name == spec.Name || o.Spec().Endpoint == spec.Endpoint {
			panic("restclient: two lists named " + spec.Name + " or at " + spec.Endpoint)
		}
	}
	lists = append(lists, l)
	return l
}

// Lists returns every list the client can fetch, in declaration order.
func Lists() []AnyList { return append([]AnyList(nil), lists...) }

// UserList is Fetch for a caller that does not know the list's record
// type: the answer is the *Page[T] of list's T.
func (c *Client) UserList(ctx context.Context, list AnyList, userID int64, page int) (Records, error) {
	return list.userList(ctx, c, userID, page)
}

// Fetch returns one answer for user userID's list l. For a Paged list it
// is page page (1-based) with the upstream's pagination; a page beyond the
// last is empty, as the upstream answers it. For a Whole list page must be
// 1 and the answer is every record, other pages followed (see Whole),
// with a pagination of one page (none when it is empty), as for an answer
// without one. A pagination that contradicts itself, or
// pages that disagree, are a *PaginationError. The page may be shared with
// concurrent callers that asked the same (see WithoutSharing): treat it,
// records included, as read-only.
func Fetch[T any](ctx context.Context, c *Client, l *List[T], userID int64, page int) (*Page[T], error) {
	if userID <= 0 {
		return nil, &ArgumentError{Endpoint: l.Endpoint, Name: "userID", Value: userID}
	}
	if page <= 0 || l.Paging == Whole && page != 1 {
		return nil, &ArgumentError{Endpoint: l.Endpoint, Name: "page", Value: int64(page)}
	}
	path := expand(l.Endpoint, strconv.FormatInt(userID, 10))
	if l.Paging == Paged {
		return fetchPage(ctx, c, l, path, page)
	}
	first, err := fetchPage(ctx, c, l, path, 1)
	if err != nil || first.Pagination.PagesCount <= 1 {
		return first, err
	}
	all, err := FollowPages(ctx, l.Endpoint, userID, *first, c.maxPages, c.pageConcurrency, func(ctx context.Context, page int) (Page[T], error) {
		p, err := fetchPage(ctx, c, l, path, page)
		if err != nil {
			return Page[T]{}, err
		}
		return *p, nil
	})
	if err != nil {
		return nil, err
	}
	n := len(all)
	return &Page[T]{List: all, Pagination: Pagination{Page: 1, PagesCount: min(n, 1), PerPage: n, Total: n}}, nil
}

// FetchAll returns every record of user userID's list l, in the
// upstream's order: a Whole list's one answer, or a Paged list's page 1
// first, which tells how many pages there are, then the other pages at
// most WithPageConcurrency at a time, joined by FollowPages, whose checks
// they pass: any failed page fails the whole, and so do more pages than
// WithMaxPages and pages that disagree about the pagination. Like Fetch's
// pages, the slice may be shared: treat it as read-only.
func FetchAll[T any](ctx context.Context, c *Client, l *List[T], userID int64) ([]T, error) {
	first, err := Fetch(ctx, c, l, userID, 1)
	if err != nil {
		return nil, err
	}
	if l.Paging == Whole {
		return first.List, nil
	}
	return FollowPages(ctx, l.Endpoint, userID, *first, c.maxPages, c.pageConcurrency, func(ctx context.Context, page int) (Page[T], error) {
		p, err := Fetch(ctx, c, l, userID, page)
		if err != nil {
			return Page[T]{}, err
		}
		return *p, nil
	})
}

// fetchPage is one call for page of l at path: through the sharing of
// identical calls, the cache and the one request path. Page 1 of a Whole
// list is asked as the documentation describes the endpoint, without
// parameters; its later pages with the page parameter alone. A Paged
// list's pages are asked with the page parameter and the page size, if
// one is set.
func fetchPage[T any](ctx context.Context, c *Client, l *List[T], path string, page int) (*Page[T], error) {
	var q url.Values
	switch {
	case l.Paging == Paged:
		q = url.Values{c.pageParam: {strconv.Itoa(page)}}
		if c.perPage > 0 {
			q.Set(c.perPageParam, strconv.Itoa(c.perPage))
		}
	case page > 1:
		q = url.Values{c.pageParam: {strconv.Itoa(page)}}
	}
	return share(c, ctx, l.Endpoint, path, q, func(ctx context.Context) (*Page[T], error) {
		var out *Page[T]
		err := c.get(ctx, l.Endpoint, path, q, func(s *scanner) error {
			p, reason, err := decodePage(s, c.loc, l, page)
			if err != nil {
				return err
			}
			if reason != "" {
				return &PaginationError{Endpoint: l.Endpoint, Path: path, Reason: reason}
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

// decodePage decodes the data value at the scanner, the answer to page of
// l, with its pagination: an answer without one is all there is. A
// non-empty reason says why its pagination cannot be trusted.
func decodePage[T any](s *scanner, loc *time.Location, l *List[T], page int) (*Page[T], string, error) {
	list, raw, err := decodeList(s, loc, l.decode)
	if err != nil {
		return nil, "", err
	}
	if list == nil {
		list = []T{}
	}
	p, reason := parsePagination(raw).resolve(page, len(list))
	return &Page[T]{List: list, Pagination: p}, reason, nil
}
