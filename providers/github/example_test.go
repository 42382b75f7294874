package github_test

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/hooktrigger/hooktrigger/providers"
	"github.com/hooktrigger/hooktrigger/providers/github"
)

// A server verifies a delivery, then inspects it.
func Example() {
	secret := []byte("It's a Secret to Everybody")
	p, err := github.New(providers.Config{Secrets: [][]byte{secret}})
	if err != nil {
		panic(err)
	}
	body := []byte(`{"ref":"refs/heads/main","before":"95790bf891e76fee5e1747ab589903a6a1f80f22","after":"da1560886d4f094c3e6c9ef40349f7d38b5d27d7","repository":{"full_name":"octo/app"},"pusher":{"name":"octocat"}}`)
	r := &providers.Request{
		Header: http.Header{
			"X-Github-Event":      {"push"},
			"X-Github-Delivery":   {"72d3162e-cc78-11e3-81ab-4c9367dc0958"},
			"X-Hub-Signature-256": {github.Sign(secret, body)},
		},
		Body: body,
	}
	if err := p.Verify(r); errors.Is(err, providers.ErrUnauthorized) {
		fmt.Println("401")
		return
	}
	info, err := p.Inspect(r)
	if err != nil {
		fmt.Println("400")
		return
	}
	fmt.Println(info.EventAction(), info.Repo, info.Branch, info.SHA[:7], info.Actor)
	// Output: push octo/app main da15608 octocat
}
