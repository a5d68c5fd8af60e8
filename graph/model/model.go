// Package model holds the GraphQL object types salesgraph serves: the
// hand-written User, Meeting and Thread (which carry what their resolvers need
// to reach the right loader) and the types gqlgen generates from the schema.
//
// Conversion from restclient's types happens here, once per upstream record
// per request, so that resolvers only hand values on.
package model

import (
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

// Meeting is a sales meeting, converted from restclient.Meeting.
type Meeting struct {
	ID          string
	OwnerID     int64 // the user whose meetings list this came from
	UserID      int64 // id_user as sent; 0 when absent
	Hash        *string
	PersonID    *string
	CompanyID   *string
	ThreadID    *string
	Status      MeetingStatus
	RawStatus   string
	Type        MeetingType
	RawType     string
	StartDate   *time.Time
	EndDate     *time.Time
	CreatedAt   *time.Time
	ModifiedAt  *time.Time
	Address     *string
	Visits      int
	VisitsOwner int
	VisitsCopy  int
	Location    *GeoPoint
}

// NewMeeting converts an upstream meeting fetched from ownerID's list.
func NewMeeting(ownerID int64, m *restclient.Meeting) *Meeting {
	out := &Meeting{
		ID:          m.ID,
		OwnerID:     ownerID,
		UserID:      m.UserID,
		Hash:        optString(m.Hash),
		PersonID:    optString(m.PersonID),
		CompanyID:   optString(m.CompanyID),
		ThreadID:    optString(m.ThreadID),
		Status:      meetingStatus(m.Status),
		RawStatus:   m.Status,
		Type:        meetingType(m.Type),
		RawType:     m.Type,
		StartDate:   optTime(m.StartDate),
		EndDate:     optTime(m.EndDate),
		CreatedAt:   optTime(m.CreatedAt),
		ModifiedAt:  optTime(m.ModifiedAt),
		Address:     optString(m.Address),
		Visits:      int(m.Visits),
		VisitsOwner: int(m.VisitsOwner),
		VisitsCopy:  int(m.VisitsCopy),
	}
	if m.Location != nil {
		out.Location = &GeoPoint{Latitude: m.Location.Latitude, Longitude: m.Location.Longitude}
	}
	return out
}

// User is the salesperson who held the meeting: id_user when the upstream
// sent one, else the user whose list the meeting came from.
func (m *Meeting) User() *User {
	if m.UserID > 0 {
		return NewUser(m.UserID)
	}
	return NewUser(m.OwnerID)
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

// Thread is a deal, converted from restclient.Thread.
type Thread struct {
	ID            string
	OwnerID       int64 // the user whose threads list this came from
	UserID        int64 // id_user as sent; 0 when absent
	Number        *string
	Name          *string
	CompanyID     *string
	PersonID      *string
	Status        *string
	Description   *string
	EndDate       *time.Time
	ContractValue *float64
	Fields        JSON
	CreatedAt     *time.Time
	ModifiedAt    *time.Time
}

// NewThread converts an upstream thread fetched from ownerID's list.
func NewThread(ownerID int64, t *restclient.Thread) *Thread {
	return &Thread{
		ID:            t.ID,
		OwnerID:       ownerID,
		UserID:        t.UserID,
		Number:        optString(t.Number),
		Name:          optString(t.Name),
		CompanyID:     optString(t.CompanyID),
		PersonID:      optString(t.PersonID),
		Status:        optString(t.Status),
		Description:   optString(t.Description),
		EndDate:       optTime(t.EndDate),
		ContractValue: t.ContractValue,
		Fields:        JSON(t.Fields),
		CreatedAt:     optTime(t.CreatedAt),
		ModifiedAt:    optTime(t.ModifiedAt),
	}
}

// Owner is the thread's main owner: id_user when sent, else the user whose
// list the thread came from.
func (t *Thread) Owner() *User {
	if t.UserID > 0 {
		return NewUser(t.UserID)
	}
	return NewUser(t.OwnerID)
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

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
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

// JSON is the JSON scalar: raw JSON passed through unchanged.
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
