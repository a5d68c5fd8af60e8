package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/salesgraph/salesgraph/observe"
	"github.com/salesgraph/salesgraph/restclient"
)

// telemetry is the server's observability: the metrics registry, tracing,
// the probes, and the optional listener that serves them apart from the API.
type telemetry struct {
	metrics *observe.Metrics
	tracing *observe.Tracing
	probes  *observe.Probes
	admin   *http.Server // nil unless -metrics-addr names an address
	adminLn net.Listener
	log     *slog.Logger
}

// metricsOff is the -metrics-addr value that serves no /metrics at all.
const metricsOff = "off"

// newTelemetry sets up metrics and tracing (OTEL_* read through getenv),
// binds the metrics listener if one is configured, and logs the start-up
// configuration summary, secrets redacted.
func newTelemetry(ctx context.Context, cfg *config, getenv func(string) string, console io.Writer, log *slog.Logger) (*telemetry, error) {
	t := &telemetry{metrics: observe.NewMetrics(), probes: observe.NewProbes(), log: log}
	tr, err := observe.TracingFromEnv(ctx, getenv, console, log, version(), observe.WithResolverSpans(cfg.TraceResolvers))
	if err != nil {
		return nil, err
	}
	t.tracing = tr

	if cfg.MetricsAddr != "" && cfg.MetricsAddr != metricsOff {
		ln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			_ = tr.Shutdown(ctx)
			return nil, fmt.Errorf("metrics listen: %w", err)
		}
		mux := http.NewServeMux()
		t.mountAdmin(mux)
		t.adminLn = ln
		t.admin = &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       10 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       120 * time.Second,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		}
		go func() {
			if err := t.admin.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("metrics listener stopped", "error", err.Error())
			}
		}()
	}
	log.Info("configuration", configSummary(cfg, getenv, t)...)
	return t, nil
}

// upstreamCircuit names the client's circuit breaker in metrics.
const upstreamCircuit = "upstream"

// clientOptions instruments the upstream client: metrics per HTTP attempt,
// per retry decision and per breaker state change, and a transport
// (restclient's own, tuned) that makes a span per attempt and sends the
// trace context upstream.
func (t *telemetry) clientOptions(timeout time.Duration) []restclient.Option {
	t.metrics.CircuitState(upstreamCircuit, restclient.BreakerClosed.String()) // breakers start closed
	return []restclient.Option{
		restclient.WithObserver(func(ci restclient.CallInfo) {
			t.metrics.UpstreamCall(ci.Endpoint, ci.HTTPStatus, ci.Class.Result(), ci.Duration)
			t.logCall(ci)
		}),
		restclient.WithRetryObserver(func(ev restclient.RetryEvent) {
			if ev.Denied == "" {
				t.metrics.RetryAttempt(ev.Endpoint)
			} else {
				t.metrics.RetryDenied(ev.Endpoint, string(ev.Denied))
			}
		}),
		restclient.WithBreakerObserver(func(_, to restclient.BreakerState) {
			t.metrics.CircuitState(upstreamCircuit, to.String())
		}),
		restclient.WithHTTPClient(&http.Client{Transport: observe.NewTransport(restclient.NewTransport(timeout), t.tracing, restclient.ErrorType)}),
	}
}

// logCall logs one HTTP attempt upstream at debug, the level for following
// a request through the facade: paths hold user ids, and at info a busy
// server would log every call. Failures are logged at warn by graph,
// with the request id, once per call rather than per attempt.
func (t *telemetry) logCall(ci restclient.CallInfo) {
	ctx := context.Background()
	if !t.log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	attrs := []slog.Attr{
		slog.String("endpoint", ci.Endpoint),
		slog.String("path", ci.Path),
		slog.Int("httpStatus", ci.HTTPStatus),
		slog.Int("attempt", ci.Attempt),
		slog.Duration("duration", ci.Duration),
	}
	if ci.Err != nil {
		attrs = append(attrs, slog.String("error", ci.Err.Error()))
	}
	t.log.LogAttrs(ctx, slog.LevelDebug, "upstream call", attrs...)
}

// watchUpstream makes readiness fail while ready says no, i.e. while the
// client's circuit breaker is open. It must ask the breaker itself (not the
// last state change it reported): an open breaker only half-opens when
// asked after its timeout, and a pod taken out of the load balancer gets no
// traffic that would ask.
func (t *telemetry) watchUpstream(ready func() bool) {
	t.probes.AddCheck("upstream circuit open", ready)
}

// mount adds /readyz to the API's mux, and /metrics unless it is served on
// its own address or off. /healthz is server.go's.
func (t *telemetry) mount(mux *http.ServeMux, cfg *config) {
	mux.Handle("GET /readyz", t.probes.Readiness())
	if cfg.MetricsAddr == "" {
		mux.Handle("GET /metrics", t.metrics.Handler())
	}
}

// mountAdmin serves the metrics and both probes on the separate listener,
// so that probes and scrapes can use a port that is not exposed publicly.
func (t *telemetry) mountAdmin(mux *http.ServeMux) {
	mux.Handle("GET /metrics", t.metrics.Handler())
	mux.Handle("GET /healthz", t.probes.Liveness())
	mux.Handle("GET /readyz", t.probes.Readiness())
}

// adminAddr is the metrics listener's address, or "" when there is none.
func (t *telemetry) adminAddr() string {
	if t.adminLn == nil {
		return ""
	}
	return t.adminLn.Addr().String()
}

// shutdown flushes spans and stops the metrics listener; after the API
// server's own shutdown, so that the last operations' spans and scrapes are
// not lost.
func (t *telemetry) shutdown(log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := t.tracing.Shutdown(ctx); err != nil {
		log.Warn("tracing shutdown", "error", err.Error())
	}
	if t.admin != nil {
		_ = t.admin.Shutdown(ctx)
	}
}

// version is the module version the binary was built from, for
// service.version; "(devel)" for go run and go build in a work tree.
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// redacted stands for a secret's value in logs.
const redacted = "[REDACTED]"

// secretField matches config field names whose values are secrets: their
// values are never logged, only whether they are set. It is deliberately
// broad; a header *name* such as UpstreamAuthHeader does not match.
var secretField = regexp.MustCompile(`(?i)(authorization|token|secret|password|passwd|credential|cookie|apikey|api_key|privatekey|signingkey)`)

// configSummary is every setting for the start-up log line, computed from
// the config struct by reflection so that a setting added later is listed
// without anyone remembering to: secret fields show [REDACTED], URLs lose
// their user info and query, maps show their keys only, and OpenTelemetry's
// own settings are summarised the same way (OTLP headers by name only).
func configSummary(cfg *config, getenv func(string) string, t *telemetry) []any {
	var out []any
	v := reflect.ValueOf(cfg).Elem()
	for i := 0; i < v.NumField(); i++ {
		f := v.Type().Field(i)
		if !f.IsExported() {
			continue
		}
		out = append(out, slog.Any(lowerFirst(f.Name), summaryValue(f.Name, v.Field(i))))
	}
	metrics := "/metrics on the API listener"
	switch {
	case cfg.MetricsAddr == metricsOff:
		metrics = "off"
	case cfg.MetricsAddr != "":
		metrics = "/metrics on " + cfg.MetricsAddr
	}
	endpoint := getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
	if endpoint == "" {
		endpoint = getenv("OTEL_EXPORTER_OTLP_ENDPOINT")
	}
	out = append(out,
		slog.String("metrics", metrics),
		slog.String("tracing", t.tracing.Exporter()),
		slog.String("otlpEndpoint", redactURL(endpoint)),
		slog.Any("otlpHeaders", headerNames(getenv("OTEL_EXPORTER_OTLP_HEADERS"), getenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS"))),
		slog.String("otelSampler", getenv("OTEL_TRACES_SAMPLER")),
	)
	return out
}

func summaryValue(name string, v reflect.Value) any {
	if secretField.MatchString(name) {
		if v.IsZero() {
			return ""
		}
		return redacted
	}
	switch x := v.Interface().(type) {
	case string:
		if strings.Contains(x, "://") {
			return redactURL(x)
		}
		return x
	case time.Duration:
		return x.String()
	case *time.Location:
		if x == nil {
			return ""
		}
		return x.String()
	case slog.Level:
		return x.String()
	case []string:
		return x
	case bool, int, int64, float64:
		return x
	}
	switch v.Kind() {
	case reflect.Map:
		// Values could be credentials (header maps); names are enough.
		keys := make([]string, 0, v.Len())
		for _, k := range v.MapKeys() {
			keys = append(keys, fmt.Sprint(k.Interface()))
		}
		slices.Sort(keys)
		return keys
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64, reflect.Bool:
		return fmt.Sprint(v.Interface())
	}
	// Structs, pointers, funcs: their printing could expose anything.
	if v.IsZero() {
		return ""
	}
	return "(set)"
}

// headerNames lists the names in OTEL_EXPORTER_OTLP_HEADERS-style values
// ("k1=v1,k2=v2"), whose values are typically API keys.
func headerNames(values ...string) []string {
	names := []string{}
	for _, v := range values {
		for kv := range strings.SplitSeq(v, ",") {
			if k, _, ok := strings.Cut(kv, "="); ok && strings.TrimSpace(k) != "" {
				names = append(names, strings.TrimSpace(k))
			}
		}
	}
	return names
}

// lowerFirst makes a Go field name a log key: UpstreamURL -> upstreamURL,
// IDEAssetsDir -> ideAssetsDir, IDE -> ide.
func lowerFirst(s string) string {
	i := strings.IndexFunc(s, unicode.IsLower)
	switch {
	case i < 0:
		return strings.ToLower(s)
	case i > 1:
		return strings.ToLower(s[:i-1]) + s[i-1:]
	}
	return strings.ToLower(s[:1]) + s[1:]
}
