package restclient

import (
	"context"
	"net/url"
	"strconv"
	"time"
)

// UserMeetings returns the meetings of user userID at which a summary was
// sent, in the upstream's order; empty, not nil, when there are none. The
// slice may be shared with concurrent callers that asked the same (see
// WithoutSharing): treat it as read-only.
//
// The documentation says the endpoint returns them all, and it is asked
// exactly so, with no parameters. Its sibling GET /api/v1/meetings is
// paginated, though, so an answer that carries a "pagination" of more than
// one page is followed as AllUserThreads follows threads (FollowPages): the other pages
// (page parameter as for threads, WithPageParam) at most
// WithPageConcurrency at a time, checked against page 1, failing as a whole
// with *PaginationError when they disagree.
//
// API: GET /api/v1/users/{id}/meetings
func (c *Client) UserMeetings(ctx context.Context, userID int64) ([]Meeting, error) {
	if userID <= 0 {
		return nil, &ArgumentError{Endpoint: EndpointUserMeetings, Name: "userID", Value: userID}
	}
	path := expand(EndpointUserMeetings, strconv.FormatInt(userID, 10))
	first, err := c.userMeetingsPage(ctx, path, 1)
	if err != nil {
		return nil, err
	}
	return FollowPages(ctx, EndpointUserMeetings, userID, first, c.maxPages, c.pageConcurrency, func(ctx context.Context, page int) (Page[Meeting], error) {
		return c.userMeetingsPage(ctx, path, page)
	})
}

// userMeetingsPage asks for one page of a user's meetings: page 1 as the
// documentation describes the endpoint, without parameters; later pages
// with the page parameter.
func (c *Client) userMeetingsPage(ctx context.Context, path string, page int) (Page[Meeting], error) {
	var q url.Values
	if page > 1 {
		q = url.Values{c.pageParam: {strconv.Itoa(page)}}
	}
	return share(c, ctx, EndpointUserMeetings, path, q, func(ctx context.Context) (Page[Meeting], error) {
		var out Page[Meeting]
		err := c.get(ctx, EndpointUserMeetings, path, q, func(s *scanner) error {
			list, p, reason, err := decodeMeetingPage(s, c.loc, page)
			if err != nil {
				return err
			}
			if reason != "" {
				return &PaginationError{Endpoint: EndpointUserMeetings, Path: path, Reason: reason}
			}
			out = Page[Meeting]{list, p}
			return nil
		})
		return out, err
	})
}

// decodeMeetingPage decodes the data value at the scanner, the answer to
// page, with its pagination: an answer without one is all there is. A
// non-empty reason says why its pagination cannot be trusted.
func decodeMeetingPage(s *scanner, loc *time.Location, page int) ([]Meeting, Pagination, string, error) {
	list, raw, err := decodeList(s, loc, decodeMeeting)
	if err != nil {
		return nil, Pagination{}, "", err
	}
	if list == nil {
		list = []Meeting{}
	}
	p, reason := parsePagination(raw).resolve(page, len(list))
	return list, p, reason, nil
}

// decodeMeeting reads the object at the scanner into m.
func decodeMeeting(s *scanner, loc *time.Location, m *Meeting) error {
	var comapny, company string
	var lat, lng []byte
	p := (*problems)(&m.Problems)
	err := s.object(func(key, v []byte) {
		switch string(plainKey(key)) {
		case "id":
			m.ID = p.readID(s, "id", v)
		case "hash":
			m.Hash = s.text(v)
		case "id_user":
			m.UserID = p.readInt("id_user", v)
		case "id_person":
			m.PersonID = s.refID(v)
		case "id_comapny":
			comapny = s.refID(v)
		case "id_company":
			company = s.refID(v)
		case "id_thread":
			m.ThreadID = s.refID(v)
		case "status":
			m.Status = s.trimmedText(v)
		case "start_date":
			m.StartDate = p.readTime("start_date", v, loc)
		case "end_date":
			m.EndDate = p.readTime("end_date", v, loc)
		case "address":
			m.Address = s.text(v)
		case "visits":
			m.Visits = p.readCount("visits", v)
		case "visits_owner":
			m.VisitsOwner = p.readCount("visits_owner", v)
		case "visits_copy":
			m.VisitsCopy = p.readCount("visits_copy", v)
		case "gps_lat":
			lat = v
		case "gps_lng":
			lng = v
		case "type":
			m.Type = s.trimmedText(v)
		case "created_at":
			m.CreatedAt = p.readTime("created_at", v, loc)
		case "modified_at":
			m.ModifiedAt = p.readTime("modified_at", v, loc)
		}
	})
	if err != nil {
		return err
	}
	// The documented spelling first; the corrected one if the API fixes it.
	m.CompanyID = firstNonEmpty(comapny, company)
	m.Location = geoPoint(lat, lng)
	return nil
}
