package rawbody

import (
	"bytes"
	"encoding/json"
	"testing"
)

type head struct {
	Kind string `json:"k"`
	Body []byte `json:"b,omitempty"`
}

// TestRoundTrip: any body, newlines and bytes that are not UTF-8 included,
// comes back whole and unencoded, and the message is its head's JSON and
// the body's bytes, no more.
func TestRoundTrip(t *testing.T) {
	for _, body := range [][]byte{nil, {}, []byte("x"), []byte("a\nb\n\n"), {0xff, 0x00, '\n', 0xfe}, bytes.Repeat([]byte{'{'}, 1000)} {
		p, err := Encode(head{Kind: "line\nbreak"}, body)
		if err != nil {
			t.Fatal(err)
		}
		if len(body) > 0 && len(p) != len(`{"k":"line\nbreak"}`)+1+len(body) {
			t.Fatalf("%d bytes for a body of %d: %q", len(p), len(body), p)
		}
		var h head
		got, err := Decode(p, &h)
		if err != nil || h.Kind != "line\nbreak" || !bytes.Equal(got, body) {
			t.Fatalf("Decode(%q) = %q, %+v, %v; want body %q", p, got, h, err, body)
		}
	}
}

// TestOlderForm: a message that is JSON alone, its body a base64 field,
// reads with the body left in the head.
func TestOlderForm(t *testing.T) {
	p, _ := json.Marshal(head{Kind: "k", Body: []byte("a\nb")})
	var h head
	body, err := Decode(p, &h)
	if err != nil || body != nil || string(h.Body) != "a\nb" {
		t.Fatalf("Decode(%s) = %q, %+v, %v", p, body, h, err)
	}
	if _, err := Decode([]byte("{\"k\":1}\nbody"), &h); err == nil {
		t.Fatal("a bad head was read")
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte("{\"k\":\"x\"}\nbody"))
	f.Add([]byte("{\"k\":\"x\",\"b\":\"AAE=\"}"))
	f.Add([]byte("\n"))
	f.Fuzz(func(t *testing.T, p []byte) {
		var h head
		body, err := Decode(p, &h)
		if err != nil {
			return
		}
		// What reads re-encodes to a message that reads the same.
		q, err := Encode(head{Kind: h.Kind}, body)
		if err != nil {
			t.Fatal(err)
		}
		var h2 head
		body2, err := Decode(q, &h2)
		if err != nil || h2.Kind != h.Kind || !bytes.Equal(body, body2) {
			t.Fatalf("%q: re-read %q %+v %v, want %q %+v", p, body2, h2, err, body, h)
		}
	})
}
