package main

import (
	"io/fs"

	clientjs "github.com/tickroom/tickroom/client-js"
)

// demoFiles returns the demo page's files, embedded from client-js/demo/dist.
func demoFiles() (fs.FS, error) { return clientjs.DemoFiles() }
