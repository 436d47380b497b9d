package social_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tickroom/tickroom/server/social"
)

// TestICEConfigRefusesANegativeTTL: a negative TTL is an error naming it
// (Config's limits are covered through hub.New, which runs social.New).
func TestICEConfigRefusesANegativeTTL(t *testing.T) {
	if err := (social.ICEConfig{TTL: -time.Hour}).Validate(); !errors.Is(err, social.ErrConfig) || !strings.Contains(err.Error(), "social: ") || !strings.Contains(err.Error(), "TTL") {
		t.Fatalf("Validate with a negative TTL: %v, want social.ErrConfig naming TTL", err)
	}
	if err := (social.ICEConfig{}).Validate(); err != nil {
		t.Fatalf("Validate with zero TTL: %v", err)
	}
}
