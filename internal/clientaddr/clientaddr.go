// Package clientaddr finds the address of the client of an HTTP request:
// the TCP peer, or, when the peer is a trusted proxy (`authority serve
// --trusted-proxies`), the address that proxy says it forwarded for in
// X-Forwarded-For. Throttling and the sign-in log count and name clients by it.
package clientaddr

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ParseTrusted parses a comma-separated list of IP addresses and CIDR
// prefixes ("10.0.0.1, 192.168.0.0/16, ::1"). Blank items are skipped; an
// empty list trusts no proxy.
func ParseTrusted(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if strings.Contains(item, "/") {
			p, err := netip.ParsePrefix(item)
			if err != nil {
				return nil, fmt.Errorf("trusted proxies: %q is not an IP address or CIDR prefix (e.g. 10.0.0.0/8): %w", item, err)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(item)
		if err != nil {
			return nil, fmt.Errorf("trusted proxies: %q is not an IP address or CIDR prefix (e.g. 10.0.0.0/8): %w", item, err)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// Of returns the client address of r as text: the TCP peer's IP address
// (r.RemoteAddr without the port), unless the peer is in trusted. Then
// X-Forwarded-For is read from the right (the entry the trusted peer
// added) to the left: the first entry that is not itself a trusted proxy
// is the client. When every entry is trusted, the left-most one is; when an
// entry is not an IP address, the trusted hop to its right is the client
// (nothing left of a garbled entry can be believed).
func Of(r *http.Request, trusted []netip.Prefix) string {
	peer, ok := parseHost(r.RemoteAddr)
	if !ok {
		return r.RemoteAddr
	}
	if !isTrusted(peer, trusted) {
		return peer.String()
	}
	var hops []string
	for _, h := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(h, ",")...)
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHop(hops[i])
		if !ok {
			break
		}
		client = a
		if !isTrusted(a, trusted) {
			break
		}
	}
	return client.String()
}

// parseHost reads the IP of a "host:port" (or a bare IP).
func parseHost(hostport string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(hostport); err == nil {
		return ap.Addr().Unmap(), true
	}
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// parseHop reads one X-Forwarded-For entry: an IP, an "IP:port" or "[IPv6]:port".
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
