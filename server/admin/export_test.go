package admin

import "github.com/prometheus/client_golang/prometheus"

// MetricsCollector is the collector of tickroom's own figures that h's
// /metrics registers.
func MetricsCollector(h *Handler) prometheus.Collector { return collector{h} }
