package clientaddr

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestParseTrusted(t *testing.T) {
	got, err := ParseTrusted(" 10.0.0.1, 192.168.7.9/16 ,, ::1,::ffff:172.16.0.5 ")
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, p := range got {
		s = append(s, p.String())
	}
	if want := "10.0.0.1/32 192.168.0.0/16 ::1/128 172.16.0.5/32"; strings.Join(s, " ") != want {
		t.Fatalf("got %v, want %s", s, want)
	}
	if got, err := ParseTrusted(""); err != nil || len(got) != 0 {
		t.Fatalf("empty: %v %v", got, err)
	}
	for _, bad := range []string{"10.0.0.300", "proxy.example.com", "10.0.0.0/33", "10.0.0.1,x"} {
		if _, err := ParseTrusted(bad); err == nil || !strings.Contains(err.Error(), "trusted proxies") {
			t.Errorf("%q: %v, want an error", bad, err)
		}
	}
}

func TestOf(t *testing.T) {
	trusted, err := ParseTrusted("10.0.0.1, 10.9.0.0/16, ::1")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, peer string
		xff        []string
		want       string
	}{
		{"no proxy header", "203.0.113.5:4000", nil, "203.0.113.5"},
		{"an untrusted peer's header is ignored", "203.0.113.5:4000", []string{"198.51.100.7"}, "203.0.113.5"},
		{"a trusted peer's header counts", "10.0.0.1:4000", []string{"198.51.100.7"}, "198.51.100.7"},
		{"a trusted peer without the header", "10.0.0.1:4000", nil, "10.0.0.1"},
		{"the right-most untrusted entry is the client", "10.0.0.1:4000", []string{"1.1.1.1, 198.51.100.7, 10.9.3.3"}, "198.51.100.7"},
		{"several header lines are one list", "10.0.0.1:4000", []string{"1.1.1.1", "198.51.100.7, 10.9.3.3"}, "198.51.100.7"},
		{"all trusted: the left-most", "10.0.0.1:4000", []string{"10.9.1.1, 10.9.2.2"}, "10.9.1.1"},
		{"garbage stops the walk at the trusted hop", "10.0.0.1:4000", []string{"1.1.1.1, bogus, 10.9.2.2"}, "10.9.2.2"},
		{"entries with ports", "10.0.0.1:4000", []string{"198.51.100.7:5555"}, "198.51.100.7"},
		{"IPv6 peer and entry", "[::1]:4000", []string{"[2001:db8::7]:443"}, "2001:db8::7"},
		{"IPv4-mapped peer", "[::ffff:10.0.0.1]:4000", []string{"198.51.100.8"}, "198.51.100.8"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = c.peer
			for _, v := range c.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := Of(r, trusted); got != c.want {
				t.Fatalf("Of = %q, want %q", got, c.want)
			}
		})
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.0.0.1:4000"
	r.Header.Set("X-Forwarded-For", "198.51.100.7")
	if got := Of(r, nil); got != "10.0.0.1" {
		t.Fatalf("no trusted proxies: %q, want the peer", got)
	}
}
