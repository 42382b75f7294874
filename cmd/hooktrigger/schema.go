package main

import (
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hooktrigger/hooktrigger/config"
)

func newSchema(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "print the JSON Schema (draft 2020-12) of the config file, for editors",
		Long: "Print the JSON Schema of the config file. Editors with the YAML language server validate\n" +
			"and complete the file when it starts with\n" +
			"  # yaml-language-server: $schema=./hooktrigger.schema.json\n" +
			"after `hooktrigger schema > hooktrigger.schema.json`.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(configSchema())
		},
	}
}

// configSchema derives the schema from config.File's YAML tags, so it names
// exactly the keys the loader accepts; the descriptions, enums and required
// keys below are the hand-written part.
func configSchema() map[string]any {
	s := schemaOf(reflect.TypeFor[config.File](), "")
	s["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	s["title"] = "hooktrigger config file"
	s["description"] = "hooktrigger.yaml: the HTTP server, the store and the triggers that turn webhooks into runs."
	return s
}

var (
	durationSchema = map[string]any{
		"type":        "string",
		"pattern":     `^\s*([0-9]+(\.[0-9]+)?d|([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+|0)\s*$`,
		"description": "a duration such as 30s, 20m, 1h30m or 14d",
	}
	byteSizeSchema = map[string]any{
		"oneOf": []any{
			map[string]any{"type": "integer", "minimum": 0},
			map[string]any{"type": "string", "pattern": `^\s*[0-9]+\s*(KiB|MiB|GiB|KB|MB|GB|K|M|G|B)?\s*$`},
		},
		"description": "a size in bytes: 1048576, 512KiB, 25MiB, 10MB",
	}
	stringListSchema = map[string]any{
		"oneOf": []any{
			map[string]any{"type": "string"},
			map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
		},
	}
)

// schemaExtra holds the hand-written parts, by field path ("[]" for list
// items).
var schemaExtra = map[string]map[string]any{
	"":                                     {"required": []any{"triggers"}},
	"listen":                               {"description": "address of the HTTP server, host:port (default 127.0.0.1:8080); a change needs a restart"},
	"data_dir":                             {"description": "SQLite database and run logs, relative to this file (default ./data); a change needs a restart"},
	"database":                             {"description": "postgres:// URL of a shared store (scale-out); leave out for the embedded SQLite store"},
	"public_url":                           {"description": "absolute URL of this server, used in links to the UI"},
	"max_body":                             {"description": "largest request body accepted (default 25MiB); 413 above it"},
	"max_inflight_bytes":                   {"description": "request body bytes held at once across all requests (default 4 × max_body); 503 with Retry-After above it"},
	"read_header_timeout":                  {"description": "time a client may take to send its request headers (default 10s); a change needs a restart"},
	"workers":                              {"description": "runs executing at once on this instance (default 4)", "minimum": 1},
	"api_token":                            {"description": "bearer token for /api/* and the UI: ${ENV}, file:/path or a literal"},
	"log_format":                           {"enum": []any{"text", "json"}, "description": "log line format (default text)"},
	"log_level":                            {"enum": []any{"debug", "info", "warn", "error"}, "description": "least severe level logged (default info)"},
	"shutdown_grace":                       {"description": "time running builds get at shutdown before they are stopped (default 30s)"},
	"trusted_proxies":                      {"description": "addresses or CIDRs of proxies whose X-Forwarded-For is believed"},
	"tls":                                  {"required": []any{"cert", "key"}, "description": "serve HTTPS (and HTTP/2); the files are reloaded when they change"},
	"triggers":                             {"description": "the triggers; at least one", "minItems": 1},
	"triggers[]":                           {"required": []any{"name", "run"}},
	"triggers[].name":                      {"description": "unique name; default path /hooks/NAME", "pattern": `^[A-Za-z0-9][A-Za-z0-9._-]*$`},
	"triggers[].path":                      {"description": "URL path the trigger listens on; several triggers may share one", "pattern": "^/"},
	"triggers[].provider":                  {"enum": []any{"github", "gitlab", "generic"}, "description": "who sends the webhooks (default generic)"},
	"triggers[].secret":                    {"description": "webhook secret or token: ${ENV}, file:/path or a literal; a list rotates keys"},
	"triggers[].auth.type":                 {"enum": []any{"token", "hmac", "standard-webhooks"}},
	"triggers[].methods":                   {"description": "HTTP methods the trigger takes (generic provider; default POST, PUT); GET for a link or a monitor"},
	"triggers[].paths":                     {"description": "globs on the files a push changed, or a pull request (with provider_api or status): ** across directories, ! excludes; when the files are not known the trigger fires"},
	"triggers[].response":                  {"enum": []any{"normal", "verbose"}, "description": "verbose: variable values appear in the response"},
	"triggers[].run.concurrency.policy":    {"enum": []any{"queue", "parallel", "cancel-previous", "skip-if-running"}},
	"triggers[].rate_limit":                {"required": []any{"rate"}, "description": "token bucket per trigger; deliveries over it get 429 with Retry-After"},
	"triggers[].rate_limit.rate":           {"pattern": `^\s*[0-9]+(\.[0-9]+)?\s*/\s*(s|sec|second|m|min|minute|h|hour)\s*$`, "description": "N/s, N/m or N/h"},
	"triggers[].rate_limit.burst":          {"minimum": 1, "description": "deliveries accepted at once above the rate (default: N of the rate)"},
	"triggers[].run.command":               {"description": "argv of the build; no shell"},
	"triggers[].run.retry":                 {"required": []any{"max"}, "description": "run a failed or timed-out attempt again; the run stays running and in its group meanwhile"},
	"triggers[].run.retry.max":             {"minimum": 1, "maximum": 10, "description": "attempts after the first (interruptions retried by retry_interrupted count too)"},
	"triggers[].run.retry.delay":           {"description": "wait between an attempt's end and the next one's start (default 0s)"},
	"triggers[].run.retry.on":              {"description": "which ends are retried: failed, timed_out (default both)"},
	"triggers[].run.mask":                  {"description": "names of environment variables (from inherit_env, env or the variables) whose values the run's log shows as ***"},
	"triggers[].run.script":                {"description": "a script run by /bin/sh (instead of command)"},
	"triggers[].provider_api":              {"required": []any{"token"}, "description": "the provider's REST API, for what payloads do not say: the files of a pull or merge request, for paths"},
	"triggers[].provider_api.token":        {"description": "API token (GitHub: pull requests read; GitLab: read_api): ${ENV}, file:/path or a literal"},
	"triggers[].provider_api.base_url":     {"description": "GitHub Enterprise Server or self-managed GitLab URL; leave out for github.com and gitlab.com"},
	"triggers[].status.token":              {"description": "API token for commit statuses: ${ENV}, file:/path or a literal"},
	"triggers[].notify":                    {"description": "endpoints told how runs ended"},
	"triggers[].notify[]":                  {"required": []any{"url"}},
	"triggers[].notify[].url":              {"description": "http(s) URL posted to; it may hold a token: ${ENV}, file:/path or a literal"},
	"triggers[].notify[].format":           {"enum": []any{"json", "slack"}, "description": "json (the run's end as an object, default) or slack ({\"text\": …})"},
	"triggers[].notify[].on":               {"description": "final run states sent (default failed, timed_out)"},
	"triggers[].notify[].secret":           {"description": "whsec_… key: each post is signed as Standard Webhooks do (Webhook-Id, Webhook-Timestamp, Webhook-Signature); ${ENV}, file:/path or a literal"},
	"triggers[].notify[].log_lines":        {"minimum": 0, "maximum": 100, "description": "the log's last lines the notification carries (default 0)"},
	"triggers[].variables[].regexp_filter": {"description": "every match is removed from the value (GWT semantics)"},
}

func schemaOf(t reflect.Type, path string) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var s map[string]any
	switch t {
	case reflect.TypeFor[config.Duration]():
		s = clone(durationSchema)
	case reflect.TypeFor[config.ByteSize]():
		s = clone(byteSizeSchema)
	case reflect.TypeFor[config.StringList]():
		s = clone(stringListSchema)
	}
	if s == nil {
		switch t.Kind() {
		case reflect.Struct:
			props := map[string]any{}
			for i := 0; i < t.NumField(); i++ {
				f := t.Field(i)
				key := strings.Split(f.Tag.Get("yaml"), ",")[0]
				if key == "" || key == "-" || !f.IsExported() {
					continue
				}
				props[key] = schemaOf(f.Type, join(path, key))
			}
			s = map[string]any{"type": "object", "properties": props, "additionalProperties": false}
		case reflect.Slice:
			s = map[string]any{"type": "array", "items": schemaOf(t.Elem(), path+"[]")}
		case reflect.Map:
			s = map[string]any{"type": "object", "additionalProperties": schemaOf(t.Elem(), path+".*")}
		case reflect.String:
			s = map[string]any{"type": "string"}
		case reflect.Bool:
			s = map[string]any{"type": "boolean"}
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			s = map[string]any{"type": "integer"}
		case reflect.Float32, reflect.Float64:
			s = map[string]any{"type": "number"}
		default:
			panic(fmt.Sprintf("schema: no mapping for %s at %q", t, path))
		}
	}
	for k, v := range schemaExtra[path] {
		s[k] = v
	}
	return s
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func clone(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
