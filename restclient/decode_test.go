package restclient

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// oneMeeting decodes a meetings body holding the single record rec.
func oneMeeting(t *testing.T, rec string, loc *time.Location) Meeting {
	t.Helper()
	ms, err := decodeMeetings([]byte(`{"status":200,"data":{"list":[`+rec+`]}}`), loc)
	require.NoError(t, err)
	require.Len(t, ms, 1)
	return ms[0]
}

func oneThread(t *testing.T, rec string) Thread {
	t.Helper()
	p, reason, err := decodeThreads([]byte(`{"status":200,"data":{"list":[`+rec+`],"pagination":{"page":1,"pages_count":1,"per_page":20,"total":1}}}`), time.UTC, 1)
	require.NoError(t, err)
	require.Empty(t, reason)
	require.Len(t, p.List, 1)
	return p.List[0]
}

func TestDecodeMeetingDocumentedRecord(t *testing.T) {
	m := oneMeeting(t, `{
		"id": 1234, "hash": "9f86d081884c7d65", "id_user": 12, "id_person": "55", "id_comapny": "77",
		"id_thread": "901", "status": "finished", "start_date": "2024-03-01 10:00:00",
		"end_date": "2024-03-01 11:30:00", "address": "ul. Marsza\u0142kowska 1\/3, Warszawa",
		"visits": 5, "visits_owner": 3, "visits_copy": 1, "gps_lat": "52.2297", "gps_lng": "21.0122",
		"type": "standard", "created_at": "2024-03-01 12:00:00", "modified_at": "2024-03-02 08:00:00"}`, time.UTC)
	assert.Equal(t, Meeting{
		ID: "1234", Hash: "9f86d081884c7d65", UserID: 12, PersonID: "55", CompanyID: "77", ThreadID: "901",
		Status:    "finished",
		StartDate: time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC),
		EndDate:   time.Date(2024, 3, 1, 11, 30, 0, 0, time.UTC),
		Address:   "ul. Marszałkowska 1/3, Warszawa",
		Visits:    Count{5, true}, VisitsOwner: Count{3, true}, VisitsCopy: Count{1, true},
		Location:   &GeoPoint{Latitude: 52.2297, Longitude: 21.0122},
		Type:       "standard",
		CreatedAt:  time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC),
		ModifiedAt: time.Date(2024, 3, 2, 8, 0, 0, 0, time.UTC),
	}, m)
}

func TestDecodeMeetingQuirks(t *testing.T) {
	warsaw, err := time.LoadLocation("Europe/Warsaw")
	require.NoError(t, err)
	tests := []struct {
		name  string
		rec   string
		loc   *time.Location // UTC when nil
		check func(t *testing.T, m Meeting)
	}{
		{"id as number", `{"id": 1234}`, nil, func(t *testing.T, m Meeting) { assert.Equal(t, "1234", m.ID) }},
		{"id as float", `{"id": 1234.0}`, nil, func(t *testing.T, m Meeting) { assert.Equal(t, "1234", m.ID) }},
		{"id with exponent", `{"id": 1.234e3}`, nil, func(t *testing.T, m Meeting) { assert.Equal(t, "1234", m.ID) }},
		{"id beyond int64 keeps its digits", `{"id": 123456789012345678901234}`, nil, func(t *testing.T, m Meeting) { assert.Equal(t, "123456789012345678901234", m.ID) }},
		{"id as padded string", `{"id": " 1234 "}`, nil, func(t *testing.T, m Meeting) { assert.Equal(t, "1234", m.ID) }},
		{"id null", `{"id": null, "hash": "h"}`, nil, func(t *testing.T, m Meeting) { assert.Equal(t, Meeting{Hash: "h"}, m) }},
		{"id_user as string", `{"id_user": "12"}`, nil, func(t *testing.T, m Meeting) { assert.Equal(t, int64(12), m.UserID) }},
		{"id_user padded", `{"id_user": " 12 "}`, nil, func(t *testing.T, m Meeting) { assert.Equal(t, int64(12), m.UserID) }},
		{"id_user 12.0", `{"id_user": 12.0}`, nil, func(t *testing.T, m Meeting) { assert.Equal(t, int64(12), m.UserID) }},
		{"id_user \"12.0\"", `{"id_user": "12.0"}`, nil, func(t *testing.T, m Meeting) { assert.Equal(t, int64(12), m.UserID) }},
		{"id_user fraction is unreadable", `{"id_user": 12.5, "id": 1}`, nil, func(t *testing.T, m Meeting) {
			assert.Zero(t, m.UserID)
			assert.Equal(t, "1", m.ID)
		}},
		{"id_user text is unreadable", `{"id_user": "twelve"}`, nil, func(t *testing.T, m Meeting) { assert.Zero(t, m.UserID) }},
		{"id_user object is unreadable", `{"id_user": {"v": 12}, "hash": "h"}`, nil, func(t *testing.T, m Meeting) {
			assert.Zero(t, m.UserID)
			assert.Equal(t, "h", m.Hash)
		}},
		{"id_user bool is unreadable", `{"id_user": true}`, nil, func(t *testing.T, m Meeting) { assert.Zero(t, m.UserID) }},
		{"id_user overflow is unreadable", `{"id_user": "99999999999999999999"}`, nil, func(t *testing.T, m Meeting) { assert.Zero(t, m.UserID) }},
		{"id_user hex is unreadable", `{"id_user": "0x10"}`, nil, func(t *testing.T, m Meeting) { assert.Zero(t, m.UserID) }},
		{"counters as strings", `{"visits": "5", "visits_owner": " 3", "visits_copy": "1.0"}`, nil, func(t *testing.T, m Meeting) {
			assert.Equal(t, [3]Count{{5, true}, {3, true}, {1, true}}, [3]Count{m.Visits, m.VisitsOwner, m.VisitsCopy})
		}},
		{"counters of zero are counts", `{"visits": 0, "visits_owner": "0", "visits_copy": 0.0}`, nil, func(t *testing.T, m Meeting) {
			assert.Equal(t, [3]Count{{0, true}, {0, true}, {0, true}}, [3]Count{m.Visits, m.VisitsOwner, m.VisitsCopy})
		}},
		{"counters null, empty, unreadable or missing are none", `{"visits": null, "visits_owner": "", "visits_copy": "n/a"}`, nil, func(t *testing.T, m Meeting) {
			assert.Equal(t, [3]Count{}, [3]Count{m.Visits, m.VisitsOwner, m.VisitsCopy})
			assert.Equal(t, Count{}, oneMeeting(t, `{"id": 1}`, time.UTC).Visits)
		}},
		{"string ids as numbers", `{"id_person": 55, "id_comapny": 77, "id_thread": 901}`, nil, func(t *testing.T, m Meeting) {
			assert.Equal(t, [3]string{"55", "77", "901"}, [3]string{m.PersonID, m.CompanyID, m.ThreadID})
		}},
		{"reference 0 means none", `{"id_person": 0, "id_comapny": "0", "id_thread": " 0 "}`, nil, func(t *testing.T, m Meeting) {
			assert.Equal(t, [3]string{}, [3]string{m.PersonID, m.CompanyID, m.ThreadID})
		}},
		{"corrected company spelling", `{"id_company": "77"}`, nil, func(t *testing.T, m Meeting) { assert.Equal(t, "77", m.CompanyID) }},
		{"documented company spelling wins", `{"id_company": "78", "id_comapny": "77"}`, nil, func(t *testing.T, m Meeting) { assert.Equal(t, "77", m.CompanyID) }},
		{"empty documented spelling falls back", `{"id_comapny": "", "id_company": "78"}`, nil, func(t *testing.T, m Meeting) { assert.Equal(t, "78", m.CompanyID) }},
		{"status and type trimmed", `{"status": " finished ", "type": "standard\n"}`, nil, func(t *testing.T, m Meeting) {
			assert.Equal(t, "finished", m.Status)
			assert.Equal(t, "standard", m.Type)
		}},
		{"unknown status and type pass", `{"status": "archived", "type": "VIP"}`, nil, func(t *testing.T, m Meeting) {
			assert.Equal(t, "archived", m.Status)
			assert.Equal(t, "VIP", m.Type)
		}},
		{"numeric status kept as text", `{"status": 2}`, nil, func(t *testing.T, m Meeting) { assert.Equal(t, "2", m.Status) }},
		{"hash as number", `{"hash": 12345}`, nil, func(t *testing.T, m Meeting) { assert.Equal(t, "12345", m.Hash) }},
		{"escapes", `{"address": "Kraków \u017b\u00f3\u0142w \"A\" \\ \/ \ud83d\ude00\ttab"}`, nil, func(t *testing.T, m Meeting) {
			assert.Equal(t, "Kraków Żółw \"A\" \\ / 😀\ttab", m.Address)
		}},
		{"lone surrogate becomes U+FFFD", `{"address": "a\ud800b"}`, nil, func(t *testing.T, m Meeting) { assert.Equal(t, "a\uFFFDb", m.Address) }},
		{"unknown fields ignored", `{"id": 1, "extra": {"deep": [1, 2, {"x": null}]}, "flag": false}`, nil, func(t *testing.T, m Meeting) {
			assert.Equal(t, Meeting{ID: "1"}, m)
		}},
		{"duplicate key: last wins", `{"id": 1, "id": 2}`, nil, func(t *testing.T, m Meeting) { assert.Equal(t, "2", m.ID) }},
		{"escaped key", `{"\u0069d": 7}`, nil, func(t *testing.T, m Meeting) { assert.Equal(t, "7", m.ID) }},

		{"naive date in UTC", `{"start_date": "2024-03-01 10:00:00"}`, nil, func(t *testing.T, m Meeting) {
			assert.Equal(t, time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC), m.StartDate)
		}},
		{"naive date in the configured zone", `{"start_date": "2024-07-01 10:00:00"}`, warsaw, func(t *testing.T, m Meeting) {
			assert.True(t, time.Date(2024, 7, 1, 8, 0, 0, 0, time.UTC).Equal(m.StartDate), m.StartDate)
		}},
		{"date only", `{"start_date": "2024-03-01"}`, nil, func(t *testing.T, m Meeting) {
			assert.Equal(t, time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), m.StartDate)
		}},
		{"RFC 3339 keeps its offset", `{"start_date": "2024-03-01T10:00:00+01:00"}`, warsaw, func(t *testing.T, m Meeting) {
			assert.True(t, time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC).Equal(m.StartDate), m.StartDate)
		}},
		{"RFC 3339 UTC with fraction", `{"start_date": "2024-03-01T10:00:00.5Z"}`, nil, func(t *testing.T, m Meeting) {
			assert.True(t, time.Date(2024, 3, 1, 10, 0, 0, 5e8, time.UTC).Equal(m.StartDate), m.StartDate)
		}},
		{"ISO 8601 offset without colon", `{"start_date": "2024-03-01T10:00:00+0100"}`, nil, func(t *testing.T, m Meeting) {
			assert.True(t, time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC).Equal(m.StartDate), m.StartDate)
		}},
		{"naive T form", `{"start_date": "2024-03-01T10:00:00"}`, nil, func(t *testing.T, m Meeting) {
			assert.Equal(t, time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC), m.StartDate)
		}},
		{"MySQL microseconds", `{"start_date": "2024-03-01 10:00:00.250000"}`, nil, func(t *testing.T, m Meeting) {
			assert.Equal(t, time.Date(2024, 3, 1, 10, 0, 0, 25e7, time.UTC), m.StartDate)
		}},
		{"padded date", `{"start_date": " 2024-03-01 10:00:00 "}`, nil, func(t *testing.T, m Meeting) {
			assert.Equal(t, time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC), m.StartDate)
		}},
		{"absent dates", `{"start_date": "", "end_date": "0000-00-00 00:00:00", "created_at": "0000-00-00", "modified_at": null}`, nil, func(t *testing.T, m Meeting) {
			assert.True(t, m.StartDate.IsZero() && m.EndDate.IsZero() && m.CreatedAt.IsZero() && m.ModifiedAt.IsZero())
		}},
		{"unreadable dates", `{"start_date": "2024-02-30 10:00:00", "end_date": "yesterday", "created_at": 1709287200, "modified_at": "2024-03-01 25:00:00"}`, nil, func(t *testing.T, m Meeting) {
			assert.True(t, m.StartDate.IsZero() && m.EndDate.IsZero() && m.CreatedAt.IsZero() && m.ModifiedAt.IsZero())
		}},
		{"leap day", `{"start_date": "2024-02-29 23:59:59"}`, nil, func(t *testing.T, m Meeting) {
			assert.Equal(t, time.Date(2024, 2, 29, 23, 59, 59, 0, time.UTC), m.StartDate)
		}},

		{"gps as numbers", `{"gps_lat": 52.2297, "gps_lng": 21.0122}`, nil, func(t *testing.T, m Meeting) {
			assert.Equal(t, &GeoPoint{52.2297, 21.0122}, m.Location)
		}},
		{"gps padded", `{"gps_lat": " 52.2297", "gps_lng": "21.0122 "}`, nil, func(t *testing.T, m Meeting) {
			assert.Equal(t, &GeoPoint{52.2297, 21.0122}, m.Location)
		}},
		{"gps with decimal comma", `{"gps_lat": "52,2297", "gps_lng": "21,0122"}`, nil, func(t *testing.T, m Meeting) {
			assert.Equal(t, &GeoPoint{52.2297, 21.0122}, m.Location)
		}},
		{"gps at the limits", `{"gps_lat": "-90", "gps_lng": "180"}`, nil, func(t *testing.T, m Meeting) {
			assert.Equal(t, &GeoPoint{-90, 180}, m.Location)
		}},
		{"gps empty", `{"gps_lat": "", "gps_lng": ""}`, nil, func(t *testing.T, m Meeting) { assert.Nil(t, m.Location) }},
		{"gps one missing", `{"gps_lat": "52.2297"}`, nil, func(t *testing.T, m Meeting) { assert.Nil(t, m.Location) }},
		{"gps one null", `{"gps_lat": "52.2297", "gps_lng": null}`, nil, func(t *testing.T, m Meeting) { assert.Nil(t, m.Location) }},
		{"gps text", `{"gps_lat": "north", "gps_lng": "21.0122"}`, nil, func(t *testing.T, m Meeting) { assert.Nil(t, m.Location) }},
		{"gps latitude out of range", `{"gps_lat": "90.0001", "gps_lng": "21"}`, nil, func(t *testing.T, m Meeting) { assert.Nil(t, m.Location) }},
		{"gps longitude out of range", `{"gps_lat": "52", "gps_lng": "-180.5"}`, nil, func(t *testing.T, m Meeting) { assert.Nil(t, m.Location) }},
		{"gps NaN and Inf", `{"gps_lat": "NaN", "gps_lng": "Inf"}`, nil, func(t *testing.T, m Meeting) { assert.Nil(t, m.Location) }},
		{"gps hex float", `{"gps_lat": "0x1p4", "gps_lng": "21"}`, nil, func(t *testing.T, m Meeting) { assert.Nil(t, m.Location) }},
		{"gps 0,0 placeholder", `{"gps_lat": "0.000000", "gps_lng": "0.000000"}`, nil, func(t *testing.T, m Meeting) { assert.Nil(t, m.Location) }},
		{"gps on the equator", `{"gps_lat": "0", "gps_lng": "21"}`, nil, func(t *testing.T, m Meeting) {
			assert.Equal(t, &GeoPoint{0, 21}, m.Location)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loc := tt.loc
			if loc == nil {
				loc = time.UTC
			}
			tt.check(t, oneMeeting(t, tt.rec, loc))
		})
	}
}

func TestDecodeThreadQuirks(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	tests := []struct {
		name  string
		rec   string
		check func(t *testing.T, th Thread)
	}{
		{"documented record", `{"id": "31", "number": "000031", "name": "Wdro\u017cenie", "id_user": 12, "id_company": "77",
			"id_person": "55", "status": "open", "description": "line 1\nline 2", "end_date": "2024-06-30 00:00:00",
			"contract_value": 12500.5, "fields": [{"name": "source", "value": "referral"}],
			"created_at": "2023-11-01 09:15:00", "modified_at": "2024-02-01 16:40:12"}`, func(t *testing.T, th Thread) {
			assert.Equal(t, Thread{
				ID: "31", Number: "000031", Name: "Wdrożenie", UserID: 12, CompanyID: "77", PersonID: "55", Status: "open",
				Description: "line 1\nline 2", EndDate: time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC), ContractValue: f(12500.5),
				Fields:     json.RawMessage(`[{"name": "source", "value": "referral"}]`),
				CreatedAt:  time.Date(2023, 11, 1, 9, 15, 0, 0, time.UTC),
				ModifiedAt: time.Date(2024, 2, 1, 16, 40, 12, 0, time.UTC),
			}, th)
		}},
		{"id and number as numbers", `{"id": 31, "number": 31}`, func(t *testing.T, th Thread) {
			assert.Equal(t, "31", th.ID)
			assert.Equal(t, "31", th.Number)
		}},
		{"contract value as string", `{"contract_value": "12500.50"}`, func(t *testing.T, th Thread) { assert.Equal(t, f(12500.5), th.ContractValue) }},
		{"contract value with decimal comma", `{"contract_value": "12500,50"}`, func(t *testing.T, th Thread) { assert.Equal(t, f(12500.5), th.ContractValue) }},
		{"contract value zero is a value", `{"contract_value": 0}`, func(t *testing.T, th Thread) { assert.Equal(t, f(0), th.ContractValue) }},
		{"contract value null", `{"contract_value": null}`, func(t *testing.T, th Thread) { assert.Nil(t, th.ContractValue) }},
		{"contract value empty", `{"contract_value": ""}`, func(t *testing.T, th Thread) { assert.Nil(t, th.ContractValue) }},
		{"contract value with thousands separator", `{"contract_value": "12 500"}`, func(t *testing.T, th Thread) { assert.Nil(t, th.ContractValue) }},
		{"contract value overflow", `{"contract_value": 1e400}`, func(t *testing.T, th Thread) { assert.Nil(t, th.ContractValue) }},
		{"fields absent", `{"id": "1"}`, func(t *testing.T, th Thread) { assert.Nil(t, th.Fields) }},
		{"fields null", `{"fields": null}`, func(t *testing.T, th Thread) { assert.Nil(t, th.Fields) }},
		{"fields empty array kept", `{"fields": []}`, func(t *testing.T, th Thread) { assert.Equal(t, json.RawMessage(`[]`), th.Fields) }},
		{"fields object kept", `{"fields": {"a": 1}}`, func(t *testing.T, th Thread) { assert.Equal(t, json.RawMessage(`{"a": 1}`), th.Fields) }},
		{"fields string kept", `{"fields": "x"}`, func(t *testing.T, th Thread) { assert.Equal(t, json.RawMessage(`"x"`), th.Fields) }},
		{"documented misspelling accepted", `{"id_comapny": "77"}`, func(t *testing.T, th Thread) { assert.Equal(t, "77", th.CompanyID) }},
		{"documented spelling wins", `{"id_comapny": "77", "id_company": "78"}`, func(t *testing.T, th Thread) { assert.Equal(t, "78", th.CompanyID) }},
		{"end date absent", `{"end_date": "0000-00-00 00:00:00"}`, func(t *testing.T, th Thread) { assert.True(t, th.EndDate.IsZero()) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.check(t, oneThread(t, tt.rec)) })
	}
}

// TestUnreadableValuesAreNamed: a value that is there but is not of its
// field's type is not served as the zero value without a word: the record
// names it. The documented tolerances stay tolerances.
func TestUnreadableValuesAreNamed(t *testing.T) {
	meetings := []struct {
		name string
		rec  string
		want []FieldProblem
	}{
		{"text for an integer", `{"id": 1, "visits": "x"}`, []FieldProblem{{"visits", "not an integer"}}},
		{"every integer, in wire order",
			`{"visits_copy": {"a": 1}, "visits": 12.5, "visits_owner": true, "id_user": "0x10"}`,
			[]FieldProblem{{"visits_copy", "not an integer"}, {"visits", "not an integer"}, {"visits_owner", "not an integer"}, {"id_user", "not an integer"}}},
		{"integer overflow", `{"visits": "99999999999999999999"}`, []FieldProblem{{"visits", "not an integer"}}},
		{"every date",
			`{"start_date": "yesterday", "end_date": 1709287200, "created_at": "2024-02-30 10:00:00", "modified_at": "2024-03-01 25:00:00"}`,
			[]FieldProblem{{"start_date", "not a date"}, {"end_date", "not a date"}, {"created_at", "not a date"}, {"modified_at", "not a date"}}},
		{"a date as an object", `{"start_date": {"date": "2024-03-01"}}`, []FieldProblem{{"start_date", "not a date"}}},
		{"an id that is no id", `{"id": true, "visits": 1}`, []FieldProblem{{"id", "not an id"}}},
		{"an id as an object", `{"id": {"id": 1}}`, []FieldProblem{{"id", "not an id"}}},
		{"tolerated: an absent id is no value, not an unreadable one", `{"id": null}`, nil},
		{"a repeated key replaces the problem", `{"visits": "x", "visits": 3, "start_date": "x", "start_date": "", "id": [], "id": 4}`, nil},
		{"a repeated key brings one", `{"visits": 3, "visits": "x"}`, []FieldProblem{{"visits", "not an integer"}}},
		{"tolerated: numbers as strings, null, empty", `{"visits": "5", "visits_owner": " 3 ", "visits_copy": "1.0", "id_user": null}`, nil},
		{"tolerated: empty counters", `{"visits": "", "visits_owner": "  ", "visits_copy": null}`, nil},
		{"tolerated: absent dates", `{"start_date": "", "end_date": "0000-00-00 00:00:00", "created_at": "0000-00-00", "modified_at": null}`, nil},
		{"tolerated: year 0", `{"start_date": "0000-01-01 00:00:00"}`, nil},
		{"tolerated: every documented date form", `{"start_date": "2024-03-01", "end_date": "2024-03-01T10:00:00+01:00", "created_at": "2024-03-01 10:00:00.250000", "modified_at": " 2024-03-01 10:00:00 "}`, nil},
		{"tolerated: invalid coordinates mean none", `{"gps_lat": "north", "gps_lng": {"x": 1}}`, nil},
		{"tolerated: texts of any type", `{"status": 2, "type": {"a": 1}, "hash": 12345, "address": true}`, nil},
	}
	for _, tt := range meetings {
		t.Run(tt.name, func(t *testing.T) {
			m := oneMeeting(t, tt.rec, time.UTC)
			assert.Equal(t, tt.want, m.Problems)
		})
	}

	threads := []struct {
		name string
		rec  string
		want []FieldProblem
	}{
		{"text for an amount", `{"contract_value": "12 500"}`, []FieldProblem{{"contract_value", "not a number"}}},
		{"amount overflow", `{"contract_value": 1e400}`, []FieldProblem{{"contract_value", "not a number"}}},
		{"amount as a bool", `{"contract_value": false}`, []FieldProblem{{"contract_value", "not a number"}}},
		{"owner and dates", `{"id_user": "ja", "end_date": "wkrótce", "created_at": 0, "modified_at": "2024-13-01"}`,
			[]FieldProblem{{"id_user", "not an integer"}, {"end_date", "not a date"}, {"created_at", "not a date"}, {"modified_at", "not a date"}}},
		{"an id that is no id", `{"id": false, "name": "x"}`, []FieldProblem{{"id", "not an id"}}},
		{"a repeated key replaces the problem", `{"contract_value": "x", "contract_value": 5}`, nil},
		{"tolerated: decimal comma, string, null, empty", `{"contract_value": "12500,50"}`, nil},
		{"tolerated: null amount", `{"contract_value": null, "id_user": ""}`, nil},
		{"tolerated: empty amount", `{"contract_value": ""}`, nil},
	}
	for _, tt := range threads {
		t.Run("thread "+tt.name, func(t *testing.T) {
			th := oneThread(t, tt.rec)
			assert.Equal(t, tt.want, th.Problems)
		})
	}
}

func TestFieldErrorNamesNoValue(t *testing.T) {
	m := oneMeeting(t, `{"id": 1, "visits": "sekret"}`, time.UTC)
	require.Len(t, m.Problems, 1)
	err := &FieldError{Endpoint: EndpointUserMeetings, Field: m.Problems[0].Field, Reason: m.Problems[0].Reason}
	assert.EqualError(t, err, "restclient: /api/v1/users/{id}/meetings: unreadable value of visits: not an integer")
	assert.NotContains(t, err.Error(), "sekret")
}

// The request path recycles its body buffers, so nothing decoded may alias
// the body.
func TestDecodedValuesDoNotAliasTheBody(t *testing.T) {
	scribble := func(b []byte) {
		for i := range b {
			b[i] = 'x'
		}
	}
	mBody := meetingsBody(50)
	ms, err := decodeMeetings(mBody, time.UTC)
	require.NoError(t, err)
	want, err := decodeMeetings(meetingsBody(50), time.UTC)
	require.NoError(t, err)
	scribble(mBody)
	assert.Equal(t, want, ms)

	tBody := threadsBody(20, 1, 1, 20)
	tp, _, err := decodeThreads(tBody, time.UTC, 1)
	require.NoError(t, err)
	twant, _, err := decodeThreads(threadsBody(20, 1, 1, 20), time.UTC, 1)
	require.NoError(t, err)
	scribble(tBody)
	assert.Equal(t, twant, tp)
}

func TestDecodeListShapes(t *testing.T) {
	rec := func(id string) string { return `{"id":` + id + `}` }
	tests := []struct {
		name string
		body string
		ids  []string // nil: expect the error
		err  error
	}{
		{"documented", `{"status":200,"data":{"list":[` + rec("1") + `,` + rec("2") + `]}}`, []string{"1", "2"}, nil},
		{"status as string", `{"status":"200","data":{"list":[` + rec("1") + `]}}`, []string{"1"}, nil},
		{"status absent", `{"data":{"list":[` + rec("1") + `]}}`, []string{"1"}, nil},
		{"status not a code", `{"status":"ok","data":{"list":[` + rec("1") + `]}}`, []string{"1"}, nil},
		{"status after data", `{"data":{"list":[` + rec("1") + `]},"status":200}`, []string{"1"}, nil},
		{"whitespace everywhere", " \n{ \"status\" : 200 ,\t\"data\" : { \"list\" : [ " + rec("1") + " ] } }\r\n", []string{"1"}, nil},
		{"list empty", `{"status":200,"data":{"list":[]}}`, []string{}, nil},
		{"list null", `{"status":200,"data":{"list":null}}`, []string{}, nil},
		{"list missing", `{"status":200,"data":{}}`, []string{}, nil},
		{"data as PHP empty array", `{"status":200,"data":[]}`, []string{}, nil},
		{"data as the list", `{"status":200,"data":[` + rec("1") + `]}`, []string{"1"}, nil},
		{"list as PHP sparse array", `{"status":200,"data":{"list":{"0":` + rec("1") + `,"2":` + rec("3") + `}}}`, []string{"1", "3"}, nil},
		{"non-objects skipped", `{"status":200,"data":{"list":[1,"x",null,` + rec("1") + `,[],true,` + rec("2") + `]}}`, []string{"1", "2"}, nil},
		{"repeated list: last wins", `{"status":200,"data":{"list":[` + rec("1") + `],"list":[` + rec("2") + `]}}`, []string{"2"}, nil},
		{"data missing", `{"status":200}`, nil, errNoData},
		{"data null", `{"status":200,"data":null}`, nil, errNoData},
		{"data a string", `{"status":200,"data":"none"}`, nil, errDataShape},
		{"list a string", `{"status":200,"data":{"list":"none"}}`, nil, errListShape},
		{"list a number", `{"status":200,"data":{"list":0,"other":1}}`, nil, errListShape},
		{"not an object", `[` + rec("1") + `]`, nil, errNotEnvelope},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms, err := decodeMeetings([]byte(tt.body), time.UTC)
			if tt.ids == nil {
				assert.ErrorIs(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.NotNil(t, ms, "an empty list is empty, not nil")
			ids := []string{}
			for _, m := range ms {
				ids = append(ids, m.ID)
			}
			assert.Equal(t, tt.ids, ids)
		})
	}
}

func TestDecodeErrorEnvelopeInSuccess(t *testing.T) {
	tests := []struct {
		body   string
		status int
		desc   string
	}{
		{`{"status": 403, "description": "Niepoprawne dane logowania"}`, 403, "Niepoprawne dane logowania"},
		{`{"status": "403", "description": "Niepoprawne dane logowania"}`, 403, "Niepoprawne dane logowania"},
		{`{"status": 400.0, "description": "Nieprawid\u0142owe parametry"}`, 400, "Nieprawidłowe parametry"},
		{`{"status": 400, "data": "whatever", "description": "x"}`, 400, "x"},
		{`{"status": 500, "message": "fallback"}`, 500, "fallback"},
		{`{"status": 500, "description": {"id": ["required"]}}`, 500, `{"id": ["required"]}`},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			_, err := decodeMeetings([]byte(tt.body), time.UTC)
			var ae *APIError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, tt.status, ae.Status)
			assert.Equal(t, tt.desc, ae.Description)
		})
	}
}

// The scanner must accept exactly what encoding/json accepts.
func TestScannerMatchesJSONValid(t *testing.T) {
	docs := []string{
		`{}`, `[]`, `0`, `-0`, `1.5e+10`, `-1E-2`, `"x"`, `true`, `null`, ` {"a" : [1, {"b": null}] } `,
		`"\u00e9\n\"\\\/"`, "\"\xff\"", `{"a":1,}`, `[1,]`, `{"a"}`, `{"a":}`, `{,}`, `[,1]`, `01`, `1.`, `.5`, `-`, `+1`,
		`1e`, `1e+`, `tru`, `nul`, `truex`, `"abc`, `"\x"`, `"\u12"`, `"\u12G4"`, "\"a\tb\"", "\"a\x00\"", `{"a":1}}`,
		`{"a":1} x`, ``, ` `, `[[[]]]`, `{"a":[}`, `{1:2}`, `[1 2]`, `{"a":1 "b":2}`, `NaN`, `Infinity`, `"\ud800"`,
		strings.Repeat("[", 10001) + strings.Repeat("]", 10001), strings.Repeat("[", 9999) + strings.Repeat("]", 9999),
	}
	for _, d := range docs {
		err := validJSON([]byte(d))
		assert.Equal(t, json.Valid([]byte(d)), err == nil, "%.40q: %v", d, err)
	}
}

func TestUnquoteMatchesEncodingJSON(t *testing.T) {
	for _, lit := range []string{
		`""`, `"plain"`, `"Za\u017c\u00f3\u0142\u0107 g\u0119\u015bl\u0105 ja\u017a\u0144"`, `"\ud83d\ude00"`, `"\ud83d"`, `"\ud83dx"`,
		`"\ude00\ud83d"`, `"\ud83d\u0041"`, `"\ud83d\ud83d\ude00"`, `"\b\f\n\r\t\"\\\/"`, "\"caf\xc3\xa9\"", "\"bad \xff byte\"",
		"\"bad \xc3 trail\"", `"\u0000"`, `"\u2028"`, "\"mixed \xff \\u0041\"",
	} {
		var want string
		require.NoError(t, json.Unmarshal([]byte(lit), &want), lit)
		require.NoError(t, validJSON([]byte(lit)), lit)
		assert.Equal(t, want, unquote([]byte(lit)), lit)
	}
}

func TestResolvePagination(t *testing.T) {
	full := func(page, pages, per, total int64) wirePagination {
		return wirePagination{present: true, page: page, pagesCount: pages, perPage: per, total: total,
			hasPage: true, hasPagesCount: true, hasPerPage: true, hasTotal: true}
	}
	tests := []struct {
		name   string
		w      wirePagination
		page   int
		n      int
		want   Pagination
		reason string // substring; "" for none
	}{
		{"first of three", full(1, 3, 20, 47), 1, 20, Pagination{1, 3, 20, 47}, ""},
		{"last of three", full(3, 3, 20, 47), 3, 7, Pagination{3, 3, 20, 47}, ""},
		{"empty", full(1, 0, 20, 0), 1, 0, Pagination{1, 0, 20, 0}, ""},
		{"empty, one page said", full(1, 1, 20, 0), 1, 0, Pagination{1, 1, 20, 0}, ""},
		{"beyond the last page", full(4, 3, 20, 47), 4, 0, Pagination{4, 3, 20, 47}, ""},
		{"absent on page 1", wirePagination{}, 1, 5, Pagination{1, 1, 5, 5}, ""},
		{"absent on page 1, empty", wirePagination{}, 1, 0, Pagination{1, 0, 0, 0}, ""},
		{"absent on page 2", wirePagination{}, 2, 5, Pagination{}, "no pagination"},
		{"page missing", wirePagination{present: true, pagesCount: 3, perPage: 20, total: 47, hasPagesCount: true, hasPerPage: true, hasTotal: true}, 2, 20, Pagination{2, 3, 20, 47}, ""},
		{"pages_count derived", wirePagination{present: true, page: 1, perPage: 20, total: 47, hasPage: true, hasPerPage: true, hasTotal: true}, 1, 20, Pagination{1, 3, 20, 47}, ""},
		{"pages_count underivable", wirePagination{present: true, page: 1, total: 47, hasPage: true, hasTotal: true}, 1, 20, Pagination{}, "no pages_count"},
		{"per_page derived from a full page", wirePagination{present: true, page: 1, pagesCount: 3, total: 47, hasPage: true, hasPagesCount: true, hasTotal: true}, 1, 20, Pagination{1, 3, 20, 47}, ""},
		{"wrong page", full(1, 3, 20, 47), 2, 20, Pagination{}, "asked for page 2, got page 1"},
		{"negative", full(1, -1, 20, 47), 1, 20, Pagination{}, "negative pages_count"},
		{"huge", full(1, 1<<40, 20, 47), 1, 20, Pagination{}, "out of range"},
		{"more than per_page", full(1, 3, 20, 47), 1, 21, Pagination{}, "more than per_page"},
		{"more than total", full(1, 1, 20, 3), 1, 4, Pagination{}, "more than total"},
		{"records past the last page", full(4, 3, 20, 47), 4, 1, Pagination{}, "pages_count is 3"},
		{"count disagrees with total", full(1, 5, 20, 47), 1, 20, Pagination{}, "does not match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reason := tt.w.resolve(tt.page, tt.n)
			if tt.reason == "" {
				assert.Empty(t, reason)
				assert.Equal(t, tt.want, got)
			} else {
				assert.Contains(t, reason, tt.reason)
			}
		})
	}
}

func TestPaginationFieldsAreTolerant(t *testing.T) {
	body := `{"status":"200","data":{"list":[{"id":"1"}],"pagination":{"page":"2","pages_count":" 2 ","per_page":1.0,"total":"2"}}}`
	p, reason, err := decodeThreads([]byte(body), time.UTC, 2)
	require.NoError(t, err)
	assert.Empty(t, reason)
	assert.Equal(t, Pagination{Page: 2, PagesCount: 2, PerPage: 1, Total: 2}, p.Pagination)
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2024, 3, 1, 10, 0, 0, 300e6, time.UTC)
	for v, want := range map[string]time.Duration{
		"":                              0,
		"120":                           2 * time.Minute,
		" 5 ":                           5 * time.Second,
		"0":                             0,
		"-3":                            0,
		"soon":                          0,
		"Fri, 01 Mar 2024 10:01:00 GMT": 60 * time.Second, // 59.7s, rounded up to the date's precision
		"Fri, 01 Mar 2024 09:00:00 GMT": 0,
		"99999999999999":                365 * 24 * time.Hour,
	} {
		assert.Equal(t, want, retryAfter(v, now), "%q", v)
	}
}

func TestSafeText(t *testing.T) {
	assert.Equal(t, "a b c", safeText("a\n\tb\x00\u202ec\xff", nil, 100))
	assert.Equal(t, "token [REDACTED] echoed", safeText("token s3cr3t-value echoed", []string{"s3cr3t-value"}, 100))
	assert.Equal(t, "joined [REDACTED]", safeText("joined s3cr3t\nvalue", []string{"s3cr3t value"}, 100))
	assert.Equal(t, "x 7 y", safeText("x 7 y", []string{"7"}, 100), "values too short to be secrets are left alone")
	cut := safeText(strings.Repeat("ż", 100), nil, 120)
	assert.LessOrEqual(t, len(cut), 120)
	assert.True(t, strings.HasSuffix(cut, "…"))

	// A secret straddling the excerpt's window is removed whole.
	// Leading spaces collapse, so the window's end reaches the output.
	body := []byte(strings.Repeat(" ", 4*excerptBytes-3) + "TOPSECRET" + strings.Repeat("b", 10))
	ex := excerpt(body, []string{"TOPSECRET"})
	assert.Equal(t, "[REDACTED]", ex)
	assert.LessOrEqual(t, len(ex), excerptBytes)
}

func TestErrorsUnwrapAsDocumented(t *testing.T) {
	te := &TransportError{Path: "/p", Err: &timeoutError{after: time.Second}}
	assert.ErrorIs(t, te, ErrTimeout)
	assert.ErrorIs(t, te, context.DeadlineExceeded)
	assert.Equal(t, "restclient: /p: no answer from upstream: timed out after 1s", te.Error())
	assert.ErrorIs(t, &ArgumentError{Endpoint: EndpointUserThreads, Name: "page", Value: 0}, ErrInvalidArgument)
	assert.False(t, errors.Is(&TransportError{Err: errors.New("x")}, ErrTimeout))
}
