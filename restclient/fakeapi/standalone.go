package fakeapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// ServeOptions say how [Server.ListenAndServe] serves.
type ServeOptions struct {
	Addr            string        // the TCP address to listen on; port 0 picks one
	ShutdownTimeout time.Duration // how long the requests in flight have to finish once ctx ends
	// Logger, when not nil, receives the HTTP server's own errors (a
	// malformed request, a failed TLS handshake) at warn.
	Logger *slog.Logger
	// Ready, when not nil, is called with the address listened on once
	// connections are accepted.
	Ready func(addr string)
}

// ListenAndServe serves s, a server built with [New], alone on o.Addr, with
// GET /healthz answering "ok", until ctx ends; then it stops accepting
// connections and gives the requests in flight up to o.ShutdownTimeout to
// finish. The caller still closes s.
//
// It is the binary's -demo-upstream-only. Demo mode embeds a fake of its
// own on a random port, so two replicas in demo mode never share a cache;
// pointed at this one instead (upstream-url), with a shared Redis, they do.
func (s *Server) ListenAndServe(ctx context.Context, o ServeOptions) error {
	mux := http.NewServeMux()
	mux.Handle("/", s)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	})
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	if o.Logger != nil {
		srv.ErrorLog = slog.NewLogLogger(o.Logger.Handler(), slog.LevelWarn)
	}
	if o.Ready != nil {
		o.Ready(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), o.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
