package server

// The JSON API the UI needs beyond api.go: GET /api/triggers (what each
// trigger listens to and how its recent runs went) and POST /api/extract
// (the playground: `hooktrigger extract` over HTTP).

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hooktrigger/hooktrigger/config"
	"github.com/hooktrigger/hooktrigger/extract"
	"github.com/hooktrigger/hooktrigger/providers"
	"github.com/hooktrigger/hooktrigger/store"
)

func (s *Server) apiUIRoutes(mux *http.ServeMux) {
	mux.Handle("GET /api/triggers", s.auth(s.listTriggers))
	mux.Handle("POST /api/extract", s.auth(s.extract))
	mux.Handle("POST /api/triggers/{name}/run", s.auth(s.runTrigger)) // manual.go
}

type filterDesc struct {
	Kind       string `json:"kind"` // regexp | cel
	Text       string `json:"text,omitempty"`
	Expression string `json:"expression,omitempty"`
}

type variableDesc struct {
	Name       string `json:"name"`
	Source     string `json:"source"`
	Expression string `json:"expression"`
}

// triggerInfo is a trigger as GET /api/triggers and the triggers page show it.
type triggerInfo struct {
	Name      string         `json:"name"`
	Path      string         `json:"path"`
	Methods   []string       `json:"methods"`
	Provider  string         `json:"provider"`
	Events    []string       `json:"events"`
	Branches  []string       `json:"branches,omitempty"`
	Tags      []string       `json:"tags,omitempty"`
	Paths     []string       `json:"paths,omitempty"`
	Filters   []filterDesc   `json:"filters"`
	Variables []variableDesc `json:"variables"`
	LastRun   *store.Run     `json:"last_run,omitempty"`
	// Of the trigger's last runs (at most 50), how many ended and how many
	// of those succeeded.
	Finished  int `json:"recent_finished"`
	Succeeded int `json:"recent_succeeded"`
}

func (s *Server) triggerInfos(r *http.Request) ([]triggerInfo, error) {
	out := []triggerInfo{}
	for _, t := range s.cfg.Load().Triggers.All() {
		ti := triggerInfo{Name: t.Name, Path: t.Path, Methods: t.Taken(), Provider: t.ProviderName, Events: t.Events,
			Branches: t.Branches.Patterns(), Tags: t.Tags.Patterns(), Paths: t.Paths.Patterns(), Filters: []filterDesc{}, Variables: []variableDesc{}}
		if ti.Events == nil {
			ti.Events = []string{}
		}
		for _, f := range t.Filters {
			ti.Filters = append(ti.Filters, filterInfo(f))
		}
		for _, v := range t.Variables {
			ti.Variables = append(ti.Variables, variableDesc{Name: v.Name(), Source: v.Source(), Expression: v.Expression()})
		}
		runs, err := s.store.Runs(r.Context(), store.RunFilter{Trigger: t.Name, Limit: uiRateWindow})
		if err != nil {
			return nil, err
		}
		if len(runs) > 0 {
			ti.LastRun = runs[0]
		}
		for _, run := range runs {
			if run.State.Final() && run.State != store.Skipped && run.State != store.Superseded {
				ti.Finished++
				if run.State == store.Succeeded {
					ti.Succeeded++
				}
			}
		}
		out = append(out, ti)
	}
	return out, nil
}

func (s *Server) listTriggers(w http.ResponseWriter, r *http.Request) {
	infos, err := s.triggerInfos(r)
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"triggers": infos})
}

// ExtractRequest is the body of POST /api/extract. The payload is Payload,
// or the stored body of Delivery (whose recorded headers and event are used
// unless given). Exactly one of JSONPath, GJSON, XPath and Trigger is set.
type ExtractRequest struct {
	Payload  *string             `json:"payload,omitempty"`
	Delivery string              `json:"delivery,omitempty"`
	Headers  map[string]StrSlice `json:"headers,omitempty"`
	Query    map[string]StrSlice `json:"query,omitempty"`
	Event    string              `json:"event,omitempty"`
	JSONPath string              `json:"jsonpath,omitempty"`
	GJSON    string              `json:"gjson,omitempty"`
	XPath    string              `json:"xpath,omitempty"`
	Trigger  string              `json:"trigger,omitempty"`
}

// StrSlice is a list of strings that JSON may also give as one string.
type StrSlice []string

func (s *StrSlice) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("want a string or an array of strings")
	}
	*s = many
	return nil
}

// ExtractResult is what `hooktrigger extract` prints and POST /api/extract
// answers.
type ExtractResult struct {
	Variables map[string]string `json:"variables"`
	Nodes     []any             `json:"nodes,omitempty"`
	Event     string            `json:"event,omitempty"`
	Filter    *FilterVerdict    `json:"filter,omitempty"`
	// ChangedFiles are the files the payload says it changed, when the
	// trigger has paths and they are known (what $HOOKTRIGGER_CHANGED_FILES
	// would list).
	ChangedFiles []string `json:"changed_files,omitempty"`
}

// FilterVerdict is a trigger's decision in an ExtractResult.
type FilterVerdict struct {
	Matched bool   `json:"matched"`
	Reason  string `json:"reason,omitempty"`
}

// Errors of Extract; wrapped, with the details.
var (
	ErrBadExtractRequest = errors.New("server: bad extract request")
	ErrUnknownTrigger    = errors.New("server: unknown trigger")
)

// Extract evaluates one expression, or one trigger's variables and filters,
// on a payload, as `hooktrigger extract` does. It runs nothing. Errors wrap
// ErrBadExtractRequest, ErrUnknownTrigger, extract.ErrInvalidExpression or
// extract.ErrMalformedBody.
func Extract(cfg *config.Config, body []byte, h http.Header, q url.Values, event, jsonpath, gjsonExpr, xpath, trig string) (*ExtractResult, error) {
	if h == nil {
		h = http.Header{}
	}
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/json")
	}
	in := extract.NewInput(body, h, q)
	out := &ExtractResult{Variables: map[string]string{}}
	adhoc := 0
	for _, k := range []struct {
		kind extract.Kind
		expr string
	}{{extract.KindJSONPath, jsonpath}, {extract.KindGJSON, gjsonExpr}, {extract.KindXPath, xpath}} {
		if k.expr != "" {
			adhoc++
			nodes, err := extract.Nodes(k.kind, k.expr, in)
			if err != nil {
				return nil, err
			}
			if nodes == nil {
				nodes = []any{}
			}
			out.Nodes = nodes
		}
	}
	switch {
	case adhoc > 1 || adhoc == 1 && trig != "":
		return nil, fmt.Errorf("%w: give one of jsonpath, gjson, xpath and trigger", ErrBadExtractRequest)
	case adhoc == 1:
		v, err := extract.Compile(extract.Spec{Name: "value", JSONPath: jsonpath, GJSON: gjsonExpr, XPath: xpath})
		if err != nil {
			return nil, err
		}
		if err := v.Resolve(in, out.Variables); err != nil {
			return nil, err
		}
		return out, nil
	case trig == "":
		return nil, fmt.Errorf("%w: give a trigger or an expression (jsonpath, gjson, xpath)", ErrBadExtractRequest)
	}
	t, ok := cfg.Triggers.ByName(trig)
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownTrigger, trig)
	}
	preq := &providers.Request{Header: h, Query: q, Body: body, Now: time.Now()}
	info, err := t.Provider.Inspect(preq)
	if err != nil {
		info = &providers.Info{}
	}
	if event != "" {
		info.Event, info.Action, _ = strings.Cut(event, ".")
	}
	out.Event = info.EventAction()
	d := t.Decide(preq, info, in)
	if d.Err != nil {
		return nil, d.Err
	}
	if d.Vars != nil {
		out.Variables = d.Vars
	}
	out.Filter = &FilterVerdict{Matched: d.Fire, Reason: d.Reason}
	out.ChangedFiles = d.ChangedFiles
	return out, nil
}

// decodeRequest reads r's JSON body into dst, refusing unknown fields and
// bodies over twice max_body (a payload inside a JSON string). On failure
// it has answered (what names the endpoint) and returns false.
func (s *Server) decodeRequest(w http.ResponseWriter, r *http.Request, what string, dst any) bool {
	r.Body = http.MaxBytesReader(w, r.Body, 2*s.cfg.Load().MaxBody+64<<10)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, "request larger than twice max_body")
			return false
		}
		writeError(w, http.StatusBadRequest, what+": the request is not the expected JSON: "+err.Error())
		return false
	}
	return true
}

// headerAndQuery turns a request's headers and query parameters, each
// a string or a list, into their net/http forms.
func headerAndQuery(headers, query map[string]StrSlice) (http.Header, url.Values) {
	h := http.Header{}
	for k, vs := range headers {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	q := url.Values{}
	for k, vs := range query {
		q[k] = append(q[k], vs...)
	}
	return h, q
}

func (s *Server) extract(w http.ResponseWriter, r *http.Request) {
	cfg := s.cfg.Load()
	var req ExtractRequest
	if !s.decodeRequest(w, r, "extract", &req) {
		return
	}
	h, q := headerAndQuery(req.Headers, req.Query)
	var body []byte
	event := req.Event
	switch {
	case req.Payload != nil && req.Delivery != "":
		writeError(w, http.StatusBadRequest, "extract: give payload or delivery, not both")
		return
	case req.Payload != nil:
		body = []byte(*req.Payload)
		if int64(len(body)) > cfg.MaxBody {
			writeError(w, http.StatusRequestEntityTooLarge, "payload larger than max_body")
			return
		}
	case req.Delivery != "":
		d, err := s.store.Delivery(r.Context(), req.Delivery)
		if err != nil {
			s.storeError(w, err)
			return
		}
		body = d.Body
		if len(req.Headers) == 0 {
			for k, vs := range d.Headers {
				h[k] = append([]string(nil), vs...)
			}
		}
		if event == "" && d.Event != "" {
			event = d.Event
			if d.Action != "" {
				event += "." + d.Action
			}
		}
	default:
		writeError(w, http.StatusBadRequest, "extract: give payload or delivery")
		return
	}
	res, err := Extract(cfg, body, h, q, event, req.JSONPath, req.GJSON, req.XPath, req.Trigger)
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, res)
	case errors.Is(err, ErrUnknownTrigger):
		writeError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, ErrBadExtractRequest), errors.Is(err, extract.ErrInvalidExpression), errors.Is(err, extract.ErrMalformedBody):
		writeError(w, http.StatusBadRequest, err.Error())
	default:
		writeError(w, http.StatusUnprocessableEntity, err.Error())
	}
}
