package bots_test

import (
	"context"
	"os"
	"time"

	"github.com/tickroom/tickroom/internal/bots"
)

// ExampleRun runs 1,000 arena bots in rooms of 10 against a local server
// for 30 seconds, with a reconnect storm of 20 % halfway through, and
// prints the report.
func ExampleRun() {
	rep, err := bots.Run(context.Background(), bots.Config{
		HTTPURL:      "http://127.0.0.1:8080",
		Bots:         1000,
		RoomSize:     10,
		InputHz:      10,
		RampRate:     500,
		Duration:     30 * time.Second,
		StormPercent: 20,
		MetricsURL:   "http://127.0.0.1:9090/metrics",
		Progress:     os.Stdout,
	})
	if err != nil {
		panic(err)
	}
	_ = rep.WriteText(os.Stdout)
	_ = rep.WriteJSON(os.Stderr)
}
