package main

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/salesgraph/salesgraph/gqlhttp"
	"github.com/salesgraph/salesgraph/graph"
)

// securityFlags registers the flags of graph.Security, each with its
// SALESGRAPH_* variable. The function it returns, called after
// fs.Parse with the rest of the configuration, builds the settings and
// reports every invalid value.
func securityFlags(ef *envFlags) func(c *config) (graph.Security, []string) {
	var problems []string
	var (
		maxBody       = ef.Int("max-request-bytes", "MAX_REQUEST_BYTES", gqlhttp.DefaultMaxRequestBytes, "largest request body accepted; larger ones get 413")
		maxTokens     = ef.Int("max-tokens", "MAX_TOKENS", gqlhttp.DefaultMaxTokens, "most lexical tokens in a document")
		maxDepth      = ef.Int("max-depth", "MAX_DEPTH", gqlhttp.DefaultMaxDepth, "deepest field nesting, fields in fragments counted")
		maxAliases    = ef.Int("max-aliases", "MAX_ALIASES", gqlhttp.DefaultMaxAliases, "most aliased fields in an operation")
		maxRoot       = ef.Int("max-root-fields", "MAX_ROOT_FIELDS", gqlhttp.DefaultMaxRootFields, "most root fields in an operation")
		maxFields     = ef.Int("max-fields", "MAX_FIELDS", gqlhttp.DefaultMaxFields, "most field selections in a document, fragments counted wherever spread")
		maxComplexity = ef.Int("max-complexity", "MAX_COMPLEXITY", graph.DefaultMaxComplexity, "most fields a response is estimated to hold, lists multiplied by their page size")
		maxCalls      = ef.Int("max-upstream-calls", "MAX_UPSTREAM_CALLS", graph.DefaultMaxUpstreamCalls, "most upstream calls an operation (or a batch) is estimated to make")
		lookupPages   = ef.Int("thread-lookup-pages", "THREAD_LOOKUP_PAGES", graph.DefaultThreadLookupPages, "threads pages the estimate counts for one thread looked up by id")
		maxErrors     = ef.Int("max-errors", "MAX_ERRORS", gqlhttp.DefaultMaxErrors, "most errors in one response")
		maxResponse   = ef.Int("max-response-bytes", "MAX_RESPONSE_BYTES", gqlhttp.DefaultMaxResponseBytes, "largest response sent; a larger one becomes a RESPONSE_TOO_LARGE error")
		batching      = ef.Bool("batching", "BATCHING", false, "accept a JSON array of operations in one POST")
		maxBatch      = ef.Int("max-batch-size", "MAX_BATCH_SIZE", gqlhttp.DefaultMaxBatchSize, "most operations in one batch")
		csrfHeaders   = ef.String("csrf-headers", "CSRF_HEADERS", strings.Join(gqlhttp.DefaultCSRFHeaders, ","), "comma-separated headers that let a GET without Content-Type: application/json pass CSRF prevention")
		corsOrigins   = ef.String("cors-origins", "CORS_ORIGINS", "", "comma-separated origins allowed to read responses cross-origin, or *; demo mode adds the IDE's own")
		suggestions   = ef.String("suggestions", "SUGGESTIONS", "", `"Did you mean" in validation errors: true or false; default true in demo mode only`)
		apq           = ef.Bool("apq", "APQ", true, "automatic persisted queries")
		apqSize       = ef.Int("apq-cache-size", "APQ_CACHE_SIZE", gqlhttp.DefaultAPQCacheSize, "how many persisted queries APQ remembers")
		allowed       = ef.String("allowed-operations", "ALLOWED_OPERATIONS", "", "allow-list mode: only the operations in this `path` run (a directory of .graphql files, or an Apollo persisted-query manifest)")
	)
	return func(c *config) (graph.Security, []string) {
		s := graph.Security{
			Options: gqlhttp.Options{
				MaxRequestBytes:  int64(*maxBody),
				MaxTokens:        *maxTokens,
				MaxDepth:         *maxDepth,
				MaxAliases:       *maxAliases,
				MaxRootFields:    *maxRoot,
				MaxFields:        *maxFields,
				MaxErrors:        *maxErrors,
				MaxResponseBytes: *maxResponse,
				Batching:         *batching,
				MaxBatchSize:     *maxBatch,
				CSRFHeaders:      splitList(*csrfHeaders),
				AllowedOrigins:   splitList(*corsOrigins),
				DisableAPQ:       !*apq,
				APQCacheSize:     *apqSize,
			},
			MaxComplexity:     *maxComplexity,
			MaxUpstreamCalls:  *maxCalls,
			UpstreamPageSize:  c.PerPage,
			ThreadLookupPages: *lookupPages,
		}
		// Zero means "the default" in graph.Security; on the command line a
		// zero limit is a mistake worth saying so.
		for name, v := range map[string]int{
			"max-request-bytes": *maxBody, "max-tokens": *maxTokens, "max-depth": *maxDepth,
			"max-aliases": *maxAliases, "max-root-fields": *maxRoot, "max-fields": *maxFields,
			"max-complexity": *maxComplexity, "max-upstream-calls": *maxCalls,
			"thread-lookup-pages": *lookupPages, "max-errors": *maxErrors,
			"max-response-bytes": *maxResponse, "max-batch-size": *maxBatch, "apq-cache-size": *apqSize,
		} {
			if v <= 0 {
				problems = append(problems, fmt.Sprintf("%s must be positive", name))
			}
		}
		switch strings.ToLower(*suggestions) {
		case "":
			s.Suggestions = c.demo()
		case "true", "1", "yes", "on":
			s.Suggestions = true
		case "false", "0", "no", "off":
		default:
			problems = append(problems, "suggestions must be true or false")
		}
		if c.demo() && len(s.AllowedOrigins) == 0 {
			s.AllowedOrigins = ideOrigins(c.ListenAddr)
		}
		if *allowed != "" {
			ops, err := gqlhttp.LoadOperations(*allowed)
			if err != nil {
				problems = append(problems, "allowed-operations: "+err.Error())
			}
			s.AllowedOperations = ops
		}
		if len(problems) == 0 {
			// Limits, headers, origins and every allowed operation, checked
			// against the schema now rather than on the first request.
			opts := graph.Options{Security: s}
			opts.ForwardHeaders, opts.Introspection = c.ForwardHeaders, c.Introspection
			if err := opts.Validate(); err != nil {
				problems = append(problems, inFlagWords(err))
			}
		}
		return s, problems
	}
}

// optionFlags are the flags of the Options fields that Validate names.
var optionFlags = map[string]string{
	"MaxRequestBytes": "max-request-bytes", "MaxTokens": "max-tokens", "MaxDepth": "max-depth",
	"MaxAliases": "max-aliases", "MaxRootFields": "max-root-fields", "MaxFields": "max-fields",
	"MaxComplexity": "max-complexity", "MaxUpstreamCalls": "max-upstream-calls",
	"ThreadLookupPages": "thread-lookup-pages", "MaxErrors": "max-errors",
	"MaxResponseBytes": "max-response-bytes", "MaxBatchSize": "max-batch-size",
	"APQCacheSize": "apq-cache-size", "CSRFHeaders": "csrf-headers", "AllowedOrigins": "cors-origins",
	"ForwardHeaders": "forward-headers", "AllowedOperations": "allowed-operations",
	"CursorSecret": "cursor-secret", "UpstreamPageSize": "upstream-per-page",
}

// inFlagWords is a Validate error with each setting named by its flag.
func inFlagWords(err error) string {
	var ce *gqlhttp.ConfigError
	if !errors.As(err, &ce) {
		return err.Error()
	}
	named := &gqlhttp.ConfigError{Problems: append([]gqlhttp.Problem(nil), ce.Problems...)}
	for i, p := range named.Problems {
		if f, ok := optionFlags[p.Field]; ok {
			named.Problems[i].Field = f
		}
	}
	return named.Error()
}

// ideOrigins are the origins a browser gives the IDE served on addr, for
// demo mode's CORS allow-list. The IDE is same-origin, which CORS does not
// restrict; listing it keeps the demo working when a browser sends the page
// from 127.0.0.1 and calls localhost, or the other way round. An address
// with port 0 is not known yet and yields none.
func ideOrigins(addr string) []string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" || port == "0" {
		return nil
	}
	return []string{"http://localhost:" + port, "http://127.0.0.1:" + port, "http://[::1]:" + port}
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
