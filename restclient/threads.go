package restclient

import (
	"context"
	"time"
)

// Threads is the list of the threads (deals) a user owns
// (GET /api/v1/users/{id}/threads?page=N), paginated by the upstream.
var Threads = newList(ListSpec{Name: "threads", Endpoint: EndpointUserThreads, Paging: Paged}, decodeThread)

// UserThreads returns one page (1-based) of the threads user userID owns,
// with the upstream's pagination: Fetch of Threads. The page size is the
// upstream's, or the one set with WithPerPage.
//
// API: GET /api/v1/users/{id}/threads?page=N
func (c *Client) UserThreads(ctx context.Context, userID int64, page int) (*Page[Thread], error) {
	return Fetch(ctx, c, Threads, userID, page)
}

// AllUserThreads returns every thread user userID owns, in the upstream's
// order: FetchAll of Threads.
func (c *Client) AllUserThreads(ctx context.Context, userID int64) ([]Thread, error) {
	return FetchAll(ctx, c, Threads, userID)
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
