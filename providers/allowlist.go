package providers

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// AllowList limits which client addresses may deliver to a trigger
// (allow_ips) and says which proxies are believed about the client address
// (trusted_proxies). A nil *AllowList allows every address and trusts no
// proxy. Safe for concurrent use.
type AllowList struct {
	allow   []netip.Prefix
	trusted []netip.Prefix
}

// ParseAllowList parses allow_ips and trusted_proxies: CIDRs ("10.0.0.0/8",
// "2001:db8::/32") or bare IPv4/IPv6 addresses. An empty allow list allows
// every address. The error names the entry that does not parse.
func ParseAllowList(allow, trustedProxies []string) (*AllowList, error) {
	a := &AllowList{}
	var err error
	if a.allow, err = parsePrefixes("allow_ips", allow); err != nil {
		return nil, err
	}
	if a.trusted, err = parsePrefixes("trusted_proxies", trustedProxies); err != nil {
		return nil, err
	}
	return a, nil
}

func parsePrefixes(field string, entries []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(entries))
	for i, e := range entries {
		e = strings.TrimSpace(e)
		var p netip.Prefix
		if strings.Contains(e, "/") {
			pp, err := netip.ParsePrefix(e)
			if err != nil {
				return nil, fmt.Errorf("providers: %s[%d]: %q is not an IP address or CIDR", field, i, e)
			}
			p = pp.Masked()
		} else {
			ip, err := netip.ParseAddr(e)
			if err != nil {
				return nil, fmt.Errorf("providers: %s[%d]: %q is not an IP address or CIDR", field, i, e)
			}
			ip = ip.WithZone("")
			p = netip.PrefixFrom(ip, ip.BitLen())
		}
		// An IPv4-mapped IPv6 prefix would never match the unmapped addresses we compare.
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p)
	}
	return out, nil
}

// parseIP parses "ip", "ip:port", "[ipv6]:port" or "[ipv6]", unmapping
// IPv4-in-IPv6 and dropping any zone.
func parseIP(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if ip, err := netip.ParseAddr(s); err == nil {
		return ip.Unmap().WithZone(""), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		if ip, err := netip.ParseAddr(host); err == nil {
			return ip.Unmap().WithZone(""), true
		}
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		if ip, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil {
			return ip.Unmap().WithZone(""), true
		}
	}
	return netip.Addr{}, false
}

func contains(prefixes []netip.Prefix, ip netip.Addr) bool {
	for _, p := range prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// ClientIP returns the address of the client that sent a request arriving
// from remoteAddr (the socket peer, "ip:port" or "ip"). When the peer is a
// trusted proxy, X-Forwarded-For is read from right to left and the first
// address that is not a trusted proxy is the client; if every hop is trusted
// the left-most one is. A hop that is not an IP address ends the walk: ""
// is returned, which Allowed rejects whenever an allow list is set. Without a
// trusted peer the headers are ignored. The socket address "" or one that
// does not parse is returned unchanged.
func (a *AllowList) ClientIP(remoteAddr string, h http.Header) string {
	peer, ok := parseIP(remoteAddr)
	if !ok {
		return remoteAddr
	}
	if a == nil || len(a.trusted) == 0 || !contains(a.trusted, peer) {
		return peer.String()
	}
	client := peer
	values := h.Values("X-Forwarded-For")
	for i := len(values) - 1; i >= 0; i-- {
		v := values[i]
		for v != "" {
			var hop string
			if j := strings.LastIndexByte(v, ','); j >= 0 {
				hop, v = v[j+1:], v[:j]
			} else {
				hop, v = v, ""
			}
			hop = strings.TrimSpace(hop)
			if hop == "" {
				continue
			}
			ip, ok := parseIP(hop)
			if !ok {
				return ""
			}
			if !contains(a.trusted, ip) {
				return ip.String()
			}
			client = ip
		}
	}
	return client.String()
}

// Allowed reports whether ip (as returned by ClientIP) may deliver. A nil
// *AllowList or an empty allow list allows every address; otherwise an
// address that does not parse is refused.
func (a *AllowList) Allowed(ip string) bool {
	if a == nil || len(a.allow) == 0 {
		return true
	}
	addr, ok := parseIP(ip)
	if !ok {
		return false
	}
	return contains(a.allow, addr)
}
