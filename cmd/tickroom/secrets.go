package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// secretFlag names the flags that carry a secret: given on the command
// line they show in ps, so the server warns and points at the -file twin.
var secretFlag = map[string]bool{"admin-token": true, "token-key": true, "identity-key": true, "turn-secret": true}

// openSecretFile is a -file flag's file that users other than its owner
// may read or write: the server starts, and warns.
type openSecretFile struct {
	flag, path string
	mode       os.FileMode
}

// readSecretFiles fills each secret from its -file flag. A secret given
// both ways is refused rather than guessed at.
func (f *flags) readSecretFiles() error {
	for _, s := range []struct {
		name, path string
		dst        *string
	}{
		{"admin-token", f.adminTokenFile, &f.adminToken},
		{"token-key", f.tokenKeyFile, &f.tokenKey},
		{"identity-key", f.identityKeyFile, &f.identityKey},
		{"turn-secret", f.turnSecretFile, &f.turnSecret},
	} {
		if s.path == "" {
			continue
		}
		if *s.dst != "" {
			return fmt.Errorf("-%s and -%s-file both given", s.name, s.name)
		}
		b, err := os.ReadFile(s.path)
		if err != nil {
			return fmt.Errorf("-%s-file: %w", s.name, err)
		}
		if fi, err := os.Stat(s.path); err == nil && fi.Mode().Perm()&0o077 != 0 {
			f.openSecretFiles = append(f.openSecretFiles, openSecretFile{s.name, s.path, fi.Mode().Perm()})
		}
		v := strings.TrimRight(string(b), "\r\n")
		if v == "" {
			return fmt.Errorf("-%s-file %s is empty", s.name, s.path)
		}
		*s.dst = v
	}
	return nil
}

// fingerprint identifies a secret without revealing it: the first 8 bytes
// of its SHA-256, in hex.
func fingerprint(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return "sha256:" + hex.EncodeToString(sum[:8])
}

// writeSecretFile writes a generated secret to a new file only the
// current user can read, in a fresh private directory, and returns its
// path.
func writeSecretFile(name, secret string) (string, error) {
	dir, err := os.MkdirTemp("", "tickroom-")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return "", err
	}
	return path, nil
}
