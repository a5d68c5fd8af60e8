package config

import (
	"log/slog"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"time"
	"unicode"
)

// redacted stands for a secret's value in logs.
const redacted = "[REDACTED]"

// Secret is a setting whose value is never printed: fmt, slog and
// encoders all get [REDACTED] (or "" when it is unset). The one place that
// needs the value converts it: string(cfg.Upstream.Authorization).
type Secret string

func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return s.String() }

// LogValue keeps slog from printing the value.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText keeps encoders from printing the value.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// secretName matches the names of settings whose values are secrets, as
// Go fields or as flags. A text setting so named is redacted even if its
// field was not given the Secret type, so that a future *_SECRET or
// *_TOKEN cannot leak through an oversight. A header *name* such as
// AuthHeader does not match.
var secretName = regexp.MustCompile(`(?i)(authorization|token|secret|password|passwd|credential|cookie|api[-_]?key|private[-_]?key|signing[-_]?key)`)

// Summary is every setting, for the start-up log line: Config's groups as
// log groups, each field under its name with the first letter lowered
// (upstream.url, security.maxDepth, resilience.retry.maxAttempts). It is
// computed by reflection, so that a setting added later is listed without
// anyone remembering to. Secrets show [REDACTED] when set, URLs lose their
// user info and query, and the allow-list shows how many operations it
// holds. Two lines of context follow: whether this is demo mode, and where
// /metrics is served.
func (c *Config) Summary() []slog.Attr {
	attrs := fieldAttrs(reflect.ValueOf(c).Elem())
	metrics := "/metrics on the API listener"
	switch a := c.Observability.MetricsAddr; {
	case a == MetricsOff:
		metrics = "off"
	case a != "":
		metrics = "/metrics on " + a
	}
	return append(attrs, slog.Bool("demoMode", c.DemoMode()), slog.String("metrics", metrics))
}

// LogValue makes a Config logged as a value its Summary.
func (c *Config) LogValue() slog.Value { return slog.GroupValue(c.Summary()...) }

// fieldAttrs summarises the exported fields of the struct v, a group per
// nested struct.
func fieldAttrs(v reflect.Value) []slog.Attr {
	var out []slog.Attr
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if !f.IsExported() {
			continue
		}
		key, fv := lowerFirst(f.Name), v.Field(i)
		if f.Anonymous && fv.Kind() == reflect.Struct {
			// An embedded struct's fields read as the outer one's, as in
			// Go (graph.Security embeds gqlhttp.Options).
			out = append(out, fieldAttrs(fv)...)
			continue
		}
		if fv.Kind() == reflect.Struct {
			out = append(out, slog.Attr{Key: key, Value: slog.GroupValue(fieldAttrs(fv)...)})
			continue
		}
		out = append(out, slog.Any(key, leafValue(f.Name, fv)))
	}
	return out
}

// unsummarised marks a field of a type leafValue does not know; a test
// fails on it, so that no type can print its insides unnoticed.
const unsummarised = "(not summarised: "

func leafValue(name string, v reflect.Value) any {
	switch x := v.Interface().(type) {
	case Secret:
		return x.String()
	case string:
		switch {
		case secretName.MatchString(name):
			return Secret(x).String()
		case strings.Contains(x, "://"):
			return RedactURL(x)
		}
		return x
	case []string:
		if secretName.MatchString(name) && len(x) > 0 {
			return redacted
		}
		return append([]string{}, x...)
	case []byte:
		// A key (gqlhttp.Options.ETagSecret): whether it is set, never its bytes.
		return Secret(x).String()
	case time.Duration:
		return x.String()
	case *time.Location:
		if x == nil {
			return ""
		}
		return x.String()
	case slog.Level:
		return x.String()
	case bool, int, int64, float64:
		return x
	}
	if v.Kind() == reflect.Interface {
		// A plugged-in part (gqlhttp.APQStore): whether one is, and its
		// type, never its state.
		if v.IsNil() {
			return "default"
		}
		return v.Elem().Type().String()
	}
	if v.Kind() == reflect.Map {
		// The allow-list: its entries are whole documents, and a map of
		// headers would hold credentials; the count says enough.
		return v.Len()
	}
	return unsummarised + v.Type().String() + ")"
}

// RedactURL drops user info and query from a URL before it is logged.
func RedactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparseable)"
	}
	u.User = nil
	u.RawQuery = ""
	return u.String()
}

// lowerFirst makes a Go field name a log key: UpstreamURL -> upstreamURL,
// OTLPEndpoint -> otlpEndpoint, URL -> url.
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
