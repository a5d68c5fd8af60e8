package restclient

import (
	"context"
	"time"
)

// Meetings is the list of a user's meetings at which a summary was sent
// (GET /api/v1/users/{id}/meetings). The documentation says the endpoint
// returns them all, and it is asked exactly so, with no parameters. Its
// sibling GET /api/v1/meetings is paginated, though, so an answer that
// carries a "pagination" of more than one page is followed (Whole).
var Meetings = newList(ListSpec{Name: "meetings", Endpoint: EndpointUserMeetings, Paging: Whole}, decodeMeeting)

// UserMeetings returns the meetings of user userID, in the upstream's
// order; empty, not nil, when there are none: FetchAll of Meetings. The
// slice may be shared with concurrent callers that asked the same (see
// WithoutSharing): treat it as read-only.
//
// API: GET /api/v1/users/{id}/meetings
func (c *Client) UserMeetings(ctx context.Context, userID int64) ([]Meeting, error) {
	return FetchAll(ctx, c, Meetings, userID)
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
