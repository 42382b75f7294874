package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// File is the config file as written, before validation and compilation.
// Field tags are the YAML keys; any other key is an error.
type File struct {
	Listen           string     `yaml:"listen"`
	DataDir          string     `yaml:"data_dir"`
	Database         string     `yaml:"database"`
	PublicURL        string     `yaml:"public_url"`
	MaxBody          ByteSize   `yaml:"max_body"`
	MaxInflightBytes ByteSize   `yaml:"max_inflight_bytes"`
	Workers          int        `yaml:"workers"`
	APIToken         string     `yaml:"api_token"`
	LogFormat        string     `yaml:"log_format"`
	LogLevel         string     `yaml:"log_level"`
	ShutdownGrace    Duration   `yaml:"shutdown_grace"`
	TrustedProxies   []string   `yaml:"trusted_proxies"`
	Retention        *Retention `yaml:"retention"`
	TLS              *TLS       `yaml:"tls"`
	Triggers         []Trigger  `yaml:"triggers"`

	// ops: slowloris bound; see config/ops.go.
	ReadHeaderTimeout Duration `yaml:"read_header_timeout"`
}

// Retention says how long stored deliveries and runs are kept.
type Retention struct {
	Deliveries Duration `yaml:"deliveries"`
	Runs       Duration `yaml:"runs"`
	MaxRuns    int      `yaml:"max_runs"`
}

// TLS names the certificate and key files of the HTTPS listener.
type TLS struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// Trigger is one trigger as written.
type Trigger struct {
	Name           string     `yaml:"name"`
	Path           string     `yaml:"path"`
	Methods        StringList `yaml:"methods"`
	Provider       string     `yaml:"provider"`
	Secret         StringList `yaml:"secret"`
	AllowUnsigned  bool       `yaml:"allow_unsigned"`
	AllowSHA1      bool       `yaml:"allow_sha1"`
	Auth           *Auth      `yaml:"auth"`
	DeliveryHeader string     `yaml:"delivery_header"`
	EventHeader    string     `yaml:"event_header"`
	AllowIPs       []string   `yaml:"allow_ips"`
	Events         []string   `yaml:"events"`
	Branches       []string   `yaml:"branches"`
	Tags           []string   `yaml:"tags"`
	Paths          []string   `yaml:"paths"`
	Variables      []Variable `yaml:"variables"`
	Filter         *Filter    `yaml:"filter"`
	Response       string     `yaml:"response"`
	Run            *Run       `yaml:"run"`
	Status         *Status    `yaml:"status"`
	API            *API       `yaml:"provider_api"`
	Notify         []Notify   `yaml:"notify"`
	RateLimit      *RateLimit `yaml:"rate_limit"`

	// Jenkins Generic Webhook Trigger's own keys; see gwt.go.
	GenericVariables             []GWTVariable        `yaml:"genericVariables"`
	GenericHeaderVariables       []GWTRequestVariable `yaml:"genericHeaderVariables"`
	GenericRequestVariables      []GWTRequestVariable `yaml:"genericRequestVariables"`
	RegexpFilterText             *string              `yaml:"regexpFilterText"`
	RegexpFilterExpression       *string              `yaml:"regexpFilterExpression"`
	Token                        *string              `yaml:"token"`
	TokenCredentialID            *string              `yaml:"tokenCredentialId"`
	CauseString                  *string              `yaml:"causeString"`
	SilentResponse               *bool                `yaml:"silentResponse"`
	ShouldNotFlatten             *bool                `yaml:"shouldNotFlatten"`
	ShouldNotFlattern            *bool                `yaml:"shouldNotFlattern"` // GWT's misspelled alias
	PrintContributedVariables    *bool                `yaml:"printContributedVariables"`
	PrintPostContent             *bool                `yaml:"printPostContent"`
	OverrideQuietPeriod          *bool                `yaml:"overrideQuietPeriod"`
	AllowSeveralTriggersPerBuild *bool                `yaml:"allowSeveralTriggersPerBuild"`
}

// Auth configures how a generic sender proves itself.
type Auth struct {
	Type      string   `yaml:"type"` // token | hmac | standard-webhooks
	Header    string   `yaml:"header"`
	Algorithm string   `yaml:"algorithm"`
	Encoding  string   `yaml:"encoding"`
	Prefix    string   `yaml:"prefix"`
	Tolerance Duration `yaml:"tolerance"`
}

// Variable is one extraction rule.
type Variable struct {
	Name             string  `yaml:"name"`
	JSONPath         string  `yaml:"jsonpath"`
	GJSON            string  `yaml:"gjson"`
	XPath            string  `yaml:"xpath"`
	Header           string  `yaml:"header"`
	Query            string  `yaml:"query"`
	Form             string  `yaml:"form"`
	CEL              string  `yaml:"cel"`
	RegexpFilter     string  `yaml:"regexp_filter"`
	Default          *string `yaml:"default"`
	ShouldNotFlatten bool    `yaml:"should_not_flatten"`
}

// Filter holds the conditions that must all hold for a trigger to fire.
type Filter struct {
	Text   string `yaml:"text"`
	Regexp string `yaml:"regexp"`
	CEL    string `yaml:"cel"`
}

// Run is the build a trigger starts.
type Run struct {
	Command          []string          `yaml:"command"`
	Script           string            `yaml:"script"`
	Dir              string            `yaml:"dir"`
	Env              map[string]string `yaml:"env"`
	Timeout          Duration          `yaml:"timeout"`
	KillGrace        Duration          `yaml:"kill_grace"`
	Concurrency      *Concurrency      `yaml:"concurrency"`
	QuietPeriod      Duration          `yaml:"quiet_period"`
	InheritEnv       StringList        `yaml:"inherit_env"`
	Mask             StringList        `yaml:"mask"`
	MaxLog           ByteSize          `yaml:"max_log"`
	RetryInterrupted bool              `yaml:"retry_interrupted"`
	Retry            *Retry            `yaml:"retry"`
	Wait             Duration          `yaml:"wait"`
}

// Retry runs a failed or timed-out attempt of a run again.
type Retry struct {
	Max   int        `yaml:"max"`
	Delay Duration   `yaml:"delay"`
	On    StringList `yaml:"on"`
}

// Concurrency groups runs and says how runs of one group share time.
type Concurrency struct {
	Group  string `yaml:"group"`
	Policy string `yaml:"policy"`
	Max    int    `yaml:"max"`
}

// Status configures commit-status reporting.
type Status struct {
	Context     string `yaml:"context"`
	Token       string `yaml:"token"`
	BaseURL     string `yaml:"base_url"`
	Description string `yaml:"description"`
}

// API is how a trigger reaches its provider's REST API.
type API struct {
	Token   string `yaml:"token"`
	BaseURL string `yaml:"base_url"`
}

// Notify is an endpoint told how runs ended.
type Notify struct {
	URL      string     `yaml:"url"`
	Format   string     `yaml:"format"`
	On       StringList `yaml:"on"`
	LogLines int        `yaml:"log_lines"`
	Secret   string     `yaml:"secret"`
}

// RateLimit bounds how often a trigger accepts deliveries.
type RateLimit struct {
	Rate  string `yaml:"rate"`
	Burst int    `yaml:"burst"`
}

// Duration is a time.Duration written as "20m", "5s" or "1h30m"; "14d" is also accepted.
type Duration time.Duration

// UnmarshalYAML parses a duration.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDuration(n.Value)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// ParseDuration parses Go durations plus a day suffix ("14d").
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseFloat(days, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		return time.Duration(n * float64(24*time.Hour)), nil
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("invalid duration %q (use e.g. 30s, 20m, 2h, 14d)", s)
	}
	return v, nil
}

// ByteSize is a size in bytes written as 1024, "25MiB", "10MB" or "512KiB".
type ByteSize int64

// UnmarshalYAML parses a size.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseByteSize(n.Value)
	if err != nil {
		return err
	}
	*b = ByteSize(v)
	return nil
}

var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000},
	{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1},
}

// ParseByteSize parses a byte count with an optional unit.
func ParseByteSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range sizeUnits {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(num), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid size %q (use e.g. 25MiB, 512KiB, 1048576)", s)
	}
	return n * mult, nil
}

// StringList is a YAML string or a list of strings.
type StringList []string

// UnmarshalYAML accepts a scalar or a sequence of scalars.
func (l *StringList) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*l = StringList{n.Value}
		return nil
	case yaml.SequenceNode:
		out := make(StringList, 0, len(n.Content))
		for _, c := range n.Content {
			if c.Kind != yaml.ScalarNode {
				return fmt.Errorf("expected a string or a list of strings")
			}
			out = append(out, c.Value)
		}
		*l = out
		return nil
	}
	return fmt.Errorf("expected a string or a list of strings")
}
