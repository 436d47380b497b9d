// Package clientjs embeds the built demo page of tickroom's browser client,
// so that the server binary serves it without Node or npm at build time.
//
// The files under demo/dist are built from demo/ and src/ by
// `npm run build:demo` (scripts/build-demo.mjs) and committed; the client's
// `npm test` fails when they are stale.
package clientjs

import (
	"embed"
	"io/fs"
)

//go:embed demo/dist
var demoDist embed.FS

// DemoFiles returns the demo page's files with index.html at the root:
// index.html, style.css and app.js (one ES module holding the client
// library). The page reads GET /v1/config to find the WebSocket port.
func DemoFiles() (fs.FS, error) {
	return fs.Sub(demoDist, "demo/dist")
}
