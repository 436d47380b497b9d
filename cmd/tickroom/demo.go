package main

import (
	"errors"
	"io/fs"
)

// demoFiles returns the demo page's files.
func demoFiles() (fs.FS, error) { return nil, errors.New("no demo page built in") }
