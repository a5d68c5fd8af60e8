package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/salesgraph/salesgraph/config"
	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

// serveDemoUpstream serves the demo upstream (the fake REST API of demo
// mode, restclient/fakeapi) alone on the listen address, until ctx ends,
// then drains for up to shutdown-timeout. Demo mode embeds its own on a
// random port, so two replicas in demo mode never share a cache; pointed
// at this one instead (upstream-url), with a shared Redis, they do.
func serveDemoUpstream(ctx context.Context, cfg *config.Config, log *slog.Logger, ready chan<- string) error {
	fake := fakeapi.New(fakeapi.WithUsers(cfg.Demo.Users), fakeapi.WithLatency(cfg.Demo.Latency, cfg.Demo.Latency/2))
	defer fake.Close()
	mux := http.NewServeMux()
	mux.Handle("/", fake)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	})
	ln, err := net.Listen("tcp", cfg.Server.ListenAddr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	addr := ln.Addr().String()
	log.Info("demo upstream listening", "addr", addr, "url", "http://"+displayHost(addr), "users", cfg.Demo.Users,
		"demoCredential", "Authorization: "+fakeapi.DefaultToken)
	if ready != nil {
		ready <- addr
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), cfg.Shutdown.Timeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
