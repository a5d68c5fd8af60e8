// Package restclient is a typed client for the sales CRM's REST API (v1): a
// salesperson's meetings and the threads (deals) the salesperson owns.
//
// The client knows nothing of GraphQL. Each endpoint is a list of one
// user's records, declared once (lists.go: Meetings, Threads) and fetched
// by the same generic code (Fetch, FetchAll, Client.UserList) over one
// request/decode path. It decodes the API's loosely typed JSON tolerantly
// (docs/upstream-api.md describes the API and its open questions),
// forwards per-call credentials taken from the context, and reports
// failures as typed errors that callers can act on: *APIError for answers
// the API gave, *TransportError for answers it did not give, *DecodeError
// for answers that could not be read. Classify says
// once what any of them means (classify.go): its Kind, whether it may be
// retried, what it tells the circuit breaker, its metrics label; the retry
// policy, the breaker and the callers' error tables all act on that.
//
// The one request path also keeps a misbehaving upstream from hurting its
// callers or itself: failed calls are retried with jittered backoff within
// the caller's deadline and a retry budget (retry.go, WithRetry), and a
// circuit breaker stops sending while most calls fail, refusing them with
// *CircuitOpenError (breaker.go, WithCircuitBreaker). Both are on by
// default; WithObserver, WithRetryObserver and WithBreakerObserver report
// what they do. The bodies being read are held within a memory budget
// shared by all calls (budget.go, WithBodyBudget), so that many large
// answers at once wait or fail with *BodyBudgetError instead of exhausting
// memory.
package restclient

import (
	"encoding/json"
	"time"
)

// Endpoint templates, as the documentation names them, which the lists'
// declarations take (List.Endpoint). Errors and metrics carry these rather
// than concrete paths so that ids never reach a label.
const (
	EndpointUserMeetings = "/api/v1/users/{id}/meetings"
	EndpointUserThreads  = "/api/v1/users/{id}/threads"
)

// Meeting is a sales meeting after which a summary was sent to the client
// (GET /api/v1/users/{id}/meetings). Absent values are left at their zero
// value; time.Time zero, a nil Location and a Count that is not Valid mean
// absent. A value that was sent but cannot be read as its field's type is
// left at the zero value too, and named in Problems, except the
// coordinates, which the documentation lets be invalid. A record whose ID
// is empty has none that can be used: nothing it sent identifies it.
type Meeting struct {
	ID          string    // "id": unique meeting id (an integer on the wire, kept as its decimal text); "" when absent or unreadable
	Hash        string    // "hash"
	UserID      int64     // "id_user": the salesperson; 0 when absent
	PersonID    string    // "id_person"
	CompanyID   string    // "id_comapny" (documented spelling) or "id_company"
	ThreadID    string    // "id_thread"; empty when the meeting belongs to no thread
	Status      string    // "status": finished, saved, interrupted (others are passed through)
	StartDate   time.Time // "start_date"
	EndDate     time.Time // "end_date"
	Address     string    // "address"
	Visits      Count     // "visits": views of the summary
	VisitsOwner Count     // "visits_owner": views by the recipient
	VisitsCopy  Count     // "visits_copy": views by the people in copy
	Location    *GeoPoint // "gps_lat"/"gps_lng"; nil when either is absent or invalid
	Type        string    // "type": anonymous or standard (others are passed through)
	CreatedAt   time.Time // "created_at": when the summary was created
	ModifiedAt  time.Time // "modified_at"
	// Problems names the values that were sent but could not be read,
	// in wire order; nil for almost every record.
	Problems []FieldProblem
}

// Count is a number the upstream may leave out. Null, "" or no key at all
// is no count, which is not a count of zero: Valid is false, as it is for
// a value that could not be read (which the record's Problems name).
type Count struct {
	N     int64
	Valid bool
}

// GeoPoint is a WGS84 coordinate pair.
type GeoPoint struct {
	Latitude  float64
	Longitude float64
}

// Thread is a deal or case a salesperson owns
// (GET /api/v1/users/{id}/threads). Absent and unreadable values are as for
// Meeting.
type Thread struct {
	ID            string          // "id"; "" when absent or unreadable, as for Meeting
	Number        string          // "number": unique sequential thread number
	Name          string          // "name"
	UserID        int64           // "id_user": the thread's main owner
	CompanyID     string          // "id_company" (or "id_comapny")
	PersonID      string          // "id_person"
	Status        string          // "status": values not documented
	Description   string          // "description"
	EndDate       time.Time       // "end_date"
	ContractValue *float64        // "contract_value"; nil when absent
	Fields        json.RawMessage // "fields": passed through as JSON; nil when absent or null
	CreatedAt     time.Time       // "created_at"
	ModifiedAt    time.Time       // "modified_at"
	Problems      []FieldProblem  // as for Meeting
}

// Pagination is the upstream's description of a paginated list.
type Pagination struct {
	Page       int // 1-based page number of this response
	PagesCount int // number of pages
	PerPage    int // page size the upstream used
	Total      int // number of records across all pages
}
