package gqlhttp

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/validator/rules"
)

// Options is what makes the endpoint safe to face browsers and the
// internet: request and document limits, CSRF and CORS, the forwarded
// headers, persisted operations, and caps on what one response may hold.
//
// The zero value of every field is the documented default, and every
// boolean's zero value is the safe choice. A limit can be raised but not
// switched off: a limit that can be switched off will be, in some deployment.
type Options struct {
	// CompactData says the executor's data is compact JSON already: no
	// resolver passes indented raw JSON through. Without it every response
	// is scanned for white space between tokens and compacted if it has
	// any, which on a 200 KB answer was a twentieth of its CPU.
	CompactData bool
	// MaxRequestBytes caps a POST body; larger bodies get 413. Default 1 MiB.
	MaxRequestBytes int64
	// MaxTokens caps the lexical tokens of a document, counted before it is
	// parsed. Default 15,000 (Apollo Router's default).
	MaxTokens int
	// MaxDepth caps how deeply fields nest, fields inside fragments counted
	// where the fragments are spread. Default 15, which GraphiQL's
	// introspection query needs exactly.
	MaxDepth int
	// MaxAliases caps the aliased fields of an operation, fragments counted
	// wherever they are spread. Default 30.
	MaxAliases int
	// MaxRootFields caps the fields at the top of an operation. Default 20.
	MaxRootFields int
	// MaxFields caps the field selections of a document, each fragment
	// counted wherever it is spread. It bounds the validator's work, which
	// grows with the square of the fields that share a response name.
	// Default 2,000.
	MaxFields int
	// MaxErrors caps the errors in one response; the rest are summarised in
	// one TOO_MANY_ERRORS error. Default 100.
	MaxErrors int
	// MaxResponseBytes caps one response's encoded size; a larger one is
	// replaced by a RESPONSE_TOO_LARGE error. Default 16 MiB.
	MaxResponseBytes int
	// MaxResponseMemory is the process-wide budget, in bytes, of responses
	// being built: every operation's response is charged to it while it is
	// built and until it is written, and one that does not fit is refused
	// with RESPONSE_MEMORY_BUDGET_EXCEEDED (response_budget.go). Default
	// DefaultMaxResponseMemory (256 MiB), or MaxResponseBytes when larger;
	// it may not be smaller than MaxResponseBytes.
	MaxResponseMemory int64
	// Batching accepts a JSON array of operations in one POST.
	Batching bool
	// MaxBatchSize caps the operations in one batch. Default 10.
	MaxBatchSize int
	// CSRFHeaders are the headers any one of which lets a request without a
	// JSON Content-Type (a GET) through the CSRF check. Browsers send a
	// custom header cross-origin only after a CORS preflight, which is the
	// point. Default Apollo-Require-Preflight, X-Apollo-Operation-Name and
	// GraphQL-Require-Preflight.
	CSRFHeaders []string
	// AllowedOrigins are the origins CORS lets read responses, such as
	// "https://app.example.com", or "*" for any. Empty: no cross-origin
	// access (same-origin pages need none).
	AllowedOrigins []string
	// ForwardHeaders are the request headers the resolvers may pass on (to
	// an upstream, as credentials): ForwardedFrom returns them. They are
	// canonicalised, may not be headers that describe one HTTP hop or frame
	// the message, are allowed through CORS, and are named in every
	// response's Vary. Default none.
	ForwardHeaders []string
	// Introspection enables schema introspection (__schema, __type).
	Introspection bool
	// Suggestions adds "Did you mean …" to validation errors. They reveal
	// schema names, so they are off unless introspection is meant to be.
	Suggestions bool
	// DisableAPQ turns automatic persisted queries off.
	DisableAPQ bool
	// APQCacheSize is how many persisted queries the default APQ store
	// remembers. Default 1,000.
	APQCacheSize int
	// APQStore is where automatic persisted queries are remembered; nil is
	// an in-process LRU cache of APQCacheSize documents.
	APQStore APQStore
	// AllowedOperations, when not empty, is allow-list mode: only these
	// documents run, keyed by the lowercase hex SHA-256 that clients send as
	// extensions.persistedQuery.sha256Hash (LoadOperations reads them), and
	// APQ cannot register new ones.
	AllowedOperations map[string]string
	// ETags gives the answers to GET and QUERY requests a strong ETag,
	// bound to the forwarded headers, and answers 304 Not Modified to an
	// If-None-Match that names it (etag.go). Those answers are then
	// "private, no-cache" rather than "private, no-store": browsers may
	// keep them, in their private cache, to revalidate them.
	ETags bool
	// ETagSecret keys the ETags, so that they hold nothing a credential
	// could be checked against; replicas that share it give one answer the
	// same ETag. Empty: a random key per process.
	ETagSecret []byte
	// ServerTiming sends a Server-Timing header with every answer: the
	// endpoint's total time, and what Server.ServerTiming adds
	// (servertiming.go). It reveals timing of what the application waits
	// for, so it is off unless asked for.
	ServerTiming bool

	// test holds what only tests set, through export_test.go.
	test testHooks
}

// testHooks are the switches tests turn in a Server; the zero value is
// what serves.
type testHooks struct {
	// validate stands in for gqlparser's validator, so that a test can put
	// one that recurses through fragment spreads unguarded, proving the
	// cycle check runs first.
	validate func(*ast.Schema, *ast.QueryDocument, *rules.Rules) gqlerror.List
	// encoded is told the size of the data gqlgen buffered for each
	// response the transport encodes.
	encoded func(dataBytes int)
}

// Default limits.
const (
	DefaultMaxRequestBytes  = 1 << 20
	DefaultMaxTokens        = 15000
	DefaultMaxDepth         = 15
	DefaultMaxAliases       = 30
	DefaultMaxRootFields    = 20
	DefaultMaxFields        = 2000
	DefaultMaxErrors        = 100
	DefaultMaxResponseBytes = 16 << 20
	DefaultMaxBatchSize     = 10
	DefaultAPQCacheSize     = 1000
)

// Lower bounds of two limits, below which the limit could not do its job.
const (
	MinMaxErrors        = 2    // one error is kept for the TOO_MANY_ERRORS summary
	MinMaxResponseBytes = 1024 // room for the RESPONSE_TOO_LARGE error
)

// DefaultMaxResponseMemory is the default process-wide response budget:
// sixteen responses of the default MaxResponseBytes being built at once.
const DefaultMaxResponseMemory = 256 << 20

// DefaultCSRFHeaders are Apollo's two preflight headers and the one the
// GraphQL-over-HTTP specification's security notes suggest.
var DefaultCSRFHeaders = []string{"Apollo-Require-Preflight", "X-Apollo-Operation-Name", "GraphQL-Require-Preflight"}

// withDefaults is o with every zero replaced by its default and the header
// names canonicalised. The slices are copies: o's are not changed.
func (o Options) withDefaults() Options {
	setDefault(&o.MaxRequestBytes, DefaultMaxRequestBytes)
	setDefault(&o.MaxTokens, DefaultMaxTokens)
	setDefault(&o.MaxDepth, DefaultMaxDepth)
	setDefault(&o.MaxAliases, DefaultMaxAliases)
	setDefault(&o.MaxRootFields, DefaultMaxRootFields)
	setDefault(&o.MaxFields, DefaultMaxFields)
	setDefault(&o.MaxErrors, DefaultMaxErrors)
	setDefault(&o.MaxResponseBytes, DefaultMaxResponseBytes)
	setDefault(&o.MaxBatchSize, DefaultMaxBatchSize)
	setDefault(&o.APQCacheSize, DefaultAPQCacheSize)
	if o.MaxResponseMemory == 0 {
		o.MaxResponseMemory = max(DefaultMaxResponseMemory, int64(o.MaxResponseBytes))
	}
	if o.CSRFHeaders == nil {
		o.CSRFHeaders = DefaultCSRFHeaders
	}
	return o.canonical()
}

// canonical is o with its header names canonicalised. The slices are
// copies: o's are not changed.
func (o Options) canonical() Options {
	o.CSRFHeaders = canonicalHeaders(o.CSRFHeaders)
	// An empty entry stays, for Validate to name.
	fwd := make([]string, len(o.ForwardHeaders))
	for i, h := range o.ForwardHeaders {
		fwd[i] = http.CanonicalHeaderKey(strings.TrimSpace(h))
	}
	o.ForwardHeaders = fwd
	return o
}

// setDefault replaces zero with def; negative values are left for Validate
// to report.
func setDefault[T int | int64](v *T, def T) {
	if *v == 0 {
		*v = def
	}
}

func canonicalHeaders(names []string) []string {
	out := make([]string, 0, len(names))
	for _, h := range names {
		if h = strings.TrimSpace(h); h != "" {
			out = append(out, http.CanonicalHeaderKey(h))
		}
	}
	return out
}

// A ConfigError is every invalid setting Validate found.
type ConfigError struct {
	Problems []Problem
}

func (e *ConfigError) Error() string {
	out := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		out[i] = p.String()
	}
	return strings.Join(out, "; ")
}

// A Problem is one invalid setting: the Options field, and what is wrong
// with its value. A caller that reads settings from elsewhere (flags, a
// file) can say it in its own words by replacing Field.
type Problem struct {
	Field string // "MaxDepth", "AllowedOrigins"
	Issue string // "must be positive, got -1"; "\"ftp://x\" is not an origin …"
}

// String reads "MaxDepth must be positive, got -1", or
// "AllowedOrigins: …" for an issue that is not a "must".
func (p Problem) String() string {
	if strings.HasPrefix(p.Issue, "must ") {
		return p.Field + " " + p.Issue
	}
	return p.Field + ": " + p.Issue
}

// Validate reports every invalid setting at once, as a *ConfigError, after
// applying the defaults. The allowed operations are checked against schema
// as a request's document would be, so that a bad entry stops the start
// instead of failing later for some client. New refuses what Validate
// reports.
func (o Options) Validate(schema *ast.Schema) error {
	_, err := o.withDefaults().check(schema)
	return err
}

// Problems reports every invalid setting of o as it is, without applying
// the defaults first: a zero limit is reported as not positive. The rules
// are Validate's; Problems is for a caller whose settings have no zero
// default (a command line, whose flags show their defaults) and that says
// each problem in its own words, by Problem.Field.
func (o Options) Problems(schema *ast.Schema) []Problem {
	_, err := o.canonical().check(schema)
	if ce, ok := err.(*ConfigError); ok {
		return ce.Problems
	}
	return nil
}

// check is every rule on o, returning the allowed operations parsed when
// it finds nothing wrong.
func (o Options) check(schema *ast.Schema) (map[string]*ast.QueryDocument, error) {
	var out []Problem
	add := func(field, format string, args ...any) {
		out = append(out, Problem{Field: field, Issue: fmt.Sprintf(format, args...)})
	}
	out = append(out, CheckLimits(
		Limit{"MaxRequestBytes", o.MaxRequestBytes},
		Limit{"MaxTokens", int64(o.MaxTokens)},
		Limit{"MaxDepth", int64(o.MaxDepth)},
		Limit{"MaxAliases", int64(o.MaxAliases)},
		Limit{"MaxRootFields", int64(o.MaxRootFields)},
		Limit{"MaxFields", int64(o.MaxFields)},
		Limit{"MaxErrors", int64(o.MaxErrors)},
		Limit{"MaxResponseBytes", int64(o.MaxResponseBytes)},
		Limit{"MaxBatchSize", int64(o.MaxBatchSize)},
		Limit{"APQCacheSize", int64(o.APQCacheSize)},
	)...)
	if o.MaxErrors > 0 && o.MaxErrors < MinMaxErrors {
		add("MaxErrors", "must be at least %d: one error is kept for the summary", MinMaxErrors)
	}
	if o.MaxResponseBytes > 0 && o.MaxResponseBytes < MinMaxResponseBytes {
		add("MaxResponseBytes", "must be at least %d, room for an error saying the response was too large", MinMaxResponseBytes)
	}
	if o.MaxResponseMemory < int64(o.MaxResponseBytes) {
		add("MaxResponseMemory", "must be at least MaxResponseBytes (%d), got %d: a response of the largest size must fit", o.MaxResponseBytes, o.MaxResponseMemory)
	}
	for _, h := range o.CSRFHeaders {
		if !validHeaderName(h) {
			add("CSRFHeaders", "%q is not a valid header name", h)
		} else if isSafelistedHeader(h) {
			add("CSRFHeaders", "%s is CORS-safelisted: browsers send it cross-origin without a preflight, so it proves nothing", h)
		}
	}
	if issue := checkOrigins(o.AllowedOrigins); issue != "" {
		add("AllowedOrigins", "%s", issue)
	}
	if bad := checkForwardHeaders(o.ForwardHeaders); len(bad) > 0 {
		add("ForwardHeaders", "%s", strings.Join(bad, ", "))
	}
	var pinned map[string]*ast.QueryDocument
	if len(o.AllowedOperations) > 0 {
		var bad []string
		if pinned, bad = prepareAllowList(&o, schema); len(bad) > 0 {
			add("AllowedOperations", "%s", strings.Join(bad, "; "))
		}
	}
	if len(out) > 0 {
		return nil, &ConfigError{Problems: out}
	}
	return pinned, nil
}

// A Limit is a setting that bounds what a request may cost: an Options
// field's name and its value.
type Limit struct {
	Field string
	Value int64
}

// CheckLimits reports each limit that is not positive: a limit can be
// raised but not switched off. It is the rule of the endpoint's own
// limits, for a caller's limits (an extension's cost estimate) to be
// checked, and read, as the endpoint's are.
func CheckLimits(limits ...Limit) []Problem {
	var out []Problem
	for _, l := range limits {
		if l.Value <= 0 {
			out = append(out, Problem{Field: l.Field, Issue: fmt.Sprintf("must be positive, got %d", l.Value)})
		}
	}
	return out
}

// checkOrigins accepts "*" alone, or origins: scheme://host[:port] and
// nothing else, since CORS compares them as exact strings.
func checkOrigins(origins []string) string {
	for _, o := range origins {
		if o == "*" {
			if len(origins) > 1 {
				return `"*" allows every origin, so it must be the only entry`
			}
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil || strings.ToLower(o) != o {
			return fmt.Sprintf("%q is not an origin like https://app.example.com (lower case, no path)", o)
		}
	}
	return ""
}

// isSafelistedHeader reports the request headers a browser may send
// cross-origin without a preflight (the Fetch standard's CORS-safelisted
// request headers), which therefore cannot serve as CSRF evidence.
func isSafelistedHeader(h string) bool {
	switch h {
	case "Accept", "Accept-Language", "Content-Language", "Content-Type", "Range":
		return true
	}
	return false
}
