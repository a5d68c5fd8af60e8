package graph

import (
	"github.com/salesgraph/salesgraph/gqlhttp"
)

// Security is the part of Options that bounds what one request may cost:
// the endpoint's settings (gqlhttp.Options: request and document limits,
// CSRF and CORS, forwarded headers, persisted operations, response caps)
// and the limits of the sales schema's cost estimate (estimate.go).
// Options embeds it, so its fields and the endpoint's read as Options
// fields.
//
// As in gqlhttp.Options, the zero value of every field is the documented
// default, and a limit can be raised but not switched off.
type Security struct {
	gqlhttp.Options
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
}

// The estimate's refusals, request errors like gqlhttp's document limits.
const (
	CodeComplexityLimit = "COMPLEXITY_LIMIT_EXCEEDED"     // a response estimated over MaxComplexity fields
	CodeUpstreamBudget  = "UPSTREAM_CALL_BUDGET_EXCEEDED" // more than MaxUpstreamCalls estimated upstream calls
)

// Default limits of the estimate; the settings table
// (docs/operators/configuration.md) repeats them.
const (
	DefaultMaxComplexity     = 500000
	DefaultMaxUpstreamCalls  = 500
	DefaultUpstreamPageSize  = 20
	DefaultThreadLookupPages = 3
)

func (s *Security) defaults() {
	setDefault(&s.MaxComplexity, DefaultMaxComplexity)
	setDefault(&s.MaxUpstreamCalls, DefaultMaxUpstreamCalls)
	setDefault(&s.UpstreamPageSize, DefaultUpstreamPageSize)
	setDefault(&s.ThreadLookupPages, DefaultThreadLookupPages)
}

// setDefault replaces zero with def; negative values are left for Validate
// to report.
func setDefault(v *int, def int) {
	if *v == 0 {
		*v = def
	}
}

// problems reports the estimate's invalid limits.
func (s *Security) problems() []gqlhttp.Problem {
	return gqlhttp.CheckLimits(
		gqlhttp.Limit{Field: "MaxComplexity", Value: int64(s.MaxComplexity)},
		gqlhttp.Limit{Field: "MaxUpstreamCalls", Value: int64(s.MaxUpstreamCalls)},
		gqlhttp.Limit{Field: "UpstreamPageSize", Value: int64(s.UpstreamPageSize)},
		gqlhttp.Limit{Field: "ThreadLookupPages", Value: int64(s.ThreadLookupPages)},
	)
}
