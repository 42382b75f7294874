package config

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/hooktrigger/hooktrigger/extract"
	"github.com/hooktrigger/hooktrigger/pipeline"
	"github.com/hooktrigger/hooktrigger/providers"
	"github.com/hooktrigger/hooktrigger/providers/generic"
	ghprovider "github.com/hooktrigger/hooktrigger/providers/github"
	glprovider "github.com/hooktrigger/hooktrigger/providers/gitlab"
	"github.com/hooktrigger/hooktrigger/store"
	"github.com/hooktrigger/hooktrigger/trigger"
)

// Defaults applied to fields left out of the file.
const (
	DefaultListen        = "127.0.0.1:8080"
	DefaultDataDir       = "./data"
	DefaultMaxBody       = 25 << 20
	DefaultWorkers       = 4
	DefaultShutdownGrace = 30 * time.Second
	DefaultDeliveryKeep  = 14 * 24 * time.Hour
)

// MaxWait bounds run.wait: an HTTP answer held longer than this is better
// replaced by polling GET /api/runs/{id}.
const MaxWait = 10 * time.Minute

// Config is a loaded, validated and compiled config file.
type Config struct {
	File             string
	Warnings         Errors // what hooktrigger check and serve point out, file:line, without refusing the file
	Listen           string
	DataDir          string
	Database         string
	PublicURL        string
	MaxBody          int64
	MaxInflightBytes int64
	Workers          int
	APIToken         Secret
	LogFormat        string
	LogLevel         string
	ShutdownGrace    time.Duration
	TrustedProxies   []string
	KeepDeliveries   time.Duration
	KeepRuns         time.Duration
	MaxRuns          int
	TLSCert, TLSKey  string
	Triggers         *trigger.Set
	// ops: see config/ops.go.
	ReadHeaderTimeout time.Duration
	Digest            [32]byte // SHA-256 of the file's bytes, to tell a changed file on reload
}

// Load reads, validates and compiles the config file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return LoadBytes(path, data)
}

// LoadBytes is Load on data already read; name is used in error messages.
func LoadBytes(name string, data []byte) (*Config, error) {
	f, p, err := Parse(name, data)
	if err != nil {
		return nil, err
	}
	c := p.compile(f)
	if len(p.errs) > 0 {
		return nil, p.sorted()
	}
	c.Digest = sha256.Sum256(data) // ops
	c.Warnings = p.warns
	return c, nil
}

var triggerName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

func (p *parser) compile(f *File) *Config {
	c := &Config{
		File:             p.file,
		Listen:           p.expandEnv("listen", f.Listen),
		DataDir:          p.abs(f.DataDir),
		Database:         p.expandEnv("database", f.Database),
		PublicURL:        strings.TrimRight(p.expandEnv("public_url", f.PublicURL), "/"),
		MaxBody:          int64(f.MaxBody),
		MaxInflightBytes: int64(f.MaxInflightBytes),
		Workers:          f.Workers,
		APIToken:         Secret(p.secret("api_token", f.APIToken)),
		LogFormat:        f.LogFormat,
		LogLevel:         f.LogLevel,
		ShutdownGrace:    time.Duration(f.ShutdownGrace),
		TrustedProxies:   f.TrustedProxies,
		KeepDeliveries:   DefaultDeliveryKeep,
	}
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if f.DataDir == "" {
		c.DataDir = p.abs(DefaultDataDir)
	}
	if c.MaxBody == 0 {
		c.MaxBody = DefaultMaxBody
	}
	if c.Workers == 0 {
		c.Workers = DefaultWorkers
	} else if c.Workers < 0 {
		p.errf("workers", "must be at least 1")
	}
	if c.ShutdownGrace == 0 {
		c.ShutdownGrace = DefaultShutdownGrace
	}
	switch c.LogFormat {
	case "", "text", "json":
	default:
		p.errf("log_format", "must be text or json, not %q", c.LogFormat)
	}
	switch c.LogLevel {
	case "", "debug", "info", "warn", "error":
	default:
		p.errf("log_level", "must be debug, info, warn or error, not %q", c.LogLevel)
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || u.Scheme == "" || u.Host == "" {
			p.errf("public_url", "must be an absolute URL such as https://ci.example.org")
		}
	}
	if c.Database != "" && !strings.HasPrefix(c.Database, "postgres://") && !strings.HasPrefix(c.Database, "postgresql://") {
		p.errf("database", "must be a postgres:// URL (leave it out for the embedded SQLite store)")
	}
	if r := f.Retention; r != nil {
		if r.Deliveries > 0 {
			c.KeepDeliveries = time.Duration(r.Deliveries)
		}
		c.KeepRuns = time.Duration(r.Runs)
		c.MaxRuns = r.MaxRuns
	}
	if f.TLS != nil {
		c.TLSCert = p.abs(p.expandEnv("tls.cert", f.TLS.Cert))
		c.TLSKey = p.abs(p.expandEnv("tls.key", f.TLS.Key))
		if c.TLSCert == "" || c.TLSKey == "" {
			p.errf("tls", "needs both cert and key")
		}
	}
	p.compileOps(f, c) // ops: config/ops.go
	if _, err := providers.ParseAllowList(nil, f.TrustedProxies); err != nil {
		p.errf("trusted_proxies", "%v", err)
	}
	if len(f.Triggers) == 0 {
		p.errf("triggers", "at least one trigger is needed")
	}
	names := map[string]string{}
	var ts []*trigger.Trigger
	for i := range f.Triggers {
		field := fmt.Sprintf("triggers[%d]", i)
		gwt := p.prepareGWT(field, i, &f.Triggers[i])
		t := p.compileTrigger(field, &f.Triggers[i], f.TrustedProxies)
		if t == nil {
			continue
		}
		gwt.attach(t)
		if prev, ok := names[t.Name]; ok {
			p.errf(field+".name", "duplicate trigger name %q (first at %s)", t.Name, prev)
			continue
		}
		names[t.Name] = fmt.Sprintf("line %d", p.line(field))
		ts = append(ts, t)
	}
	c.Triggers = trigger.NewSet(ts)
	return c
}

func (p *parser) compileTrigger(field string, rt *Trigger, trusted []string) *trigger.Trigger {
	nerr := len(p.errs)
	t := &trigger.Trigger{Name: rt.Name, Path: rt.Path, ProviderName: rt.Provider, Events: rt.Events}
	switch {
	case rt.Name == "":
		p.errf(field+".name", "is required")
	case !triggerName.MatchString(rt.Name):
		p.errf(field+".name", "%q may hold only letters, digits, '.', '_' and '-'", rt.Name)
	}
	for _, m := range rt.Methods {
		m = strings.ToUpper(strings.TrimSpace(m))
		if !slices.Contains([]string{"GET", "POST", "PUT", "PATCH", "DELETE"}, m) {
			p.errf(field+".methods", "%q is not one of GET, POST, PUT, PATCH, DELETE", m)
		}
		t.Methods = append(t.Methods, m)
	}
	if len(t.Methods) > 0 && rt.Provider != "" && rt.Provider != "generic" {
		p.errf(field+".methods", "only for provider generic: %s POSTs its webhooks", rt.Provider)
	}
	if t.Path == "" {
		t.Path = "/hooks/" + rt.Name
	} else if !strings.HasPrefix(t.Path, "/") {
		p.errf(field+".path", "must start with /")
	} else if reserved(t.Path) {
		p.errf(field+".path", "%s is reserved for hooktrigger's own endpoints", t.Path)
	}
	if t.ProviderName == "" {
		t.ProviderName = "generic"
	}

	// Secrets and the provider.
	var secrets [][]byte
	for j, s := range rt.Secret {
		sf := field + ".secret"
		if len(rt.Secret) > 1 {
			sf = fmt.Sprintf("%s.secret[%d]", field, j)
		}
		v := p.secret(sf, s)
		if v == "" && len(p.errs) == nerr {
			p.errf(sf, "is empty")
		}
		secrets = append(secrets, []byte(v))
	}
	if len(secrets) == 0 && !rt.AllowUnsigned {
		p.errf(field+".secret", "is required (a ${ENV} name, file:/path or literal); set allow_unsigned: true to accept unsigned deliveries")
	}
	pc := providers.Config{
		Secrets:        secrets,
		AllowUnsigned:  rt.AllowUnsigned && len(secrets) == 0,
		AllowSHA1:      rt.AllowSHA1,
		DeliveryHeader: rt.DeliveryHeader,
		EventHeader:    rt.EventHeader,
	}
	if a := rt.Auth; a != nil {
		// gitlab takes auth.tolerance for its signing tokens; the rest is generic's.
		if t.ProviderName != "generic" && (t.ProviderName != "gitlab" || *a != (Auth{Tolerance: a.Tolerance})) {
			p.errf(field+".auth", "applies to provider generic only (gitlab accepts auth.tolerance alone)")
		}
		pc.Auth, pc.Header, pc.Algorithm, pc.Encoding, pc.Prefix = a.Type, a.Header, a.Algorithm, a.Encoding, a.Prefix
		pc.Tolerance = time.Duration(a.Tolerance)
		switch a.Type {
		case "", "token", "hmac", "standard-webhooks":
		default:
			p.errf(field+".auth.type", "must be token, hmac or standard-webhooks, not %q", a.Type)
		}
	}
	if t.ProviderName != "generic" {
		for _, k := range []struct{ key, val string }{{"delivery_header", rt.DeliveryHeader}, {"event_header", rt.EventHeader}} {
			if k.val != "" {
				p.errf(field+"."+k.key, "applies to provider generic only")
			}
		}
	}
	if rt.AllowSHA1 && t.ProviderName != "github" {
		p.errf(field+".allow_sha1", "applies to provider github only")
	}
	if len(p.errs) == nerr {
		var err error
		switch t.ProviderName {
		case "github":
			t.Provider, err = ghprovider.New(pc)
		case "gitlab":
			t.Provider, err = glprovider.New(pc)
		case "generic":
			t.Provider, err = generic.New(pc)
		default:
			p.errf(field+".provider", "must be github, gitlab or generic, not %q", rt.Provider)
		}
		if err != nil {
			key := ".provider"
			for _, k := range []string{"algorithm", "encoding"} {
				if rt.Auth != nil && strings.Contains(err.Error(), k) {
					key = ".auth." + k
				}
			}
			p.errf(field+key, "%v", err)
		}
	}
	if len(rt.AllowIPs) > 0 {
		al, err := providers.ParseAllowList(rt.AllowIPs, trusted)
		if err != nil {
			p.errf(field+".allow_ips", "%v", err)
		}
		t.AllowList = al
	}

	// Filters on the provider's reading of the delivery.
	for j, e := range rt.Events {
		if strings.TrimSpace(e) == "" {
			p.errf(fmt.Sprintf("%s.events[%d]", field, j), "is empty")
		}
	}
	if len(rt.Branches) > 0 {
		g, err := trigger.CompileGlobs(rt.Branches)
		if err != nil {
			p.errf(field+".branches", "%v", err)
		}
		t.Branches = g
	}
	if len(rt.Tags) > 0 {
		g, err := trigger.CompileGlobs(rt.Tags)
		if err != nil {
			p.errf(field+".tags", "%v", err)
		}
		t.Tags = g
	}
	if len(rt.Paths) > 0 {
		g, err := trigger.CompileGlobs(rt.Paths)
		if err != nil {
			p.errf(field+".paths", "%v", err)
		}
		t.Paths = g
	}

	// Variables.
	seen := map[string]bool{}
	for j, v := range rt.Variables {
		vf := fmt.Sprintf("%s.variables[%d]", field, j)
		if v.Name == "" && v.Header == "" {
			p.errf(vf+".name", "is required")
			continue
		}
		if v.Name != "" && seen[v.Name] {
			p.errf(vf+".name", "duplicate variable %q", v.Name)
		}
		seen[v.Name] = true
		n := 0
		src := ""
		for _, s := range []struct{ key, val string }{{"jsonpath", v.JSONPath}, {"gjson", v.GJSON}, {"xpath", v.XPath}, {"header", v.Header}, {"query", v.Query}, {"form", v.Form}, {"cel", v.CEL}} {
			if s.val != "" {
				n++
				src = s.key
			}
		}
		if n != 1 {
			p.errf(vf, "needs exactly one of jsonpath, gjson, xpath, header, query, form, cel")
			continue
		}
		var eval extract.Evaluator
		if v.CEL != "" {
			var err error
			if eval, err = trigger.CompileCELValue(v.CEL); err != nil {
				p.errf(vf+".cel", "%s", err)
				continue
			}
		}
		cv, err := p.vars.Compile(extract.Spec{
			Name: v.Name, JSONPath: v.JSONPath, GJSON: v.GJSON, XPath: v.XPath,
			Header: v.Header, Query: v.Query, Form: v.Form, CEL: v.CEL, Eval: eval,
			RegexpFilter: v.RegexpFilter, Default: v.Default, ShouldNotFlatten: v.ShouldNotFlatten,
		})
		if err != nil {
			key := src
			if v.RegexpFilter != "" && strings.Contains(err.Error(), "regexp") {
				key = "regexp_filter"
			}
			p.errf(vf+"."+key, "%s", strings.TrimPrefix(err.Error(), "extract: "))
			continue
		}
		t.Variables = append(t.Variables, cv)
	}

	// Filter.
	if f := rt.Filter; f != nil {
		if f.Text != "" || f.Regexp != "" {
			rf, err := trigger.CompileRegexpFilter(f.Text, f.Regexp)
			if err != nil {
				p.errf(field+".filter.regexp", "%v", err)
			} else {
				t.Filters = append(t.Filters, rf)
			}
		}
		if f.CEL != "" {
			cf, err := trigger.CompileCEL(f.CEL)
			if err != nil {
				p.errf(field+".filter.cel", "%v", err)
			} else {
				t.Filters = append(t.Filters, cf)
			}
		}
	}
	switch rt.Response {
	case "", "normal":
	case "verbose":
		t.Verbose = true
	default:
		p.errf(field+".response", "must be normal or verbose, not %q", rt.Response)
	}

	// Run.
	if rt.Run == nil {
		p.errf(field+".run", "is required: a command or a script to run")
	} else {
		t.Spec = p.compileRun(field+".run", rt.Name, rt.Run)
		p.checkMask(field+".run.mask", rt.Run, t.Spec.Command.InheritEnv, seen)
		if t.Spec.Wait > 0 && len(secrets) == 0 {
			p.warnf(field+".run.wait", "the answer carries the build's log, and with allow_unsigned anyone who reaches the trigger reads it")
		}
	}
	if s := rt.Status; s != nil {
		tok := p.apiToken(field+".status", t.ProviderName, s.Token, s.BaseURL)
		ctx := s.Context
		if ctx == "" {
			ctx = "hooktrigger/" + rt.Name
		}
		t.Status = &trigger.StatusSpec{Context: ctx, Token: tok, BaseURL: s.BaseURL, Description: s.Description}
		t.API = &trigger.APISpec{Token: tok, BaseURL: s.BaseURL}
	}
	if a := rt.API; a != nil {
		t.API = &trigger.APISpec{Token: p.apiToken(field+".provider_api", t.ProviderName, a.Token, a.BaseURL), BaseURL: a.BaseURL}
	}
	if t.Paths != nil && t.API == nil && (t.ProviderName == "github" || t.ProviderName == "gitlab") && takesRequests(t.Events) {
		p.warnf(field+".paths", "pull and merge requests list no files: without provider_api (or status) they always fire")
	}
	for i, n := range rt.Notify {
		t.Notify = append(t.Notify, p.compileNotify(fmt.Sprintf("%s.notify[%d]", field, i), n))
	}
	t.RateLimit = p.rateLimit(field+".rate_limit", rt.RateLimit) // ops: config/ops.go
	if len(p.errs) > nerr {
		return nil
	}
	return t
}

// takesRequests reports whether events let pull or merge request events
// through (no list takes every event).
func takesRequests(events []string) bool {
	if len(events) == 0 {
		return true
	}
	return slices.ContainsFunc(events, func(e string) bool {
		return e == "*" || strings.HasPrefix(e, "pull_request") || strings.HasPrefix(e, "merge_request") || strings.HasPrefix(e, "issue_comment") || strings.HasPrefix(e, "note")
	})
}

// apiToken checks a block that reaches the provider's REST API (field):
// the provider has one, the block's token is given, and it does not go in
// clear to another machine. It returns the token.
func (p *parser) apiToken(field, provider, token, baseURL string) string {
	if provider != "github" && provider != "gitlab" {
		p.errf(field, "needs provider github or gitlab")
	}
	tok := p.secret(field+".token", token)
	if tok == "" {
		p.errf(field+".token", "is required")
	}
	if u, err := url.Parse(baseURL); baseURL != "" && (err != nil || u.Scheme != "https" && u.Scheme != "http" || u.Host == "") {
		p.errf(field+".base_url", "needs an http:// or https:// URL")
	} else if baseURL != "" && u.Scheme == "http" && !loopback(u.Hostname()) {
		p.warnf(field+".base_url", "plain http: the token crosses the network unencrypted")
	}
	return tok
}

// loopback reports whether host names this machine.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkMask checks run.mask: names of environment variables, each one the
// build gets (from run.env, inherit_env or the trigger's variables, vars).
func (p *parser) checkMask(field string, r *Run, inherit []string, vars map[string]bool) {
	for _, k := range r.Mask {
		_, inEnv := r.Env[k]
		switch {
		case !envName.MatchString(k):
			p.errf(field, "%q is not a valid environment variable name", k)
		case !inEnv && !vars[k] && !slices.Contains(inherit, k) && !slices.Contains(inherit, "all"):
			p.warnf(field, "%s is not in run.env, inherit_env or the variables: the build does not get it", k)
		}
	}
}

var inheritDefault = []string{"PATH", "HOME", "LANG", "TZ", "TMPDIR"}

func (p *parser) compileRun(field, name string, r *Run) *pipeline.Spec {
	cmd := &pipeline.Command{
		Argv:      r.Command,
		Script:    r.Script,
		Dir:       r.Dir,
		Env:       r.Env,
		Timeout:   time.Duration(r.Timeout),
		KillGrace: time.Duration(r.KillGrace),
		MaxLog:    int64(r.MaxLog),
	}
	switch {
	case len(r.Command) == 0 && r.Script == "":
		p.errf(field, "needs command (an argv list) or script")
	case len(r.Command) > 0 && r.Script != "":
		p.errf(field, "give command or script, not both")
	case len(r.Command) > 0 && r.Command[0] == "":
		p.errf(field+".command", "the program name is empty")
	}
	if r.Dir != "" {
		cmd.Dir = p.abs(r.Dir)
		if fi, err := os.Stat(cmd.Dir); err != nil || !fi.IsDir() {
			p.errf(field+".dir", "%s is not a directory", cmd.Dir)
		}
	}
	if len(r.InheritEnv) > 0 {
		cmd.InheritEnv = r.InheritEnv
	} else {
		cmd.InheritEnv = inheritDefault
	}
	for k := range r.Env {
		if !envName.MatchString(k) {
			p.errf(field+".env."+k, "is not a valid environment variable name")
		}
	}
	cmd.Mask = r.Mask
	spec := &pipeline.Spec{Command: cmd, Policy: pipeline.PolicyParallel, QuietPeriod: time.Duration(r.QuietPeriod), RetryInterrupted: r.RetryInterrupted, Wait: time.Duration(r.Wait)}
	if spec.Wait < 0 || spec.Wait > MaxWait {
		p.errf(field+".wait", "must be between 0 and %s", MaxWait)
	}
	if rt := r.Retry; rt != nil {
		spec.Retry = p.compileRetry(field+".retry", rt)
	}
	if c := r.Concurrency; c != nil {
		spec.GroupTemplate = c.Group
		if spec.GroupTemplate == "" {
			spec.GroupTemplate = name
		}
		if c.Policy != "" {
			spec.Policy = pipeline.Policy(c.Policy)
		}
		if !pipeline.ValidPolicy(spec.Policy) {
			p.errf(field+".concurrency.policy", "must be queue, parallel, cancel-previous or skip-if-running, not %q", c.Policy)
		}
		if c.Max < 0 || (c.Max > 0 && spec.Policy != pipeline.PolicyParallel) {
			p.errf(field+".concurrency.max", "applies to policy parallel only, and must be positive")
		}
		spec.Max = c.Max
	} else if spec.QuietPeriod > 0 {
		spec.GroupTemplate = name
	}
	return spec
}

func (p *parser) compileNotify(field string, n Notify) trigger.NotifySpec {
	out := trigger.NotifySpec{URL: p.secret(field+".url", n.URL), Format: n.Format, LogLines: n.LogLines}
	if n.LogLines < 0 || n.LogLines > MaxNotifyLogLines {
		p.errf(field+".log_lines", "must be between 0 and %d", MaxNotifyLogLines)
	}
	if n.Secret != "" {
		if v := p.secret(field+".secret", n.Secret); v != "" {
			key, err := providers.DecodeStandardSecret(v)
			if err != nil {
				p.errf(field+".secret", "must be a Standard Webhooks secret, whsec_ followed by base64")
			}
			out.Key = key
		}
	}
	if u, err := url.Parse(out.URL); out.URL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// The URL may hold a token: it is not repeated.
		p.errf(field+".url", "needs an http:// or https:// URL")
	}
	switch out.Format {
	case "":
		out.Format = "json"
	case "json", "slack":
	default:
		p.errf(field+".format", "must be json or slack, not %q", n.Format)
	}
	for _, s := range n.On {
		st := store.State(s)
		if !finalState(st) {
			p.errf(field+".on", "names final run states (succeeded, failed, timed_out, cancelled, skipped, superseded, interrupted), not %q", s)
		}
		out.On = append(out.On, st)
	}
	return out
}

// finalState reports whether s names one of the final run states.
func finalState(s store.State) bool {
	switch s {
	case store.Succeeded, store.Failed, store.TimedOut, store.Cancelled, store.Skipped, store.Superseded, store.Interrupted:
		return true
	}
	return false
}

// MaxNotifyLogLines bounds notify[].log_lines.
const MaxNotifyLogLines = 100

// MaxRetries and MaxRetryDelay bound run.retry.
const (
	MaxRetries    = 10
	MaxRetryDelay = time.Hour
)

func (p *parser) compileRetry(field string, rt *Retry) pipeline.Retry {
	out := pipeline.Retry{Max: rt.Max, Delay: time.Duration(rt.Delay)}
	if rt.Max < 1 || rt.Max > MaxRetries {
		p.errf(field+".max", "must be between 1 and %d (attempts after the first)", MaxRetries)
	}
	if out.Delay < 0 || out.Delay > MaxRetryDelay {
		p.errf(field+".delay", "must be between 0 and %s", MaxRetryDelay)
	}
	on := rt.On
	if len(on) == 0 {
		on = StringList{"failed", "timed_out"}
	}
	for _, s := range on {
		switch s {
		case "failed":
			out.Failed = true
		case "timed_out":
			out.TimedOut = true
		default:
			p.errf(field+".on", "names failed or timed_out, not %q", s)
		}
	}
	return out
}

// abs resolves a relative path against the config file's directory.
func (p *parser) abs(path string) string {
	if path == "" || filepath.IsAbs(path) {
		return path
	}
	abs, err := filepath.Abs(filepath.Join(filepath.Dir(p.file), path))
	if err != nil {
		return path
	}
	return abs
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func reserved(path string) bool {
	for _, pre := range []string{"/api/", "/ui/", "/metrics", "/healthz", "/readyz", "/generic-webhook-trigger/"} {
		if path == strings.TrimSuffix(pre, "/") || strings.HasPrefix(path, pre) {
			return true
		}
	}
	return false
}

// ErrNotFound is returned by Config lookups of unknown triggers.
var ErrNotFound = errors.New("config: no such trigger")
