package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/tickroom/tickroom/internal/nginxrun"
)

// nginxOptions say how the shipped site file is changed for a run.
type nginxOptions struct {
	bin      string // the nginx binary
	conf     string // deploy/nginx.conf
	listen   string // parameters added to the players' TLS listen ("sndbuf=32k")
	wsExtra  string // directives added to the /v1/ws location
	httpAddr string // tickroom's public HTTP address
	wsAddr   string // tickroom's WebSocket address
	admin    string // tickroom's admin address
}

// proxy is a running nginx.
type proxy struct {
	nginx *nginxrun.Nginx
	dir   string
	play  string // host:port of the players' TLS site
}

// startNginx runs nginx with o.conf as the site, as the repository's TLS
// tests do (client-js/test/browser/nginx.mjs): a self-signed certificate,
// free loopback ports in place of 80 and 443, its prefix, temp folders
// and logs in a temporary folder; the site file is used as it is but for
// those and for o.listen and o.wsExtra.
func startNginx(o nginxOptions) (*proxy, error) {
	raw, err := os.ReadFile(o.conf)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "tickroom-slowlink-nginx-")
	if err != nil {
		return nil, err
	}
	p := &proxy{dir: dir}
	ok := false
	defer func() {
		if !ok {
			p.stop()
		}
	}()
	cert, key, err := selfSigned(dir)
	if err != nil {
		return nil, err
	}
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	conf := string(raw)
	var missing []string
	swap := func(from, to string) {
		if !strings.Contains(conf, from) {
			missing = append(missing, from)
		}
		conf = strings.ReplaceAll(conf, from, to)
	}
	swap("server 127.0.0.1:8080;", "server "+o.httpAddr+";")
	swap("server 127.0.0.1:8081;", "server "+o.wsAddr+";")
	swap("server 127.0.0.1:9090;", "server "+o.admin+";")
	swap("/etc/ssl/tickroom/fullchain.pem", cert)
	swap("/etc/ssl/tickroom/privkey.pem", key)
	swap("/var/log/nginx/access.log", filepath.Join(dir, "access.log"))
	conf = regexp.MustCompile(`(?m)^\s*listen \[::\].*$`).ReplaceAllString(conf, "")
	swap("listen 80;", fmt.Sprintf("listen 127.0.0.1:%d;", ports[0]))
	p.play = fmt.Sprintf("127.0.0.1:%d", ports[1])
	// The first TLS server is the players' site, the second the admin's.
	tls := []string{strings.TrimSpace(p.play + " ssl http2 " + o.listen), fmt.Sprintf("127.0.0.1:%d ssl http2", ports[2])}
	conf = regexp.MustCompile(`listen (\S+ )?443 ssl http2( [^;]*)?;`).ReplaceAllStringFunc(conf, func(string) string {
		if len(tls) == 0 {
			missing = append(missing, "only two TLS listens")
			return ""
		}
		l := tls[0]
		tls = tls[1:]
		return "listen " + l + ";"
	})
	if len(tls) != 0 {
		missing = append(missing, "two TLS listens")
	}
	if o.wsExtra != "" {
		swap("        proxy_buffering off;\n    }\n\n    # Server-Sent Events", "        proxy_buffering off;\n        "+o.wsExtra+"\n    }\n\n    # Server-Sent Events")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s no longer has %q", o.conf, missing)
	}
	p.nginx, err = nginxrun.Start(o.bin, dir, conf, "access_log "+filepath.Join(dir, "access.log")+";", "types { text/html html; }")
	if err != nil {
		return nil, err
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.DialTimeout("tcp", p.play, time.Second)
		if err == nil {
			_ = c.Close()
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("nginx does not listen on %s: %v\n%s", p.play, err, p.nginx.ErrorLog())
		}
		time.Sleep(50 * time.Millisecond)
	}
	ok = true
	return p, nil
}

// stop ends nginx (nginxrun.Nginx.Stop: no worker outlives the run) and
// removes its folder.
func (p *proxy) stop() {
	if p.nginx != nil {
		p.nginx.Stop()
	}
	_ = os.RemoveAll(p.dir)
}

// freePorts returns n loopback ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	var ps []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ps = append(ps, l.Addr().(*net.TCPAddr).Port)
	}
	return ps, nil
}

// selfSigned writes a certificate for 127.0.0.1 and its key to dir.
func selfSigned(dir string) (cert, key string, err error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "tickroom slowlink"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		return "", "", err
	}
	kd, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		return "", "", err
	}
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	err = errors.Join(
		os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600),
		os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}), 0o600))
	return cert, key, err
}
