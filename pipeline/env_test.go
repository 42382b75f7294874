package pipeline_test

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hooktrigger/hooktrigger/pipeline"
)

// envMap turns KEY=value entries into a map, failing on duplicates.
func envMap(tb testing.TB, env []string) map[string]string {
	tb.Helper()
	m := make(map[string]string, len(env))
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			tb.Fatalf("entry %q has no '='", kv)
		}
		if _, dup := m[k]; dup {
			tb.Fatalf("%s twice in the environment", k)
		}
		m[k] = v
	}
	return m
}

// runEnv executes `env -0` for cmd and job and returns what the child saw,
// and the log lines hooktrigger wrote before the output.
func runEnv(tb testing.TB, cmd *pipeline.Command, job *pipeline.Job) (env map[string]string, notes []string, res *pipeline.Result) {
	tb.Helper()
	cmd.Argv = []string{"env", "-0"}
	res = pipeline.Execute(tb.Context(), cmd, job)
	if res.Outcome != pipeline.OutcomeSucceeded {
		tb.Fatalf("env -0: outcome %q (err %v)", res.Outcome, res.Err)
	}
	out := mustRead(tb, job.LogPath)
	for bytes.HasPrefix(out, []byte("[hooktrigger: ")) {
		line, rest, _ := bytes.Cut(out, []byte("\n"))
		notes = append(notes, string(line))
		out = rest
	}
	entries := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	return envMap(tb, entries), notes, res
}

// The parent's environment reaches a build only by name, and the layers
// override each other in the documented order.
func TestExecute_Environment(t *testing.T) {
	t.Setenv("SECRET_TOKEN", "s3cret")
	t.Setenv("HOOKTRIGGER_API_TOKEN", "api-secret")
	t.Setenv("LANG", "C.UTF-8")
	tests := []struct {
		name    string
		inherit []string
		runEnv  map[string]string
		vars    map[string]string
		meta    map[string]string
		want    map[string]string // entries that must be there with these values
		absent  []string          // names that must not be there
		inDir   []string          // variables whose value must be in vars/NAME
	}{
		{
			name:   "DefaultInheritsNoSecret",
			want:   map[string]string{"PATH": os.Getenv("PATH"), "LANG": "C.UTF-8"},
			absent: []string{"SECRET_TOKEN", "HOOKTRIGGER_API_TOKEN"},
		},
		{
			name:    "All",
			inherit: []string{"all"},
			want:    map[string]string{"SECRET_TOKEN": "s3cret", "PATH": os.Getenv("PATH")},
			absent:  []string{"HOOKTRIGGER_API_TOKEN"},
		},
		{
			name:    "ByName",
			inherit: []string{"SECRET_TOKEN", "PATH"},
			want:    map[string]string{"SECRET_TOKEN": "s3cret"},
			absent:  []string{"LANG", "HOME"},
		},
		{
			name:    "NothingButPATH",
			inherit: []string{"PATH"},
			absent:  []string{"LANG", "SECRET_TOKEN", "HOME"},
		},
		{
			name:   "RunEnvOverridesVariableAndParent",
			runEnv: map[string]string{"GOFLAGS": "-mod=mod", "ref": "from-run-env", "LANG": "de_DE.UTF-8"},
			vars:   map[string]string{"ref": "from-payload", "sha": "abc"},
			want:   map[string]string{"GOFLAGS": "-mod=mod", "ref": "from-run-env", "sha": "abc", "LANG": "de_DE.UTF-8"},
			inDir:  []string{"ref"},
		},
		{
			name: "VariablesCannotTakeHooktriggerOrUnsafeNames",
			vars: map[string]string{
				"HOOKTRIGGER_RUN_ID": "forged", "HOOKTRIGGER_VARS": "/etc/passwd", "PATH": "/tmp/evil",
				"LD_PRELOAD": "/tmp/evil.so", "BASH_ENV": "/tmp/evil.sh", "1bad": "x", "bad-name": "x", "ok_1": "fine",
			},
			meta:   map[string]string{"RUN_ID": "42", "HOOKTRIGGER_TRIGGER": "app"},
			want:   map[string]string{"HOOKTRIGGER_RUN_ID": "42", "HOOKTRIGGER_TRIGGER": "app", "PATH": os.Getenv("PATH"), "ok_1": "fine"},
			absent: []string{"LD_PRELOAD", "BASH_ENV", "1bad", "bad-name"},
			inDir:  []string{"HOOKTRIGGER_RUN_ID", "HOOKTRIGGER_VARS", "PATH", "LD_PRELOAD", "BASH_ENV", "1bad"},
		},
		{
			name:   "VariableOverridesInheritedLANG",
			vars:   map[string]string{"LANG": "fr_FR.UTF-8"},
			want:   map[string]string{"LANG": "fr_FR.UTF-8"},
			absent: []string{"SECRET_TOKEN"},
		},
		{
			name:   "RunEnvCannotOverrideHooktriggerEntries",
			runEnv: map[string]string{"HOOKTRIGGER_RUN_ID": "x", "HOOKTRIGGER_CUSTOM": "admin"},
			meta:   map[string]string{"RUN_ID": "7"},
			want:   map[string]string{"HOOKTRIGGER_RUN_ID": "7", "HOOKTRIGGER_CUSTOM": "admin", "HOOKTRIGGER_FILE_ONLY_VARS": ""},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			job := newJob(t)
			job.Vars, job.Meta = tt.vars, tt.meta
			job.Payload = []byte("{}")
			got, notes, res := runEnv(t, &pipeline.Command{InheritEnv: tt.inherit, Env: tt.runEnv}, job)
			if len(notes) != 0 || len(res.FileOnly) != 0 {
				t.Errorf("notes %q, file only %q; want none", notes, res.FileOnly)
			}
			for k, v := range tt.want {
				if g, ok := got[k]; !ok || g != v {
					t.Errorf("%s = %q (set: %v), want %q", k, g, ok, v)
				}
			}
			for _, k := range tt.absent {
				if v, ok := got[k]; ok {
					t.Errorf("%s = %q, want it absent", k, v)
				}
			}
			if got["HOOKTRIGGER_VARS"] != filepath.Join(job.RunDir, pipeline.VarsFile) ||
				got["HOOKTRIGGER_PAYLOAD"] != filepath.Join(job.RunDir, pipeline.PayloadFile) ||
				got["HOOKTRIGGER_VARS_DIR"] != filepath.Join(job.RunDir, "vars") {
				t.Errorf("file entries: %q %q %q", got["HOOKTRIGGER_VARS"], got["HOOKTRIGGER_PAYLOAD"], got["HOOKTRIGGER_VARS_DIR"])
			}
			// The variables file holds every variable, whatever its name.
			var vars map[string]string
			if err := json.Unmarshal(mustRead(t, got["HOOKTRIGGER_VARS"]), &vars); err != nil {
				t.Fatal(err)
			}
			want := tt.vars
			if want == nil {
				want = map[string]string{}
			}
			if !mapsEqual(vars, want) {
				t.Errorf("vars file = %q, want %q", vars, want)
			}
			for _, name := range tt.inDir {
				if b, err := os.ReadFile(filepath.Join(got["HOOKTRIGGER_VARS_DIR"], name)); err != nil || string(b) != tt.vars[name] {
					t.Errorf("vars/%s = %q (err %v), want %q", name, b, err, tt.vars[name])
				}
			}
			if entries, _ := os.ReadDir(got["HOOKTRIGGER_VARS_DIR"]); len(entries) != len(tt.inDir) {
				t.Errorf("vars/ holds %d files, want %d", len(entries), len(tt.inDir))
			}
			for _, name := range []string{got["HOOKTRIGGER_VARS"], got["HOOKTRIGGER_PAYLOAD"]} {
				if fi, err := os.Stat(name); err != nil || fi.Mode().Perm() != 0o600 {
					t.Errorf("%s: mode %v, err %v; want 0600", name, fi.Mode(), err)
				}
			}
		})
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// hostile are values that would run commands or change an argv if a value
// were ever spliced into a shell string or a command line. Each one that
// tries to run something touches a file under dir.
func hostile(dir string) map[string]string {
	junk := make([]byte, 4096)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range junk {
		junk[i] = byte(1 + r.IntN(255)) // no NUL
	}
	big := strings.Repeat("$(touch "+filepath.Join(dir, "big")+")`x`;", 100<<10/30)
	return map[string]string{
		"subst":     "$(touch " + filepath.Join(dir, "subst") + ")",
		"backtick":  "`touch " + filepath.Join(dir, "backtick") + "`",
		"semicolon": "x; touch " + filepath.Join(dir, "semicolon"),
		"andand":    "x && touch " + filepath.Join(dir, "andand"),
		"newline":   "x\ntouch " + filepath.Join(dir, "newline") + "\n",
		"pipe":      "x | touch " + filepath.Join(dir, "pipe"),
		"flag":      "--flag=--exec=touch " + filepath.Join(dir, "flag"),
		"quotes":    `'"'"; touch ` + filepath.Join(dir, "quotes") + ` #`,
		"glob":      "* ? [a-z] ~ ${HOME} $PATH",
		"junk":      string(junk),
		"big":       big[:100<<10],
		"empty":     "",
	}
}

// Payload values reach a script and an argv command byte for byte through
// the environment and the files, and run nothing.
func TestExecute_Injection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cmd  func(out string) pipeline.Command
	}{
		{
			// The script expands every value, quoted and unquoted, and
			// copies each one out through printenv and the vars directory.
			name: "Script",
			cmd: func(out string) pipeline.Command {
				return pipeline.Command{Script: `
set -e
for n in subst backtick semicolon andand newline pipe flag quotes glob junk big empty; do
	printenv "$n" > "$OUT/$n.env"
done
echo "$subst" $backtick $semicolon "$andand" $newline $flag $quotes > /dev/null
cp "$HOOKTRIGGER_VARS" "$OUT/vars.json"
cp "$HOOKTRIGGER_PAYLOAD" "$OUT/payload"
`, Env: map[string]string{"OUT": out}}
			},
		},
		{
			// A command run without a shell; sh here only copies the
			// environment out, its script being fixed text.
			name: "Argv",
			cmd: func(out string) pipeline.Command {
				return pipeline.Command{Argv: []string{"/bin/sh", "-c", `for n in "$@"; do printenv "$n" > "$OUT/$n.env"; done; cp "$HOOKTRIGGER_VARS" "$OUT/vars.json"; cp "$HOOKTRIGGER_PAYLOAD" "$OUT/payload"`,
					"sh", "subst", "backtick", "semicolon", "andand", "newline", "pipe", "flag", "quotes", "glob", "junk", "big", "empty"},
					Env: map[string]string{"OUT": out}}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			traps := t.TempDir()
			out := t.TempDir()
			vars := hostile(traps)
			job := newJob(t)
			job.Vars = vars
			payload := append([]byte(vars["junk"]), "\x00$(touch "+filepath.Join(traps, "payload")+")"...)
			job.Payload = payload
			cmd := tt.cmd(out)
			res := pipeline.Execute(t.Context(), &cmd, job)
			if res.Outcome != pipeline.OutcomeSucceeded || len(res.FileOnly) != 0 {
				t.Fatalf("outcome %q file only %q (err %v); log:\n%s", res.Outcome, res.FileOnly, res.Err, mustRead(t, job.LogPath))
			}
			if job.Payload != nil {
				t.Error("Execute kept the payload in the job after writing its file")
			}
			for name, v := range vars {
				if got := mustRead(t, filepath.Join(out, name+".env")); string(got) != v+"\n" {
					t.Errorf("%s through the environment: got %d bytes %.60q, want %d bytes %.60q", name, len(got), got, len(v)+1, v+"\n")
				}
			}
			if got := mustRead(t, filepath.Join(out, "payload")); !bytes.Equal(got, payload) {
				t.Errorf("payload file differs: %d bytes, want %d", len(got), len(payload))
			}
			var fromJSON map[string]string
			if err := json.Unmarshal(mustRead(t, filepath.Join(out, "vars.json")), &fromJSON); err != nil {
				t.Fatal(err)
			}
			for name, v := range vars {
				if name != "junk" && fromJSON[name] != v { // junk is not UTF-8; JSON cannot hold it byte for byte
					t.Errorf("%s in vars.json: got %.60q, want %.60q", name, fromJSON[name], v)
				}
			}
			entries, err := os.ReadDir(traps)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				t.Errorf("a value ran a command: %s exists", e.Name())
			}
		})
	}
}

// Values too long for one environment string, or together too many for
// the exec, arrive in the files instead; the exec does not fail.
func TestExecute_OversizedVariables(t *testing.T) {
	t.Parallel()
	many := map[string]string{"small": "kept"}
	for i := range 40 {
		many["v"+strings.Repeat("x", i%3)+string(rune('a'+i%26))+string(rune('a'+i/26))] = strings.Repeat(string(rune('A'+i%26)), 60<<10)
	}
	tests := []struct {
		name         string
		vars         map[string]string
		wantFileOnly []string // exactly these; nil = check by size only
		minFileOnly  int
	}{
		{
			name:         "One200KiBValue",
			vars:         map[string]string{"changed": strings.Repeat("src/main.go,", 200<<10/12+1), "ref": "main"},
			wantFileOnly: []string{"changed"},
			minFileOnly:  1,
		},
		{
			name:         "JustOverOneString",
			vars:         map[string]string{"edge": strings.Repeat("e", 128<<10-len("edge=")), "fits": strings.Repeat("f", 128<<10-len("fits=")-1)},
			wantFileOnly: []string{"edge"},
			minFileOnly:  1,
		},
		{
			name:        "Forty60KiBValues",
			vars:        many,
			minFileOnly: 40 - (1<<20)/(60<<10),
		},
		{
			name:         "NULByte",
			vars:         map[string]string{"nul": "a\x00b"},
			wantFileOnly: []string{"nul"},
			minFileOnly:  1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			job := newJob(t)
			job.Vars = tt.vars
			env, notes, res := runEnv(t, &pipeline.Command{}, job)
			if tt.wantFileOnly != nil && !slices.Equal(res.FileOnly, tt.wantFileOnly) {
				t.Errorf("FileOnly = %q, want %q", res.FileOnly, tt.wantFileOnly)
			}
			if len(res.FileOnly) < tt.minFileOnly {
				t.Errorf("%d variables by file only, want at least %d", len(res.FileOnly), tt.minFileOnly)
			}
			if got := env["HOOKTRIGGER_FILE_ONLY_VARS"]; got != strings.Join(res.FileOnly, " ") {
				t.Errorf("HOOKTRIGGER_FILE_ONLY_VARS = %q, want %q", got, strings.Join(res.FileOnly, " "))
			}
			if len(notes) == 0 || !strings.Contains(notes[0], "file only") || !strings.HasSuffix(notes[0], ": "+strings.Join(res.FileOnly, " ")+"]") {
				t.Errorf("first log line %q does not name %q", notes, res.FileOnly)
			}
			var fromJSON map[string]string
			if err := json.Unmarshal(mustRead(t, env["HOOKTRIGGER_VARS"]), &fromJSON); err != nil {
				t.Fatal(err)
			}
			for name, v := range tt.vars {
				if fromJSON[name] != v && !strings.ContainsRune(v, 0) {
					t.Errorf("%s: vars.json holds %d bytes, want %d", name, len(fromJSON[name]), len(v))
				}
				fileOnly := slices.Contains(res.FileOnly, name)
				if e, ok := env[name]; fileOnly == ok || (ok && e != v) {
					t.Errorf("%s: in env %v (%d bytes), file only %v", name, ok, len(e), fileOnly)
				}
				got, err := os.ReadFile(filepath.Join(env["HOOKTRIGGER_VARS_DIR"], name))
				if fileOnly && string(got) != v {
					t.Errorf("%s: vars/%s holds %d bytes (err %v), want %d", name, name, len(got), err, len(v))
				}
				if !fileOnly && err == nil {
					t.Errorf("%s: in the environment and in vars/", name)
				}
			}
		})
	}
}

// BuildEnv never produces an environment execve would refuse.
func TestBuildEnv_Limits(t *testing.T) {
	t.Parallel()
	vars := map[string]string{}
	for i := range 500 {
		vars["v"+strings.Repeat("_", i%7)+string(rune('a'+i%26))+string(rune('a'+i/26%26))] = strings.Repeat("z", (i*7919)%(140<<10))
	}
	job := &pipeline.Job{Vars: vars}
	env, fileOnly := pipeline.BuildEnv(&pipeline.Command{Script: "true"}, job, "/run/vars.json", "/run/payload")
	total := 0
	for _, kv := range env {
		if len(kv)+1 > 128<<10 {
			t.Errorf("entry of %d bytes over MAX_ARG_STRLEN", len(kv)+1)
		}
		total += len(kv) + 1 + 8
	}
	if total > 1<<20 {
		t.Errorf("environment of %d bytes, over the 1 MiB budget", total)
	}
	m := envMap(t, env)
	if len(fileOnly) == 0 || m["HOOKTRIGGER_FILE_ONLY_VARS"] != strings.Join(fileOnly, " ") {
		t.Errorf("file only %d names; env says %.80q", len(fileOnly), m["HOOKTRIGGER_FILE_ONLY_VARS"])
	}
	for name := range vars {
		_, inEnv := m[name]
		if inEnv == slices.Contains(fileOnly, name) {
			t.Errorf("%s: in env %v, in file-only list %v", name, inEnv, !inEnv)
		}
	}
	if !slices.IsSorted(env) || !slices.IsSorted(fileOnly) {
		t.Error("output not sorted")
	}
}

// FuzzBuildEnv checks the environment's invariants for any variables:
// execve accepts it, no name appears twice, hooktrigger's entries cannot
// be forged, and each file-only variable is really absent.
func FuzzBuildEnv(f *testing.F) {
	f.Add("ref", "refs/heads/main", uint16(1), uint32(0))
	f.Add("HOOKTRIGGER_RUN_ID", "forged", uint16(3), uint32(0))
	f.Add("big", "x", uint16(40), uint32(60<<10))
	f.Add("v", "a\x00b", uint16(2), uint32(130<<10))
	f.Fuzz(func(t *testing.T, name, value string, n uint16, pad uint32) {
		vars := map[string]string{name: value}
		value += strings.Repeat("p", int(pad%(200<<10)))
		for i := range int(n % 64) {
			vars[name+"_"+strings.Repeat("i", i)] = value
		}
		job := &pipeline.Job{Vars: vars, Meta: map[string]string{"RUN_ID": "42"}}
		env, fileOnly := pipeline.BuildEnv(&pipeline.Command{Argv: []string{"true"}}, job, "/r/vars.json", "/r/payload")
		total := 0
		for _, kv := range env {
			if strings.IndexByte(kv, 0) >= 0 || len(kv)+1 > 128<<10 {
				t.Fatalf("entry execve refuses: %.40q (%d bytes)", kv, len(kv))
			}
			total += len(kv) + 1 + 8
		}
		if total > 1<<20 {
			t.Fatalf("environment of %d bytes", total)
		}
		m := envMap(t, env)
		if m["HOOKTRIGGER_RUN_ID"] != "42" || m["HOOKTRIGGER_VARS"] != "/r/vars.json" || m["HOOKTRIGGER_PAYLOAD"] != "/r/payload" {
			t.Fatalf("hooktrigger entries overridden: %q %q %q", m["HOOKTRIGGER_RUN_ID"], m["HOOKTRIGGER_VARS"], m["HOOKTRIGGER_PAYLOAD"])
		}
		// The list names every file-only variable, or, past 64 KiB, the
		// first ones whole and " ..." (the log names them all).
		list, all := m["HOOKTRIGGER_FILE_ONLY_VARS"], strings.Join(fileOnly, " ")
		cut, ok := strings.CutSuffix(list, " ...")
		if list != all && !(ok && len(list) <= 64<<10 && (cut == "" || strings.HasPrefix(all+" ", cut+" "))) {
			t.Fatalf("HOOKTRIGGER_FILE_ONLY_VARS = %.200q…, FileOnly = %.200q…", list, all)
		}
		for _, k := range fileOnly {
			if _, ok := vars[k]; !ok {
				t.Fatalf("file-only %q is no variable", k)
			}
			if _, ok := m[k]; ok {
				t.Fatalf("file-only %q is in the environment", k)
			}
		}
	})
}

// Thousands of variables: the list of file-only names is itself bounded,
// ending in " ..." when cut, and Result.FileOnly still has them all.
func TestBuildEnv_ManyVariables(t *testing.T) {
	t.Parallel()
	vars := map[string]string{}
	for i := range 30000 {
		vars["var_"+strings.Repeat("x", i%5)+"_"+strconv.Itoa(i)] = strings.Repeat("v", 100)
	}
	env, fileOnly := pipeline.BuildEnv(&pipeline.Command{Script: "true"}, &pipeline.Job{Vars: vars}, "/r/vars.json", "/r/payload")
	m := envMap(t, env)
	total := 0
	for _, kv := range env {
		total += len(kv) + 1 + 8
	}
	list := m["HOOKTRIGGER_FILE_ONLY_VARS"]
	if total > 1<<20 || len(list) > 64<<10 {
		t.Errorf("environment %d bytes, file-only list %d bytes", total, len(list))
	}
	if !strings.HasSuffix(list, " ...") || !strings.HasPrefix(strings.Join(fileOnly, " "), strings.TrimSuffix(list, " ...")+" ") {
		t.Errorf("list %.60q … %q is not a cut of FileOnly", list, list[max(0, len(list)-30):])
	}
	byFile := make(map[string]bool, len(fileOnly))
	for _, k := range fileOnly {
		byFile[k] = true
	}
	for name := range vars {
		if _, ok := m[name]; ok == byFile[name] {
			t.Fatalf("%s: in env %v and in FileOnly %v", name, ok, !ok)
		}
	}
}
