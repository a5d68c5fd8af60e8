package main

import (
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// ignoreHangup keeps SIGHUP from ending the process, logging each one
// instead, until the returned function is called. SIGHUP's default action
// ends a process at once, dropping the requests in flight unlogged; it is
// what a closed terminal sends, and what operators send expecting a
// reload. salesgraph reloads nothing while it runs (every setting is read
// once, at start), so a hangup is only logged, with what to do instead.
func ignoreHangup(log *slog.Logger) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-hup:
				log.Warn("SIGHUP ignored: settings are read once, at start; restart to change them (SIGTERM drains)", "signal", "hangup")
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(hup)
		close(done)
	}
}
