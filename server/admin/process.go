package admin

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
)

// writeProcess adds the conventional process_* series: CPU time, resident
// memory and open file descriptors, read from the kernel at scrape time.
// A figure the platform cannot give is left out.
func writeProcess(p promWriter) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		cpu := float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
		p.family("process_cpu_seconds_total", "counter", "User and system CPU time the process used, in seconds.")
		p.sample("process_cpu_seconds_total", cpu)
	}
	if b, err := os.ReadFile("/proc/self/statm"); err == nil {
		if f := bytes.Fields(b); len(f) > 1 {
			if pages, err := strconv.ParseUint(string(f[1]), 10, 64); err == nil {
				p.gauge("process_resident_memory_bytes", "Resident memory of the process, in bytes.", float64(pages)*float64(os.Getpagesize()))
			}
		}
	}
	if d, err := os.Open("/proc/self/fd"); err == nil {
		names, _ := d.Readdirnames(-1)
		d.Close()
		// The listing includes the descriptor opened to read it.
		p.gauge("process_open_fds", "Open file descriptors.", float64(len(names)-1))
	}
}
