package restclient

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// The documentation's own examples (seed/000_be3a558a39f93360.txt), which
// quote every type, and its error bodies.
const (
	docMeetings = `{
"status": 200,
"data": {
"list": [
{
"id": "integer",
"hash": "string",
"id_user": "integer",
"id_person": "string",
"id_comapny": "string",
"id_thread": "string",
"status": "string",
"start_date": "string",
"end_date": "string",
"address": "string",
"visits": "integer",
"visits_owner": "integer",
"visits_copy": "integer",
"gps_lat": "string",
"gps_lng": "string",
"type": "string",
"created_at": "string",
"modified_at": "string"
}
]
}
}`
	docThreads = `{
"status": 200,
"data": {
"list": [
{
"id": "string",
"number": "string",
"name": "string",
"id_user": "integer",
"id_company": "string",
"id_person": "string",
"status": "string",
"description": "string",
"end_date": "string",
"contract_value": "number",
"fields": "array",
"created_at": "string",
"modified_at": "string"
}
],
"pagination": {
"page": "integer",
"pages_count": "integer",
"per_page": "integer",
"total": "integer"
}
}
}`
	docBadRequest = `{
"status": 400,
"description": "Nieprawidłowe parametry"
}`
	docForbidden = `{
"status": 403,
"description": "Niepoprawne dane logowania"
}`
)

// seeds are bodies both fuzz targets start from: the documentation's, the
// realistic ones the benchmarks decode, and the quirks the tests name.
var seeds = []string{
	docMeetings, docThreads, docBadRequest, docForbidden,
	string(meetingsBody(3)), string(threadsBody(3, 1, 1, 3)), string(threadsBody(2, 2, 3, 6)),
	`{"status":"200","data":{"list":[{"id":1234.0,"id_user":" 12 ","gps_lat":"52,2297","gps_lng":21.0122,"start_date":"2024-03-01T10:00:00+0100"}]}}`,
	`{"status":200,"data":{"list":{"0":{"id":1},"2":{"id":"3","id_company":7}}}}`,
	`{"status":200,"data":{"list":[1,"x",null,{"id":"\ud83d\ude00"},[]],"pagination":{"page":"1","pages_count":1,"per_page":20,"total":"1"}}}`,
	`{"status":200,"data":[]}`, `{"status":200,"data":null}`, `{"status":"403","description":"x"}`,
	`{"status":200,"data":{"list":[{"contract_value":"1e400","fields":{"a":[1,{"b":null}]},"end_date":"0000-00-00 00:00:00"}]}}`,
	`<!DOCTYPE html><html></html>`, `{"status": 200, "data": {"list": [{"id": 1`, ``,
}

func FuzzDecodeMeetings(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ms, err := decodeMeetings(body, time.UTC)
		checkSyntaxAgreement(t, body, err)
		if err != nil {
			checkErrorEnvelope(t, err)
			return
		}
		if ms == nil {
			t.Fatal("nil slice on success")
		}
		for i := range ms {
			m := &ms[i]
			checkText(t, m.ID, m.Hash, m.PersonID, m.CompanyID, m.ThreadID, m.Status, m.Address, m.Type)
			checkTrimmed(t, m.ID, m.PersonID, m.CompanyID, m.ThreadID, m.Status, m.Type)
			checkRefs(t, m.PersonID, m.CompanyID, m.ThreadID)
			checkDates(t, m.StartDate, m.EndDate, m.CreatedAt, m.ModifiedAt)
			if l := m.Location; l != nil {
				if !(l.Latitude >= -90 && l.Latitude <= 90 && l.Longitude >= -180 && l.Longitude <= 180) || l.Latitude == 0 && l.Longitude == 0 {
					t.Fatalf("location out of range: %+v", *l)
				}
			}
		}
		// Strings decode as encoding/json decodes them.
		if recs, ok := stdlibRecords(body); ok {
			if len(recs) != len(ms) {
				t.Fatalf("%d records, encoding/json sees %d", len(ms), len(recs))
			}
			for i, rec := range recs {
				checkSameString(t, rec, "hash", ms[i].Hash)
				checkSameString(t, rec, "address", ms[i].Address)
			}
		}
	})
}

func FuzzDecodeThreads(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s), 1)
	}
	f.Add([]byte(threadsBody(2, 2, 3, 6)), 2)
	f.Fuzz(func(t *testing.T, body []byte, page int) {
		if page < 1 || page > 1000 {
			page = 1
		}
		p, reason, err := decodeThreads(body, time.UTC, page)
		checkSyntaxAgreement(t, body, err)
		if err != nil {
			checkErrorEnvelope(t, err)
			return
		}
		if p == nil || p.List == nil {
			t.Fatal("nil page or slice on success")
		}
		if reason == "" {
			pg := p.Pagination
			if pg.Page != page || pg.PagesCount < 0 || pg.PerPage < 0 || pg.Total < 0 {
				t.Fatalf("pagination accepted for page %d: %+v", page, pg)
			}
			if len(p.List) > 0 && page > pg.PagesCount {
				t.Fatalf("records on page %d of %d", page, pg.PagesCount)
			}
		}
		for i := range p.List {
			th := &p.List[i]
			checkText(t, th.ID, th.Number, th.Name, th.CompanyID, th.PersonID, th.Status, th.Description)
			checkTrimmed(t, th.ID, th.Number, th.CompanyID, th.PersonID, th.Status)
			checkRefs(t, th.CompanyID, th.PersonID)
			checkDates(t, th.EndDate, th.CreatedAt, th.ModifiedAt)
			if v := th.ContractValue; v != nil && (math.IsNaN(*v) || math.IsInf(*v, 0)) {
				t.Fatalf("contract value %v", *v)
			}
			if th.Fields != nil && !json.Valid(th.Fields) {
				t.Fatalf("fields not JSON: %q", th.Fields)
			}
		}
		if recs, ok := stdlibRecords(body); ok {
			if len(recs) != len(p.List) {
				t.Fatalf("%d records, encoding/json sees %d", len(p.List), len(recs))
			}
			for i, rec := range recs {
				checkSameString(t, rec, "name", p.List[i].Name)
				checkSameString(t, rec, "description", p.List[i].Description)
			}
		}
	})
}

// checkSyntaxAgreement holds the scanner to json.Valid: a body fails as
// malformed exactly when encoding/json would reject it.
func checkSyntaxAgreement(t *testing.T, body []byte, err error) {
	t.Helper()
	var se *syntaxError
	if isSyntax := errors.As(err, &se); isSyntax == json.Valid(body) {
		t.Fatalf("syntax error %v, json.Valid %v", err, json.Valid(body))
	}
}

func checkErrorEnvelope(t *testing.T, err error) {
	t.Helper()
	var ae *APIError
	if errors.As(err, &ae) && (ae.Status < 100 || ae.Status > 599 || is2xx(ae.Status)) {
		t.Fatalf("error envelope with status %d", ae.Status)
	}
}

func checkText(t *testing.T, ss ...string) {
	t.Helper()
	for _, s := range ss {
		if !utf8.ValidString(s) {
			t.Fatalf("invalid UTF-8: %q", s)
		}
	}
}

func checkTrimmed(t *testing.T, ss ...string) {
	t.Helper()
	for _, s := range ss {
		if strings.TrimSpace(s) != s {
			t.Fatalf("untrimmed: %q", s)
		}
	}
}

func checkRefs(t *testing.T, ss ...string) {
	t.Helper()
	for _, s := range ss {
		if s == "0" {
			t.Fatal(`reference "0" kept`)
		}
	}
}

func checkDates(t *testing.T, ts ...time.Time) {
	t.Helper()
	for _, d := range ts {
		if !d.IsZero() && d.Year() < 1 {
			t.Fatalf("date %v", d)
		}
	}
}

// stdlibRecords is encoding/json's reading of the documented shape
// {"data": {"list": [objects...]}}, non-objects dropped; ok is false for
// other shapes, which the comparison leaves to the tests.
func stdlibRecords(body []byte) ([]map[string]json.RawMessage, bool) {
	var env map[string]json.RawMessage
	if json.Unmarshal(body, &env) != nil {
		return nil, false
	}
	var data map[string]json.RawMessage
	if json.Unmarshal(env["data"], &data) != nil {
		return nil, false
	}
	var list []json.RawMessage
	if json.Unmarshal(data["list"], &list) != nil || list == nil {
		return nil, false
	}
	var out []map[string]json.RawMessage
	for _, raw := range list {
		var rec map[string]json.RawMessage
		if json.Unmarshal(raw, &rec) == nil && rec != nil {
			out = append(out, rec)
		}
	}
	return out, true
}

func checkSameString(t *testing.T, rec map[string]json.RawMessage, key, got string) {
	t.Helper()
	var want string
	if raw, ok := rec[key]; ok && json.Unmarshal(raw, &want) == nil && raw[0] == '"' && want != got {
		t.Fatalf("%s: got %q, encoding/json reads %q", key, got, want)
	}
}
