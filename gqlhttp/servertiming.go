package gqlhttp

import (
	"context"
	"net/http"
	"strconv"
	"time"
)

// Server-Timing (W3C Server Timing; RFC 9110's header syntax): with
// Options.ServerTiming every answer says where its time went, which a
// browser's developer tools show beside the request:
//
//	Server-Timing: total;dur=48.2, app;dur=6.1, upstream;dur=42.1;desc="calls=3 shared=1 cached=0"
//
// total is the endpoint's own measure, from the request's arrival at the
// endpoint to its answer's headers; the other metrics are the
// application's (Server.ServerTiming), as only it knows what it waited
// for. A streamed (multipart/mixed) answer's headers leave before its work
// is done: it gets the header as an HTTP trailer, once its last part is
// written (browsers' developer tools show only headers today).
//
// It reveals how long the application's sources took and how their calls
// were answered (from a cache, shared with another request): timing that
// tells an attacker about the backends and their caches. It is off by
// default for that reason; cross-origin scripts cannot read it either way,
// as no Timing-Allow-Origin is sent.

// A TimingMetric is one entry of the Server-Timing header: a name (an
// HTTP token, such as "upstream"), a duration, and an optional
// description, quoted when written.
type TimingMetric struct {
	Name string
	Dur  time.Duration
	Desc string
}

// timingHeader is the Server-Timing header's name.
const timingHeader = "Server-Timing"

// setTiming sets the Server-Timing header in h for the request ctx
// belongs to, when on.
func (t *httpTransport) setTiming(ctx context.Context, h http.Header) {
	if v := t.timing(ctx); v != "" {
		h[timingHeader] = []string{v}
	}
}

// setTimingTrailer sends the Server-Timing of a streamed answer as a
// trailer.
func (t *httpTransport) setTimingTrailer(ctx context.Context, h http.Header) {
	if v := t.timing(ctx); v != "" {
		h[http.TrailerPrefix+timingHeader] = []string{v}
	}
}

// timing is the Server-Timing value for the request ctx belongs to, or ""
// when Server-Timing is off.
func (t *httpTransport) timing(ctx context.Context) string {
	if !t.opts.ServerTiming {
		return ""
	}
	rv, _ := ctx.Value(requestKey{}).(*requestValues)
	if rv == nil {
		return ""
	}
	total := time.Since(rv.start)
	var buf [4]TimingMetric
	ms := append(buf[:0], TimingMetric{Name: "total", Dur: total})
	if f := t.srv.ServerTiming; f != nil {
		ms = f(ctx, total, ms)
	}
	return appendTiming(make([]byte, 0, 96), ms)
}

// appendTiming writes metrics in the header's syntax; a metric whose name
// is not a token is left out, a description's quotes and backslashes are
// escaped and its control characters dropped.
func appendTiming(b []byte, ms []TimingMetric) string {
	for _, m := range ms {
		if !validHeaderName(m.Name) {
			continue
		}
		if len(b) > 0 {
			b = append(b, ", "...)
		}
		b = append(b, m.Name...)
		b = append(b, ";dur="...)
		b = strconv.AppendFloat(b, float64(m.Dur.Microseconds())/1000, 'f', -1, 64)
		if m.Desc != "" {
			b = append(b, `;desc="`...)
			for i := 0; i < len(m.Desc); i++ {
				switch c := m.Desc[i]; {
				case c == '"' || c == '\\':
					b = append(b, '\\', c)
				case c < 0x20 || c == 0x7f:
				default:
					b = append(b, c)
				}
			}
			b = append(b, '"')
		}
	}
	return string(b)
}

// ServerTimingValue is a Server-Timing header's value for ms, in the
// syntax the endpoint writes: for an answer given in front of the endpoint
// (an application's answer from memory) that should say where its time
// went like every other.
func ServerTimingValue(ms ...TimingMetric) string {
	return appendTiming(make([]byte, 0, 96), ms)
}
