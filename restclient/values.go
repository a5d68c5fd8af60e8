package restclient

import (
	"bytes"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// This file reads the values of records' fields, tolerantly as decode.go
// says, and names the ones that cannot be read (FieldProblem).

// The field conversions below take one validated JSON value (never empty)
// and never fail: an unusable value gives the zero value.

// The conversions of text are methods of the scanner: text that needs no
// unescaping is a substring of the document's one copy (sub).

// text reads a string field; a number keeps its literal text.
func (s *scanner) text(v []byte) string {
	switch v[0] {
	case '"':
		if b := v[1 : len(v)-1]; bytes.IndexByte(b, '\\') < 0 && utf8.Valid(b) {
			return s.sub(b)
		}
		return unquote(v)
	case 'n', 't', 'f', '{', '[':
		return ""
	}
	return s.sub(v)
}

// trimmedText reads an enumeration-like field (status, type).
func (s *scanner) trimmedText(v []byte) string {
	if v[0] != '"' {
		return s.text(v)
	}
	b := stringContent(v)
	for _, known := range knownValues {
		if string(b) == known {
			return known
		}
	}
	return s.sub(b)
}

// idText is idText, as substrings where it can.
func (s *scanner) idText(v []byte) string {
	switch {
	case v[0] == '"':
		return s.sub(stringContent(v))
	case isIntLiteral(v):
		return s.sub(v)
	}
	return idText(v)
}

// refID reads an id that refers to another record. MySQL-backed APIs write
// "no reference" as 0 as often as null or "", and a facade that looked up
// thread 0 would page through every thread for nothing.
func (s *scanner) refID(v []byte) string {
	if id := s.idText(v); id != "0" {
		return id
	}
	return ""
}

// knownValues are likely values of the enumerated fields, handed out
// without allocating a copy each; any other value is copied as usual.
var knownValues = [...]string{
	"finished", "saved", "interrupted", "anonymous", "standard",
	"open", "in_progress", "won", "lost", "suspended",
}

// idText reads an id. The API sends some ids as numbers and documents them
// as strings, so a number is kept as canonical decimal text (1234.0 and
// 1.234e3 are "1234") and a string is trimmed.
func idText(v []byte) string {
	switch v[0] {
	case '"':
		return string(stringContent(v))
	case 'n', 't', 'f', '{', '[':
		return ""
	}
	if isIntLiteral(v) {
		return string(v)
	}
	if f, err := strconv.ParseFloat(string(v), 64); err == nil && f == math.Trunc(f) && math.Abs(f) <= 1<<53 {
		return strconv.FormatInt(int64(f), 10)
	}
	return string(v)
}

func isIntLiteral(v []byte) bool {
	if len(v) > 0 && v[0] == '-' {
		v = v[1:]
	}
	if len(v) == 0 {
		return false
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// stringContent returns the trimmed text of a JSON string, without
// copying when it needs no decoding.
func stringContent(v []byte) []byte {
	b := v[1 : len(v)-1]
	if bytes.IndexByte(b, '\\') >= 0 || !utf8.Valid(b) {
		b = []byte(unquoteBody(b))
	}
	return bytes.TrimSpace(b)
}

// intValue reads an integer from a number or a numeric string ("12",
// " 12 ", 12.0); ok is false for anything else, including fractions.
func intValue(v []byte) (n int64, ok bool) {
	switch v[0] {
	case '"':
		return parseInt(stringContent(v))
	case 'n', 't', 'f', '{', '[':
		return 0, false
	}
	return parseInt(v)
}

func parseInt(b []byte) (int64, bool) {
	i, neg := 0, false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg, i = b[0] == '-', 1
	}
	if i == len(b) || len(b)-i > 18 {
		return parseIntSlow(b)
	}
	var n int64
	for ; i < len(b); i++ {
		c := b[i]
		if c < '0' || c > '9' {
			return parseIntSlow(b)
		}
		n = n*10 + int64(c-'0') // 18 digits cannot overflow
	}
	if neg {
		n = -n
	}
	return n, true
}

// parseIntSlow handles what the fast path does not: long digit runs,
// fractions and exponents of integral values.
func parseIntSlow(b []byte) (int64, bool) {
	if n, err := strconv.ParseInt(string(b), 10, 64); err == nil {
		return n, true
	}
	f, ok := parseFloat(b)
	if !ok || f != math.Trunc(f) || f < math.MinInt64 || f >= math.MaxInt64 {
		return 0, false
	}
	return int64(f), true
}

// floatValue reads a finite number from a number or a numeric string.
func floatValue(v []byte) (float64, bool) {
	switch v[0] {
	case '"':
		return parseFloat(stringContent(v))
	case 'n', 't', 'f', '{', '[':
		return 0, false
	}
	return parseFloat(v)
}

// parseFloat accepts plain decimal text only (strconv alone would also take
// "0x1p4", "Inf" and "1_0"). A single comma with no dot is read as the
// decimal separator, as Polish locales write it ("52,2297").
func parseFloat(b []byte) (float64, bool) {
	var buf [64]byte
	if len(b) == 0 || len(b) > len(buf) {
		return 0, false
	}
	if i := bytes.IndexByte(b, ','); i >= 0 && bytes.IndexByte(b, '.') < 0 && bytes.IndexByte(b[i+1:], ',') < 0 {
		b = append(buf[:0], b...)
		b[i] = '.'
	}
	if !isDecimal(b) {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// isDecimal matches [+-]? (d+ (.d*)? | .d+) ([eE][+-]?d+)?.
func isDecimal(b []byte) bool {
	i := 0
	if i < len(b) && (b[i] == '+' || b[i] == '-') {
		i++
	}
	intDigits := 0
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
		intDigits++
	}
	fracDigits := 0
	if i < len(b) && b[i] == '.' {
		i++
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
			fracDigits++
		}
	}
	if intDigits+fracDigits == 0 {
		return false
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		expDigits := 0
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
			expDigits++
		}
		if expDigits == 0 {
			return false
		}
	}
	return i == len(b)
}

// Date layouts tried after the fast path, naive ones read in the configured
// location. PHP's DATE_ISO8601 writes the offset without a colon.
var (
	zonedLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02 15:04:05Z07:00", "2006-01-02 15:04:05Z0700"}
	naiveLayouts = []string{"2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02"}
)

// timeValue reads a date: "YYYY-MM-DD HH:MM:SS", "YYYY-MM-DD" or RFC 3339.
// null, "", MySQL's zero date and year 0 are absent: the zero time, ok.
// Anything else that is not such a date is the zero time, not ok.
func timeValue(v []byte, loc *time.Location) (time.Time, bool) {
	if v[0] != '"' {
		return time.Time{}, v[0] == 'n'
	}
	b := stringContent(v)
	if len(b) == 0 || bytes.HasPrefix(b, []byte("0000-00-00")) {
		return time.Time{}, true
	}
	t, ok := fastTime(b, loc)
	if !ok {
		if t, ok = slowTime(string(b), loc); !ok {
			return time.Time{}, false
		}
	}
	if t.Year() < 1 { // year 0 is another spelling of "no date"
		return time.Time{}, true
	}
	return t, true
}

func slowTime(s string, loc *time.Location) (time.Time, bool) {
	for _, layout := range zonedLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	for _, layout := range naiveLayouts {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// absent reports a value that stands for no value: null, or a string of
// nothing but spaces. Only conversions that failed ask, so the common path
// never pays for it.
func absent(v []byte) bool {
	return v[0] == 'n' || v[0] == '"' && len(stringContent(v)) == 0
}

// Reasons of FieldProblems: short, fixed, safe to show to anyone.
const (
	notAnID      = "not an id"
	notAnInteger = "not an integer"
	notANumber   = "not a number"
	notADate     = "not a date"
)

// FieldProblem is a value the upstream sent for a record's field that could
// not be read as the field's type: "x" for an integer, "yesterday" for a
// date. The field is left at its zero value, which is not data: a caller
// serving the field should report the problem instead.
type FieldProblem struct {
	Field  string // the key on the wire, e.g. "visits" or "start_date"
	Reason string // why, in a few words that never quote the value
}

// problems collects a record's FieldProblems while it is decoded; it costs
// nothing until there is one.
type problems []FieldProblem

// note records field's problem, or, with reason "", that field's value
// is fine: a repeated key replaces the earlier value, problem and all.
func (p *problems) note(field, reason string) {
	if len(*p) > 0 {
		*p = slices.DeleteFunc(*p, func(q FieldProblem) bool { return q.Field == field })
	}
	switch {
	case reason != "":
		*p = append(*p, FieldProblem{field, reason})
	case len(*p) == 0:
		*p = nil // none, as for a record that never had one
	}
}

// readInt reads an integer field, noting a value that is not one; absent
// and unreadable values are 0.
func (p *problems) readInt(field string, v []byte) int64 { return p.readCount(field, v).N }

// readCount reads a count: null, "" and a missing key are no count, which
// is not zero, and a value that is not an integer is no count either.
func (p *problems) readCount(field string, v []byte) Count {
	n, ok := intValue(v)
	if !ok && !absent(v) {
		p.note(field, notAnInteger)
	} else if len(*p) > 0 {
		p.note(field, "")
	}
	return Count{N: n, Valid: ok}
}

// readID reads a record's own id, "" when there is none. A value that is
// no id at all (a boolean, an object, an array) is noted; an absent one is
// not, as elsewhere: either way the record identifies nothing, and the
// caller tells the two apart by the problem.
func (p *problems) readID(s *scanner, field string, v []byte) string {
	id := s.idText(v)
	if id == "" && !absent(v) {
		p.note(field, notAnID)
	} else if len(*p) > 0 {
		p.note(field, "")
	}
	return id
}

// readTime reads a date field, noting a value that is not one.
func (p *problems) readTime(field string, v []byte, loc *time.Location) time.Time {
	t, ok := timeValue(v, loc)
	if !ok {
		p.note(field, notADate)
	} else if len(*p) > 0 {
		p.note(field, "")
	}
	return t
}

// FieldError is a FieldProblem of one record as an error, for a caller to
// report where it serves the field: this package never returns one.
type FieldError struct {
	Endpoint string // endpoint template the record came from
	Field    string // the key on the wire
	Reason   string
}

// Error names the endpoint and the field, never the value.
func (e *FieldError) Error() string {
	return "restclient: " + e.Endpoint + ": unreadable value of " + e.Field + ": " + e.Reason
}

// fastTime reads the API's usual "YYYY-MM-DD HH:MM:SS" and "YYYY-MM-DD"
// without time.Parse's generality; anything else goes the slow way.
func fastTime(b []byte, loc *time.Location) (time.Time, bool) {
	switch len(b) {
	case 10:
	case 19:
		if b[10] != ' ' && b[10] != 'T' || b[13] != ':' || b[16] != ':' {
			return time.Time{}, false
		}
	default:
		return time.Time{}, false
	}
	if b[4] != '-' || b[7] != '-' {
		return time.Time{}, false
	}
	year, ok1 := digitsAt(b, 0, 4)
	month, ok2 := digitsAt(b, 5, 2)
	day, ok3 := digitsAt(b, 8, 2)
	if !ok1 || !ok2 || !ok3 || month < 1 || month > 12 || day < 1 || day > daysIn(month, year) {
		return time.Time{}, false
	}
	var hour, minute, second int
	if len(b) == 19 {
		var ok4, ok5, ok6 bool
		hour, ok4 = digitsAt(b, 11, 2)
		minute, ok5 = digitsAt(b, 14, 2)
		second, ok6 = digitsAt(b, 17, 2)
		if !ok4 || !ok5 || !ok6 || hour > 23 || minute > 59 || second > 59 {
			return time.Time{}, false
		}
	}
	return time.Date(year, time.Month(month), day, hour, minute, second, 0, loc), true
}

func digitsAt(b []byte, at, n int) (int, bool) {
	v := 0
	for _, c := range b[at : at+n] {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// geoPoint reads gps_lat/gps_lng. Either missing, unreadable or out of
// range means no location; so does 0,0, the placeholder devices without a
// fix write (no sales meeting happens in the Gulf of Guinea).
func geoPoint(lat, lng []byte) *GeoPoint {
	if lat == nil || lng == nil {
		return nil
	}
	la, ok1 := floatValue(lat)
	lo, ok2 := floatValue(lng)
	if !ok1 || !ok2 || la < -90 || la > 90 || lo < -180 || lo > 180 || la == 0 && lo == 0 {
		return nil
	}
	return &GeoPoint{Latitude: la, Longitude: lo}
}

// rawJSON keeps a value as JSON, copied out of the response buffer.
func rawJSON(v []byte) []byte {
	if v[0] == 'n' {
		return nil
	}
	return bytes.Clone(v)
}

// firstNonEmpty picks between the documented and the corrected spelling of
// the company key.
func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
