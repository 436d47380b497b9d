package admin

import (
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzParsePage: any ?q=&offset=&limit= of an admin list is taken or
// refused with an error, never a crash; a page taken has a limit in
// 1..max and an offset of 0 or more, its window lies within any number
// of matches, and a search text it takes matches the text it came from
// in any case.
func FuzzParsePage(f *testing.F) {
	f.Add("", "", "", 500)
	f.Add("Ann", "0", "1", 500)
	f.Add("x", "9223372036854775807", "500", 500)
	f.Add("", "-1", "501", 500)
	f.Add(strings.Repeat("a", 101), "1", "1", 100)
	f.Add(" İ ", "+3", "0x10", 50)
	f.Fuzz(func(t *testing.T, q, offset, limit string, maxLimit int) {
		if maxLimit < 1 {
			return
		}
		v := url.Values{}
		v.Set("q", q)
		v.Set("offset", offset)
		v.Set("limit", limit)
		r := httptest.NewRequest("GET", "/v1/admin/rooms?"+v.Encode(), nil)
		p, err := parsePage(r, maxLimit)
		if err != nil {
			return
		}
		if p.offset < 0 || p.limit < 1 || p.limit > maxLimit || len(q) > maxQueryLen {
			t.Fatalf("took %+v from q %q offset %q limit %q (max %d)", p, q, offset, limit, maxLimit)
		}
		// Matches are rooms or players held in memory: far fewer than 2^40.
		for _, n := range []int{0, 1, 1000, min(p.offset, 1<<40), min(p.offset, 1<<40) + 1, 1 << 40} {
			lo, hi := p.window(n)
			if lo < 0 || hi < lo || hi > n || hi-lo > p.limit {
				t.Fatalf("page %+v of %d matches is [%d, %d)", p, n, lo, hi)
			}
		}
		if !p.matches(q) && !p.matches(strings.ToUpper(q)) && !p.matches(" "+q+" ") {
			t.Fatalf("search %q matches neither itself nor its upper case", q)
		}
	})
}
