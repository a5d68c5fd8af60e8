package telemetry

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMetricsOnASeparateAddress(t *testing.T) {
	ctx := context.Background()
	tel, err := New(ctx, Options{MetricsAddr: "127.0.0.1:0"}, envMap(nil), io.Discard, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(func() { tel.Shutdown(slog.New(slog.DiscardHandler)) })
	admin := "http://" + tel.AdminAddr()

	code, body := get(t, admin+"/metrics")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "salesgraph_upstream_calls_in_flight 0")
	code, _ = get(t, admin+"/healthz")
	assert.Equal(t, http.StatusOK, code)
	code, body = get(t, admin+"/readyz")
	assert.Equal(t, http.StatusServiceUnavailable, code, "not serving yet")
	assert.Equal(t, "not ready: starting\n", body)

	tel.Probes.SetServing(true)
	code, _ = get(t, admin+"/readyz")
	assert.Equal(t, http.StatusOK, code)

	// The API's mux then has no /metrics.
	mux := http.NewServeMux()
	tel.Mount(mux)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	assert.Equal(t, http.StatusNotFound, rec.Code)
	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	assert.Equal(t, http.StatusOK, rec.Code)
}

func TestMetricsOff(t *testing.T) {
	tel, err := New(context.Background(), Options{}, envMap(nil), io.Discard, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	assert.Empty(t, tel.AdminAddr())
	mux := http.NewServeMux()
	tel.Mount(mux)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	assert.Equal(t, http.StatusNotFound, rec.Code)
}

// TestPprofIsServedOnTheMetricsListenerOnly: profiles are opt-in, and even
// then never reachable through the public API's mux.
func TestPprofIsServedOnTheMetricsListenerOnly(t *testing.T) {
	for _, on := range []bool{false, true} {
		tel, err := New(context.Background(), Options{MetricsAddr: "127.0.0.1:0", Pprof: on}, envMap(nil), io.Discard, slog.New(slog.DiscardHandler))
		require.NoError(t, err)
		code, body := get(t, "http://"+tel.AdminAddr()+"/debug/pprof/goroutine?debug=1")
		if on {
			assert.Equal(t, http.StatusOK, code)
			assert.Contains(t, body, "goroutine profile:")
		} else {
			assert.Equal(t, http.StatusNotFound, code)
		}
		mux := http.NewServeMux()
		tel.Mount(mux)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/debug/pprof/", nil))
		assert.Equal(t, http.StatusNotFound, rec.Code, "pprof %v: the API listener serves no profiles", on)
		tel.Shutdown(slog.New(slog.DiscardHandler))
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// envMap is a getenv reading m.
func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}
