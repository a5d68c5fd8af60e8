package fakeapi

import (
	"fmt"
	"slices"
	"time"
)

// An Option configures a [Server] (and, for the dataset options, the
// [Dataset] it serves). Options given invalid values panic when applied:
// they are test setup mistakes, best reported where they are made.
type Option func(*config)

type tenant struct {
	token string
	seed  int64
}

type config struct {
	shape             shape
	seed              int64
	perPage           int
	pageParam         string
	perPageParam      string
	fixedSpelling     bool
	unknownUserStatus int
	authHeader        string
	tokens            []string
	tenants           []tenant
	latency, jitter   time.Duration
	tail              tail // WithTail
	meetingsPerPage   int  // 0: the meetings endpoint answers all, unpaginated
}

func newConfig(opts []Option) config {
	c := config{
		shape:             shape{users: 50, meetings: 12, threads: 45},
		seed:              1,
		perPage:           20,
		pageParam:         "page",
		perPageParam:      "per_page",
		unknownUserStatus: 200,
		authHeader:        "Authorization",
		tokens:            []string{DefaultToken},
	}
	for _, o := range opts {
		o(&c)
	}
	return c
}

func nonNegative(opt string, n int) {
	if n < 0 {
		panic(fmt.Sprintf("fakeapi: %s(%d): must not be negative", opt, n))
	}
}

// WithUsers sets the number of users (ids 1..n). Default 50.
func WithUsers(n int) Option {
	nonNegative("WithUsers", n)
	return func(c *config) { c.shape.users = n }
}

// WithMeetingsPerUser sets how many meetings every user has. Default 12.
func WithMeetingsPerUser(n int) Option {
	nonNegative("WithMeetingsPerUser", n)
	return func(c *config) { c.shape.meetings = n }
}

// WithThreadsPerUser sets how many threads every user owns. Default 45, which
// spans three pages at the default page size.
func WithThreadsPerUser(n int) Option {
	nonNegative("WithThreadsPerUser", n)
	return func(c *config) { c.shape.threads = n }
}

// WithSeed sets the seed the dataset is generated from, and from which
// latency jitter and fault rates draw. Default 1.
func WithSeed(seed int64) Option {
	return func(c *config) { c.seed = seed }
}

// WithCleanData turns the data quirks off: no empty or zero dates, no missing
// coordinates. Everything else stays as it would have been, record for
// record, so a test can compare the two.
func WithCleanData() Option {
	return func(c *config) { c.shape.clean = true }
}

// WithPerPage sets the threads page size used when a request does not name
// one. Default 20.
func WithPerPage(n int) Option {
	if n < 1 {
		panic(fmt.Sprintf("fakeapi: WithPerPage(%d): must be at least 1", n))
	}
	return func(c *config) { c.perPage = n }
}

// WithPageParam renames the query parameter that selects a threads page
// (default "page"): the documentation does not name it, so a client must be
// configurable and this lets tests prove it.
func WithPageParam(name string) Option {
	if name == "" {
		panic("fakeapi: WithPageParam: empty name")
	}
	return func(c *config) { c.pageParam = name }
}

// WithPerPageParam renames the query parameter that sets the threads page
// size (default "per_page").
func WithPerPageParam(name string) Option {
	if name == "" {
		panic("fakeapi: WithPerPageParam: empty name")
	}
	return func(c *config) { c.perPageParam = name }
}

// WithPaginatedMeetings answers the meetings endpoint in pages of perPage
// meetings, with the threads' "pagination" object and page parameters (see
// [WithPageParam] and [WithPerPageParam]), as its sibling GET
// /api/v1/meetings is documented to. By default, as the documentation says
// of this endpoint, it answers every meeting at once, without pagination.
func WithPaginatedMeetings(perPage int) Option {
	if perPage < 1 {
		panic(fmt.Sprintf("fakeapi: WithPaginatedMeetings(%d): must be at least 1", perPage))
	}
	return func(c *config) { c.meetingsPerPage = perPage }
}

// WithFixedCompanySpelling sends a meeting's company under "id_company"
// instead of the documented "id_comapny", as the API would if it ever fixed
// the typo.
func WithFixedCompanySpelling() Option {
	return func(c *config) { c.fixedSpelling = true }
}

// WithUnknownUserStatus sets the answer for a well-formed id with no user
// behind it, which the documentation leaves open: 200 (the default) answers
// an empty list; an error status such as 400 or 404 answers the error
// envelope with that status.
func WithUnknownUserStatus(status int) Option {
	if status != 200 && (status < 400 || status > 599) {
		panic(fmt.Sprintf("fakeapi: WithUnknownUserStatus(%d): want 200 or 400..599", status))
	}
	return func(c *config) { c.unknownUserStatus = status }
}

// WithAuthHeader renames the request header that carries the credential
// (default "Authorization").
func WithAuthHeader(name string) Option {
	if name == "" {
		panic("fakeapi: WithAuthHeader: empty name")
	}
	return func(c *config) { c.authHeader = name }
}

// WithTokens replaces the accepted credentials (by default just
// [DefaultToken]); all of them see the main dataset. With no tokens, only
// tenants are accepted.
func WithTokens(tokens ...string) Option {
	for _, t := range tokens {
		if t == "" {
			panic("fakeapi: WithTokens: empty token")
		}
	}
	tokens = slices.Clone(tokens)
	return func(c *config) { c.tokens = tokens }
}

// WithTenant accepts one more credential, which sees a dataset of its own:
// the same sizes, generated from seed. Tests use it to prove that a caller
// only ever gets the data its own credential asked for. A token accepted
// twice, here or by WithTokens (DefaultToken included), makes New panic.
func WithTenant(token string, seed int64) Option {
	if token == "" {
		panic("fakeapi: WithTenant: empty token")
	}
	return func(c *config) { c.tenants = append(c.tenants, tenant{token, seed}) }
}

// WithLatency delays every answer by fixed plus a uniformly drawn 0..jitter.
// [Server.SetLatency] changes it later.
func WithLatency(fixed, jitter time.Duration) Option {
	checkLatency(fixed, jitter)
	return func(c *config) { c.latency, c.jitter = fixed, jitter }
}

func checkLatency(fixed, jitter time.Duration) {
	if fixed < 0 || jitter < 0 {
		panic(fmt.Sprintf("fakeapi: latency %v + %v: must not be negative", fixed, jitter))
	}
}
