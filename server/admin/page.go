package admin

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/tickroom/tickroom/store"
)

// Page sizes and the search text of the admin list endpoints.
const (
	defaultPageSize = 50
	maxPageSize     = 500
	maxQueryLen     = 100
)

// page is a list request's ?q=&offset=&limit=.
type page struct {
	// text is the search text as asked (trimmed), which a merged list
	// sends the other nodes: each keys it once, since a key keyed again
	// may differ ("™" keys to "TM", which keys to "tm") and be longer
	// than maxQueryLen ("İ", 2 bytes, keys to 3).
	text string
	// q is store.NameKey of text; empty matches everything.
	q             string
	offset, limit int
}

// parsePage reads ?q=&offset=&limit= (limit at most maxLimit); a value out
// of range is an error naming the parameter.
func parsePage(r *http.Request, maxLimit int) (page, error) {
	v := r.URL.Query()
	p := page{limit: defaultPageSize}
	if q := v.Get("q"); len(q) > maxQueryLen {
		return p, fmt.Errorf("q is longer than %d bytes", maxQueryLen)
	} else {
		p.text = strings.TrimSpace(q)
		p.q = store.NameKey(p.text)
	}
	if s := v.Get("offset"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return p, fmt.Errorf("offset must be a whole number, 0 or more")
		}
		p.offset = n
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxLimit {
			return p, fmt.Errorf("limit must be a whole number from 1 to %d", maxLimit)
		}
		p.limit = n
	}
	return p, nil
}

// matches reports whether any of fields holds the search text, ignoring
// case and width as names are compared (store.NameKey: NFKC, Unicode case
// folding and NFKC again, so "STRASSE" finds "Straße", "ＡＮＮ" "ann",
// "acmetm" "Acme™" (™ is TM) and "ΤΑΫ́ΓΕΤΟΣ" "Ταΰγετος", whose ΰ folds to
// υ and two combining marks and whose Ϋ́ to ϋ and one, which NFKC composes
// again).
func (p page) matches(fields ...string) bool {
	if p.q == "" {
		return true
	}
	for _, f := range fields {
		if strings.Contains(store.NameKey(f), p.q) {
			return true
		}
	}
	return false
}

// window returns the bounds of the page within n matches.
func (p page) window(n int) (lo, hi int) {
	lo = min(p.offset, n)
	return lo, min(lo+p.limit, n)
}

// setTotal tells the client how many items matched before paging.
func setTotal(w http.ResponseWriter, n int) {
	w.Header().Set("X-Total-Count", strconv.Itoa(n))
}
