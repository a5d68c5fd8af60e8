package respcache

import (
	"bytes"
	"net/http"
	"testing"
	"time"
)

func TestCachePolicy(t *testing.T) {
	const ttl, stale, maxTTL = 30 * time.Second, time.Minute, 5 * time.Minute
	php := http.Header{"Cache-Control": {"no-store, no-cache, must-revalidate"}}
	for _, tc := range []struct {
		name          string
		status        int
		header        http.Header
		ignoreNoStore bool
		want          policy
	}{
		{"200, no Cache-Control: our TTL", 200, nil, false, policy{true, ttl, stale, ""}},
		{"204", 204, nil, false, policy{true, ttl, stale, ""}},
		{"206 never", 206, nil, false, policy{}},
		{"401 never", 401, nil, false, policy{}},
		{"403 never", 403, nil, false, policy{}},
		{"404 never", 404, nil, false, policy{}},
		{"500 never", 500, nil, false, policy{}},
		{"503 never", 503, nil, false, policy{}},
		{"no-store", 200, http.Header{"Cache-Control": {"no-store"}}, false, policy{forbiddenBy: "no-store"}},
		{"NO-STORE among others", 200, http.Header{"Cache-Control": {"private, max-age=60, NO-STORE"}}, false, policy{forbiddenBy: "no-store"}},
		{"no-cache: we never revalidate", 200, http.Header{"Cache-Control": {"no-cache"}}, false, policy{forbiddenBy: "no-cache"}},
		{"PHP's default", 200, php, false, policy{forbiddenBy: "no-store"}},
		{"PHP's default, ignored: our TTL and stale window", 200, php, true, policy{true, ttl, stale, ""}},
		{"no-cache with max-age, ignored: as if none", 200, http.Header{"Cache-Control": {"max-age=5, no-cache"}}, true, policy{true, ttl, stale, ""}},
		{"403 with no-store ignored: still never", 403, php, true, policy{}},
		{"Vary: *", 200, http.Header{"Vary": {"*"}}, false, policy{forbiddenBy: "Vary: *"}},
		{"Vary: * whatever the setting", 200, http.Header{"Vary": {"*"}}, true, policy{forbiddenBy: "Vary: *"}},
		{"max-age shortens", 200, http.Header{"Cache-Control": {"max-age=10"}}, false, policy{true, 10 * time.Second, stale, ""}},
		{"max-age lengthens up to the cap", 200, http.Header{"Cache-Control": {"max-age=120"}}, false, policy{true, 2 * time.Minute, stale, ""}},
		{"max-age capped", 200, http.Header{"Cache-Control": {"max-age=86400"}}, false, policy{true, maxTTL, stale, ""}},
		{"quoted max-age", 200, http.Header{"Cache-Control": {`max-age="10"`}}, false, policy{true, 10 * time.Second, stale, ""}},
		{"s-maxage wins", 200, http.Header{"Cache-Control": {"max-age=10, s-maxage=20"}}, false, policy{true, 20 * time.Second, stale, ""}},
		{"max-age=0: stale-if-error only", 200, http.Header{"Cache-Control": {"max-age=0"}}, false, policy{true, 0, stale, ""}},
		{"invalid max-age counts as 0", 200, http.Header{"Cache-Control": {"max-age=soon"}}, false, policy{true, 0, stale, ""}},
		{"must-revalidate: never stale", 200, http.Header{"Cache-Control": {"max-age=10, must-revalidate"}}, false, policy{true, 10 * time.Second, 0, ""}},
		{"max-age=0 and must-revalidate: nothing to keep", 200, http.Header{"Cache-Control": {"max-age=0, must-revalidate"}}, false, policy{forbiddenBy: "max-age=0"}},
		{"private is per credential anyway", 200, http.Header{"Cache-Control": {"private"}}, false, policy{true, ttl, stale, ""}},
		{"two header lines", 200, http.Header{"Cache-Control": {"public", "max-age=5"}}, false, policy{true, 5 * time.Second, stale, ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := cachePolicy(tc.status, tc.header, ttl, stale, maxTTL, tc.ignoreNoStore); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	e := Entry{
		Status:   200,
		Header:   http.Header{"Content-Type": {"application/json; charset=utf-8"}, "Etag": {`"a"`, `"b"`}},
		Body:     []byte(`{"status":200,"data":{"list":[]}}`),
		StoredAt: time.Date(2026, 3, 1, 12, 0, 0, 123, time.UTC),
		FreshFor: 30 * time.Second,
		StaleFor: time.Minute,
		gen:      generation{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
	}
	got, err := decode(encode(&e))
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != e.Status || !got.StoredAt.Equal(e.StoredAt) || got.FreshFor != e.FreshFor ||
		got.StaleFor != e.StaleFor || !bytes.Equal(got.Body, e.Body) || got.gen != e.gen ||
		got.Header.Get("Content-Type") != e.Header.Get("Content-Type") || len(got.Header["Etag"]) != 2 {
		t.Errorf("round trip: %+v, want %+v", got, e)
	}
	// A value is the body plus a few dozen bytes.
	if over := len(encode(&e)) - len(e.Body); over > 128 {
		t.Errorf("encoding adds %d bytes to the body", over)
	}
}

// TestAnEntryOfVersion1HasNoGeneration: an entry a replica not yet
// upgraded stored decodes, but with no generation, so it is never served.
func TestAnEntryOfVersion1HasNoGeneration(t *testing.T) {
	e := Entry{Status: 200, Body: []byte(`{}`), StoredAt: time.Unix(1, 0), FreshFor: time.Second, gen: generation{1}}
	v2 := encode(&e)
	v1 := append([]byte{1}, v2[1:27]...)
	v1 = append(v1, v2[27+len(generation{}):]...)
	got, err := decode(v1)
	if err != nil || got.Status != 200 || string(got.Body) != `{}` || !got.gen.none() {
		t.Errorf("version 1: %+v, %v; want the entry with no generation", got, err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(encode(&Entry{Status: 200, Header: http.Header{"Content-Type": {"x"}}, Body: []byte("{}")}))
	f.Add([]byte{encodingVersion})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decode(b)
		if err != nil {
			return
		}
		// Whatever decodes must encode back to a value that decodes the same.
		again, err := decode(encode(&e))
		if err != nil || again.Status != e.Status || !bytes.Equal(again.Body, e.Body) || len(again.Header) != len(e.Header) {
			t.Fatalf("re-decoding %x: %+v, %v; first %+v", b, again, err, e)
		}
	})
}
