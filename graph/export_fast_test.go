package graph

import (
	"net/http"

	"github.com/salesgraph/salesgraph/gqlhttp"
)

// SetFastPath turns the fast object path (fast.go) on or off, for the test
// that compares its answers with the executor's. Not safe while serving.
func SetFastPath(on bool) (restore func()) {
	old := fastPath
	fastPath = on
	return func() { fastPath = old }
}

// Endpoint is the gqlhttp endpoint of a handler NewHandler returned, for
// the tests that add a gqlgen extension or list them.
func Endpoint(h http.Handler) *gqlhttp.Server {
	switch h := h.(type) {
	case *gqlhttp.Server:
		return h
	case *middleware:
		return h.next.(*gqlhttp.Server)
	}
	panic("graph.Endpoint: not a handler of NewHandler")
}
