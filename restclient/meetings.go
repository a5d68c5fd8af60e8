package restclient

import (
	"context"
	"strconv"
	"time"
)

// UserMeetings returns the meetings of user userID at which a summary was
// sent, in the upstream's order; empty, not nil, when there are none.
//
// API: GET /api/v1/users/{id}/meetings
func (c *Client) UserMeetings(ctx context.Context, userID int64) ([]Meeting, error) {
	if userID <= 0 {
		return nil, &ArgumentError{Endpoint: EndpointUserMeetings, Name: "userID", Value: userID}
	}
	var out []Meeting
	err := c.get(ctx, EndpointUserMeetings, expand(EndpointUserMeetings, strconv.FormatInt(userID, 10)), nil, func(s *scanner) (err error) {
		out, err = decodeMeetingList(s, c.loc)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// decodeMeetings decodes a whole meetings response body: the path a 2xx
// answer takes, without the HTTP around it.
func decodeMeetings(body []byte, loc *time.Location) (out []Meeting, err error) {
	err = decodeSuccess(body, func(s *scanner) (err error) {
		out, err = decodeMeetingList(s, loc)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// decodeMeetingList decodes the data value at the scanner.
func decodeMeetingList(s *scanner, loc *time.Location) ([]Meeting, error) {
	list, _, err := decodeList(s, loc, decodeMeeting)
	if err == nil && list == nil {
		list = []Meeting{}
	}
	return list, err
}

// decodeMeeting reads the object at the scanner into m.
func decodeMeeting(s *scanner, loc *time.Location, m *Meeting) error {
	var comapny, company string
	var lat, lng []byte
	err := s.object(func(key, v []byte) {
		switch string(plainKey(key)) {
		case "id":
			m.ID = idText(v)
		case "hash":
			m.Hash = text(v)
		case "id_user":
			m.UserID, _ = intValue(v)
		case "id_person":
			m.PersonID = refID(v)
		case "id_comapny":
			comapny = refID(v)
		case "id_company":
			company = refID(v)
		case "id_thread":
			m.ThreadID = refID(v)
		case "status":
			m.Status = trimmedText(v)
		case "start_date":
			m.StartDate = timeValue(v, loc)
		case "end_date":
			m.EndDate = timeValue(v, loc)
		case "address":
			m.Address = text(v)
		case "visits":
			m.Visits, _ = intValue(v)
		case "visits_owner":
			m.VisitsOwner, _ = intValue(v)
		case "visits_copy":
			m.VisitsCopy, _ = intValue(v)
		case "gps_lat":
			lat = v
		case "gps_lng":
			lng = v
		case "type":
			m.Type = trimmedText(v)
		case "created_at":
			m.CreatedAt = timeValue(v, loc)
		case "modified_at":
			m.ModifiedAt = timeValue(v, loc)
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
