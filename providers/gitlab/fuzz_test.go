package gitlab_test

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hooktrigger/hooktrigger/providers"
	"github.com/hooktrigger/hooktrigger/providers/internal/providertest"
)

func FuzzGitLabInspect(f *testing.F) {
	seeds := providertest.Seeds(f, "gitlab/*.json")
	for _, c := range corpusEvents {
		if body, ok := seeds["gitlab/"+c.file]; ok {
			f.Add(c.header, body)
		}
	}
	f.Add("", []byte(`{"object_kind":"pipeline","object_attributes":{"ref":"refs/merge-requests/3/head","tag":true}}`))
	f.Add("Strange New Hook", []byte(`{}`))
	f.Add("Note Hook", []byte(`{"object_attributes":{"noteable_type":"MergeRequest"},"merge_request":{"iid":"x"}}`))
	p := mustNew(f, providers.Config{AllowUnsigned: true})
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		info, err := p.Inspect(&providers.Request{Header: http.Header{"X-Gitlab-Event": {header}}, Body: body})
		if err != nil {
			if !errors.Is(err, providers.ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if info.Event == "" {
			t.Fatal("no event and no error")
		}
		if info.Branch != "" && info.Tag != "" {
			t.Fatalf("both Branch %q and Tag %q", info.Branch, info.Tag)
		}
		for _, c := range info.PR {
			if c < '0' || c > '9' {
				t.Fatalf("PR %q is not a number", info.PR)
			}
		}
	})
}

func FuzzGitLabVerify(f *testing.F) {
	key := []byte("0123456789abcdef0123456789abcdef")
	now := time.Unix(1_700_000_000, 0)
	body := []byte(`{"object_kind":"push"}`)
	f.Add("tok", "msg", strconv.FormatInt(now.Unix(), 10), providers.SignStandardWebhook(key, "msg", now, body), body)
	f.Add("", "", "", "", []byte{})
	f.Add("x", "m", "99999999999999999999", "v1a,xx v1,", []byte("{}"))
	p := mustNew(f, providers.Config{Secrets: [][]byte{[]byte("tok"), []byte("whsec_" + base64.StdEncoding.EncodeToString(key))}})
	f.Fuzz(func(t *testing.T, token, id, ts, sig string, body []byte) {
		h := http.Header{"X-Gitlab-Token": {token}, "Webhook-Id": {id}, "Webhook-Timestamp": {ts}, "Webhook-Signature": {sig}}
		err := p.Verify(&providers.Request{Header: h, Body: body, Now: now})
		if err != nil {
			if !errors.Is(err, providers.ErrUnauthorized) {
				t.Fatalf("error %v does not wrap ErrUnauthorized", err)
			}
			if strings.Contains(err.Error(), "0123456789abcdef") {
				t.Fatalf("error %q reveals the key", err)
			}
			return
		}
		// Accepted: the token or the signing token must have been right.
		if token != "tok" && providers.VerifyStandardWebhook([][]byte{key}, h, body, now, 0) != nil {
			t.Fatalf("accepted token %q, signature %q", token, sig)
		}
	})
}
