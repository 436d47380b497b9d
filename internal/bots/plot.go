package bots

import (
	"fmt"
	"io"
	"strings"
)

// Plot geometry, in SVG user units.
const (
	plotW, plotH       = 800, 360
	plotLeft, plotTop  = 60, 30
	plotRight, plotBot = 20, 40
)

// WriteSVG draws the input latency over the run (p50, p99 and max of each
// second, in milliseconds) as a self-contained SVG image.
func (r *Report) WriteSVG(w io.Writer) error {
	pts := r.Series
	maxT, maxY := 1.0, 1.0
	for _, p := range pts {
		maxT = max(maxT, p.T)
		maxY = max(maxY, p.LatencyMax, p.LatencyP99)
	}
	maxY = niceCeil(maxY)
	iw, ih := float64(plotW-plotLeft-plotRight), float64(plotH-plotTop-plotBot)
	x := func(t float64) float64 { return plotLeft + t/maxT*iw }
	y := func(v float64) float64 { return plotTop + ih - min(v, maxY)/maxY*ih }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", plotW, plotH)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%d" y="18">input → ack latency, %d bots (%s), ms per second of run</text>`+"\n", plotLeft, r.Config.Bots, r.Config.Game)
	for i := 0; i <= 4; i++ {
		v := maxY * float64(i) / 4
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/><text x="%d" y="%.1f" text-anchor="end">%g</text>`+"\n",
			plotLeft, plotW-plotRight, y(v), y(v), plotLeft-6, y(v)+4, v)
	}
	for i := 0; i <= 5; i++ {
		t := maxT * float64(i) / 5
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%.0fs</text>`+"\n", x(t), plotH-plotBot+18, t)
	}
	for _, s := range []struct {
		color, name string
		get         func(SeriesPoint) float64
	}{
		{"#999", "max", func(p SeriesPoint) float64 { return p.LatencyMax }},
		{"#d33", "p99", func(p SeriesPoint) float64 { return p.LatencyP99 }},
		{"#36c", "p50", func(p SeriesPoint) float64 { return p.LatencyP50 }},
	} {
		var path strings.Builder
		for _, p := range pts {
			if p.AcksPerSec == 0 {
				continue
			}
			cmd := "L"
			if path.Len() == 0 {
				cmd = "M"
			}
			fmt.Fprintf(&path, "%s%.1f %.1f ", cmd, x(p.T), y(s.get(p)))
		}
		if path.Len() > 0 {
			fmt.Fprintf(&b, `<path d="%s" fill="none" stroke="%s" stroke-width="1.5"/>`+"\n", strings.TrimSpace(path.String()), s.color)
		}
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#36c">p50</text><text x="%d" y="%d" fill="#d33">p99</text><text x="%d" y="%d" fill="#999">max</text>`+"\n",
		plotW-150, plotTop+12, plotW-110, plotTop+12, plotW-70, plotTop+12)
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	p := 1.0
	for p*10 <= v {
		p *= 10
	}
	for p > v*10 {
		p /= 10
	}
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}
