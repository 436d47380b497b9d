package server

import (
	"context"
	"fmt"
	"log/slog"
)

// gnetLogger routes gnet's own logging to the server's slog.Logger: gnet's
// errors and warnings at their level, its info and debug chatter at Debug.
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
func (g gnetLogger) Warnf(format string, args ...any) { g.log(slog.LevelWarn, format, args) }

// Errorf implements gnet's logging.Logger.
func (g gnetLogger) Errorf(format string, args ...any) { g.log(slog.LevelError, format, args) }

// Fatalf implements gnet's logging.Logger; it logs at Error and does not
// exit the process.
func (g gnetLogger) Fatalf(format string, args ...any) { g.log(slog.LevelError, format, args) }
