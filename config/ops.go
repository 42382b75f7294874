package config

import (
	"math"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// Operational defaults.
const (
	// DefaultReadHeaderTimeout bounds how long a client may take to send
	// its request headers (slowloris).
	DefaultReadHeaderTimeout = 10 * time.Second
	// DefaultInflightFactor times max_body is the default max_inflight_bytes.
	DefaultInflightFactor = 4
)

// compileOps fills the operational limits: max_inflight_bytes and
// read_header_timeout.
func (p *parser) compileOps(f *File, c *Config) {
	c.ReadHeaderTimeout = time.Duration(f.ReadHeaderTimeout)
	if c.ReadHeaderTimeout == 0 {
		c.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if c.MaxInflightBytes == 0 {
		c.MaxInflightBytes = DefaultInflightFactor * c.MaxBody
	} else if c.MaxInflightBytes < c.MaxBody {
		p.errf("max_inflight_bytes", "must be at least max_body (%d bytes), or no body of max_body could ever be read", c.MaxBody)
	}
}

// rateLimit compiles a trigger's rate_limit into a token bucket.
func (p *parser) rateLimit(field string, rl *RateLimit) *rate.Limiter {
	if rl == nil {
		return nil
	}
	per, n, err := ParseRate(rl.Rate)
	if err != nil {
		p.errf(field+".rate", "%v", err)
		return nil
	}
	burst := rl.Burst
	switch {
	case burst < 0:
		p.errf(field+".burst", "must be positive")
		return nil
	case burst == 0:
		burst = max(1, int(math.Ceil(n)))
	}
	return rate.NewLimiter(rate.Limit(n/per.Seconds()), burst)
}

// ParseRate parses "N/s", "N/m" or "N/h" (also "N/second", "N/min",
// "N/minute", "N/hour"): N events per unit, N > 0.
func ParseRate(s string) (per time.Duration, n float64, err error) {
	num, unit, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return 0, 0, errRate(s)
	}
	n, err = strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || n <= 0 || math.IsInf(n, 0) || math.IsNaN(n) {
		return 0, 0, errRate(s)
	}
	switch strings.TrimSpace(unit) {
	case "s", "sec", "second":
		per = time.Second
	case "m", "min", "minute":
		per = time.Minute
	case "h", "hour":
		per = time.Hour
	default:
		return 0, 0, errRate(s)
	}
	return per, n, nil
}

type rateError string

func (e rateError) Error() string {
	return "invalid rate " + strconv.Quote(string(e)) + " (use e.g. 10/s, 100/m, 1000/h)"
}

func errRate(s string) error { return rateError(s) }
