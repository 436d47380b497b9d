package hub_test

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server/hub"
	"github.com/tickroom/tickroom/server/social"
)

// TestTinyRatesGiveASaneRetryAfter: a rate so small that its next token
// is years away (or further than a time.Duration reaches) still refuses
// with a retry hint a client can use: the 429's Retry-After and an Error's
// retry_after_ms are positive and at most an hour, never wrapped round.
func TestTinyRatesGiveASaneRetryAfter(t *testing.T) {
	for _, r := range []float64{1e-8, 1e-300} {
		name := strconv.FormatFloat(r, 'g', -1, 64)
		t.Run("session "+name, func(t *testing.T) {
			e := start(t, options{hub: func(c *hub.Config) { c.SessionRate, c.SessionBurst = r, 1 }})
			tok := e.token("ann", time.Hour)
			c, _ := e.connectToken("ann", tok)
			c.WS.Close()
			_, res, err := dial(t, e.url, tok)
			if err == nil || res == nil || res.StatusCode != http.StatusTooManyRequests {
				t.Fatalf("a second session at %g a second: %v, %v; want 429", r, res, err)
			}
			if s, err := strconv.Atoi(res.Header.Get("Retry-After")); err != nil || s < 1 || s > 3600 {
				t.Fatalf("Retry-After %q at %g a second, want 1..3600", res.Header.Get("Retry-After"), r)
			}
		})
		t.Run("chat "+name, func(t *testing.T) {
			e := start(t, options{hub: func(c *hub.Config) { c.Social.ChatRate, c.Social.ChatBurst = r, 1 }})
			c, _ := e.connect("ann")
			if c.Request(joinChannel("tiny")).GetChatHistory() == nil {
				t.Fatal("join refused")
			}
			ok(t, c.Request(channelChat("tiny", "one")))
			m := c.Request(channelChat("tiny", "two"))
			if e := m.GetError(); e.GetCode() != tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED || e.RetryAfterMs < 1 || e.RetryAfterMs > 3_600_000 {
				t.Fatalf("a second line at %g a second: %v, want RATE_LIMITED with retry_after_ms 1..3600000", r, m)
			}
		})
	}
}

// TestNewRefusesNaNRates: a rate of NaN, which no comparison with a limit
// ever trips, is an error naming the field, as a negative one is.
func TestNewRefusesNaNRates(t *testing.T) {
	a, srv := newDeps(t)
	nan := math.NaN()
	for _, tc := range []struct {
		field string
		cfg   hub.Config
		want  error
	}{
		{"RoomCreateRate", hub.Config{RoomCreateRate: nan}, hub.ErrConfig},
		{"WrongPasswordRate", hub.Config{WrongPasswordRate: nan}, hub.ErrConfig},
		{"SessionRate", hub.Config{SessionRate: nan}, hub.ErrConfig},
		{"SessionAddressRate", hub.Config{SessionAddressRate: nan}, hub.ErrConfig},
		{"WatchPassRate", hub.Config{WatchPassRate: nan}, hub.ErrConfig},
		{"JoinRate", hub.Config{JoinRate: nan}, hub.ErrConfig},
		{"ChatRate", hub.Config{Social: hub.SocialConfig{ChatRate: nan}}, social.ErrConfig},
		{"ChannelLineRate", hub.Config{Social: hub.SocialConfig{ChannelLineRate: nan}}, social.ErrConfig},
		{"ChannelOpenRate", hub.Config{Social: hub.SocialConfig{ChannelOpenRate: nan}}, social.ErrConfig},
		{"ChannelOpenAddressRate", hub.Config{Social: hub.SocialConfig{ChannelOpenAddressRate: nan}}, social.ErrConfig},
		{"ChannelRejoinRate", hub.Config{Social: hub.SocialConfig{ChannelRejoinRate: nan}}, social.ErrConfig},
		{"StoreReadRate", hub.Config{Social: hub.SocialConfig{StoreReadRate: nan}}, social.ErrConfig},
		{"ContactRate", hub.Config{Social: hub.SocialConfig{ContactRate: nan}}, social.ErrConfig},
		{"ContactAddressRate", hub.Config{Social: hub.SocialConfig{ContactAddressRate: nan}}, social.ErrConfig},
		{"PresenceRate", hub.Config{Social: hub.SocialConfig{PresenceRate: nan}}, social.ErrConfig},
	} {
		t.Run(tc.field, func(t *testing.T) {
			tc.cfg.Server, tc.cfg.Auth = srv, a
			_, err := hub.New(tc.cfg)
			if !errors.Is(err, tc.want) || !strings.HasPrefix(err.Error(), "hub: ") || !strings.Contains(err.Error(), tc.field+" is not a number") {
				t.Fatalf("New with %s NaN: %v, want %v naming it", tc.field, err, tc.want)
			}
		})
	}
}
