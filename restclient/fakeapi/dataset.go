package fakeapi

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
)

// Dataset is the generated content of one fake CRM: users 1..n, each with
// meetings and threads. It is plain data so that tests can compute the values
// they expect without going through any client code.
//
// A Dataset obtained from [Server.Dataset] or [Server.DatasetFor] is a deep
// copy: changing it never changes what the server answers.
type Dataset struct {
	Users []User // Users[i].ID == i+1
}

// User is a salesperson and everything the API serves for them.
type User struct {
	ID       int64
	Meetings []Meeting // in id order, the order the meetings endpoint uses
	Threads  []Thread  // in id order, the order the threads endpoint pages through
}

// Meeting is one record of GET /api/v1/users/{id}/meetings, field for field.
//
// On the wire ID, UserID and the Visits counters are JSON integers and every
// other field is a JSON string, exactly as stored here. CompanyID is sent
// under the documented misspelling "id_comapny" (or "id_company" with
// [WithFixedCompanySpelling]). Dates are the wire text: "YYYY-MM-DD HH:MM:SS",
// or, for a small share of records unless [WithCleanData], "" or
// "0000-00-00 00:00:00". GPSLat and GPSLng are decimal text such as "52.2297"
// (the shortest text that parses back to the same float64), or both "".
type Meeting struct {
	ID          int64  // "id"
	Hash        string // "hash": 32 hex digits
	UserID      int64  // "id_user"
	PersonID    string // "id_person": "" for anonymous meetings
	CompanyID   string // "id_comapny"
	ThreadID    string // "id_thread": "" when the meeting belongs to no thread
	Status      string // "status": finished, saved or interrupted
	StartDate   string // "start_date"
	EndDate     string // "end_date"
	Address     string // "address"
	Visits      int64  // "visits"
	VisitsOwner int64  // "visits_owner"
	VisitsCopy  int64  // "visits_copy"
	GPSLat      string // "gps_lat"
	GPSLng      string // "gps_lng"
	Type        string // "type": anonymous or standard
	CreatedAt   string // "created_at"
	ModifiedAt  string // "modified_at"
}

// Thread is one record of GET /api/v1/users/{id}/threads, field for field.
//
// On the wire ID and Number are JSON strings, UserID a JSON integer,
// ContractValue a JSON number rendered with the fewest digits that read back
// exactly (12500.5, 0, 73210.99), and Fields is copied verbatim. Dates follow
// the same rules as [Meeting]'s.
type Thread struct {
	ID            string          // "id": decimal text, not contiguous
	Number        string          // "number": six zero-padded digits, sequential in id order
	Name          string          // "name"
	UserID        int64           // "id_user"
	CompanyID     string          // "id_company"
	PersonID      string          // "id_person"
	Status        string          // "status": open, in_progress, won, lost or suspended
	Description   string          // "description": may be "" or span lines
	EndDate       string          // "end_date"
	ContractValue float64         // "contract_value": zł with grosze
	Fields        json.RawMessage // "fields": a JSON array of {"name","value"} objects, sometimes []
	CreatedAt     string          // "created_at"
	ModifiedAt    string          // "modified_at"
}

// A list is one endpoint of the fake, GET /api/v1/users/{id}/<name>: the
// records it serves for a user, rendered in list order, and how it pages.
// The table below is the fake's one statement of which lists exist;
// restclient declares the same lists on its side (restclient.Lists), and
// a test there holds the two to agreeing (Server.Lists).
type list struct {
	name string
	// records renders a user's records, in the order the endpoint serves
	// them.
	records func(u *User, cfg *config) [][]byte
	// perPage is the list's default page size: 0 for a list answered
	// whole, without a "pagination".
	perPage func(cfg *config) int
}

var lists = []list{
	{
		name: "meetings",
		records: func(u *User, cfg *config) [][]byte {
			companyKey := "id_comapny"
			if cfg.fixedSpelling {
				companyKey = "id_company"
			}
			return render(u.Meetings, func(b []byte, m *Meeting) []byte { return appendMeeting(b, m, companyKey) })
		},
		perPage: func(cfg *config) int { return cfg.meetingsPerPage },
	},
	{
		name:    "threads",
		records: func(u *User, _ *config) [][]byte { return render(u.Threads, appendThread) },
		perPage: func(cfg *config) int { return cfg.perPage },
	},
}

// render renders each record of rs.
func render[R any](rs []R, record func([]byte, *R) []byte) [][]byte {
	out := make([][]byte, len(rs))
	for i := range rs {
		out[i] = record(nil, &rs[i])
	}
	return out
}

// The values of the enumerated fields. Tests in this package check that each
// one appears; they are not exported because a caller could change them.
var (
	meetingStatuses = []string{"finished", "saved", "interrupted"}
	meetingTypes    = []string{"anonymous", "standard"}
	threadStatuses  = []string{"open", "in_progress", "won", "lost", "suspended"}
)

// zeroDate is how the API (a MySQL backend, by the look of it) writes an
// unset date in some records.
const zeroDate = "0000-00-00 00:00:00"

// Shares of records that carry a quirk unless WithCleanData is given. They
// are drawn per record, so a dataset's actual share is close to, not equal
// to, these. The package documentation lists them for users.
const (
	quirkMeetingNoGPS      = 0.04 // gps_lat and gps_lng ""
	quirkMeetingEmptyDate  = 0.03 // one of the four dates ""
	quirkMeetingzeroDate   = 0.03 // one of the four dates zeroDate
	quirkThreadZeroEndDate = 0.05 // end_date zeroDate
	quirkThreadEmptyDate   = 0.03 // one of the three dates ""
)

// NewDataset generates the dataset a server built with the same options
// would serve to [DefaultToken]. Only the dataset options matter here
// (WithUsers, WithMeetingsPerUser, WithThreadsPerUser, WithSeed,
// WithCleanData); the others are accepted and ignored, so a test can pass
// one option list to both.
func NewDataset(opts ...Option) *Dataset {
	cfg := newConfig(opts)
	return generate(cfg.shape, cfg.seed)
}

// User returns the user with the given id. The pointer is into d: see the
// note on [Dataset] about copies.
func (d *Dataset) User(id int64) (*User, bool) {
	if id < 1 || id > int64(len(d.Users)) {
		return nil, false
	}
	return &d.Users[id-1], true
}

func (d *Dataset) clone() *Dataset {
	c := &Dataset{Users: make([]User, len(d.Users))}
	for i, u := range d.Users {
		threads := slices.Clone(u.Threads)
		for j := range threads {
			threads[j].Fields = slices.Clone(threads[j].Fields)
		}
		c.Users[i] = User{ID: u.ID, Meetings: slices.Clone(u.Meetings), Threads: threads}
	}
	return c
}

// generate makes the dataset of a shape and seed (generate.go draws it).
func generate(sh shape, seed int64) *Dataset {
	g := &gen{r: rand.New(rand.NewPCG(uint64(seed), 0x7265737474657374)), clean: sh.clean}
	d := &Dataset{Users: make([]User, sh.users)}
	for i := range d.Users {
		d.Users[i].ID = int64(i + 1)
	}
	if sh.users == 0 {
		return d
	}

	companies := g.companies(max(8, 4*sh.users))
	threads := g.threads(sh, companies) // per user, in id order
	for i := range d.Users {
		for _, t := range threads[i] {
			d.Users[i].Threads = append(d.Users[i].Threads, t.Thread)
		}
	}
	g.meetings(sh, d, companies, threads)
	return d
}
