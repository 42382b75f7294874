package server

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hooktrigger/hooktrigger/extract"
	"github.com/hooktrigger/hooktrigger/pipeline"
	"github.com/hooktrigger/hooktrigger/providers"
	"github.com/hooktrigger/hooktrigger/store"
	"github.com/hooktrigger/hooktrigger/trigger"
)

// inspector reads a request once per provider and remembers the reading.
type inspector struct {
	req   *providers.Request
	in    *extract.Input // the triggers' extraction input, shared
	infos map[any]*providers.Info
	files map[string]trigger.Files // a pull request's files, by API, token and request
	// payloadFiles is what the body says it changed, read at most once.
	payloadFiles *trigger.Files
}

// newInspector prepares the reading of req. Providers reuse the extraction
// input's validation of the body instead of making their own.
func newInspector(req *providers.Request) *inspector {
	in := extract.NewInput(req.Body, req.Header, req.Query)
	req.ObjectBody = in.ObjectBody
	return &inspector{req: req, in: in, infos: map[any]*providers.Info{}, files: map[string]trigger.Files{}}
}

// info is t's provider's reading of the request; errors wrap
// providers.ErrMalformed.
func (ins *inspector) info(t *trigger.Trigger) (*providers.Info, error) {
	// GitHub and GitLab read every request alike; a generic provider's
	// reading depends on its configured headers.
	var key any = t.ProviderName
	if t.ProviderName == "generic" {
		key = t.Provider
	}
	if i, ok := ins.infos[key]; ok {
		return i, nil
	}
	i, err := t.Provider.Inspect(ins.req)
	if err != nil {
		return nil, err
	}
	ins.infos[key] = i
	return i, nil
}

// evaluation is what the authorized triggers made of one delivery: the
// delivery record with a decision per trigger, and the runs to start.
type evaluation struct {
	del       *store.Delivery
	runs      []*store.Run
	decisions []trigger.Decision // in trigger order
	runOf     map[string]*store.Run
}

// evaluate decides every authorized trigger on the delivery received on
// path and builds the records to commit. Nothing is stored. An error wraps
// providers.ErrMalformed or extract.ErrMalformedBody: the body cannot be
// read as a trigger needs (400). ctx bounds the API calls that list a pull
// request's files for a paths filter.
func (s *Server) evaluate(ctx context.Context, path string, preq *providers.Request, ins *inspector, authorized []*trigger.Trigger, received time.Time) (*evaluation, error) {
	first, err := ins.info(authorized[0])
	if err != nil {
		return nil, err
	}
	in := ins.in
	del := &store.Delivery{
		ID: store.NewID(), Path: path, SenderID: first.DeliveryID, Provider: authorized[0].ProviderName,
		Event: first.Event, Action: first.Action, ReceivedAt: received, RemoteAddr: preq.RemoteAddr,
		Headers: redactHeaders(preq.Header), Body: preq.Body,
	}
	ev := &evaluation{del: del, runOf: map[string]*store.Run{}}
	for _, t := range authorized {
		ti, err := ins.info(t)
		if err != nil {
			return nil, err
		}
		d := t.DecideWith(preq, ti, in, func() trigger.Files { return s.changedFiles(ctx, ins, t, ti) })
		if d.Err != nil && errors.Is(d.Err, extract.ErrMalformedBody) {
			return nil, d.Err
		}
		ev.decisions = append(ev.decisions, d)
		dec := store.Decision{Trigger: t.Name, Fired: d.Fire, Reason: d.Reason, Vars: d.Vars}
		if d.Fire {
			// A run lives on (queued, in the status queue) long after the
			// request; extraction hands out strings that share the body's
			// memory, so copy them, or each queued run would pin its whole
			// body.
			run := &store.Run{
				ID: store.NewID(), DeliveryID: del.ID, Trigger: t.Name, State: store.Queued, Group: strings.Clone(d.Group),
				Vars: detachValues(d.Vars), CreatedAt: received,
			}
			run.Meta = detachValues(meta(run, t, ti, del))
			if d.ChangedFiles != nil {
				// The build reads them from a file (pipeline.EnvChangedFiles).
				run.Meta[pipeline.EnvChangedFiles] = strings.Join(d.ChangedFiles, "\n")
			}
			if d.Cause != "" {
				run.Meta["HOOKTRIGGER_CAUSE"] = d.Cause
			}
			dec.RunID = run.ID
			ev.runs = append(ev.runs, run)
			ev.runOf[t.Name] = run
		}
		del.Decisions = append(del.Decisions, dec)
	}
	return ev, nil
}

// changedFiles is what trigger t's paths filter sees of the files the
// delivery changed: the payload's list, read once for every trigger, else,
// with a token, the pull request's from the API.
func (s *Server) changedFiles(ctx context.Context, ins *inspector, t *trigger.Trigger, ti *providers.Info) trigger.Files {
	if ins.payloadFiles == nil {
		f := trigger.PayloadFiles(ins.in)
		ins.payloadFiles = &f
	}
	if ins.payloadFiles.Known || t.API == nil || ti.PR == "" {
		return *ins.payloadFiles
	}
	return s.pullRequestFiles(ctx, ins, t, ti)
}

// changedFilesTimeout bounds the API calls that list one pull request's
// files; the delivery's answer waits for them.
const changedFilesTimeout = 5 * time.Second

// pullRequestFiles asks t's provider's API which files the pull or merge
// request of the delivery changes, once per delivery, API and token. An
// API that fails or does not answer in time leaves them unknown, so the
// paths filter lets the delivery through.
func (s *Server) pullRequestFiles(ctx context.Context, ins *inspector, t *trigger.Trigger, ti *providers.Info) trigger.Files {
	n, err := strconv.Atoi(ti.PR)
	if err != nil || n <= 0 || ti.Repo == "" {
		return trigger.Files{}
	}
	key := strings.Join([]string{t.ProviderName, t.API.BaseURL, t.API.Token, ti.Repo, ti.PR}, "\x00")
	if f, ok := ins.files[key]; ok {
		return f
	}
	// Across deliveries, by head commit: labels, reviews and comments on one
	// head ask for the same list. An edit may change the base branch, and
	// with it the list, so it asks again.
	headKey := ""
	if ti.SHA != "" && ti.Action != "edited" && ti.Action != "update" {
		headKey = key + "\x00" + ti.SHA
		if f, ok := s.prFiles.get(headKey); ok {
			ins.files[key] = f
			return f
		}
	}
	ctx, cancel := context.WithTimeout(ctx, changedFilesTimeout)
	defer cancel()
	list, complete, err := s.changes.Files(ctx, t.ProviderName, t.API.BaseURL, t.API.Token, ti.Repo, n)
	f := trigger.Files{List: list, Known: err == nil && complete}
	if err != nil {
		s.log.Warn("cannot list the files of the pull request; its paths filter lets it through", "trigger", t.Name, "repo", ti.Repo, "pr", ti.PR, "err", err)
	} else if headKey != "" && len(list) <= prFilesMaxList {
		s.prFiles.put(headKey, f)
	}
	ins.files[key] = f
	return f
}

// Bounds of the cache of pull request files.
const (
	prFilesTTL     = 10 * time.Minute
	prFilesMax     = 256 // lists
	prFilesMaxList = 500 // files in one list kept; longer lists are asked for each time
)

// filesCache holds pull request file lists for prFilesTTL, at most
// prFilesMax of them. Safe for concurrent use.
type filesCache struct {
	mu sync.Mutex
	m  map[string]cachedFiles
}

type cachedFiles struct {
	f  trigger.Files
	at time.Time
}

func (c *filesCache) get(key string) (trigger.Files, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok || time.Since(e.at) > prFilesTTL {
		return trigger.Files{}, false
	}
	return e.f, true
}

func (c *filesCache) put(key string, f trigger.Files) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]cachedFiles{}
	}
	if len(c.m) >= prFilesMax {
		for k, e := range c.m {
			if time.Since(e.at) > prFilesTTL {
				delete(c.m, k)
			}
		}
		for k := range c.m {
			if len(c.m) < prFilesMax {
				break
			}
			delete(c.m, k) // full of fresh lists: drop any
		}
	}
	c.m[key] = cachedFiles{f: f, at: time.Now()}
}

// commit records the delivery and its runs durably and, unless the
// delivery is a duplicate, hands the runs to the scheduler.
func (s *Server) commit(ctx context.Context, ev *evaluation) (*store.Recorded, error) {
	rec, err := s.store.Record(ctx, ev.del, ev.runs)
	if err != nil {
		return nil, err
	}
	if !rec.Duplicate {
		s.statusQueued(ev.runs) // commit status: pending (status.go)
		// The scheduler keeps the body for the run's start while its
		// budget allows, else the run reads it from the store then.
		s.sched.Enqueue(ev.runs, ev.del.Body)
		s.deliveryRecorded(ev.del) // ui.go: live dashboard
	}
	return rec, nil
}

// detachValues copies m with every value in memory of its own.
func detachValues(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[strings.Clone(k)] = strings.Clone(v)
	}
	return out
}
