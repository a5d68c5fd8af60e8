package main

import (
	"fmt"
	"net"
	"strings"

	"github.com/salesgraph/salesgraph/graph"
)

// securityFlags registers the flags of graph.Security, each with its
// SALESGRAPH_* variable. The function it returns, called after
// fs.Parse with the rest of the configuration, builds the settings and
// reports every invalid value.
func securityFlags(ef *envFlags) func(c *config) (graph.Security, []string) {
	var problems []string
	var (
		maxBody       = ef.Int("max-request-bytes", "MAX_REQUEST_BYTES", graph.DefaultMaxRequestBytes, "largest request body accepted; larger ones get 413")
		maxTokens     = ef.Int("max-tokens", "MAX_TOKENS", graph.DefaultMaxTokens, "most lexical tokens in a document")
		maxDepth      = ef.Int("max-depth", "MAX_DEPTH", graph.DefaultMaxDepth, "deepest field nesting, fields in fragments counted")
		maxAliases    = ef.Int("max-aliases", "MAX_ALIASES", graph.DefaultMaxAliases, "most aliased fields in an operation")
		maxRoot       = ef.Int("max-root-fields", "MAX_ROOT_FIELDS", graph.DefaultMaxRootFields, "most root fields in an operation")
		maxFields     = ef.Int("max-fields", "MAX_FIELDS", graph.DefaultMaxFields, "most field selections in a document, fragments counted wherever spread")
		maxComplexity = ef.Int("max-complexity", "MAX_COMPLEXITY", graph.DefaultMaxComplexity, "most fields a response is estimated to hold, lists multiplied by their page size")
		maxCalls      = ef.Int("max-upstream-calls", "MAX_UPSTREAM_CALLS", graph.DefaultMaxUpstreamCalls, "most upstream calls an operation (or a batch) is estimated to make")
		lookupPages   = ef.Int("thread-lookup-pages", "THREAD_LOOKUP_PAGES", graph.DefaultThreadLookupPages, "threads pages the estimate counts for one thread looked up by id")
		maxErrors     = ef.Int("max-errors", "MAX_ERRORS", graph.DefaultMaxErrors, "most errors in one response")
		maxResponse   = ef.Int("max-response-bytes", "MAX_RESPONSE_BYTES", graph.DefaultMaxResponseBytes, "largest response sent; a larger one becomes a RESPONSE_TOO_LARGE error")
		batching      = ef.Bool("batching", "BATCHING", false, "accept a JSON array of operations in one POST")
		maxBatch      = ef.Int("max-batch-size", "MAX_BATCH_SIZE", graph.DefaultMaxBatchSize, "most operations in one batch")
		csrfHeaders   = ef.String("csrf-headers", "CSRF_HEADERS", strings.Join(graph.DefaultCSRFHeaders, ","), "comma-separated headers that let a GET without Content-Type: application/json pass CSRF prevention")
		corsOrigins   = ef.String("cors-origins", "CORS_ORIGINS", "", "comma-separated origins allowed to read responses cross-origin, or *; demo mode adds the IDE's own")
		suggestions   = ef.String("suggestions", "SUGGESTIONS", "", `"Did you mean" in validation errors: true or false; default true in demo mode only`)
		apq           = ef.Bool("apq", "APQ", true, "automatic persisted queries")
		apqSize       = ef.Int("apq-cache-size", "APQ_CACHE_SIZE", graph.DefaultAPQCacheSize, "how many persisted queries APQ remembers")
		allowed       = ef.String("allowed-operations", "ALLOWED_OPERATIONS", "", "allow-list mode: only the operations in this `path` run (a directory of .graphql files, or an Apollo persisted-query manifest)")
	)
	return func(c *config) (graph.Security, []string) {
		s := graph.Security{
			MaxRequestBytes:   int64(*maxBody),
			MaxTokens:         *maxTokens,
			MaxDepth:          *maxDepth,
			MaxAliases:        *maxAliases,
			MaxRootFields:     *maxRoot,
			MaxFields:         *maxFields,
			MaxComplexity:     *maxComplexity,
			MaxUpstreamCalls:  *maxCalls,
			UpstreamPageSize:  c.PerPage,
			ThreadLookupPages: *lookupPages,
			MaxErrors:         *maxErrors,
			MaxResponseBytes:  *maxResponse,
			Batching:          *batching,
			MaxBatchSize:      *maxBatch,
			CSRFHeaders:       splitList(*csrfHeaders),
			AllowedOrigins:    splitList(*corsOrigins),
			DisableAPQ:        !*apq,
			APQCacheSize:      *apqSize,
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
			ops, err := graph.LoadOperations(*allowed)
			if err != nil {
				problems = append(problems, err.Error())
			}
			s.AllowedOperations = ops
		}
		if len(problems) == 0 {
			// Limits, headers, origins and every allowed operation, checked
			// against the schema now rather than on the first request.
			opts := graph.Options{ForwardHeaders: c.ForwardHeaders, Introspection: c.Introspection, Security: s}
			if err := opts.Validate(); err != nil {
				problems = append(problems, err.Error())
			}
		}
		return s, problems
	}
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
