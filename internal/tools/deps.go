//go:build tools

package tools

import (
	_ "cel.dev/cel-go/cel"
	_ "github.com/antchfx/xmlquery"
	_ "github.com/chromedp/chromedp"
	_ "github.com/dlclark/regexp2/v2"
	_ "github.com/fsnotify/fsnotify"
	_ "github.com/google/go-github/v82/github"
	_ "github.com/jackc/pgx/v5"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/spf13/cobra"
	_ "github.com/theory/jsonpath"
	_ "github.com/tidwall/gjson"
	_ "gitlab.com/gitlab-org/api/client-go"
	_ "go.yaml.in/yaml/v3"
	_ "golang.org/x/time/rate"
	_ "modernc.org/sqlite"
)
