package graph

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Security is the part of Options that makes the endpoint safe to face
// browsers and the internet: request limits, CSRF and CORS, persisted
// operations, and caps on what one response may hold. Options embeds it, so
// its fields read as Options fields.
//
// The zero value of every field is the documented default, and every
// boolean's zero value is the safe choice. A limit can be raised but not
// switched off: a limit that can be switched off will be, in some deployment.
type Security struct {
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
	// MaxComplexity caps the estimated number of fields in the response:
	// each field counts once per object it appears on, so a list multiplies
	// what is below it by its page size (first, the number of ids). It
	// bounds the memory one operation can make the executor use.
	// Default 500,000 (about 10 MB of JSON).
	MaxComplexity int
	// MaxUpstreamCalls caps the upstream calls an operation is estimated to
	// make (a batch shares one budget). Default 500.
	MaxUpstreamCalls int
	// UpstreamPageSize is the upstream's threads page size the estimate
	// assumes when no cursor says otherwise. Default 20, the API's default.
	UpstreamPageSize int
	// ThreadLookupPages is how many threads pages the estimate counts for a
	// lookup of one thread by id (Meeting.thread, Query.node), which reads
	// page 1 and, only for a thread not on it, every other page.
	// Default 3.
	ThreadLookupPages int
	// MaxErrors caps the errors in one response; the rest are summarised in
	// one TOO_MANY_ERRORS error. Default 100.
	MaxErrors int
	// MaxResponseBytes caps one response's encoded size; a larger one is
	// replaced by a RESPONSE_TOO_LARGE error. Default 16 MiB.
	MaxResponseBytes int
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
	// access (same-origin pages, such as the IDE, need none).
	AllowedOrigins []string
	// Suggestions adds "Did you mean …" to validation errors. They reveal
	// schema names, so they are off unless introspection is meant to be.
	Suggestions bool
	// DisableAPQ turns automatic persisted queries off.
	DisableAPQ bool
	// APQCacheSize is how many persisted queries APQ remembers. Default 1,000.
	APQCacheSize int
	// AllowedOperations, when not empty, is allow-list mode: only these
	// documents run, keyed by the lowercase hex SHA-256 that clients send as
	// extensions.persistedQuery.sha256Hash (LoadOperations reads them), and
	// APQ cannot register new ones.
	AllowedOperations map[string]string
}

// Default limits; README's configuration table repeats them.
const (
	DefaultMaxRequestBytes   = 1 << 20
	DefaultMaxTokens         = 15000
	DefaultMaxDepth          = 15
	DefaultMaxAliases        = 30
	DefaultMaxRootFields     = 20
	DefaultMaxFields         = 2000
	DefaultMaxComplexity     = 500000
	DefaultMaxUpstreamCalls  = 500
	DefaultUpstreamPageSize  = 20
	DefaultThreadLookupPages = 3
	DefaultMaxErrors         = 100
	DefaultMaxResponseBytes  = 16 << 20
	DefaultMaxBatchSize      = 10
	DefaultAPQCacheSize      = 1000
)

// DefaultCSRFHeaders are Apollo's two preflight headers and the one the
// GraphQL-over-HTTP specification's security notes suggest.
var DefaultCSRFHeaders = []string{"Apollo-Require-Preflight", "X-Apollo-Operation-Name", "GraphQL-Require-Preflight"}

func (s *Security) defaults() {
	setDefault(&s.MaxRequestBytes, DefaultMaxRequestBytes)
	setDefault(&s.MaxTokens, DefaultMaxTokens)
	setDefault(&s.MaxDepth, DefaultMaxDepth)
	setDefault(&s.MaxAliases, DefaultMaxAliases)
	setDefault(&s.MaxRootFields, DefaultMaxRootFields)
	setDefault(&s.MaxFields, DefaultMaxFields)
	setDefault(&s.MaxComplexity, DefaultMaxComplexity)
	setDefault(&s.MaxUpstreamCalls, DefaultMaxUpstreamCalls)
	setDefault(&s.UpstreamPageSize, DefaultUpstreamPageSize)
	setDefault(&s.ThreadLookupPages, DefaultThreadLookupPages)
	setDefault(&s.MaxErrors, DefaultMaxErrors)
	setDefault(&s.MaxResponseBytes, DefaultMaxResponseBytes)
	setDefault(&s.MaxBatchSize, DefaultMaxBatchSize)
	setDefault(&s.APQCacheSize, DefaultAPQCacheSize)
	if s.CSRFHeaders == nil {
		s.CSRFHeaders = DefaultCSRFHeaders
	}
	s.CSRFHeaders = canonicalHeaders(s.CSRFHeaders)
}

// setDefault replaces zero with def; negative values are left for validate
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

// Lower bounds of two limits, below which the limit could not do its job.
const (
	MinMaxErrors        = 2    // one error is kept for the TOO_MANY_ERRORS summary
	MinMaxResponseBytes = 1024 // room for the RESPONSE_TOO_LARGE error
)

// validate reports every invalid field of o, whose defaults are applied, by
// its Go name; NewHandler panics on what it reports. It is for programmers:
// a user's settings are checked before Options are built, in the words of
// the user's flags, by salesgraph's config package, which shares the
// checks below that need this package's knowledge (CheckForwardHeaders,
// CheckCSRFHeaders, CheckOrigins, CheckAllowedOperations). The allow-list
// is checked where it is prepared, in newTransport.
func (o *Options) validate() error {
	var problems []string
	if err := CheckForwardHeaders(o.ForwardHeaders); err != nil {
		problems = append(problems, "ForwardHeaders: "+err.Error())
	}
	problems = append(problems, o.Security.problems()...)
	if n := len(o.CursorSecret); n > 0 && n < MinCursorSecret {
		problems = append(problems, fmt.Sprintf("CursorSecret must be at least %d bytes, got %d", MinCursorSecret, n))
	}
	problems = append(problems, o.resourceProblems()...)
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

func (s *Security) problems() []string {
	var out []string
	positive := func(name string, v int64) {
		if v <= 0 {
			out = append(out, fmt.Sprintf("%s must be positive, got %d", name, v))
		}
	}
	positive("MaxRequestBytes", s.MaxRequestBytes)
	positive("MaxTokens", int64(s.MaxTokens))
	positive("MaxDepth", int64(s.MaxDepth))
	positive("MaxAliases", int64(s.MaxAliases))
	positive("MaxRootFields", int64(s.MaxRootFields))
	positive("MaxFields", int64(s.MaxFields))
	positive("MaxComplexity", int64(s.MaxComplexity))
	positive("MaxUpstreamCalls", int64(s.MaxUpstreamCalls))
	positive("UpstreamPageSize", int64(s.UpstreamPageSize))
	positive("ThreadLookupPages", int64(s.ThreadLookupPages))
	positive("MaxErrors", int64(s.MaxErrors))
	positive("MaxResponseBytes", int64(s.MaxResponseBytes))
	positive("MaxBatchSize", int64(s.MaxBatchSize))
	positive("APQCacheSize", int64(s.APQCacheSize))
	if s.MaxErrors > 0 && s.MaxErrors < MinMaxErrors {
		out = append(out, fmt.Sprintf("MaxErrors must be at least %d, got %d", MinMaxErrors, s.MaxErrors))
	}
	if s.MaxResponseBytes > 0 && s.MaxResponseBytes < MinMaxResponseBytes {
		out = append(out, fmt.Sprintf("MaxResponseBytes must be at least %d, got %d", MinMaxResponseBytes, s.MaxResponseBytes))
	}
	if err := CheckCSRFHeaders(s.CSRFHeaders); err != nil {
		out = append(out, "CSRFHeaders: "+err.Error())
	}
	if err := CheckOrigins(s.AllowedOrigins); err != nil {
		out = append(out, "AllowedOrigins: "+err.Error())
	}
	return out
}

// CheckCSRFHeaders reports the names, canonical, that cannot serve as CSRF
// evidence: invalid ones, and those browsers send cross-origin without a
// preflight. The message names no setting; the caller prefixes its own.
func CheckCSRFHeaders(names []string) error {
	var bad []string
	for _, h := range names {
		if !validHeaderName(h) {
			bad = append(bad, fmt.Sprintf("%q is not a valid header name", h))
		} else if isSafelistedHeader(h) {
			bad = append(bad, fmt.Sprintf("%s is CORS-safelisted: browsers send it cross-origin without a preflight, so it proves nothing", h))
		}
	}
	if len(bad) > 0 {
		return errors.New(strings.Join(bad, ", "))
	}
	return nil
}

// CheckOrigins accepts "*" alone, or origins: scheme://host[:port] and
// nothing else, since CORS compares them as exact strings. The message
// names no setting; the caller prefixes its own.
func CheckOrigins(origins []string) error {
	for _, o := range origins {
		if o == "*" {
			if len(origins) > 1 {
				return errors.New(`"*" allows every origin, so it must be the only entry`)
			}
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil || strings.ToLower(o) != o {
			return fmt.Errorf("%q is not an origin like https://app.example.com (lower case, no path)", o)
		}
	}
	return nil
}

// CheckAllowedOperations checks every document of o.AllowedOperations the
// way a request's would be checked (schema, limits, introspection), with
// o's defaults applied, for a caller that wants the problems before it
// builds the handler. The message names no setting; the caller prefixes
// its own.
func CheckAllowedOperations(o Options) error {
	o.defaults()
	if _, problems := prepareOperations(&o); len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
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
