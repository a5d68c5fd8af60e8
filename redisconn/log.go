package redisconn

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/redis/go-redis/v9"
)

// SetLogger sends go-redis's own log lines (a dial that failed, a
// connection it dropped) to log, at warn, instead of its default: plain
// text on stderr, which breaks a JSON log stream line by line. go-redis
// has one logger for the whole process, so the last call wins; a nil log
// discards its lines.
func SetLogger(log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	redis.SetLogger(slogLogger{log})
}

// slogLogger is go-redis's logging interface over slog.
type slogLogger struct{ log *slog.Logger }

// Printf logs one go-redis line. Its text is go-redis's own, which names
// the Redis address but never the password (go-redis does not print its
// options).
func (l slogLogger) Printf(ctx context.Context, format string, v ...any) {
	if ctx == nil {
		ctx = context.Background()
	}
	if !l.log.Enabled(ctx, slog.LevelWarn) {
		return
	}
	msg := strings.TrimSpace(strings.TrimPrefix(fmt.Sprintf(format, v...), "redis: "))
	l.log.LogAttrs(ctx, slog.LevelWarn, "redis client", slog.String("detail", msg))
}
