package restclient

import (
	"net/http"
	"time"
)

// NewTransport returns the transport New uses when no WithHTTPClient is
// given: http.DefaultTransport's settings with a connection pool sized for
// fan-out to one host and responseHeaderTimeout as its response header
// timeout (pass the WithTimeout value). It is exported for callers that wrap
// it, e.g. with tracing, and hand it back through WithHTTPClient without
// losing the tuning.
func NewTransport(responseHeaderTimeout time.Duration) *http.Transport {
	return newTransport(responseHeaderTimeout)
}
