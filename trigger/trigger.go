// Package trigger holds the compiled triggers and decides what one delivery
// starts. It does no I/O: given a verified request, the provider's reading of it
// and the extraction input, a Trigger answers whether it fires, with which
// variables, and why not when it does not.
package trigger

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"

	"golang.org/x/time/rate"

	"github.com/hooktrigger/hooktrigger/extract"
	"github.com/hooktrigger/hooktrigger/pipeline"
	"github.com/hooktrigger/hooktrigger/providers"
	"github.com/hooktrigger/hooktrigger/store"
)

// Trigger is one compiled trigger. It is immutable once built and safe for
// concurrent use.
type Trigger struct {
	Name         string
	Path         string
	Methods      []string // HTTP methods the trigger takes; see DefaultMethods
	ProviderName string
	Provider     providers.Provider
	AllowList    *providers.AllowList
	Events       []string
	Branches     *Globs
	Tags         *Globs
	Paths        *Globs // changed files of a push; see ChangedFiles
	Variables    []*extract.Variable
	Filters      []Filter
	Verbose      bool // response: verbose — variable values appear in the response
	GWT          *GWT // set when the trigger is written with GWT's keys
	Spec         *pipeline.Spec
	Status       *StatusSpec
	API          *APISpec // the provider's API, for what payloads do not say
	Notify       []NotifySpec
	RateLimit    *rate.Limiter // rate_limit: nil = unlimited; a reload makes a new one
}

// DefaultMethods are the HTTP methods a trigger takes when its config names
// none: how webhook senders deliver.
var DefaultMethods = []string{"POST", "PUT"}

// Taken returns the HTTP methods t takes.
func (t *Trigger) Taken() []string {
	if len(t.Methods) == 0 {
		return DefaultMethods
	}
	return t.Methods
}

// Takes reports whether t takes requests made with method.
func (t *Trigger) Takes(method string) bool { return slices.Contains(t.Taken(), method) }

// NotifySpec is one entry of a trigger's notify list: an endpoint told
// how runs ended.
type NotifySpec struct {
	URL    string        // may hold a token
	Format string        // "json" or "slack"
	On     []store.State // final run states that are sent; empty: failed and timed_out
	// LogLines is how many of the log's last lines a notification carries.
	LogLines int
	// Key signs the posts as Standard Webhooks do (nil: unsigned).
	Key []byte
}

// APISpec is how a trigger reaches its provider's REST API: the provider_api
// block's token, else the status block's.
type APISpec struct {
	Token   string
	BaseURL string // "" for github.com and gitlab.com
}

// StatusSpec is the compiled status block of a trigger.
type StatusSpec struct {
	Context     string
	Token       string
	BaseURL     string
	Description string
}

// Filter is one condition of a trigger. Match reports whether the delivery
// passes; when it does not, reason says why in words a user understands.
type Filter interface {
	Match(d *Delivery) (ok bool, reason string, err error)
}

// Delivery is what a trigger decides on: the provider's reading of the
// request, the extraction input and the variables resolved so far.
type Delivery struct {
	Request *providers.Request
	Info    *providers.Info
	Input   *extract.Input
	Vars    map[string]string
}

// Decision is a trigger's verdict on one delivery.
type Decision struct {
	Trigger *Trigger
	Fire    bool
	Reason  string            // why it did not fire ("" when it fires)
	Vars    map[string]string // resolved variables
	Group   string            // rendered concurrency group
	Err     error             // extraction error (malformed body and the like)
	Cause   string            // GWT-keyed triggers: the rendered causeString, when it fires
	Private map[string]bool   // GWT-keyed triggers: names of Vars whose value came from a request header
	// ChangedFiles are the files the delivery changed, when the trigger's
	// paths filter knew them (nil otherwise).
	ChangedFiles []string
}

// ErrMalformedBody is returned (wrapped) in Decision.Err when the body cannot
// be read as the trigger's variables need.
var ErrMalformedBody = extract.ErrMalformedBody

// Decide resolves the trigger's variables on the delivery and applies its
// filters in order: events, branches and tags, paths, then the configured
// filters.
// The paths filter reads the files the payload lists (PayloadFiles).
func (t *Trigger) Decide(req *providers.Request, info *providers.Info, in *extract.Input) Decision {
	return t.DecideWith(req, info, in, func() Files { return PayloadFiles(in) })
}

// DecideWith is Decide where the paths filter asks files which files the
// delivery changed: a caller deciding several triggers reads the payload's
// list once, and adds a pull request's from the provider's API. files is
// called only when the paths filter is reached.
func (t *Trigger) DecideWith(req *providers.Request, info *providers.Info, in *extract.Input, files func() Files) Decision {
	d := Decision{Trigger: t}
	if len(t.Events) > 0 && !MatchEvent(t.Events, info) {
		d.Reason = fmt.Sprintf("event %q is not in events %v", info.EventAction(), t.Events)
		return d
	}
	if t.Branches != nil || t.Tags != nil {
		if ok, why := t.matchRef(info); !ok {
			d.Reason = why
			return d
		}
	}
	if t.Paths != nil {
		ok, why, changed := t.matchPaths(files())
		if !ok {
			d.Reason = why
			return d
		}
		d.ChangedFiles = changed
	}
	var vars map[string]string
	var err error
	if t.GWT != nil {
		vars, d.Private, err = t.GWT.resolve(in)
	} else {
		vars, err = extract.ResolveAll(t.Variables, in)
	}
	if err != nil {
		d.Err = err
		d.Reason = err.Error()
		return d
	}
	d.Vars = vars
	del := &Delivery{Request: req, Info: info, Input: in, Vars: vars}
	for _, f := range t.Filters {
		ok, why, err := f.Match(del)
		if err != nil {
			d.Reason = err.Error()
			return d
		}
		if !ok {
			d.Reason = why
			return d
		}
	}
	if t.Spec != nil && t.Spec.GroupTemplate != "" {
		d.Group = extract.Render(t.Spec.GroupTemplate, vars)
	}
	if t.GWT != nil {
		d.Cause = t.GWT.Cause(vars)
	}
	d.Fire = true
	return d
}

// MatchEvent reports whether info's event is one of events. An entry matches
// the bare event ("pull_request") or the event with its action
// ("pull_request.opened").
func MatchEvent(events []string, info *providers.Info) bool {
	for _, e := range events {
		if e == info.Event || e == "*" {
			return true
		}
		if info.Action != "" && e == info.Event+"."+info.Action {
			return true
		}
	}
	return false
}

func (t *Trigger) matchRef(info *providers.Info) (bool, string) {
	if info.Tag != "" {
		if t.Tags == nil {
			return false, fmt.Sprintf("tag %q: the trigger builds branches only", info.Tag)
		}
		if !t.Tags.Match(info.Tag) {
			return false, fmt.Sprintf("tag %q does not match tags %v", info.Tag, t.Tags.patterns)
		}
		return true, ""
	}
	if t.Branches == nil {
		if info.Branch != "" {
			return false, fmt.Sprintf("branch %q: the trigger builds tags only", info.Branch)
		}
		return false, "the delivery names no tag"
	}
	if info.Branch == "" {
		return false, "the delivery names no branch"
	}
	if !t.Branches.Match(info.Branch) {
		return false, fmt.Sprintf("branch %q does not match branches %v", info.Branch, t.Branches.patterns)
	}
	return true, ""
}

// Globs is a list of branch, tag or file patterns: `*` matches within one path
// segment, `**` across segments, and a leading `!` excludes. A name matches
// when it matches some include pattern (or there are only excludes) and no
// exclude pattern.
type Globs struct {
	patterns []string
	include  []string
	exclude  []string
}

// CompileGlobs checks and compiles patterns.
func CompileGlobs(patterns []string) (*Globs, error) {
	g := &Globs{patterns: patterns}
	for _, p := range patterns {
		neg := strings.HasPrefix(p, "!")
		p = strings.TrimPrefix(p, "!")
		if p == "" {
			return nil, errors.New("empty pattern")
		}
		if _, err := path.Match(strings.ReplaceAll(p, "**", "*"), ""); err != nil {
			return nil, fmt.Errorf("bad pattern %q: %v", p, err)
		}
		if neg {
			g.exclude = append(g.exclude, p)
		} else {
			g.include = append(g.include, p)
		}
	}
	return g, nil
}

// Match reports whether name matches the globs.
func (g *Globs) Match(name string) bool {
	in := len(g.include) == 0
	for _, p := range g.include {
		if globMatch(p, name) {
			in = true
			break
		}
	}
	if !in {
		return false
	}
	for _, p := range g.exclude {
		if globMatch(p, name) {
			return false
		}
	}
	return true
}

// globMatch matches name against pattern, segment by segment; "**" matches
// any number of segments (including none).
func globMatch(pattern, name string) bool {
	return matchSegs(strings.Split(pattern, "/"), strings.Split(name, "/"))
}

func matchSegs(ps, ns []string) bool {
	for len(ps) > 0 {
		if ps[0] == "**" {
			rest := ps[1:]
			if len(rest) == 0 {
				return true
			}
			for i := 0; i <= len(ns); i++ {
				if matchSegs(rest, ns[i:]) {
					return true
				}
			}
			return false
		}
		if len(ns) == 0 {
			return false
		}
		if ok, _ := path.Match(ps[0], ns[0]); !ok {
			return false
		}
		ps, ns = ps[1:], ns[1:]
	}
	return len(ns) == 0
}

// Set is the compiled trigger set, indexed by path. It is immutable.
type Set struct {
	byPath map[string][]*Trigger
	byName map[string]*Trigger
	all    []*Trigger
}

// NewSet indexes triggers. Names must be unique (config checks that).
func NewSet(triggers []*Trigger) *Set {
	s := &Set{byPath: map[string][]*Trigger{}, byName: map[string]*Trigger{}, all: triggers}
	for _, t := range triggers {
		s.byPath[t.Path] = append(s.byPath[t.Path], t)
		s.byName[t.Name] = t
	}
	return s
}

// ForPath returns the triggers listening on path, in config order.
func (s *Set) ForPath(p string) []*Trigger { return s.byPath[p] }

// ByName returns the trigger called name.
func (s *Set) ByName(name string) (*Trigger, bool) {
	t, ok := s.byName[name]
	return t, ok
}

// All returns every trigger in config order.
func (s *Set) All() []*Trigger { return s.all }

// Paths returns the distinct paths, sorted.
func (s *Set) Paths() []string {
	out := make([]string, 0, len(s.byPath))
	for p := range s.byPath {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}
