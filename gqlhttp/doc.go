// Package gqlhttp is a hardened GraphQL-over-HTTP endpoint for any gqlgen
// schema: transport, document limits, CSRF and CORS, forwarded headers,
// persisted operations and masking. It imports nothing of salesgraph's.
package gqlhttp
