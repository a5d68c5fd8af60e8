// Package model holds the GraphQL object types salesgraph serves: the
// hand-written User, Meeting and Thread (which carry what their resolvers need
// to reach the right loader) and the types gqlgen generates from the schema.
//
// Conversion from restclient's types happens here, once per upstream record
// per request, so that resolvers only hand values on.
package model

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/salesgraph/salesgraph/restclient"
)

// User is a salesperson. Nothing about a user itself is fetched: the REST API
// has no user endpoint, so a User is its id and the lists hanging off it.
type User struct {
	ID  string // decimal text of Num, as served
	Num int64  // the id the REST paths take
}

// NewUser returns the User with the given numeric id.
func NewUser(id int64) *User {
	return &User{ID: strconv.FormatInt(id, 10), Num: id}
}

// GlobalID is the user's id for Query.node.
func (u *User) GlobalID() string { return EncodeGlobalID("User", u.ID) }

// IsNode marks User as a Node for gqlgen.
func (*User) IsNode() {}

// GetGlobalID satisfies the generated Node interface.
func (u *User) GetGlobalID() string { return u.GlobalID() }

// Meeting is a sales meeting, converted from restclient.Meeting. The fields
// whose upstream values can be unreadable are served by methods that report
// them: an unreadable value is an error at the field's path, not a zero.
type Meeting struct {
	ID      string
	OwnerID int64 // the user whose meetings list this came from

	// raw is the upstream record, which the other fields are read from
	// when selected: a copy of each made a meeting three times larger,
	// and a copy of the thread id, status and type 80 bytes against 32.
	raw *restclient.Meeting
}

// ThreadID is the id of the thread the meeting belongs to; nil for none.
func (m *Meeting) ThreadID() *string { return optString(&m.raw.ThreadID) }

// Status is the meeting's status, as the schema's enum.
func (m *Meeting) Status() MeetingStatus { return meetingStatus(m.raw.Status) }

// Type is the meeting's type, as the schema's enum.
func (m *Meeting) Type() MeetingType { return meetingType(m.raw.Type) }

// NewMeetings converts the upstream meetings of ownerID's list, in one
// allocation. The Meetings point into raw, which must not change afterwards.
func NewMeetings(ownerID int64, raw []restclient.Meeting) []*Meeting {
	ms := make([]Meeting, len(raw))
	out := make([]*Meeting, len(raw))
	for i := range raw {
		ms[i].fill(ownerID, &raw[i])
		out[i] = &ms[i]
	}
	return out
}

// NewMeeting converts an upstream meeting fetched from ownerID's list. The
// Meeting points into m, which must not change afterwards.
func NewMeeting(ownerID int64, m *restclient.Meeting) *Meeting {
	out := new(Meeting)
	out.fill(ownerID, m)
	return out
}

func (out *Meeting) fill(ownerID int64, m *restclient.Meeting) {
	*out = Meeting{ID: m.ID, OwnerID: ownerID, raw: m}
}

// Hash is the meeting's hash as sent.
func (m *Meeting) Hash() *string { return optString(&m.raw.Hash) }

// PersonID is the meeting's contact person.
func (m *Meeting) PersonID() *string { return optString(&m.raw.PersonID) }

// CompanyID is the meeting's company.
func (m *Meeting) CompanyID() *string { return optString(&m.raw.CompanyID) }

// RawStatus is the status as the upstream sent it; nil when it sent none.
func (m *Meeting) RawStatus() *string { return optString(&m.raw.Status) }

// RawType is the type as the upstream sent it; nil when it sent none.
func (m *Meeting) RawType() *string { return optString(&m.raw.Type) }

// Address is where the meeting took place.
func (m *Meeting) Address() *string { return optString(&m.raw.Address) }

// Location is the meeting's GPS position, when sent.
func (m *Meeting) Location() *GeoPoint {
	if m.raw.Location == nil {
		return nil
	}
	return &GeoPoint{Latitude: m.raw.Location.Latitude, Longitude: m.raw.Location.Longitude}
}

// problem is the error of field (its upstream key) if its value could not
// be read, else nil.
func (m *Meeting) problem(field string) error {
	return fieldError(restclient.EndpointUserMeetings, m.raw.Problems, field)
}

// Unreadable is why the upstream record cannot be served as a Meeting at
// all, or nil. A record without a usable id is no particular meeting: no
// globalId, no cache key in a client, no node lookup can name it. The
// executor serves it as null in its place, with this error at that path
// (graph/internal/gen hooks it in front of the Meeting executor), so
// the rest of its list stands.
func (m *Meeting) Unreadable() error {
	return unidentified(restclient.EndpointUserMeetings, m.ID, m.raw.Problems)
}

// noID is the reason of a record that sent no id at all (null, "", none).
const noID = "missing"

func unidentified(endpoint, id string, ps []restclient.FieldProblem) error {
	if err := fieldError(endpoint, ps, "id"); err != nil {
		return err
	}
	if id == "" {
		return &restclient.FieldError{Endpoint: endpoint, Field: "id", Reason: noID}
	}
	return nil
}

func fieldError(endpoint string, ps []restclient.FieldProblem, field string) error {
	for _, p := range ps {
		if p.Field == field {
			return &restclient.FieldError{Endpoint: endpoint, Field: field, Reason: p.Reason}
		}
	}
	return nil
}

// StartDate is when the meeting started; nil when absent or unreadable.
func (m *Meeting) StartDate() (*time.Time, error) {
	return optTime(&m.raw.StartDate), m.problem("start_date")
}

// Date is the date a list of meetings is filtered or ordered by; nil when
// absent. There an unreadable date counts as absent: the field that serves
// it reports the error.
func (m *Meeting) Date(field MeetingOrderField) *time.Time {
	switch field {
	case MeetingOrderFieldCreatedAt:
		return optTime(&m.raw.CreatedAt)
	case MeetingOrderFieldModifiedAt:
		return optTime(&m.raw.ModifiedAt)
	}
	return optTime(&m.raw.StartDate)
}

// EndDate is when the meeting ended.
func (m *Meeting) EndDate() (*time.Time, error) {
	return optTime(&m.raw.EndDate), m.problem("end_date")
}

// CreatedAt is when the summary was created.
func (m *Meeting) CreatedAt() (*time.Time, error) {
	return optTime(&m.raw.CreatedAt), m.problem("created_at")
}

// ModifiedAt is when the meeting was last updated.
func (m *Meeting) ModifiedAt() (*time.Time, error) {
	return optTime(&m.raw.ModifiedAt), m.problem("modified_at")
}

// Visits is how many times the summary was viewed: nil when the upstream
// sent no count, nil and an error when it sent one that is not an integer.
func (m *Meeting) Visits() (*int64, error) { return count(&m.raw.Visits), m.problem("visits") }

// VisitsOwner is how many times its recipient viewed the summary.
func (m *Meeting) VisitsOwner() (*int64, error) {
	return count(&m.raw.VisitsOwner), m.problem("visits_owner")
}

// VisitsCopy is how many times the people in copy viewed the summary.
func (m *Meeting) VisitsCopy() (*int64, error) {
	return count(&m.raw.VisitsCopy), m.problem("visits_copy")
}

// User is the salesperson who held the meeting: id_user when the upstream
// sent one, else the user whose list the meeting came from; an error when
// it sent one that could not be read.
func (m *Meeting) User() (*User, error) {
	if err := m.problem("id_user"); err != nil {
		return nil, err
	}
	if m.raw.UserID > 0 {
		return NewUser(m.raw.UserID), nil
	}
	return NewUser(m.OwnerID), nil
}

// GlobalID is the meeting's id for Query.node. It carries the owner, since a
// meeting can only be found through its owner's list.
func (m *Meeting) GlobalID() string {
	return EncodeGlobalID("Meeting", strconv.FormatInt(m.OwnerID, 10)+":"+m.ID)
}

// IsNode marks Meeting as a Node for gqlgen.
func (*Meeting) IsNode() {}

// GetGlobalID satisfies the generated Node interface.
func (m *Meeting) GetGlobalID() string { return m.GlobalID() }

// Thread is a deal, converted from restclient.Thread. Its fields are read
// from the record when selected, as on Meeting: a copy of each made a
// thread five times larger (160 bytes against 32), and an operation of 20
// users' threads held 600 of them.
type Thread struct {
	ID      string
	OwnerID int64 // the user whose threads list this came from

	raw *restclient.Thread
}

// NewThreads converts the upstream threads of ownerID's list, in one
// allocation. The Threads point into raw, which must not change afterwards.
func NewThreads(ownerID int64, raw []restclient.Thread) []*Thread {
	ts := make([]Thread, len(raw))
	out := make([]*Thread, len(raw))
	for i := range raw {
		ts[i] = Thread{ID: raw[i].ID, OwnerID: ownerID, raw: &raw[i]}
		out[i] = &ts[i]
	}
	return out
}

// NewThread converts an upstream thread fetched from ownerID's list. The
// Thread points into t, which must not change afterwards.
func NewThread(ownerID int64, t *restclient.Thread) *Thread {
	return &Thread{ID: t.ID, OwnerID: ownerID, raw: t}
}

// Number is the thread's sequential number as sent.
func (t *Thread) Number() *string { return optString(&t.raw.Number) }

// Name is the thread's name.
func (t *Thread) Name() *string { return optString(&t.raw.Name) }

// CompanyID is the thread's company.
func (t *Thread) CompanyID() *string { return optString(&t.raw.CompanyID) }

// PersonID is the thread's main person.
func (t *Thread) PersonID() *string { return optString(&t.raw.PersonID) }

// Status is the thread's status as sent.
func (t *Thread) Status() *string { return optString(&t.raw.Status) }

// Description is the thread's description.
func (t *Thread) Description() *string { return optString(&t.raw.Description) }

// Fields are the thread's additional fields as sent, compacted.
func (t *Thread) Fields() JSON { return compactJSON(t.raw.Fields) }

func (t *Thread) problem(field string) error {
	return fieldError(restclient.EndpointUserThreads, t.raw.Problems, field)
}

// Unreadable is why the upstream record cannot be served as a Thread at
// all, or nil: as for Meeting.Unreadable, a record without a usable id.
func (t *Thread) Unreadable() error {
	return unidentified(restclient.EndpointUserThreads, t.ID, t.raw.Problems)
}

// Owner is the thread's main owner: id_user when sent, else the user whose
// list the thread came from; an error when the id_user sent could not be
// read.
func (t *Thread) Owner() (*User, error) {
	if err := t.problem("id_user"); err != nil {
		return nil, err
	}
	if t.raw.UserID > 0 {
		return NewUser(t.raw.UserID), nil
	}
	return NewUser(t.OwnerID), nil
}

// EndDate is when the thread ends.
func (t *Thread) EndDate() (*time.Time, error) { return optTime(&t.raw.EndDate), t.problem("end_date") }

// CreatedAt is when the thread was created.
func (t *Thread) CreatedAt() (*time.Time, error) {
	return optTime(&t.raw.CreatedAt), t.problem("created_at")
}

// ModifiedAt is when the thread was last updated.
func (t *Thread) ModifiedAt() (*time.Time, error) {
	return optTime(&t.raw.ModifiedAt), t.problem("modified_at")
}

// ContractValue is the contract amount.
func (t *Thread) ContractValue() (*float64, error) {
	return t.raw.ContractValue, t.problem("contract_value")
}

// GlobalID is the thread's id for Query.node.
func (t *Thread) GlobalID() string {
	return EncodeGlobalID("Thread", strconv.FormatInt(t.OwnerID, 10)+":"+t.ID)
}

// IsNode marks Thread as a Node for gqlgen.
func (*Thread) IsNode() {}

// GetGlobalID satisfies the generated Node interface.
func (t *Thread) GetGlobalID() string { return t.GlobalID() }

func meetingStatus(s string) MeetingStatus {
	switch strings.ToLower(s) {
	case "finished":
		return MeetingStatusFinished
	case "saved":
		return MeetingStatusSaved
	case "interrupted":
		return MeetingStatusInterrupted
	}
	return MeetingStatusUnknown
}

func meetingType(s string) MeetingType {
	switch strings.ToLower(s) {
	case "anonymous":
		return MeetingTypeAnonymous
	case "standard":
		return MeetingTypeStandard
	}
	return MeetingTypeUnknown
}

// optString and optTime point into the upstream record instead of copying
// the value: records are immutable once decoded (restclient shares them
// between requests), and a copy cost an allocation per field and meeting.
func optString(s *string) *string {
	if *s == "" {
		return nil
	}
	return s
}

// count points into the record too: nil when the upstream sent no count.
func count(c *restclient.Count) *int64 {
	if !c.Valid {
		return nil
	}
	return &c.N
}

func optTime(t *time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return t
}

// EncodeGlobalID makes the opaque id Query.node accepts.
func EncodeGlobalID(typeName, key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(typeName + ":" + key))
}

// DecodeGlobalID splits a global id into its type name and key.
func DecodeGlobalID(id string) (typeName, key string, err error) {
	raw, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil {
		return "", "", fmt.Errorf("not a global id")
	}
	typeName, key, ok := strings.Cut(string(raw), ":")
	if !ok || typeName == "" || key == "" {
		return "", "", fmt.Errorf("not a global id")
	}
	return typeName, key, nil
}

// compactJSON is raw without white space between its tokens, as the rest
// of an answer is, so that the endpoint has no indented JSON to compact (it
// would otherwise scan every response for it: gqlhttp's Options.CompactData).
func compactJSON(raw json.RawMessage) JSON {
	if !bytes.ContainsAny(raw, " \t\r\n") {
		return JSON(raw)
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return JSON(raw) // restclient validated it: not reached
	}
	return JSON(b.Bytes())
}

// JSON is the JSON scalar: raw JSON passed through, compacted.
type JSON json.RawMessage

// MarshalGQL writes the raw JSON, or null when there is none.
func (j JSON) MarshalGQL(w io.Writer) {
	if len(j) == 0 {
		_, _ = io.WriteString(w, "null")
		return
	}
	_, _ = w.Write(j)
}

// UnmarshalGQL accepts any input value; the schema takes JSON only as output,
// but gqlgen requires both directions for a scalar.
func (j *JSON) UnmarshalGQL(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("JSON: %w", err)
	}
	*j = b
	return nil
}

var _ graphql.Marshaler = JSON(nil)
