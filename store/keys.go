package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// MaxSecretLen caps a stored secret.
const MaxSecretLen = 4096

// Secret implements Keys. On SQLite the secret is the file
// <data dir>/<name>.key, mode 0600, made with O_EXCL so that a racing
// caller reads the winner's; on PostgreSQL it is a row of the secrets
// table, inserted with ON CONFLICT DO NOTHING so that every node reads
// the first one's.
func (db *DB) Secret(ctx context.Context, name string, gen func() ([]byte, error)) ([]byte, error) {
	if !validSecretName(name) {
		return nil, fmt.Errorf("%w: secret name %q: want 1-32 of a-z 0-9 -", ErrInvalid, name)
	}
	if db.closed.Load() {
		return nil, ErrClosed
	}
	if db.keysDir != "" {
		return fileSecret(SecretFile(db.keysDir, name), gen)
	}
	var s []byte
	err := db.queryRow(ctx, `SELECT secret FROM secrets WHERE name = $1`, name).Scan(&s)
	if err == nil {
		return s, nil
	}
	if err = db.fail("reading a secret", err); !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	s, err = gen()
	if err != nil {
		return nil, err
	}
	if _, err := db.exec(ctx, "storing a secret", `INSERT INTO secrets (name, secret, created_ms) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING`,
		name, s, time.Now().UnixMilli()); err != nil {
		return nil, err
	}
	err = db.w.QueryRowContext(ctx, `SELECT secret FROM secrets WHERE name = $1`, name).Scan(&s)
	return s, db.fail("reading a secret", err)
}

// SecretFile returns the path of the file that keeps the secret name in
// a SQLite data directory.
func SecretFile(dir, name string) string { return filepath.Join(dir, name+".key") }

func fileSecret(path string, gen func() ([]byte, error)) ([]byte, error) {
	for range 3 {
		s, err := os.ReadFile(path)
		if err == nil {
			if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
				return nil, fmt.Errorf("store: %s has mode %v; it holds a secret, make it 0600", path, fi.Mode().Perm())
			}
			if len(s) == 0 || len(s) > MaxSecretLen {
				return nil, fmt.Errorf("store: %s holds %d bytes; delete it to make a new one", path, len(s))
			}
			return s, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("store: reading %s: %w", path, err)
		}
		s, err = gen()
		if err != nil {
			return nil, err
		}
		// Write a temporary file, then link it into place: the name
		// appears only with its full contents, and only once.
		tmp, err := os.CreateTemp(filepath.Dir(path), ".key-*")
		if err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		_, werr := tmp.Write(s)
		serr := tmp.Sync()
		cerr := tmp.Close()
		if err := errors.Join(werr, serr, cerr, os.Chmod(tmp.Name(), fileMode)); err != nil {
			os.Remove(tmp.Name())
			return nil, fmt.Errorf("store: writing %s: %w", path, err)
		}
		err = os.Link(tmp.Name(), path)
		os.Remove(tmp.Name())
		if err == nil {
			return s, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("store: writing %s: %w", path, err)
		}
	}
	return nil, fmt.Errorf("store: %s keeps changing", path)
}

func validSecretName(n string) bool {
	if n == "" || len(n) > 32 {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
