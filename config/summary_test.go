package config

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// summaryJSON is c's summary as the JSON log line prints it.
func summaryJSON(t *testing.T, c *Config) (line string, m map[string]any) {
	t.Helper()
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).LogAttrs(t.Context(), slog.LevelInfo, "configuration", c.Summary()...)
	require.NoError(t, json.Unmarshal(buf.Bytes(), &m))
	return buf.String(), m
}

// at is the value at a dotted path of nested objects; ok is false when a
// step is missing.
func at(m map[string]any, path string) (v any, ok bool) {
	v = m
	for _, k := range strings.Split(path, ".") {
		obj, isObj := v.(map[string]any)
		if !isObj {
			return nil, false
		}
		if v, ok = obj[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

// leafPaths are the log keys of every setting in Config, by reflection.
func leafPaths(t reflect.Type, prefix string) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		key := prefix + lowerFirst(f.Name)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			out = append(out, leafPaths(f.Type, prefix)...) // promoted, as in Go
			continue
		}
		if f.Type.Kind() == reflect.Struct {
			out = append(out, leafPaths(f.Type, key+".")...)
			continue
		}
		out = append(out, key)
	}
	return out
}

// TestSummaryListsEverySetting: every field of Config, nested groups
// included, is in the summary with a value of its own; none is "(set)" or
// of a type the summary does not know.
func TestSummaryListsEverySetting(t *testing.T) {
	c, err := parse(nil, nil)
	require.NoError(t, err)
	line, m := summaryJSON(t, c)
	paths := leafPaths(reflect.TypeOf(Config{}), "")
	require.Greater(t, len(paths), 60, "the security and resilience groups are listed field by field")
	for _, p := range paths {
		_, ok := at(m, p)
		assert.True(t, ok, "%s is in the summary", p)
	}
	assert.NotContains(t, line, unsummarised)
	assert.NotContains(t, line, "(set)")

	// One of each kind of value, and the limits that used to print "(set)".
	for path, want := range map[string]any{
		"server.listenAddr":               ":8080",
		"server.maxConnections":           float64(DefaultMaxConnections),
		"upstream.url":                    "",
		"upstream.authorization":          "",
		"upstream.timeout":                "10s",
		"upstream.timeZone":               "UTC",
		"upstream.forwardHeaders":         []any{"Authorization"},
		"upstream.maxResponseBytes":       float64(32 << 20),
		"upstream.maxConcurrency":         float64(c.Upstream.MaxConcurrency),
		"graphQL.introspection":           true,
		"graphQL.cursorSecret":            "",
		"security.maxDepth":               float64(c.Security.MaxDepth),
		"security.maxComplexity":          float64(c.Security.MaxComplexity),
		"security.maxRequestBytes":        float64(c.Security.MaxRequestBytes),
		"security.upstreamPageSize":       float64(c.Security.UpstreamPageSize),
		"security.allowedOrigins":         []any{"http://localhost:8080", "http://127.0.0.1:8080", "http://[::1]:8080"},
		"security.allowedOperations":      float64(0),
		"security.disableAPQ":             false,
		"resilience.operationTimeout":     c.Resilience.OperationTimeout.String(),
		"resilience.retry.maxAttempts":    float64(c.Resilience.Retry.MaxAttempts),
		"resilience.retry.budget":         c.Resilience.Retry.Budget,
		"resilience.breaker.failureRatio": c.Resilience.Breaker.FailureRatio,
		"resilience.breaker.window":       c.Resilience.Breaker.Window.String(),
		"observability.logLevel":          "INFO",
		"observability.otlpHeaders":       []any{},
		"shutdown.delay":                  "5s",
		"demo.users":                      float64(50),
		"demoMode":                        true,
		"metrics":                         "/metrics on the API listener",
	} {
		got, ok := at(m, path)
		require.True(t, ok, path)
		assert.Equal(t, want, got, path)
	}
}

// TestSummaryRedactsSecrets sets every text flag whose name says it is a
// secret (a future -webhook-secret included, without anyone listing it
// here) to a marker, and finds the marker nowhere in the summary; nor
// passwords and queries in URLs, nor OTLP header values.
func TestSummaryRedactsSecrets(t *testing.T) {
	c, err := parse(nil, nil)
	require.NoError(t, err)
	var secrets []string
	c.flags.VisitAll(func(f *flag.Flag) {
		if _, isText := f.Value.(flag.Getter).Get().(string); isText && secretName.MatchString(f.Name) {
			secrets = append(secrets, f.Name)
		}
	})
	assert.ElementsMatch(t, []string{"upstream-authorization", "cursor-secret", "cache-key-secret"}, secrets)
	for _, name := range secrets {
		t.Run(name, func(t *testing.T) {
			marker := "marker-" + name + "-0123456789abcdef0123456789abcdef"
			c, err := parse([]string{"-" + name, marker}, nil)
			require.NoError(t, err)
			line, _ := summaryJSON(t, c)
			assert.NotContains(t, line, marker)
			assert.Contains(t, line, `"[REDACTED]"`)
		})
	}

	c, err = parse([]string{"-upstream-url", "https://svc:pw-secret-3377@crm.example.com/?key=qs-secret-1100",
		"-redis-url", "rediss://default:redis-pw-4411@redis.example.com:6380/2"}, map[string]string{
		"OTEL_EXPORTER_OTLP_HEADERS":  "api-key=otel-secret-5544,x-tenant=acme",
		"OTEL_EXPORTER_OTLP_ENDPOINT": "https://collector:collector-pw-8822@otel.example.com:4318/?token=qs-secret-6600",
	})
	require.NoError(t, err)
	line, m := summaryJSON(t, c)
	for _, s := range []string{"pw-secret-3377", "qs-secret-1100", "otel-secret-5544", "collector-pw-8822", "qs-secret-6600", "acme", "redis-pw-4411"} {
		assert.NotContains(t, line, s)
	}
	assert.Equal(t, "https://crm.example.com/", m["upstream"].(map[string]any)["url"])
	assert.Equal(t, "rediss://redis.example.com:6380/2", m["replicas"].(map[string]any)["redisURL"])
	obs := m["observability"].(map[string]any)
	assert.Equal(t, "https://otel.example.com:4318/", obs["otlpEndpoint"])
	assert.Equal(t, []any{"api-key", "x-tenant"}, obs["otlpHeaders"], "header names only")
}

// TestSecretPrintsRedacted: however a Secret is printed, its value is not.
func TestSecretPrintsRedacted(t *testing.T) {
	const v = "hunter2-hunter2"
	s := Secret(v)
	j, err := json.Marshal(struct{ S Secret }{s})
	require.NoError(t, err)
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "s", s)
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %s %#v %+v", s, s, s, s), string(j), logged.String(),
		fmt.Sprintf("%+v", Upstream{Authorization: s})} {
		assert.NotContains(t, out, v)
		assert.Contains(t, out, redacted)
	}
	assert.Empty(t, Secret("").String(), "unset shows as unset")
}

// TestTextSummaryGroups: the text format prints the groups as dotted keys.
func TestTextSummaryGroups(t *testing.T) {
	c, err := parse([]string{"-max-depth", "9"}, nil)
	require.NoError(t, err)
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("configuration", "config", c)
	assert.Contains(t, buf.String(), " config.security.maxDepth=9 ")
	assert.Contains(t, buf.String(), " config.resilience.retry.maxAttempts=3 ")
}

func TestLowerFirst(t *testing.T) {
	for in, want := range map[string]string{"IDE": "ide", "IDEAssetsDir": "ideAssetsDir", "URL": "url", "OTLPEndpoint": "otlpEndpoint", "MaxDepth": "maxDepth", "CSRFHeaders": "csrfHeaders"} {
		assert.Equal(t, want, lowerFirst(in))
	}
}
