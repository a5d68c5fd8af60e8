package fakeapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

func TestFaultKinds(t *testing.T) {
	s := fakeapi.NewServer(fakeapi.WithUsers(3))
	defer s.Close()
	path := threadsPath(2)
	normal := get(t, s, path, fakeapi.DefaultToken)

	tests := []struct {
		fault fakeapi.Fault
		check func(t *testing.T, r reply)
	}{
		{fakeapi.Fault{Kind: fakeapi.FaultStatus}, func(t *testing.T, r reply) {
			assert.Equal(t, 500, r.status)
			assert.Equal(t, `{"status":500,"description":"Błąd serwera"}`, string(r.body))
		}},
		{fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: 503}, func(t *testing.T, r reply) {
			assert.Equal(t, 503, r.status)
			assert.Equal(t, "application/json; charset=utf-8", r.header.Get("Content-Type"))
			assert.Equal(t, `{"status":503,"description":"Usługa chwilowo niedostępna"}`, string(r.body))
		}},
		{fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: 502}, func(t *testing.T, r reply) {
			assert.Equal(t, 502, r.status)
			assert.Equal(t, `{"status":502,"description":"Błąd bramy"}`, string(r.body))
		}},
		{fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: 504}, func(t *testing.T, r reply) {
			assert.Equal(t, 504, r.status)
			assert.Equal(t, `{"status":504,"description":"Przekroczono czas oczekiwania"}`, string(r.body))
		}},
		{fakeapi.Fault{Kind: fakeapi.FaultRateLimit, RetryAfter: "7"}, func(t *testing.T, r reply) {
			assert.Equal(t, 429, r.status)
			assert.Equal(t, "7", r.header.Get("Retry-After"))
			assert.Equal(t, `{"status":429,"description":"Zbyt wiele zapytań"}`, string(r.body))
		}},
		{fakeapi.Fault{Kind: fakeapi.FaultRateLimit}, func(t *testing.T, r reply) {
			assert.Equal(t, 429, r.status)
			assert.NotContains(t, r.header, "Retry-After")
		}},
		{fakeapi.Fault{Kind: fakeapi.FaultDelay, Delay: time.Millisecond}, func(t *testing.T, r reply) {
			assert.Equal(t, normal.status, r.status)
			assert.Equal(t, normal.body, r.body, "answered normally after the delay")
		}},
		{fakeapi.Fault{Kind: fakeapi.FaultMalformedJSON}, func(t *testing.T, r reply) {
			assert.Equal(t, 200, r.status)
			assert.Equal(t, "application/json; charset=utf-8", r.header.Get("Content-Type"))
			assert.NotEmpty(t, r.body)
			assert.False(t, json.Valid(r.body), "%s", r.body)
		}},
		{fakeapi.Fault{Kind: fakeapi.FaultErrorEnvelope}, func(t *testing.T, r reply) {
			assert.Equal(t, 200, r.status)
			assert.Equal(t, `{"status":403,"description":"Niepoprawne dane logowania"}`, string(r.body))
		}},
		{fakeapi.Fault{Kind: fakeapi.FaultErrorEnvelope, Status: 500}, func(t *testing.T, r reply) {
			assert.Equal(t, 200, r.status)
			assert.Equal(t, `{"status":500,"description":"Błąd serwera"}`, string(r.body))
		}},
		{fakeapi.Fault{Kind: fakeapi.FaultWrongContentType}, func(t *testing.T, r reply) {
			assert.Equal(t, 200, r.status)
			assert.Equal(t, "text/html; charset=utf-8", r.header.Get("Content-Type"))
			assert.True(t, strings.HasPrefix(string(r.body), "<html>"))
			assert.True(t, strings.HasSuffix(string(r.body), "</html>"))
		}},
		{fakeapi.Fault{Kind: fakeapi.FaultEmptyBody}, func(t *testing.T, r reply) {
			assert.Equal(t, 200, r.status)
			assert.Empty(t, r.body)
			assert.Equal(t, "0", r.header.Get("Content-Length"))
		}},
		{fakeapi.Fault{Kind: fakeapi.FaultLargeBody, Size: 100_000}, func(t *testing.T, r reply) {
			assert.Equal(t, 200, r.status)
			assert.Len(t, r.body, 100_000)
			assert.Equal(t, "100000", r.header.Get("Content-Length"))
			assertPadded(t, normal.body, r.body)
		}},
		{fakeapi.Fault{Kind: fakeapi.FaultLargeBody, Size: 100_000, Chunked: true}, func(t *testing.T, r reply) {
			assert.Len(t, r.body, 100_000)
			assert.Empty(t, r.header.Get("Content-Length"), "sent in chunks")
			assertPadded(t, normal.body, r.body)
		}},
		{fakeapi.Fault{Kind: fakeapi.FaultNumbersAsStrings}, func(t *testing.T, r reply) {
			assert.Equal(t, 200, r.status)
			assert.NotContains(t, string(r.body), `"status":200`)
			assert.Contains(t, string(r.body), `"status":"200"`)
			assert.Contains(t, string(r.body), `"pagination":{"page":"1","pages_count":"3","per_page":"20","total":"45"}`)
			// Apart from the quotes, it is the normal answer.
			assert.Equal(t, stringifyNumbers(decodeAny(t, normal.body)), decodeAny(t, r.body))
			assert.NotContains(t, collectTypes(decodeAny(t, r.body)), "number")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.fault.Kind.String(), func(t *testing.T) {
			remove := s.Inject(tt.fault)
			defer remove()
			tt.check(t, get(t, s, path, fakeapi.DefaultToken))
		})
	}
	assert.Equal(t, normal.body, get(t, s, path, fakeapi.DefaultToken).body, "removed faults leave no trace")
}

func TestNumbersAsStringsIncludesErrorsAndFields(t *testing.T) {
	s := fakeapi.NewServer(fakeapi.WithUsers(3))
	defer s.Close()
	s.Inject(fakeapi.Fault{Kind: fakeapi.FaultNumbersAsStrings})
	r := get(t, s, meetingsPath(0), fakeapi.DefaultToken)
	assert.Equal(t, 400, r.status)
	assert.Equal(t, `{"status":"400","description":"Nieprawidłowe parametry"}`, string(r.body))

	// Numbers inside a thread's fields are numbers too.
	for _, p := range []string{threadsPath(1), threadsPath(2), threadsPath(3)} {
		for _, g := range list(t, decode(t, get(t, s, p, fakeapi.DefaultToken).body)) {
			assert.NotContains(t, collectTypes(g), "number", "%v", g)
		}
	}
}

func decodeAny(t *testing.T, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	require.NoError(t, dec.Decode(&v))
	return v
}

func stringifyNumbers(v any) any {
	switch v := v.(type) {
	case json.Number:
		return string(v)
	case map[string]any:
		for k, e := range v {
			v[k] = stringifyNumbers(e)
		}
	case []any:
		for i, e := range v {
			v[i] = stringifyNumbers(e)
		}
	}
	return v
}

func collectTypes(v any) map[string]bool {
	out := map[string]bool{}
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case json.Number:
			out["number"] = true
		case map[string]any:
			for _, e := range v {
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(v)
	return out
}

func TestFieldValueFault(t *testing.T) {
	s := fakeapi.NewServer(fakeapi.WithUsers(3))
	defer s.Close()
	normal := get(t, s, meetingsPath(2), fakeapi.DefaultToken)
	s.Inject(fakeapi.Fault{Path: meetingsPath(2), Kind: fakeapi.FaultFieldValue, Record: 4, Field: "visits", Value: `"x"`})
	s.Inject(fakeapi.Fault{Path: threadsPath(2), Kind: fakeapi.FaultFieldValue, Record: 1, Field: "no_such_key", Value: `[1]`})

	r := get(t, s, meetingsPath(2), fakeapi.DefaultToken)
	assert.Equal(t, 200, r.status)
	want, got := list(t, decode(t, normal.body)), list(t, decode(t, r.body))
	require.Len(t, got, len(want))
	for i := range want {
		if i == 4 {
			assert.Equal(t, "x", got[i]["visits"], "the corrupted value")
			got[i]["visits"] = want[i]["visits"]
		}
		assert.Equal(t, want[i], got[i], "record %d otherwise unchanged", i)
	}
	// Record 4's "visits" is the fifth in the body.
	parts := bytes.SplitN(normal.body, []byte(`"visits":`), 6)
	require.Len(t, parts, 6)
	parts[5] = bytes.TrimPrefix(parts[5], []byte(want[4]["visits"].(json.Number).String()))
	parts[5] = append([]byte(`"x"`), parts[5]...)
	assert.Equal(t, string(bytes.Join(parts, []byte(`"visits":`))), string(r.body), "every other byte as it was")

	th := list(t, decode(t, get(t, s, threadsPath(2)+"?page=1", fakeapi.DefaultToken).body))
	assert.Equal(t, []any{json.Number("1")}, th[1]["no_such_key"], "a missing key is added")

	s.ClearFaults()
	s.Inject(fakeapi.Fault{Kind: fakeapi.FaultFieldValue, Record: 99, Field: "visits", Value: `"x"`})
	assert.Equal(t, normal.body, get(t, s, meetingsPath(2), fakeapi.DefaultToken).body, "no such record: unchanged")
	assert.Equal(t, 403, get(t, s, meetingsPath(2), "").status, "an error answer stays one")
	assert.Panics(t, func() { s.Inject(fakeapi.Fault{Kind: fakeapi.FaultFieldValue, Field: "visits", Value: "not json"}) })
}

func TestBrokenConnectionFaults(t *testing.T) {
	for _, kind := range []fakeapi.FaultKind{fakeapi.FaultTruncated, fakeapi.FaultResetMidBody, fakeapi.FaultDropConnection} {
		t.Run(kind.String(), func(t *testing.T) {
			s := fakeapi.NewServer(fakeapi.WithUsers(3))
			defer s.Close()
			s.Inject(fakeapi.Fault{Path: "/api/v1/users/*/meetings", Kind: kind})

			resp, err := client.Get(s.URL + meetingsPath(1))
			if err == nil {
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
				if kind != fakeapi.FaultDropConnection {
					assert.Equal(t, 200, resp.StatusCode)
					assert.Positive(t, resp.ContentLength)
				}
			}
			assert.Error(t, err, "the client must see a broken answer")

			// Other paths are untouched.
			assert.Equal(t, 200, get(t, s, threadsPath(1), fakeapi.DefaultToken).status)
		})
	}
}

func TestFaultsComeBeforeTheCredentialCheckAndAreLogged(t *testing.T) {
	s := fakeapi.NewServer(fakeapi.WithUsers(3))
	defer s.Close()
	s.Inject(fakeapi.Fault{Path: "/nowhere", Kind: fakeapi.FaultStatus, Status: 503})
	r := get(t, s, "/nowhere", "")
	assert.Equal(t, 503, r.status)
	reqs := s.Requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, 503, reqs[0].Status)
	assert.Equal(t, 1, s.CallsBy(""))
}

func TestFaultMatching(t *testing.T) {
	s := fakeapi.NewServer(fakeapi.WithUsers(3), fakeapi.WithTenant("Bearer other", 2))
	defer s.Close()
	s.Inject(fakeapi.Fault{Path: "/api/v1/users/2/*", Credential: "Bearer other", Kind: fakeapi.FaultStatus, Status: 502})
	s.Inject(fakeapi.Fault{Path: "/api/v1/users/[13]/threads", Kind: fakeapi.FaultStatus, Status: 504})

	assert.Equal(t, 502, get(t, s, meetingsPath(2), "Bearer other").status)
	assert.Equal(t, 200, get(t, s, meetingsPath(2), fakeapi.DefaultToken).status, "another credential")
	assert.Equal(t, 200, get(t, s, meetingsPath(1), "Bearer other").status, "another path")
	assert.Equal(t, 504, get(t, s, threadsPath(3), fakeapi.DefaultToken).status)
	assert.Equal(t, 200, get(t, s, threadsPath(2), fakeapi.DefaultToken).status)

	s.ClearFaults()
	assert.Equal(t, 200, get(t, s, meetingsPath(2), "Bearer other").status)
	assert.Equal(t, 200, get(t, s, threadsPath(3), fakeapi.DefaultToken).status)

	// The earliest injected fault that fires wins.
	removeFirst := s.Inject(fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: 500})
	s.Inject(fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: 503})
	assert.Equal(t, 500, get(t, s, meetingsPath(1), fakeapi.DefaultToken).status)
	removeFirst()
	removeFirst()
	assert.Equal(t, 503, get(t, s, meetingsPath(1), fakeapi.DefaultToken).status)

	assert.Panics(t, func() { s.Inject(fakeapi.Fault{Path: "[", Kind: fakeapi.FaultStatus}) })
	assert.Panics(t, func() { s.Inject(fakeapi.Fault{}) }, "no kind")
	assert.Panics(t, func() { s.Inject(fakeapi.Fault{Kind: fakeapi.FaultStatus, Rate: 1.5}) })
}

func TestFaultTimes(t *testing.T) {
	s := fakeapi.NewServer(fakeapi.WithUsers(3))
	defer s.Close()
	s.Inject(fakeapi.Fault{Path: "/api/v1/users/1/meetings", Kind: fakeapi.FaultStatus, Status: 503, Times: 2})
	assert.Equal(t, 200, get(t, s, meetingsPath(2), fakeapi.DefaultToken).status, "does not match, does not count")
	assert.Equal(t, 503, get(t, s, meetingsPath(1), fakeapi.DefaultToken).status)
	assert.Equal(t, 503, get(t, s, meetingsPath(1), fakeapi.DefaultToken).status)
	assert.Equal(t, 200, get(t, s, meetingsPath(1), fakeapi.DefaultToken).status)
	assert.Equal(t, 200, get(t, s, meetingsPath(1), fakeapi.DefaultToken).status)
	assert.Equal(t, 5, s.Calls())
}

// failures sends n requests and reports which ones failed.
func failures(t *testing.T, s *fakeapi.Server, n int) []bool {
	t.Helper()
	out := make([]bool, n)
	for i := range out {
		out[i] = get(t, s, meetingsPath(1), fakeapi.DefaultToken).status != 200
	}
	return out
}

func count(bs []bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

func TestFaultRate(t *testing.T) {
	rate := fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: 503, Rate: 0.3}
	run := func(opts ...fakeapi.Option) []bool {
		s := fakeapi.NewServer(append([]fakeapi.Option{fakeapi.WithUsers(1)}, opts...)...)
		defer s.Close()
		s.Inject(rate)
		return failures(t, s, 200)
	}
	a := run()
	// Drawn, so only roughly 30%; deterministic, so this cannot flake.
	assert.InDelta(t, 60, count(a), 20)
	assert.Equal(t, a, run(), "the same seed fails the same requests")
	assert.NotEqual(t, a, run(fakeapi.WithSeed(2)))

	// Times caps the failures a rate produces.
	s := fakeapi.NewServer(fakeapi.WithUsers(1))
	defer s.Close()
	s.Inject(fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: 503, Rate: 0.5, Times: 3})
	assert.Equal(t, 3, count(failures(t, s, 50)))
}

func TestDelayFaultRespectsCancellation(t *testing.T) {
	s := fakeapi.New(fakeapi.WithUsers(1))
	defer s.Close()
	s.Inject(fakeapi.Fault{Kind: fakeapi.FaultDelay, Delay: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rec := serve(s, ctx, meetingsPath(1)) // returns at once, or the test times out
	assert.Empty(t, rec.Body.Bytes(), "nothing is written for a client that left")
	assert.Equal(t, 0, s.Requests()[0].Status)
}

func TestResetClearsFaults(t *testing.T) {
	s := fakeapi.NewServer(fakeapi.WithUsers(1))
	defer s.Close()
	s.Inject(fakeapi.Fault{Kind: fakeapi.FaultStatus})
	assert.Equal(t, http.StatusInternalServerError, get(t, s, meetingsPath(1), fakeapi.DefaultToken).status)
	s.Reset()
	assert.Equal(t, http.StatusOK, get(t, s, meetingsPath(1), fakeapi.DefaultToken).status)
}

// assertPadded checks that got is the normal answer with only a padding
// member added.
func assertPadded(t *testing.T, normal, got []byte) {
	t.Helper()
	var want, have map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(normal, &want))
	require.NoError(t, json.Unmarshal(got, &have))
	padding, ok := have["padding"]
	require.True(t, ok, "a padding member")
	delete(have, "padding")
	assert.Equal(t, want, have)
	assert.Equal(t, strings.Repeat(" ", len(padding)-2), strings.Trim(string(padding), `"`))
}

// TestLargeBodyGrowsAField checks FaultLargeBody with a Field: the answer
// reaches its size inside the records, each record's field lengthened by
// the same number of x's (one more for the first few), every other member
// as it was; a record without the field gets one.
func TestLargeBodyGrowsAField(t *testing.T) {
	s := fakeapi.NewServer(fakeapi.WithUsers(3))
	defer s.Close()
	const size = 100_000
	normal := list(t, decode(t, get(t, s, meetingsPath(2), fakeapi.DefaultToken).body))
	s.Inject(fakeapi.Fault{Path: meetingsPath(2), Kind: fakeapi.FaultLargeBody, Size: size, Field: "address"})
	s.Inject(fakeapi.Fault{Path: meetingsPath(3), Kind: fakeapi.FaultLargeBody, Size: size, Field: "notes"})

	r := get(t, s, meetingsPath(2), fakeapi.DefaultToken)
	assert.Equal(t, 200, r.status)
	assert.Len(t, r.body, size)
	grown := list(t, decode(t, r.body))
	require.Len(t, grown, len(normal))
	var added []int
	for i, g := range grown {
		was, now := normal[i]["address"].(string), g["address"].(string)
		require.True(t, strings.HasPrefix(now, was), "record %d keeps its address first", i)
		require.Equal(t, strings.Repeat("x", len(now)-len(was)), now[len(was):], "record %d", i)
		added = append(added, len(now)-len(was))
		g["address"] = was
		assert.Equal(t, normal[i], g, "record %d: every other member as it was", i)
	}
	assert.LessOrEqual(t, slices.Max(added)-slices.Min(added), 1, "the growth is spread evenly: %v", added)

	r = get(t, s, meetingsPath(3), fakeapi.DefaultToken)
	assert.Len(t, r.body, size)
	for i, g := range list(t, decode(t, r.body)) {
		assert.NotEmpty(t, g["notes"], "record %d has the member added", i)
	}
}
