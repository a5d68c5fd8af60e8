package respcache

import (
	"encoding/binary"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// An Entry is one upstream answer as it was received: nothing of the
// request (no credential) is in it.
type Entry struct {
	Status int
	// Header holds only the headers the cache keeps (Options.KeepHeaders).
	Header http.Header
	Body   []byte
	// StoredAt is when the answer was stored, by the storing replica's
	// clock.
	StoredAt time.Time
	// FreshFor is how long after StoredAt the entry is served as fresh.
	FreshFor time.Duration
	// StaleFor is how long after that it may still be served when the
	// upstream fails.
	StaleFor time.Duration

	// gen is the generation of the entry's credential when the request
	// was looked up, before it was sent: the entry is served only while
	// the credential is still at that generation (generation.go).
	gen generation
}

// Age is how old the entry is at now, never negative (replicas' clocks may
// differ a little).
func (e *Entry) Age(now time.Time) time.Duration {
	return max(now.Sub(e.StoredAt), 0)
}

func (e *Entry) fresh(now time.Time) bool { return e.Age(now) < e.FreshFor }

func (e *Entry) expired(now time.Time) bool { return e.Age(now) >= e.FreshFor+e.StaleFor }

// size estimates the bytes an entry holds in process: the body, the
// headers, and a fixed allowance for the structures around them, so that
// many tiny entries cannot exceed the budget either.
func (e *Entry) size() int64 {
	n := int64(len(e.Body)) + entryOverhead
	for name, values := range e.Header {
		n += int64(len(name))
		for _, v := range values {
			n += int64(len(v)) + 16
		}
	}
	return n
}

const entryOverhead = 256

// policy is what an answer's Cache-Control lets the cache do with it.
type policy struct {
	store    bool
	freshFor time.Duration
	staleFor time.Duration
	// forbiddenBy names what in the answer kept it out: "no-store",
	// "no-cache", "Vary: *" or "max-age=0" (no freshness and no stale
	// window left); "" when it was stored or its status kept it out.
	forbiddenBy string
}

// cachePolicy applies the answer's status, Cache-Control and Vary to the
// configured TTL, stale window and cap, by the rules listed on
// [Cache.Store]. An answer neither fresh nor servable stale is not stored.
// With ignoreNoStore, an answer marked no-store or no-cache is kept as if
// it had no Cache-Control at all.
func cachePolicy(status int, h http.Header, ttl, staleWindow, maxTTL time.Duration, ignoreNoStore bool) policy {
	if status < 200 || status > 299 || status == http.StatusPartialContent {
		return policy{}
	}
	for _, v := range h.Values("Vary") {
		if strings.TrimSpace(v) == "*" {
			return policy{forbiddenBy: "Vary: *"}
		}
	}
	p := policy{store: true, freshFor: ttl, staleFor: staleWindow}
	var maxAge, sMaxAge string
	var hasMaxAge, hasSMaxAge bool
	for _, line := range h.Values("Cache-Control") {
		for _, d := range strings.Split(line, ",") {
			name, value, _ := strings.Cut(strings.TrimSpace(d), "=")
			value = strings.Trim(strings.TrimSpace(value), `"`)
			switch name = strings.ToLower(strings.TrimSpace(name)); name {
			case "no-store", "no-cache":
				if ignoreNoStore {
					return policy{store: true, freshFor: ttl, staleFor: staleWindow}
				}
				return policy{forbiddenBy: name}
			case "must-revalidate", "proxy-revalidate":
				p.staleFor = 0
			case "max-age":
				maxAge, hasMaxAge = value, true
			case "s-maxage":
				sMaxAge, hasSMaxAge = value, true
			}
		}
	}
	switch {
	case hasSMaxAge:
		p.freshFor = min(seconds(sMaxAge), maxTTL)
	case hasMaxAge:
		p.freshFor = min(seconds(maxAge), maxTTL)
	}
	if p.freshFor+p.staleFor <= 0 {
		return policy{forbiddenBy: "max-age=0"}
	}
	return p
}

// seconds parses a delta-seconds value; anything invalid is 0.
func seconds(v string) time.Duration {
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil {
		return 0
	}
	return time.Duration(n) * time.Second
}

// The value stored in Redis: a version byte, StoredAt (Unix nanoseconds),
// FreshFor and StaleFor (nanoseconds), the status, the credential's
// generation (16 bytes), the kept headers as length-prefixed name/value
// pairs, then the body to the end. Binary, not JSON, so that a body costs
// its own size and no more. Version 1 had no generation: such an entry,
// from a replica not yet upgraded, decodes with none, so it is never
// served.
const encodingVersion = 2

var errCorrupt = errors.New("respcache: corrupt entry")

func encode(e *Entry) []byte {
	n := 1 + 3*8 + 2 + len(e.gen) + binary.MaxVarintLen32 + len(e.Body)
	for name, values := range e.Header {
		n += len(values) * (len(name) + 2*binary.MaxVarintLen32)
		for _, v := range values {
			n += len(v)
		}
	}
	b := make([]byte, 0, n)
	b = append(b, encodingVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(e.StoredAt.UnixNano()))
	b = binary.BigEndian.AppendUint64(b, uint64(e.FreshFor))
	b = binary.BigEndian.AppendUint64(b, uint64(e.StaleFor))
	b = binary.BigEndian.AppendUint16(b, uint16(e.Status))
	b = append(b, e.gen[:]...)
	pairs := 0
	for _, values := range e.Header {
		pairs += len(values)
	}
	b = binary.AppendUvarint(b, uint64(pairs))
	for name, values := range e.Header {
		for _, v := range values {
			b = appendString(b, name)
			b = appendString(b, v)
		}
	}
	return append(b, e.Body...)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func decode(b []byte) (Entry, error) {
	fixed := 1 + 3*8 + 2
	switch {
	case len(b) > 0 && b[0] == encodingVersion:
		fixed += len(generation{})
	case len(b) > 0 && b[0] == 1:
	default:
		return Entry{}, errCorrupt
	}
	if len(b) < fixed {
		return Entry{}, errCorrupt
	}
	e := Entry{
		StoredAt: time.Unix(0, int64(binary.BigEndian.Uint64(b[1:]))),
		FreshFor: time.Duration(binary.BigEndian.Uint64(b[9:])),
		StaleFor: time.Duration(binary.BigEndian.Uint64(b[17:])),
		Status:   int(binary.BigEndian.Uint16(b[25:])),
	}
	copy(e.gen[:], b[27:fixed]) // nothing for version 1
	if e.FreshFor < 0 || e.StaleFor < 0 {
		return Entry{}, errCorrupt
	}
	b = b[fixed:]
	pairs, n := binary.Uvarint(b)
	if n <= 0 || pairs > uint64(len(b)) { // each pair takes two bytes at least
		return Entry{}, errCorrupt
	}
	b = b[n:]
	if pairs > 0 {
		e.Header = make(http.Header, pairs)
	}
	for range pairs {
		var name, value string
		var ok bool
		if name, b, ok = readString(b); !ok {
			return Entry{}, errCorrupt
		}
		if value, b, ok = readString(b); !ok {
			return Entry{}, errCorrupt
		}
		e.Header[name] = append(e.Header[name], value)
	}
	e.Body = b
	return e, nil
}

func readString(b []byte) (string, []byte, bool) {
	l, n := binary.Uvarint(b)
	if n <= 0 || l > uint64(len(b)-n) {
		return "", nil, false
	}
	return string(b[n : n+int(l)]), b[n+int(l):], true
}
