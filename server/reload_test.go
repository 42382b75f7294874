package server_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/hooktrigger/hooktrigger/config"
)

func TestServer_Reload(t *testing.T) {
	base := `listen: 127.0.0.1:0
data_dir: ./data
triggers:
  - name: one
    secret: tok
    run: {command: [/bin/sh, -c, 'exit 0']}
`
	s := MustStart(t, base)
	listen := s.Config().Listen
	write := func(t *testing.T, y string) {
		if err := os.WriteFile(s.File, []byte(y), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	reloads := func(result string) float64 {
		v, _ := value(scrape(t, s.URL), "hooktrigger_config_reloads_total", map[string]string{"result": result})
		return v
	}
	t.Run("RestartOnlyKeysKept", func(t *testing.T) {
		write(t, strings.Replace(base, "listen: 127.0.0.1:0", "listen: 127.0.0.1:1\nworkers: 9", 1)+`  - name: two
    secret: tok
    run: {command: [/bin/sh, -c, 'exit 0']}
`)
		if err := s.Reload(s.File, false); err != nil {
			t.Fatal(err)
		}
		c := s.Config()
		if _, ok := c.Triggers.ByName("two"); !ok {
			t.Fatal("the new trigger is not in force")
		}
		if c.Listen != listen || c.Workers != config.DefaultWorkers {
			t.Fatalf("listen %q workers %d changed without a restart", c.Listen, c.Workers)
		}
		for _, key := range []string{`"key":"listen"`, `"key":"workers"`} {
			if !strings.Contains(s.Logs.String(), key) {
				t.Errorf("no warning naming %s", key)
			}
		}
		if r := do(t, "POST", s.URL+"/hooks/two", nil, map[string]string{"Authorization": "Bearer tok"}); r.Status != 202 {
			t.Fatalf("new trigger: %d %s", r.Status, r.Body)
		}
	})
	t.Run("UnchangedFileIgnored", func(t *testing.T) {
		before, c := reloads("success"), s.Config()
		if err := s.Reload(s.File, false); err != nil {
			t.Fatal(err)
		}
		if reloads("success") != before || s.Config() != c {
			t.Fatal("an unchanged file was loaded again")
		}
		if err := s.Reload(s.File, true); err != nil || reloads("success") != before+1 {
			t.Fatalf("a forced reload was not done: %v", err)
		}
	})
	t.Run("InvalidRefused", func(t *testing.T) {
		c := s.Config()
		write(t, base+"  - name: bad\n    sekret: x\n")
		err := s.Reload(s.File, false)
		if !errors.Is(err, config.ErrInvalid) {
			t.Fatalf("want a config error, got %v", err)
		}
		if s.Config() != c || reloads("failure") != 1 {
			t.Fatal("the invalid config was swapped in or not counted")
		}
		if r := do(t, "POST", s.URL+"/hooks/one", nil, map[string]string{"Authorization": "Bearer tok"}); r.Status != 202 {
			t.Fatalf("old trigger after a refused reload: %d", r.Status)
		}
	})
}
