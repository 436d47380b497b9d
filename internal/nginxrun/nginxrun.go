// Package nginxrun runs Debian's nginx in front of tickroom for the tests
// and tools that check a shipped site file (deploy/*.conf): in the
// foreground, in a directory of its own that holds its main file, pid,
// logs and temporary files, and in a process group of its own, so that
// stopping it stops its workers too.
package nginxrun

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Nginx is a running nginx.
type Nginx struct {
	cmd *exec.Cmd
	dir string
}

// Start writes site to dir/site.conf and a main file that includes it
// within an http block holding httpExtra's lines, checks them with
// `bin -t`, and starts bin on them. dir must exist; error.log in it says
// why nginx would not start.
func Start(bin, dir, site string, httpExtra ...string) (*Nginx, error) {
	main := []string{"daemon off;", "worker_processes 1;", "pid " + filepath.Join(dir, "nginx.pid") + ";",
		"error_log " + filepath.Join(dir, "error.log") + " warn;", "events { worker_connections 256; }", "http {"}
	if os.Getuid() == 0 {
		main = append([]string{"user root;"}, main...)
	}
	for _, l := range httpExtra {
		main = append(main, "  "+l)
	}
	for _, tmp := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		main = append(main, "  "+tmp+"_temp_path "+filepath.Join(dir, tmp)+";")
	}
	siteFile := filepath.Join(dir, "site.conf")
	main = append(main, "  include "+siteFile+";", "}", "")
	if err := os.WriteFile(siteFile, []byte(site), 0o600); err != nil {
		return nil, err
	}
	mainConf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(mainConf, []byte(strings.Join(main, "\n")), 0o600); err != nil {
		return nil, err
	}
	args := []string{"-p", dir, "-c", mainConf, "-e", filepath.Join(dir, "error.log")}
	if out, err := exec.Command(bin, append([]string{"-t"}, args...)...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("nginx -t refused the configuration: %v\n%s\n%s", err, out, site)
	}
	cmd := exec.Command(bin, args...)
	// In a group of its own, so that its workers stop with it: SIGKILL
	// to the master alone left them running, parented to init.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &Nginx{cmd: cmd, dir: dir}, nil
}

// ErrorLog returns what nginx logged so far.
func (n *Nginx) ErrorLog() string {
	b, _ := os.ReadFile(filepath.Join(n.dir, "error.log"))
	return string(b)
}

// Stop tells nginx to stop (SIGTERM: its master stops its workers) and,
// if it has not in 5 s, kills its process group, so no worker outlives
// it.
func (n *Nginx) Stop() {
	done := make(chan struct{})
	go func() { _ = n.cmd.Wait(); close(done) }()
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-n.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}
