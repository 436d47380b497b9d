package server

import (
	"context"
	"fmt"
	"log/slog"
)

// gnetLogger routes gnet's own logging to the server's slog.Logger: gnet's
// errors at Error; its warnings, info and debug chatter at Debug. gnet's
// only warning (v2.10) is an event for a connection that was just closed,
// routine when a close races a readiness event: one per connection under
// load, which must not reach the log unless debug is on.
type gnetLogger struct{ l *slog.Logger }

func (g gnetLogger) log(level slog.Level, format string, args []any) {
	if g.l.Enabled(context.Background(), level) {
		g.l.Log(context.Background(), level, fmt.Sprintf(format, args...), "component", "gnet")
	}
}

// Debugf implements gnet's logging.Logger.
func (g gnetLogger) Debugf(format string, args ...any) { g.log(slog.LevelDebug, format, args) }

// Infof implements gnet's logging.Logger.
func (g gnetLogger) Infof(format string, args ...any) { g.log(slog.LevelDebug, format, args) }

// Warnf implements gnet's logging.Logger.
func (g gnetLogger) Warnf(format string, args ...any) { g.log(slog.LevelDebug, format, args) }

// Errorf implements gnet's logging.Logger.
func (g gnetLogger) Errorf(format string, args ...any) { g.log(slog.LevelError, format, args) }

// Fatalf implements gnet's logging.Logger; it logs at Error and does not
// exit the process.
func (g gnetLogger) Fatalf(format string, args ...any) { g.log(slog.LevelError, format, args) }
