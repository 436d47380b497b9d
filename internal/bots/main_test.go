package bots_test

import (
	"testing"

	"github.com/tickroom/tickroom/internal/clustertest"
)

// TestMain removes the tickroom binary the cluster tests build.
func TestMain(m *testing.M) { clustertest.Main(m) }
