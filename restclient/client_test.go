package restclient_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/salesgraph/salesgraph/restclient"
	"github.com/salesgraph/salesgraph/restclient/fakeapi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// setup starts a test server whose handlers the test registers on mux, and
// a client for it.
func setup(t *testing.T, opts ...restclient.Option) (*restclient.Client, *http.ServeMux, string) {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c, err := restclient.New(srv.URL, opts...)
	require.NoError(t, err)
	return c, mux, srv.URL
}

// reply answers with a status and a literal body.
func reply(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

const meetingsJSON = `{"status": 200, "data": {"list": [
	{"id": 1234, "hash": "9f86d081", "id_user": "7", "id_person": "55", "id_comapny": "77", "id_thread": "901",
	 "status": "finished", "start_date": "2024-03-01 10:00:00", "end_date": "2024-03-01 11:30:00",
	 "address": "ul. Marsza\u0142kowska 1", "visits": "5", "visits_owner": 3, "visits_copy": "1",
	 "gps_lat": "52.2297", "gps_lng": "21.0122", "type": "standard",
	 "created_at": "2024-03-01 12:00:00", "modified_at": "0000-00-00 00:00:00"},
	{"id": "1235", "id_user": 7, "status": "saved", "gps_lat": "", "gps_lng": "", "start_date": ""}
]}}`

func TestUserMeetings(t *testing.T) {
	c, mux, _ := setup(t)
	mux.HandleFunc("/api/v1/users/7/meetings", func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, http.MethodGet, r.Method)
		assert.Equal(t, "application/json", r.Header.Get("Accept"))
		assert.Equal(t, "salesgraph", r.Header.Get("User-Agent"))
		assert.Empty(t, r.URL.RawQuery)
		reply(200, meetingsJSON)(w, r)
	})

	ms, err := c.UserMeetings(context.Background(), 7)
	require.NoError(t, err)
	assert.Equal(t, []restclient.Meeting{
		{
			ID: "1234", Hash: "9f86d081", UserID: 7, PersonID: "55", CompanyID: "77", ThreadID: "901", Status: "finished",
			StartDate: time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC), EndDate: time.Date(2024, 3, 1, 11, 30, 0, 0, time.UTC),
			Address: "ul. Marszałkowska 1", Visits: restclient.Count{N: 5, Valid: true}, VisitsOwner: restclient.Count{N: 3, Valid: true}, VisitsCopy: restclient.Count{N: 1, Valid: true},
			Location: &restclient.GeoPoint{Latitude: 52.2297, Longitude: 21.0122}, Type: "standard",
			CreatedAt: time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC),
		},
		{ID: "1235", UserID: 7, Status: "saved"},
	}, ms)
}

func TestUserMeetingsEmpty(t *testing.T) {
	c, mux, _ := setup(t)
	mux.HandleFunc("/api/v1/users/7/meetings", reply(200, `{"status":200,"data":{"list":[]}}`))
	ms, err := c.UserMeetings(context.Background(), 7)
	require.NoError(t, err)
	assert.NotNil(t, ms)
	assert.Empty(t, ms)
}

func TestLocationAppliesToNaiveDates(t *testing.T) {
	warsaw, err := time.LoadLocation("Europe/Warsaw")
	require.NoError(t, err)
	c, mux, _ := setup(t, restclient.WithLocation(warsaw))
	mux.HandleFunc("/api/v1/users/7/meetings", reply(200, `{"status":200,"data":{"list":[{"id":1,"start_date":"2024-07-01 10:00:00"}]}}`))
	ms, err := c.UserMeetings(context.Background(), 7)
	require.NoError(t, err)
	assert.Equal(t, time.Date(2024, 7, 1, 8, 0, 0, 0, time.UTC), ms[0].StartDate.UTC())
	assert.Equal(t, warsaw, ms[0].StartDate.Location())
}

func TestNewValidatesBaseURL(t *testing.T) {
	for _, raw := range []string{"", "crm.example.com", "localhost:8080", "ftp://crm.example.com", "http://", "https:///api",
		"http://user:hunter2@crm.example.com", "https://crm.example.com/?x=1", "https://crm.example.com/#top", "http://crm example.com"} {
		_, err := restclient.New(raw)
		if assert.Error(t, err, raw) {
			assert.NotContains(t, err.Error(), "hunter2")
		}
	}
	for _, raw := range []string{"https://crm.example.com", "https://crm.example.com/", "http://127.0.0.1:8080", "https://example.com/crm/", " HTTPS://Crm.Example.com "} {
		_, err := restclient.New(raw)
		assert.NoError(t, err, raw)
	}
}

func TestNewRejectsInvalidOptions(t *testing.T) {
	for name, opt := range map[string]restclient.Option{
		"nil http client":     restclient.WithHTTPClient(nil),
		"zero timeout":        restclient.WithTimeout(0),
		"empty user agent":    restclient.WithUserAgent(" "),
		"empty page param":    restclient.WithPageParam(""),
		"negative per page":   restclient.WithPerPage("per_page", -1),
		"nil location":        restclient.WithLocation(nil),
		"zero max bytes":      restclient.WithMaxResponseBytes(0),
		"zero max pages":      restclient.WithMaxPages(0),
		"zero concurrency":    restclient.WithPageConcurrency(0),
		"negative concurency": restclient.WithPageConcurrency(-2),
	} {
		_, err := restclient.New("https://crm.example.com", opt)
		assert.Error(t, err, name)
	}
}

func TestBaseURLWithPathPrefix(t *testing.T) {
	mux := http.NewServeMux()
	var got string
	mux.HandleFunc("/crm/api/v1/users/7/meetings", func(w http.ResponseWriter, r *http.Request) {
		got = r.URL.Path
		reply(200, `{"status":200,"data":{"list":[]}}`)(w, r)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	for _, base := range []string{srv.URL + "/crm", srv.URL + "/crm/"} {
		got = ""
		c, err := restclient.New(base)
		require.NoError(t, err)
		_, err = c.UserMeetings(context.Background(), 7)
		require.NoError(t, err, base)
		assert.Equal(t, "/crm/api/v1/users/7/meetings", got)
	}
}

func TestInvalidArgumentsMakeNoCall(t *testing.T) {
	c, mux, _ := setup(t)
	var calls atomic.Int32
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { calls.Add(1) })
	ctx := context.Background()

	_, err := c.UserMeetings(ctx, 0)
	assert.ErrorIs(t, err, restclient.ErrInvalidArgument)
	_, err = c.UserThreads(ctx, -1, 1)
	assert.ErrorIs(t, err, restclient.ErrInvalidArgument)
	_, err = c.UserThreads(ctx, 7, 0)
	var ae *restclient.ArgumentError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, "page", ae.Name)
	_, err = c.AllUserThreads(ctx, 0)
	assert.ErrorIs(t, err, restclient.ErrInvalidArgument)
	assert.False(t, restclient.IsBadRequest(err), "the upstream did not say 400")
	assert.Zero(t, calls.Load())
}

func TestAPIErrors(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		header      map[string]string
		body        string
		code        int
		envelope    int
		description string
		retryAfter  time.Duration
		class       func(error) bool
	}{
		{"400", 400, nil, `{"status": 400, "description": "Nieprawid\u0142owe parametry"}`, 400, 400, "Nieprawidłowe parametry", 0, restclient.IsBadRequest},
		{"403", 403, nil, `{"status": 403, "description": "Niepoprawne dane logowania"}`, 403, 403, "Niepoprawne dane logowania", 0, restclient.IsForbidden},
		{"403 in a 200 envelope", 200, nil, `{"status": 403, "description": "Niepoprawne dane logowania"}`, 403, 403, "Niepoprawne dane logowania", 0, restclient.IsForbidden},
		{"403 as a string in a 200 envelope", 200, nil, `{"status": "403", "description": "Niepoprawne dane logowania"}`, 403, 403, "Niepoprawne dane logowania", 0, restclient.IsForbidden},
		{"400 in a 200 envelope with data", 200, nil, `{"status": 400, "description": "x", "data": {"list": []}}`, 400, 400, "x", 0, restclient.IsBadRequest},
		{"404 in plain text", 404, nil, `404 page not found`, 404, 0, "", 0, func(err error) bool {
			return !restclient.IsBadRequest(err) && !restclient.IsForbidden(err) && !restclient.IsServerError(err) && !restclient.IsRateLimited(err)
		}},
		{"429 with Retry-After", 429, map[string]string{"Retry-After": "120"}, `{"status": 429, "description": "slow down"}`, 429, 429, "slow down", 2 * time.Minute, restclient.IsRateLimited},
		{"429 without Retry-After", 429, nil, ``, 429, 0, "", 0, restclient.IsRateLimited},
		{"500", 500, nil, `{"status": 500, "description": "Internal error"}`, 500, 500, "Internal error", 0, restclient.IsServerError},
		{"502 from a proxy in HTML", 502, map[string]string{"Content-Type": "text/html"}, `<html><body><h1>502 Bad Gateway</h1></body></html>`, 502, 0, "", 0, restclient.IsServerError},
		{"503 with Retry-After", 503, map[string]string{"Retry-After": "30"}, `{"status": 503}`, 503, 503, "", 30 * time.Second, restclient.IsServerError},
		{"504 empty", 504, nil, ``, 504, 0, "", 0, restclient.IsServerError},
		{"500 with truncated JSON", 500, nil, `{"status": 500, "descr`, 500, 0, "", 0, restclient.IsServerError},
		{"HTTP 500 with a 200 envelope", 500, nil, `{"status": 200, "data": {}}`, 500, 200, "", 0, restclient.IsServerError},
		{"description cleaned", 400, nil, `{"status": 400, "description": "line one\nline two\u202e"}`, 400, 400, "line one line two", 0, restclient.IsBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, mux, url := setup(t)
			mux.HandleFunc("/api/v1/users/7/meetings", func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			})
			_, err := c.UserMeetings(context.Background(), 7)
			var ae *restclient.APIError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, tt.status, ae.HTTPStatus)
			assert.Equal(t, tt.envelope, ae.Status)
			assert.Equal(t, tt.code, ae.Code())
			assert.Equal(t, tt.description, ae.Description)
			assert.Equal(t, tt.retryAfter, ae.RetryAfter)
			assert.Equal(t, restclient.EndpointUserMeetings, ae.Endpoint)
			assert.Equal(t, "/api/v1/users/7/meetings", ae.Path)
			assert.True(t, tt.class(err), "error class of %v", err)
			assert.NotContains(t, err.Error(), strings.TrimPrefix(url, "http://"), "no host in messages")
			assert.Contains(t, err.Error(), "/api/v1/users/7/meetings")
		})
	}
}

func TestAPIErrorMessage(t *testing.T) {
	c, mux, _ := setup(t)
	mux.HandleFunc("/api/v1/users/7/meetings", reply(200, `{"status": 403, "description": "Niepoprawne dane logowania"}`))
	_, err := c.UserMeetings(context.Background(), 7)
	assert.EqualError(t, err, `restclient: /api/v1/users/7/meetings: upstream answered 403 Forbidden (in an HTTP 200 response): "Niepoprawne dane logowania"`)
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		body        string
		excerpt     string
	}{
		{"HTML instead of JSON", "text/html; charset=utf-8", "<!DOCTYPE html>\n<html><head><title>Login</title></head></html>", "<!DOCTYPE html> <html><head><title>Login</title></head></html>"},
		{"truncated JSON", "application/json", `{"status": 200, "data": {"list": [{"id": 1`, `{"status": 200, "data": {"list": [{"id": 1`},
		{"trailing garbage", "application/json", `{"status": 200, "data": {"list": []}} {}`, `{"status": 200, "data": {"list": []}} {}`},
		{"empty body", "application/json", ``, ``},
		{"data missing", "application/json", `{"status": 200}`, `{"status": 200}`},
		{"data not an object", "application/json", `{"status": 200, "data": "nothing"}`, `{"status": 200, "data": "nothing"}`},
		{"list not an array", "application/json", `{"status": 200, "data": {"list": 5}}`, `{"status": 200, "data": {"list": 5}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, mux, _ := setup(t)
			mux.HandleFunc("/api/v1/users/7/meetings", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tt.contentType)
				io.WriteString(w, tt.body)
			})
			_, err := c.UserMeetings(context.Background(), 7)
			var de *restclient.DecodeError
			require.ErrorAs(t, err, &de)
			assert.Equal(t, 200, de.HTTPStatus)
			assert.Equal(t, strings.Split(tt.contentType, ";")[0], de.ContentType)
			assert.Equal(t, tt.excerpt, de.Excerpt)
			assert.Equal(t, restclient.EndpointUserMeetings, de.Endpoint)
			assert.Equal(t, "/api/v1/users/7/meetings", de.Path)
		})
	}
}

func TestExcerptIsBoundedAndClean(t *testing.T) {
	c, mux, _ := setup(t)
	mux.HandleFunc("/api/v1/users/7/meetings", reply(200, "<html>\x00\x1b[31m"+strings.Repeat("ż", 200)+"\xff"))
	_, err := c.UserMeetings(context.Background(), 7)
	var de *restclient.DecodeError
	require.ErrorAs(t, err, &de)
	assert.LessOrEqual(t, len(de.Excerpt), 120)
	assert.True(t, strings.HasPrefix(de.Excerpt, "<html> [31mżż"), de.Excerpt)
	assert.NotContains(t, de.Excerpt, "\x1b")
}

// hijack answers through the raw connection, for answers net/http would
// refuse to write.
func hijack(t *testing.T, raw string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := w.(http.Hijacker).Hijack()
		if !assert.NoError(t, err) {
			return
		}
		defer conn.Close()
		buf.WriteString(raw)
		buf.Flush()
	}
}

// A body that stops before its end is a failure of the exchange, as the
// error table's UPSTREAM_UNREACHABLE says, not an answer that could not be read:
// a transport error, retried like a dropped connection.
func TestBodyCutShortIsATransportError(t *testing.T) {
	c, mux, url := setup(t, restclient.WithoutRetry())
	mux.HandleFunc("/api/v1/users/7/meetings", hijack(t, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"+`{"status": 200, "data": {"li`))
	_, err := c.UserMeetings(context.Background(), 7)
	var te *restclient.TransportError
	require.ErrorAs(t, err, &te)
	assert.NotErrorAs(t, err, new(*restclient.DecodeError))
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	assert.Equal(t, restclient.EndpointUserMeetings, te.Endpoint)
	assert.EqualError(t, err, "restclient: /api/v1/users/7/meetings: answer cut short: connection closed before the response was complete")
	assert.NotContains(t, err.Error(), strings.TrimPrefix(url, "http://"))
	assert.NotErrorIs(t, err, restclient.ErrTimeout)
}

func TestConnectionResetMidBodyIsATransportError(t *testing.T) {
	fake := fakeapi.NewServer()
	t.Cleanup(fake.Close)
	fake.Inject(fakeapi.Fault{Kind: fakeapi.FaultResetMidBody})
	c, err := restclient.New(fake.URL, restclient.WithoutRetry(), restclient.WithCredentials(http.Header{"Authorization": {fakeapi.DefaultToken}}))
	require.NoError(t, err)
	_, err = c.UserMeetings(context.Background(), 7)
	var te *restclient.TransportError
	require.ErrorAs(t, err, &te)
	assert.ErrorIs(t, err, syscall.ECONNRESET)
	assert.EqualError(t, err, "restclient: /api/v1/users/7/meetings: answer cut short: connection reset")
	assert.Equal(t, 1, fake.Calls())
}

func TestConnectionClosedIsATransportError(t *testing.T) {
	c, mux, url := setup(t)
	mux.HandleFunc("/api/v1/users/7/meetings", hijack(t, ""))
	_, err := c.UserMeetings(context.Background(), 7)
	var te *restclient.TransportError
	require.ErrorAs(t, err, &te)
	assert.Equal(t, restclient.EndpointUserMeetings, te.Endpoint)
	assert.Equal(t, "/api/v1/users/7/meetings", te.Path)
	assert.NotContains(t, err.Error(), strings.TrimPrefix(url, "http://"))
	assert.NotErrorIs(t, err, restclient.ErrTimeout)
}

func TestConnectionRefusedIsATransportError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.Listener.Addr().String()
	srv.Close()
	c, err := restclient.New("http://" + addr)
	require.NoError(t, err)
	_, err = c.UserMeetings(context.Background(), 7)
	var te *restclient.TransportError
	require.ErrorAs(t, err, &te)
	assert.EqualError(t, err, "restclient: /api/v1/users/7/meetings: no answer from upstream: connection refused")
	var opErr *net.OpError
	assert.ErrorAs(t, err, &opErr, "the cause stays available")
}

func TestResponseTooLarge(t *testing.T) {
	big := `{"status": 200, "data": {"list": [` + strings.Repeat(`{"id": 1},`, 300) + `{"id": 1}]}}`
	tests := []struct {
		name    string
		handler http.HandlerFunc
		api     bool
	}{
		{"declared length", reply(200, big), false},
		{"chunked", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, big[:100])
			w.(http.Flusher).Flush() // no Content-Length from here on
			io.WriteString(w, big[100:])
		}, false},
		{"error body", reply(500, big), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, mux, _ := setup(t, restclient.WithMaxResponseBytes(1024))
			mux.HandleFunc("/api/v1/users/7/meetings", tt.handler)
			_, err := c.UserMeetings(context.Background(), 7)
			if tt.api {
				assert.True(t, restclient.IsServerError(err), "status known: %v", err)
				return
			}
			var de *restclient.DecodeError
			require.ErrorAs(t, err, &de)
			assert.ErrorIs(t, err, restclient.ErrResponseTooLarge)
		})
	}
	t.Run("at the limit", func(t *testing.T) {
		body := `{"status":200,"data":{"list":[]}}`
		c, mux, _ := setup(t, restclient.WithMaxResponseBytes(int64(len(body))))
		mux.HandleFunc("/api/v1/users/7/meetings", reply(200, body))
		_, err := c.UserMeetings(context.Background(), 7)
		assert.NoError(t, err)
	})
}

// blocking is a handler that waits until the test releases it or the client
// goes away, and says when it has started.
func blocking(t *testing.T, partial string) (h http.HandlerFunc, started <-chan struct{}) {
	release, begun := make(chan struct{}), make(chan struct{}, 1)
	t.Cleanup(func() { close(release) }) // before the server's Close, which waits for handlers
	return func(w http.ResponseWriter, r *http.Request) {
		if partial != "" {
			io.WriteString(w, partial)
			w.(http.Flusher).Flush()
		}
		select {
		case begun <- struct{}{}:
		default:
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}, begun
}

func TestTimeout(t *testing.T) {
	for name, partial := range map[string]string{"before the headers": "", "in the body": `{"status": 200, "data": {`} {
		t.Run(name, func(t *testing.T) {
			c, mux, url := setup(t, restclient.WithTimeout(50*time.Millisecond))
			h, _ := blocking(t, partial)
			mux.HandleFunc("/api/v1/users/7/meetings", h)
			_, err := c.UserMeetings(context.Background(), 7)
			assert.ErrorIs(t, err, restclient.ErrTimeout)
			assert.ErrorIs(t, err, context.DeadlineExceeded)
			var te *restclient.TransportError
			require.ErrorAs(t, err, &te)
			assert.Equal(t, restclient.EndpointUserMeetings, te.Endpoint)
			assert.NotContains(t, err.Error(), strings.TrimPrefix(url, "http://"))
			// The per-call deadline or, as fast, the transport's header timeout.
			assert.Regexp(t, `timed out after 50ms|timeout awaiting response headers`, err.Error())
		})
	}
}

func TestCallerDeadlineIsATimeout(t *testing.T) {
	c, mux, _ := setup(t)
	h, _ := blocking(t, "")
	mux.HandleFunc("/api/v1/users/7/meetings", h)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := c.UserMeetings(ctx, 7)
	assert.ErrorIs(t, err, restclient.ErrTimeout)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestCancellation(t *testing.T) {
	c, mux, _ := setup(t)
	h, started := blocking(t, "")
	mux.HandleFunc("/api/v1/users/7/meetings", h)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-started
		cancel()
	}()
	_, err := c.UserMeetings(ctx, 7)
	assert.ErrorIs(t, err, context.Canceled)
	assert.NotErrorIs(t, err, restclient.ErrTimeout)
	var te *restclient.TransportError
	assert.ErrorAs(t, err, &te)
}

func TestCredentials(t *testing.T) {
	const static, caller = "Bearer static-server-token", "Bearer caller-token-123"
	type seen struct{ auth, tenant string }
	var got seen
	c, mux, _ := setup(t, restclient.WithCredentials(http.Header{"authorization": {static}, "X-Tenant": {"acme"}}))
	mux.HandleFunc("/api/v1/users/7/meetings", func(w http.ResponseWriter, r *http.Request) {
		got = seen{r.Header.Get("Authorization"), r.Header.Get("X-Tenant")}
		reply(200, `{"status":200,"data":{"list":[]}}`)(w, r)
	})

	_, err := c.UserMeetings(context.Background(), 7)
	require.NoError(t, err)
	assert.Equal(t, seen{static, "acme"}, got, "static credentials when the context has none")

	fwd := http.Header{"Authorization": {caller}}
	ctx := restclient.WithRequestHeaders(context.Background(), fwd)
	fwd.Set("Authorization", "changed later") // the context holds a copy
	_, err = c.UserMeetings(ctx, 7)
	require.NoError(t, err)
	assert.Equal(t, seen{caller, ""}, got, "a caller's credential travels alone: none of the static headers")

	_, err = c.UserMeetings(restclient.WithRequestHeaders(context.Background(), http.Header{"X-Tenant": {"other"}}), 7)
	require.NoError(t, err)
	assert.Equal(t, seen{"", "other"}, got, "any forwarded header withholds the static ones")

	_, err = c.UserMeetings(restclient.WithRequestHeaders(context.Background(), http.Header{"X-Request-Id": {"r1"}, "Traceparent": {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}}), 7)
	require.NoError(t, err)
	assert.Equal(t, seen{static, "acme"}, got, "per-request headers are no credential")

	h, ok := restclient.RequestHeadersFrom(ctx)
	require.True(t, ok)
	assert.Equal(t, caller, h.Get("Authorization"))
	_, ok = restclient.RequestHeadersFrom(context.Background())
	assert.False(t, ok)
}

// An upstream that echoes request headers back must not get them into
// errors, whichever kind.
func TestCredentialsNeverInErrors(t *testing.T) {
	const token = "s3cr3t-t0ken-value"
	echo := func(status int, format string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(status)
			fmt.Fprintf(w, format, r.Header.Get("Authorization"))
		}
	}
	tests := map[string]http.HandlerFunc{
		"403 description":     echo(403, `{"status": 403, "description": "bad credential %s"}`),
		"403 in 200 envelope": echo(200, `{"status": 403, "description": "bad credential %s"}`),
		"HTML excerpt":        echo(200, `<html>your header: %s</html>`),
		"broken JSON excerpt": echo(200, `{"status": 200, "auth": "%s", "data": {`),
		"502 HTML":            echo(502, `<pre>%s</pre>`),
		"long description":    echo(400, `{"status": 400, "description": "`+strings.Repeat("x", 505)+`%s"}`),
		"400 description":     echo(400, `{"status": 400, "description": "%s"}`),
	}
	for name, h := range tests {
		t.Run(name, func(t *testing.T) {
			for _, ctx := range []context.Context{
				context.Background(), // the static credential
				restclient.WithRequestHeaders(context.Background(), http.Header{"Authorization": {"Bearer " + token}}),
			} {
				c, mux, _ := setup(t, restclient.WithCredentials(http.Header{"Authorization": {token}}))
				mux.HandleFunc("/api/v1/users/7/meetings", h)
				_, err := c.UserMeetings(ctx, 7)
				require.Error(t, err)
				assert.NotContains(t, err.Error(), token)
				assert.NotContains(t, err.Error(), token[:8])
				assert.NotContains(t, fmt.Sprintf("%+v", err), token)
				var ae *restclient.APIError
				if errors.As(err, &ae) {
					assert.NotContains(t, ae.Description, token)
				}
				var de *restclient.DecodeError
				if errors.As(err, &de) {
					assert.NotContains(t, de.Excerpt, token)
				}
			}
		})
	}
}

func TestObserver(t *testing.T) {
	var calls []restclient.CallInfo
	c, mux, _ := setup(t, restclient.WithObserver(func(ci restclient.CallInfo) { calls = append(calls, ci) }),
		restclient.WithCredentials(http.Header{"Authorization": {"Bearer observed-secret"}}))
	mux.HandleFunc("/api/v1/users/7/meetings", reply(200, `{"status":200,"data":{"list":[]}}`))
	mux.HandleFunc("/api/v1/users/8/meetings", reply(403, `{"status":403,"description":"Niepoprawne dane logowania"}`))

	_, err := c.UserMeetings(context.Background(), 7)
	require.NoError(t, err)
	_, err = c.UserMeetings(context.Background(), 8)
	require.Error(t, err)
	_, _ = c.UserMeetings(context.Background(), 0) // no HTTP call, no observation

	require.Len(t, calls, 2)
	for i, want := range []restclient.CallInfo{
		{Endpoint: restclient.EndpointUserMeetings, Path: "/api/v1/users/7/meetings", Method: "GET", HTTPStatus: 200, Class: restclient.Classify(nil), Attempt: 1},
		{Endpoint: restclient.EndpointUserMeetings, Path: "/api/v1/users/8/meetings", Method: "GET", HTTPStatus: 403, Err: err, Class: restclient.Classify(err), Attempt: 1},
	} {
		got := calls[i]
		assert.Positive(t, got.Duration)
		got.Duration = 0
		assert.Equal(t, want, got)
		assert.NotContains(t, fmt.Sprintf("%+v", calls[i]), "observed-secret")
	}
}

func TestWithHTTPClient(t *testing.T) {
	var used atomic.Bool
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		used.Store(true)
		return http.DefaultTransport.RoundTrip(r)
	})}
	c, mux, _ := setup(t, restclient.WithHTTPClient(hc), restclient.WithUserAgent("salesgraph-test/1"))
	mux.HandleFunc("/api/v1/users/7/meetings", func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, "salesgraph-test/1", r.Header.Get("User-Agent"))
		reply(200, `{"status":200,"data":{"list":[]}}`)(w, r)
	})
	_, err := c.UserMeetings(context.Background(), 7)
	require.NoError(t, err)
	assert.True(t, used.Load())
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// The client is shared by every request of the facade.
func TestConcurrentUse(t *testing.T) {
	c, mux, _ := setup(t)
	mux.HandleFunc("/api/v1/users/{id}/meetings", func(w http.ResponseWriter, r *http.Request) {
		reply(200, `{"status":200,"data":{"list":[{"id":`+r.PathValue("id")+`}]}}`)(w, r)
	})
	var wg sync.WaitGroup
	for i := int64(1); i <= 32; i++ {
		wg.Go(func() {
			ctx := restclient.WithRequestHeaders(context.Background(), http.Header{"Authorization": {fmt.Sprint("Bearer ", i)}})
			ms, err := c.UserMeetings(ctx, i)
			if assert.NoError(t, err) && assert.Len(t, ms, 1) {
				assert.Equal(t, fmt.Sprint(i), ms[0].ID)
			}
		})
	}
	wg.Wait()
}

func TestInvalidCredentialValueIsRefusedUnsent(t *testing.T) {
	c, mux, _ := setup(t)
	var calls atomic.Int32
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { calls.Add(1) })
	ctx := restclient.WithRequestHeaders(context.Background(), http.Header{"Authorization": {"Bearer s3cr3t-t0ken\r\nX-Injected: 1"}})
	_, err := c.UserMeetings(ctx, 7)
	var te *restclient.TransportError
	require.ErrorAs(t, err, &te)
	assert.Contains(t, err.Error(), `invalid header field value for "Authorization"`)
	assert.NotContains(t, err.Error(), "s3cr3t")
	assert.Zero(t, calls.Load())
}
