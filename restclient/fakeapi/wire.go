package fakeapi

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// The wire JSON is written by hand, key by key in the documentation's order,
// rather than with struct tags: a tag shared with the client, or copied from
// it, would let a misspelt key pass both sides' tests.

// appendString appends s as a JSON string. Unlike encoding/json it leaves
// <, > and & alone, as the PHP-style APIs this fakes do.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == '\u2028' || r == '\u2029' {
				b = append(b, `\u202`...)
				b = append(b, hex[r&0xf])
			} else {
				b = append(b, s[i:i+size]...)
			}
			i += size
			continue
		}
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, `\n`...)
		case c == '\r':
			b = append(b, `\r`...)
		case c == '\t':
			b = append(b, `\t`...)
		case c < 0x20:
			b = append(b, `\u00`...)
			b = append(b, hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
		i++
	}
	return append(b, '"')
}

func appendKeyString(b []byte, key, v string) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	return appendString(b, v)
}

func appendKeyInt(b []byte, key string, v int64) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	return strconv.AppendInt(b, v, 10)
}

func appendMeeting(b []byte, m *Meeting, companyKey string) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, m.ID, 10)
	b = appendKeyString(b, "hash", m.Hash)
	b = appendKeyInt(b, "id_user", m.UserID)
	b = appendKeyString(b, "id_person", m.PersonID)
	b = appendKeyString(b, companyKey, m.CompanyID)
	b = appendKeyString(b, "id_thread", m.ThreadID)
	b = appendKeyString(b, "status", m.Status)
	b = appendKeyString(b, "start_date", m.StartDate)
	b = appendKeyString(b, "end_date", m.EndDate)
	b = appendKeyString(b, "address", m.Address)
	b = appendKeyInt(b, "visits", m.Visits)
	b = appendKeyInt(b, "visits_owner", m.VisitsOwner)
	b = appendKeyInt(b, "visits_copy", m.VisitsCopy)
	b = appendKeyString(b, "gps_lat", m.GPSLat)
	b = appendKeyString(b, "gps_lng", m.GPSLng)
	b = appendKeyString(b, "type", m.Type)
	b = appendKeyString(b, "created_at", m.CreatedAt)
	b = appendKeyString(b, "modified_at", m.ModifiedAt)
	return append(b, '}')
}

func appendThread(b []byte, t *Thread) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, t.ID)
	b = appendKeyString(b, "number", t.Number)
	b = appendKeyString(b, "name", t.Name)
	b = appendKeyInt(b, "id_user", t.UserID)
	b = appendKeyString(b, "id_company", t.CompanyID)
	b = appendKeyString(b, "id_person", t.PersonID)
	b = appendKeyString(b, "status", t.Status)
	b = appendKeyString(b, "description", t.Description)
	b = appendKeyString(b, "end_date", t.EndDate)
	b = append(b, `,"contract_value":`...)
	b = strconv.AppendFloat(b, t.ContractValue, 'f', -1, 64)
	b = append(b, `,"fields":`...)
	if len(t.Fields) == 0 {
		b = append(b, "[]"...)
	} else {
		b = append(b, t.Fields...)
	}
	b = appendKeyString(b, "created_at", t.CreatedAt)
	b = appendKeyString(b, "modified_at", t.ModifiedAt)
	return append(b, '}')
}

// wholeBody renders the answer of a list answered whole, from its
// rendered records.
func wholeBody(records [][]byte) []byte {
	size := 64
	for _, r := range records {
		size += len(r) + 1
	}
	b := append(make([]byte, 0, size), `{"status":200,"data":{"list":[`...)
	for i, r := range records {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, r...)
	}
	return append(b, "]}}"...)
}

// pagedBody renders one page of a paginated list from pre-rendered
// records.
func pagedBody(records [][]byte, page int64, perPage int) []byte {
	total := len(records)
	pages := (total + perPage - 1) / perPage
	var list [][]byte
	if page <= int64(pages) {
		lo := int(page-1) * perPage
		list = records[lo:min(lo+perPage, total)]
	}
	size := 128
	for _, r := range list {
		size += len(r) + 1
	}
	b := append(make([]byte, 0, size), `{"status":200,"data":{"list":[`...)
	for i, r := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, r...)
	}
	b = append(b, `],"pagination":{"page":`...)
	b = strconv.AppendInt(b, page, 10)
	b = appendKeyInt(b, "pages_count", int64(pages))
	b = appendKeyInt(b, "per_page", int64(perPage))
	b = appendKeyInt(b, "total", int64(total))
	return append(b, "}}}"...)
}

// descriptions are the error descriptions, in the API's language. The two
// documented ones are verbatim; the rest are what a Polish API would say.
var descriptions = map[int]string{
	400: "Nieprawidłowe parametry",
	403: "Niepoprawne dane logowania",
	404: "Nie znaleziono",
	405: "Niedozwolona metoda",
	429: "Zbyt wiele zapytań",
	500: "Błąd serwera",
	502: "Błąd bramy",
	503: "Usługa chwilowo niedostępna",
	504: "Przekroczono czas oczekiwania",
}

// errorBody renders the documented error envelope.
func errorBody(status int) []byte {
	d, ok := descriptions[status]
	if !ok {
		d = "Błąd"
	}
	b := append(make([]byte, 0, 64), `{"status":`...)
	b = strconv.AppendInt(b, int64(status), 10)
	return append(appendKeyString(b, "description", d), '}')
}

// quoteNumbers rewrites a JSON document with every number turned into a
// string holding the same digits, as loosely typed APIs often send them. It
// walks tokens rather than patching bytes so that digits inside strings are
// left alone.
func quoteNumbers(doc []byte) []byte {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	type frame struct {
		object bool
		n      int // values (and keys) written so far
	}
	var stack []frame
	out := make([]byte, 0, len(doc)+len(doc)/8)
	for {
		tok, err := dec.Token()
		if err != nil { // io.EOF: the documents quoted here are our own
			return out
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			out = append(out, byte(d))
			continue
		}
		if len(stack) > 0 {
			f := &stack[len(stack)-1]
			switch {
			case f.object && f.n%2 == 1:
				out = append(out, ':')
			case f.n > 0:
				out = append(out, ',')
			}
			f.n++
		}
		switch v := tok.(type) {
		case json.Delim:
			out = append(out, byte(v))
			stack = append(stack, frame{object: v == '{'})
		case json.Number:
			out = appendString(out, string(v))
		case string:
			out = appendString(out, v)
		case bool:
			out = strconv.AppendBool(out, v)
		case nil:
			out = append(out, "null"...)
		}
	}
}
