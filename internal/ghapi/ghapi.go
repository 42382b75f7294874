// Package ghapi makes the GitHub REST API clients of the status and changes
// packages: github.com's, a GitHub Enterprise Server's, or Gitea's, which
// serves the same endpoints for commit statuses and pull request files.
package ghapi

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/go-github/v82/github"
)

// Client returns a client of the API at baseURL with token: "" for
// github.com; a GitHub Enterprise Server's URL, to which /api/v3/ is added
// unless present; or a URL ending in /api/v1, Gitea's API, taken as it is.
func Client(hc *http.Client, baseURL, token string) (*github.Client, error) {
	c := github.NewClient(hc).WithAuthToken(token)
	if baseURL == "" {
		return c, nil
	}
	base := strings.TrimRight(baseURL, "/") + "/"
	if strings.HasSuffix(base, "/api/v1/") {
		u, err := url.Parse(base)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("base_url %q: not a URL", baseURL)
		}
		c.BaseURL, c.UploadURL = u, u
		return c, nil
	}
	c, err := c.WithEnterpriseURLs(base, base)
	if err != nil {
		return nil, fmt.Errorf("base_url %q: %w", baseURL, err)
	}
	return c, nil
}
