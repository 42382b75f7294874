package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hooktrigger/hooktrigger/providers"
	"github.com/hooktrigger/hooktrigger/providers/generic"
	"github.com/hooktrigger/hooktrigger/trigger"
)

// GWTPath is the endpoint of Jenkins' Generic Webhook Trigger, served for
// triggers written with GWT's keys so that registered webhook URLs keep
// working when only the host changes.
const GWTPath = "/generic-webhook-trigger/invoke"

// GWT's 404 messages (GenericWebHookRequestReceiver).
const (
	gwtNotFoundNoToken = "Did not find any jobs with GenericTrigger configured!\n" +
		"No token was supplied.\n" +
		"If you are using a token, you need to pass it like ...trigger/invoke?token=TOKENHERE\n" +
		"If you are not using a token, the trigger must have no token: configured."
	gwtNotFoundToken = "Did not find any jobs with GenericTrigger configured!\nA token was supplied.\n"
	gwtTriggered     = "Triggered jobs."
)

// gwtReply is GWT's response shape.
type gwtReply struct {
	Jobs    map[string]*gwtJob `json:"jobs"`
	Message string             `json:"message"`
}

// gwtJob is one job's entry. Unlike GWT, resolvedVariables appear only for
// jobs that were triggered and never hold a request header's value, and a
// job that did not trigger says why in reason.
type gwtJob struct {
	Triggered              bool               `json:"triggered"`
	ID                     any                `json:"id"` // the run id, or 0
	URL                    string             `json:"url"`
	RegexpFilterText       string             `json:"regexpFilterText"`
	RegexpFilterExpression string             `json:"regexpFilterExpression"`
	ResolvedVariables      *map[string]string `json:"resolvedVariables,omitempty"`
	Reason                 string             `json:"reason,omitempty"`
	Duplicate              bool               `json:"duplicate,omitempty"`
}

// gwtInvoke serves GWTPath: the token (GWT's lookup order) selects the
// GWT-keyed triggers across all paths; each decides on the delivery; the
// delivery and its runs are recorded before the 200, as on /hooks/*.
func (s *Server) gwtInvoke(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodOptions {
		w.WriteHeader(http.StatusOK)
		return
	}
	cfg := s.cfg.Load()
	received := time.Now()
	body, err := readBody(w, r, cfg.MaxBody)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeGWT(w, http.StatusRequestEntityTooLarge, gwtReply{Message: "Body larger than max_body (" + strconv.FormatInt(cfg.MaxBody, 10) + " bytes)."})
			return
		}
		writeGWT(w, http.StatusInternalServerError, gwtReply{Message: "Unable to read inputstream."})
		return
	}
	preq := &providers.Request{Header: r.Header, Query: r.URL.Query(), Body: body, RemoteAddr: remoteIP(r), Now: received}

	// The token selects the triggers: one with a token only when the
	// request carries it, one without only when the request carries none.
	tok, _ := generic.Token(preq)
	given := tok != ""
	var found []*trigger.Trigger
	for _, t := range cfg.Triggers.All() {
		if t.GWT == nil || t.GWT.HasToken != given {
			continue
		}
		if t.AllowList != nil && !t.AllowList.Allowed(t.AllowList.ClientIP(r.RemoteAddr, r.Header)) {
			continue
		}
		if given && t.Provider.Verify(preq) != nil {
			continue
		}
		found = append(found, t)
	}
	if len(found) == 0 {
		s.log.Info("gwt: no trigger for the request", "token_given", given, "remote", preq.RemoteAddr)
		msg := gwtNotFoundNoToken
		if given {
			msg = gwtNotFoundToken
		}
		writeGWT(w, http.StatusNotFound, gwtReply{Message: msg})
		return
	}

	ev, err := s.evaluate(r.Context(), GWTPath, preq, newInspector(preq), found, received)
	if err != nil {
		writeGWT(w, http.StatusBadRequest, gwtReply{Message: err.Error()})
		return
	}
	silent := true
	for _, t := range found {
		silent = silent && t.GWT.Silent
	}
	reply := gwtReply{Jobs: map[string]*gwtJob{}, Message: gwtTriggered}

	if strings.EqualFold(r.Header.Get("gwt-dry-run"), "true") {
		for _, d := range ev.decisions {
			if !d.Trigger.GWT.Silent {
				reply.Jobs[d.Trigger.Name] = gwtEntry(d, nil, "")
			}
		}
		s.log.Info("gwt: dry run", "triggers", len(found))
		if silent {
			w.WriteHeader(http.StatusOK)
			return
		}
		writeGWT(w, http.StatusOK, reply)
		return
	}

	rec, err := s.commit(r.Context(), ev)
	if err != nil {
		s.log.Error("cannot record delivery", "path", GWTPath, "err", err)
		w.Header().Set("Retry-After", "5")
		writeGWT(w, http.StatusServiceUnavailable, gwtReply{Message: "Store unavailable; retry later."})
		return
	}
	if rec.Duplicate {
		byTrigger := map[string]string{}
		for _, run := range rec.Runs {
			byTrigger[run.Trigger] = run.ID
		}
		for _, t := range found {
			if t.GWT.Silent {
				continue
			}
			j := &gwtJob{ID: 0, Duplicate: true, RegexpFilterExpression: t.GWT.FilterExpression()}
			if id, ok := byTrigger[t.Name]; ok {
				j.Triggered, j.ID, j.URL = true, id, s.runURL(id)
			} else {
				j.Reason = "duplicate delivery: it did not trigger this job the first time"
			}
			reply.Jobs[t.Name] = j
		}
	} else {
		for _, d := range ev.decisions {
			if d.Trigger.GWT.Silent {
				continue
			}
			id, url := "", ""
			if run := ev.runOf[d.Trigger.Name]; run != nil {
				id, url = run.ID, s.runURL(run.ID)
			}
			reply.Jobs[d.Trigger.Name] = gwtEntry(d, id, url)
		}
	}
	s.log.Info("delivery accepted", "delivery", rec.DeliveryID, "sender_delivery", ev.del.SenderID, "path", GWTPath,
		"event", ev.del.Event, "runs", len(ev.runs), "duplicate", rec.Duplicate)
	if silent {
		w.WriteHeader(http.StatusOK)
		return
	}
	writeGWT(w, http.StatusOK, reply)
}

// gwtEntry is the response entry of decision d; id is the run id ("" or
// nil: none).
func gwtEntry(d trigger.Decision, id any, url string) *gwtJob {
	g := d.Trigger.GWT
	j := &gwtJob{
		Triggered:              d.Fire,
		ID:                     0,
		URL:                    url,
		RegexpFilterText:       g.ResponseFilterText(d),
		RegexpFilterExpression: g.FilterExpression(),
	}
	if s, ok := id.(string); ok && s != "" {
		j.ID = s
	}
	if d.Fire {
		vars := trigger.PublicVars(d)
		j.ResolvedVariables = &vars
	} else {
		j.Reason = d.Reason
	}
	return j
}

func writeGWT(w http.ResponseWriter, status int, v gwtReply) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
