package fakeapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

func wantMeeting(m fakeapi.Meeting, companyKey string) map[string]any {
	return map[string]any{
		"id": num(m.ID), "hash": m.Hash, "id_user": num(m.UserID), "id_person": m.PersonID,
		companyKey: m.CompanyID, "id_thread": m.ThreadID, "status": m.Status,
		"start_date": m.StartDate, "end_date": m.EndDate, "address": m.Address,
		"visits": num(m.Visits), "visits_owner": num(m.VisitsOwner), "visits_copy": num(m.VisitsCopy),
		"gps_lat": m.GPSLat, "gps_lng": m.GPSLng, "type": m.Type,
		"created_at": m.CreatedAt, "modified_at": m.ModifiedAt,
	}
}

func wantThread(t *testing.T, th fakeapi.Thread) map[string]any {
	dec := json.NewDecoder(bytes.NewReader(th.Fields))
	dec.UseNumber()
	var fields any
	require.NoError(t, dec.Decode(&fields))
	value := json.Number(strconv.FormatFloat(th.ContractValue, 'f', -1, 64))
	return map[string]any{
		"id": th.ID, "number": th.Number, "name": th.Name, "id_user": num(th.UserID),
		"id_company": th.CompanyID, "id_person": th.PersonID, "status": th.Status,
		"description": th.Description, "end_date": th.EndDate, "contract_value": value,
		"fields": fields, "created_at": th.CreatedAt, "modified_at": th.ModifiedAt,
	}
}

func TestMeetingsEveryFieldWithItsWireType(t *testing.T) {
	s := fakeapi.NewServer()
	defer s.Close()
	d := s.Dataset()
	for _, id := range []int64{1, 7, 50} {
		r := get(t, s, meetingsPath(id), fakeapi.DefaultToken)
		require.Equal(t, http.StatusOK, r.status)
		assert.Equal(t, "application/json; charset=utf-8", r.header.Get("Content-Type"))
		v := decode(t, r.body)
		assert.Equal(t, json.Number("200"), v["status"])
		got := list(t, v)
		want := user(t, d, id).Meetings
		require.Len(t, got, len(want))
		for i, m := range want {
			// Equal on the whole map checks the key set too: no missing,
			// extra or respelt keys, and numbers where the docs say integer.
			assert.Equal(t, wantMeeting(m, "id_comapny"), got[i], "user %d meeting %d", id, m.ID)
		}
	}
}

func TestThreadsEveryFieldWithItsWireType(t *testing.T) {
	s := fakeapi.NewServer()
	defer s.Close()
	want := user(t, s.Dataset(), 9).Threads
	var got []map[string]any
	for page := 1; page <= 3; page++ {
		r := get(t, s, threadsPath(9)+"?page="+strconv.Itoa(page), fakeapi.DefaultToken)
		require.Equal(t, http.StatusOK, r.status)
		assert.Equal(t, "application/json; charset=utf-8", r.header.Get("Content-Type"))
		got = append(got, list(t, decode(t, r.body))...)
	}
	require.Len(t, got, len(want))
	for i, th := range want {
		assert.Equal(t, wantThread(t, th), got[i], "thread %s", th.ID)
	}
}

func TestThreadsPagination(t *testing.T) {
	s := fakeapi.NewServer()
	defer s.Close()
	threads := user(t, s.Dataset(), 2).Threads
	require.Len(t, threads, 45)

	tests := []struct {
		query     string
		want      pagination
		firstRecd int // index into the user's threads of the first record
		records   int
	}{
		{"", pagination{1, 3, 20, 45}, 0, 20},
		{"?page=1", pagination{1, 3, 20, 45}, 0, 20},
		{"?page=2", pagination{2, 3, 20, 45}, 20, 20},
		{"?page=3", pagination{3, 3, 20, 45}, 40, 5},
		{"?page=4", pagination{4, 3, 20, 45}, 0, 0},
		{"?page=9223372036854775807", pagination{9223372036854775807, 3, 20, 45}, 0, 0},
		{"?per_page=50", pagination{1, 1, 50, 45}, 0, 45},
		{"?per_page=100&page=1", pagination{1, 1, 100, 45}, 0, 45},
		{"?per_page=1&page=45", pagination{45, 45, 1, 45}, 44, 1},
		{"?page=7&per_page=7", pagination{7, 7, 7, 45}, 42, 3},
		{"?page=2&per_page=45", pagination{2, 1, 45, 45}, 0, 0},
		{"?page=1&unrelated=x", pagination{1, 3, 20, 45}, 0, 20},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			r := get(t, s, threadsPath(2)+tt.query, fakeapi.DefaultToken)
			require.Equal(t, http.StatusOK, r.status, "%s", r.body)
			v := decode(t, r.body)
			assert.Equal(t, tt.want, paging(t, v))
			got := list(t, v)
			require.Len(t, got, tt.records)
			for i, g := range got {
				assert.Equal(t, threads[tt.firstRecd+i].ID, g["id"])
			}
		})
	}
}

func TestPaginatedMeetings(t *testing.T) {
	plain := fakeapi.NewServer()
	defer plain.Close()
	whole := decode(t, get(t, plain, meetingsPath(3)+"?page=2", fakeapi.DefaultToken).body)
	assert.NotContains(t, whole["data"], "pagination", "by default, as documented: every meeting, no pagination")
	require.Len(t, list(t, whole), 12, "the page parameter is ignored")

	s := fakeapi.NewServer(fakeapi.WithPaginatedMeetings(5))
	defer s.Close()
	meetings := user(t, s.Dataset(), 3).Meetings
	var ids []any
	for page, want := range map[string]pagination{"": {1, 3, 5, 12}, "?page=2": {2, 3, 5, 12}, "?page=3": {3, 3, 5, 12}} {
		v := decode(t, get(t, s, meetingsPath(3)+page, fakeapi.DefaultToken).body)
		assert.Equal(t, want, paging(t, v), "page %q", page)
		got := list(t, v)
		require.Len(t, got, min(5, 12-5*int(want.Page-1)))
		for i, m := range got {
			assert.Equal(t, num(meetings[5*int(want.Page-1)+i].ID), m["id"])
			ids = append(ids, m["id"])
		}
	}
	assert.Len(t, ids, len(meetings))
	v := decode(t, get(t, s, meetingsPath(3)+"?per_page=12", fakeapi.DefaultToken).body)
	assert.Equal(t, pagination{1, 1, 12, 12}, paging(t, v), "per_page is honoured")
	assert.Equal(t, http.StatusBadRequest, get(t, s, meetingsPath(3)+"?page=0", fakeapi.DefaultToken).status)
}

func TestErrors(t *testing.T) {
	s := fakeapi.NewServer()
	defer s.Close()
	const (
		bad       = `{"status":400,"description":"Nieprawidłowe parametry"}`
		forbidden = `{"status":403,"description":"Niepoprawne dane logowania"}`
	)
	tok := fakeapi.DefaultToken
	tests := []struct {
		name, method, path, credential string
		status                         int
		body                           string
	}{
		{"no credential", "GET", "/api/v1/users/1/meetings", "", 403, forbidden},
		{"wrong credential", "GET", "/api/v1/users/1/threads", "Bearer wrong", 403, forbidden},
		{"credential differs in case", "GET", "/api/v1/users/1/threads", strings.ToLower(tok), 403, forbidden},
		// HTTP itself trims a header's outer spaces; inner ones are the caller's.
		{"credential with a doubled space", "GET", "/api/v1/users/1/threads", strings.Replace(tok, " ", "  ", 1), 403, forbidden},
		{"token without its scheme", "GET", "/api/v1/users/1/threads", strings.TrimPrefix(tok, "Bearer "), 403, forbidden},
		// The credential is checked first: nothing else leaks to a stranger.
		{"no credential, bad id", "GET", "/api/v1/users/x/meetings", "", 403, forbidden},
		{"no credential, bad path", "GET", "/nowhere", "", 403, forbidden},
		{"no credential, bad method", "POST", "/api/v1/users/1/meetings", "", 403, forbidden},
		{"non-numeric id", "GET", "/api/v1/users/abc/meetings", tok, 400, bad},
		{"zero id", "GET", "/api/v1/users/0/meetings", tok, 400, bad},
		{"negative id", "GET", "/api/v1/users/-1/threads", tok, 400, bad},
		{"signed id", "GET", "/api/v1/users/+1/threads", tok, 400, bad},
		{"fractional id", "GET", "/api/v1/users/1.0/threads", tok, 400, bad},
		{"overflowing id", "GET", "/api/v1/users/9223372036854775808/meetings", tok, 400, bad},
		{"empty id", "GET", "/api/v1/users//meetings", tok, 400, bad},
		{"page zero", "GET", "/api/v1/users/1/threads?page=0", tok, 400, bad},
		{"page negative", "GET", "/api/v1/users/1/threads?page=-2", tok, 400, bad},
		{"page empty", "GET", "/api/v1/users/1/threads?page=", tok, 400, bad},
		{"page text", "GET", "/api/v1/users/1/threads?page=two", tok, 400, bad},
		{"page overflowing", "GET", "/api/v1/users/1/threads?page=99999999999999999999", tok, 400, bad},
		{"per_page zero", "GET", "/api/v1/users/1/threads?per_page=0", tok, 400, bad},
		{"per_page too large", "GET", "/api/v1/users/1/threads?per_page=101", tok, 400, bad},
		{"per_page text", "GET", "/api/v1/users/1/threads?per_page=all", tok, 400, bad},
		{"bad page on unknown user", "GET", "/api/v1/users/999/threads?page=0", tok, 400, bad},
		{"unknown path", "GET", "/api/v1/users/1", tok, 404, `{"status":404,"description":"Nie znaleziono"}`},
		{"trailing slash", "GET", "/api/v1/users/1/meetings/", tok, 404, `{"status":404,"description":"Nie znaleziono"}`},
		{"other version", "GET", "/api/v2/users/1/meetings", tok, 404, `{"status":404,"description":"Nie znaleziono"}`},
		{"root", "GET", "/", tok, 404, `{"status":404,"description":"Nie znaleziono"}`},
		{"POST", "POST", "/api/v1/users/1/meetings", tok, 405, `{"status":405,"description":"Niedozwolona metoda"}`},
		{"DELETE", "DELETE", "/api/v1/users/1/threads", tok, 405, `{"status":405,"description":"Niedozwolona metoda"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, s, tt.method, tt.path, tt.credential)
			assert.Equal(t, tt.status, r.status)
			assert.Equal(t, "application/json; charset=utf-8", r.header.Get("Content-Type"))
			assert.Equal(t, tt.body, string(r.body))
			if tt.status == http.StatusMethodNotAllowed {
				assert.Equal(t, "GET", r.header.Get("Allow"))
			}
		})
	}
	// Every one of them was counted and logged with its status.
	reqs := s.Requests()
	require.Len(t, reqs, len(tests))
	for i, tt := range tests {
		assert.Equal(t, tt.status, reqs[i].Status, tt.name)
	}
}

func TestUnknownUser(t *testing.T) {
	t.Run("default: empty list", func(t *testing.T) {
		s := fakeapi.NewServer(fakeapi.WithUsers(3))
		defer s.Close()
		r := get(t, s, meetingsPath(4), fakeapi.DefaultToken)
		require.Equal(t, http.StatusOK, r.status)
		assert.JSONEq(t, `{"status":200,"data":{"list":[]}}`, string(r.body))

		r = get(t, s, threadsPath(4)+"?page=2", fakeapi.DefaultToken)
		require.Equal(t, http.StatusOK, r.status)
		assert.JSONEq(t, `{"status":200,"data":{"list":[],"pagination":{"page":2,"pages_count":0,"per_page":20,"total":0}}}`, string(r.body))
	})
	for _, status := range []int{400, 404} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			s := fakeapi.NewServer(fakeapi.WithUsers(3), fakeapi.WithUnknownUserStatus(status))
			defer s.Close()
			for _, p := range []string{meetingsPath(4), threadsPath(9223372036854775807)} {
				r := get(t, s, p, fakeapi.DefaultToken)
				assert.Equal(t, status, r.status)
				assert.Equal(t, status, int(must(decode(t, r.body)["status"].(json.Number).Int64())))
			}
			assert.Equal(t, http.StatusOK, get(t, s, meetingsPath(3), fakeapi.DefaultToken).status)
		})
	}
	assert.Panics(t, func() { fakeapi.WithUnknownUserStatus(302) })
}

func must(n int64, err error) int64 {
	if err != nil {
		panic(err)
	}
	return n
}

func TestFixedCompanySpelling(t *testing.T) {
	s := fakeapi.NewServer(fakeapi.WithFixedCompanySpelling())
	defer s.Close()
	got := list(t, decode(t, get(t, s, meetingsPath(1), fakeapi.DefaultToken).body))
	want := user(t, s.Dataset(), 1).Meetings
	require.Len(t, got, len(want))
	for i, m := range want {
		assert.Equal(t, wantMeeting(m, "id_company"), got[i])
	}
}

func TestPageParameterNames(t *testing.T) {
	s := fakeapi.NewServer(fakeapi.WithPageParam("p"), fakeapi.WithPerPageParam("limit"), fakeapi.WithPerPage(10))
	defer s.Close()
	v := decode(t, get(t, s, threadsPath(1)+"?p=2&limit=15", fakeapi.DefaultToken).body)
	assert.Equal(t, pagination{2, 3, 15, 45}, paging(t, v))

	// The default names mean nothing now.
	v = decode(t, get(t, s, threadsPath(1)+"?page=3&per_page=x", fakeapi.DefaultToken).body)
	assert.Equal(t, pagination{1, 5, 10, 45}, paging(t, v))

	assert.Equal(t, http.StatusBadRequest, get(t, s, threadsPath(1)+"?p=0", fakeapi.DefaultToken).status)
	assert.Panics(t, func() { fakeapi.New(fakeapi.WithPageParam("per_page")) })
}

func TestCredentials(t *testing.T) {
	t.Run("header name", func(t *testing.T) {
		s := fakeapi.NewServer(fakeapi.WithAuthHeader("X-Api-Key"))
		defer s.Close()
		assert.Equal(t, http.StatusForbidden, get(t, s, meetingsPath(1), fakeapi.DefaultToken).status, "Authorization is not the header any more")

		req, err := http.NewRequest(http.MethodGet, s.URL+meetingsPath(1), nil)
		require.NoError(t, err)
		req.Header.Set("X-Api-Key", fakeapi.DefaultToken)
		resp, err := client.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, 1, s.CallsBy(fakeapi.DefaultToken))
		assert.Equal(t, 1, s.CallsBy(""))
	})
	t.Run("tokens", func(t *testing.T) {
		s := fakeapi.NewServer(fakeapi.WithTokens("Bearer a", "Token b"))
		defer s.Close()
		assert.Equal(t, http.StatusForbidden, get(t, s, meetingsPath(1), fakeapi.DefaultToken).status)
		a := get(t, s, meetingsPath(1), "Bearer a")
		b := get(t, s, meetingsPath(1), "Token b")
		assert.Equal(t, http.StatusOK, a.status)
		assert.Equal(t, a.body, b.body, "every token sees the main dataset")
		assert.NotNil(t, s.DatasetFor("Token b"))
		assert.Nil(t, s.DatasetFor(fakeapi.DefaultToken))
	})
	t.Run("no tokens", func(t *testing.T) {
		s := fakeapi.NewServer(fakeapi.WithTokens())
		defer s.Close()
		assert.Equal(t, http.StatusForbidden, get(t, s, meetingsPath(1), fakeapi.DefaultToken).status)
	})
	t.Run("duplicates panic", func(t *testing.T) {
		assert.Panics(t, func() { fakeapi.New(fakeapi.WithTenant(fakeapi.DefaultToken, 2)) })
		assert.Panics(t, func() { fakeapi.New(fakeapi.WithTenant("x", 2), fakeapi.WithTenant("x", 3)) })
		assert.Panics(t, func() { fakeapi.WithTokens("") })
	})
}

func TestTenantsSeeTheirOwnData(t *testing.T) {
	const other = "Bearer tenant-two"
	s := fakeapi.NewServer(fakeapi.WithUsers(5), fakeapi.WithTenant(other, 99))
	defer s.Close()
	// A server seeded 99 serves what the tenant sees.
	ref := fakeapi.NewServer(fakeapi.WithUsers(5), fakeapi.WithSeed(99))
	defer ref.Close()

	for _, p := range []string{meetingsPath(2), threadsPath(2) + "?page=2"} {
		mine := get(t, s, p, fakeapi.DefaultToken)
		theirs := get(t, s, p, other)
		require.Equal(t, http.StatusOK, theirs.status)
		assert.NotEqual(t, mine.body, theirs.body, "%s: a tenant must not see the main data", p)
		assert.Equal(t, get(t, ref, p, fakeapi.DefaultToken).body, theirs.body, p)
	}
	assert.Equal(t, fakeapi.NewDataset(fakeapi.WithUsers(5), fakeapi.WithSeed(99)), s.DatasetFor(other))
	assert.Equal(t, fakeapi.NewDataset(fakeapi.WithUsers(5)), s.DatasetFor(fakeapi.DefaultToken))
	assert.Nil(t, s.DatasetFor("Bearer nobody"))
	assert.Equal(t, 2, s.CallsBy(other))
	assert.Equal(t, 2, s.CallsBy(fakeapi.DefaultToken))
}

func TestSameOptionsSameBytes(t *testing.T) {
	opts := []fakeapi.Option{fakeapi.WithUsers(7), fakeapi.WithSeed(42), fakeapi.WithPerPage(9)}
	a, b := fakeapi.NewServer(opts...), fakeapi.NewServer(opts...)
	defer a.Close()
	defer b.Close()
	c := fakeapi.NewServer(fakeapi.WithUsers(7), fakeapi.WithSeed(43), fakeapi.WithPerPage(9))
	defer c.Close()
	for _, p := range []string{meetingsPath(1), meetingsPath(7), threadsPath(3), threadsPath(3) + "?page=5", threadsPath(8)} {
		ra := get(t, a, p, fakeapi.DefaultToken)
		assert.Equal(t, ra.body, get(t, b, p, fakeapi.DefaultToken).body, p)
		assert.Equal(t, ra.body, get(t, a, p, fakeapi.DefaultToken).body, "%s asked twice", p)
		if p != threadsPath(8) {
			assert.NotEqual(t, ra.body, get(t, c, p, fakeapi.DefaultToken).body, "%s: another seed", p)
		}
	}
}

func TestTextIsEscapedOnlyWhereJSONRequires(t *testing.T) {
	s := fakeapi.NewServer()
	defer s.Close()
	d := s.Dataset()
	// Find a user whose first page holds a name with quotes and an ampersand.
	for _, u := range d.Users {
		for _, th := range u.Threads[:20] {
			if strings.Contains(th.Name, `"`) && strings.Contains(th.Name, "&") {
				r := get(t, s, threadsPath(u.ID), fakeapi.DefaultToken)
				assert.Contains(t, string(r.body), ` & `, "& is sent as is, not as \\u0026")
				assert.Contains(t, string(r.body), `\"`)
				names := map[any]bool{}
				for _, g := range list(t, decode(t, r.body)) {
					names[g["name"]] = true
				}
				assert.True(t, names[th.Name], "%q survives the round trip", th.Name)
				return
			}
		}
	}
	t.Fatal("the default dataset has no name with quotes and an ampersand on a first page")
}

func TestUnstartedServerIsAHandler(t *testing.T) {
	s := fakeapi.New(fakeapi.WithUsers(2))
	defer s.Close()
	assert.Empty(t, s.URL)
	rec := serve(s, context.Background(), threadsPath(2)+"?page=3")
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, pagination{3, 3, 20, 45}, paging(t, decode(t, rec.Body.Bytes())))
	assert.Equal(t, 1, s.Calls())
}

func TestURLHasNoTrailingSlash(t *testing.T) {
	s := fakeapi.NewServer()
	defer s.Close()
	assert.True(t, strings.HasPrefix(s.URL, "http://127.0.0.1:"), s.URL)
	assert.False(t, strings.HasSuffix(s.URL, "/"))
}

func TestInvalidOptionsPanic(t *testing.T) {
	for name, f := range map[string]func(){
		"users":        func() { fakeapi.WithUsers(-1) },
		"meetings":     func() { fakeapi.WithMeetingsPerUser(-1) },
		"threads":      func() { fakeapi.WithThreadsPerUser(-1) },
		"per page":     func() { fakeapi.WithPerPage(0) },
		"page param":   func() { fakeapi.WithPageParam("") },
		"auth header":  func() { fakeapi.WithAuthHeader("") },
		"tenant":       func() { fakeapi.WithTenant("", 1) },
		"latency":      func() { fakeapi.WithLatency(-1, 0) },
		"meeting page": func() { fakeapi.WithPaginatedMeetings(0) },
	} {
		assert.Panics(t, f, name)
	}
}

// TestListsSayHowEachListIsServed: Server.Lists is what the server's table
// says, with its options applied, and each list it names is served there
// (restclient's tests hold it to the client's declarations).
func TestListsSayHowEachListIsServed(t *testing.T) {
	plain := fakeapi.NewServer(fakeapi.WithPerPage(7))
	defer plain.Close()
	assert.Subset(t, plain.Lists(), []fakeapi.ListInfo{
		{Endpoint: "/api/v1/users/{id}/meetings", PerPage: 0},
		{Endpoint: "/api/v1/users/{id}/threads", PerPage: 7},
	})
	paged := fakeapi.NewServer(fakeapi.WithPaginatedMeetings(5))
	defer paged.Close()
	assert.Contains(t, paged.Lists(), fakeapi.ListInfo{Endpoint: "/api/v1/users/{id}/meetings", PerPage: 5})

	for _, l := range plain.Lists() {
		r := get(t, plain, strings.Replace(l.Endpoint, "{id}", "3", 1), fakeapi.DefaultToken)
		require.Equal(t, http.StatusOK, r.status, l.Endpoint)
		_, paginated := decode(t, r.body)["data"].(map[string]any)["pagination"]
		assert.Equal(t, l.PerPage > 0, paginated, l.Endpoint)
	}
}

// TestListIDsAreTheDatasets: ListIDs reads the ids back from the wire the
// server writes, so that tests over every list can expect them.
func TestListIDsAreTheDatasets(t *testing.T) {
	s := fakeapi.NewServer()
	defer s.Close()
	u := user(t, s.Dataset(), 4)
	var meetings, threads []string
	for _, m := range u.Meetings {
		meetings = append(meetings, strconv.FormatInt(m.ID, 10))
	}
	for _, th := range u.Threads {
		threads = append(threads, th.ID)
	}
	assert.Equal(t, meetings, s.ListIDs("/api/v1/users/{id}/meetings", 4))
	assert.Equal(t, threads, s.ListIDs("/api/v1/users/{id}/threads", 4))
	assert.Nil(t, s.ListIDs("/api/v1/users/{id}/threads", 51), "no such user")
	assert.Nil(t, s.ListIDs("/api/v1/users/{id}/nope", 4), "no such list")
}
