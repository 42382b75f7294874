package pipeline

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// Names of the environment entries hooktrigger itself sets. They always win
// over anything of the same name from the parent, the variables or run.env.
const (
	EnvPayload      = "HOOKTRIGGER_PAYLOAD"        // path of the raw body
	EnvAttempt      = "HOOKTRIGGER_ATTEMPT"        // 1 for a run's first execution, 2 for its first retry …
	EnvVars         = "HOOKTRIGGER_VARS"           // path of the JSON object of all variables
	EnvVarsDir      = "HOOKTRIGGER_VARS_DIR"       // directory holding one file per variable
	EnvFileOnlyVars = "HOOKTRIGGER_FILE_ONLY_VARS" // space-separated names passed by file only
	// EnvChangedFiles is the path of a file listing the files the delivery
	// changed, one per line. Job.Meta carries the list under this name; the
	// environment gets the file's path instead, as a list can be longer
	// than one environment string may be.
	EnvChangedFiles = "HOOKTRIGGER_CHANGED_FILES"
)

// metaPrefix starts every name hooktrigger reserves for itself.
const metaPrefix = "HOOKTRIGGER_"

// defaultInheritEnv are the names a build takes from hooktrigger's own
// environment when Command.InheritEnv is nil.
var defaultInheritEnv = []string{"PATH", "HOME", "LANG", "TZ", "TMPDIR"}

// Linux limits on what execve accepts. One "NAME=value" string, with its
// NUL, may not exceed maxArgStrlen (MAX_ARG_STRLEN, 32 pages); all argv
// and envp strings and their pointers together may not exceed a quarter of
// the stack rlimit (at most 6 MiB, at least 128 KiB). hooktrigger keeps
// the environment within envBudget, well inside the usual 2 MiB, so that
// the build's own commands still have room to add to it.
const (
	maxArgStrlen = 32 * 4096
	envBudget    = 1 << 20
	minArgSpace  = 32 * 4096
	maxArgSpace  = 6 << 20
	ptrSize      = 8

	maxFileOnlyList = 64 << 10 // longest HOOKTRIGGER_FILE_ONLY_VARS
)

// unsafeVarNames are names a variable may never set in the environment,
// because they change how the dynamic loader or a shell behaves before the
// build's first line runs. A variable so named is still in the files.
var unsafeVarNames = map[string]bool{
	"PATH": true, "IFS": true, "ENV": true, "BASH_ENV": true, "CDPATH": true,
	"SHELLOPTS": true, "BASHOPTS": true, "PS4": true, "GLIBC_TUNABLES": true,
	"PERL5OPT": true, "PERL5LIB": true, "PYTHONSTARTUP": true, "PYTHONPATH": true,
	"PYTHONHOME": true, "NODE_OPTIONS": true, "RUBYOPT": true, "JAVA_TOOL_OPTIONS": true,
	"GIT_SSH_COMMAND": true, "GIT_EXEC_PATH": true, "GIT_CONFIG_GLOBAL": true,
	"HOME": true, "SHELL": true, "TMPDIR": true,
}

// validEnvName reports whether name matches [A-Za-z_][A-Za-z0-9_]*.
func validEnvName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '_', 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// validFileName reports whether name matches [A-Za-z0-9_]+, the names
// hooktrigger sanitises variables to, and so is safe as a file name.
func validFileName(name string) bool {
	return name != "" && validEnvName("_"+name)
}

// safeVarName reports whether a delivery variable named name may appear in
// the environment at all (it is in the files either way).
func safeVarName(name string) bool {
	return validEnvName(name) &&
		!strings.HasPrefix(name, metaPrefix) &&
		!strings.HasPrefix(name, "LD_") &&
		!strings.HasPrefix(name, "DYLD_") &&
		!strings.HasPrefix(name, "GIT_CONFIG_") &&
		!unsafeVarNames[name]
}

// VarsDir returns the directory, "vars" beside varsFile, in which Execute
// writes the value of each variable missing from the environment.
func VarsDir(varsFile string) string {
	return filepath.Join(filepath.Dir(varsFile), "vars")
}

// BuildEnv returns the child's environment, sorted by name, and the names
// of the variables passed through the files only because the environment
// could not hold them (sorted). varsFile and payloadFile are the paths
// given in HOOKTRIGGER_VARS and HOOKTRIGGER_PAYLOAD; an empty path leaves
// the entry (and HOOKTRIGGER_VARS_DIR, which is VarsDir(varsFile)) out.
// BuildEnv reads the parent environment but writes nothing; the precedence
// of the sources is described in the package documentation.
func BuildEnv(cmd *Command, job *Job, varsFile, payloadFile string) (env []string, fileOnly []string) {
	env, fileOnly, _ = buildEnv(cmd, job, varsFile, payloadFile)
	return env, fileOnly
}

// buildEnv is BuildEnv that also returns the names of the variables whose
// value is not in the environment under their name, for whatever reason
// (too large, a NUL, a refused or invalid name, run.env), as far as the
// names are [A-Za-z0-9_]+: Execute writes their values to VarsDir.
func buildEnv(cmd *Command, job *Job, varsFile, payloadFile string) (env, fileOnly, missing []string) {
	m := make(map[string]string)

	// 1. The parent's environment, by name only.
	inherit := cmd.InheritEnv
	if inherit == nil {
		inherit = defaultInheritEnv
	}
	all := false
	for _, n := range inherit {
		if n == "all" {
			all = true
		}
	}
	if all {
		for _, kv := range os.Environ() {
			k, v, ok := strings.Cut(kv, "=")
			// hooktrigger's own settings (HOOKTRIGGER_API_TOKEN …) stay
			// behind unless named one by one.
			if ok && validEnvName(k) && !strings.HasPrefix(k, metaPrefix) {
				m[k] = v
			}
		}
	}
	for _, k := range inherit {
		if k == "all" || !validEnvName(k) {
			continue
		}
		if v, ok := os.LookupEnv(k); ok {
			m[k] = v
		}
	}

	// 2. The delivery's variables are placed last, once the budget left by
	// everything else is known; remember which names they may take.
	// 3. run.env: admin config, overrides the parent and the variables.
	fixed := make(map[string]string) // names the variables may not take
	for k, v := range cmd.Env {
		if validEnvName(k) && !strings.ContainsRune(v, 0) {
			m[k] = v
			fixed[k] = v
		}
	}
	// 4. What hooktrigger sets: Meta, then the file paths. Never overridable.
	for k, v := range job.Meta {
		if !strings.HasPrefix(k, metaPrefix) {
			k = metaPrefix + k
		}
		if k == EnvChangedFiles {
			v = filepath.Join(filepath.Dir(varsFile), ChangedFilesFile)
		}
		if validEnvName(k) && !strings.ContainsRune(v, 0) {
			m[k] = v
		}
	}
	m[EnvAttempt] = strconv.Itoa(job.Attempt + 1)
	if payloadFile != "" {
		m[EnvPayload] = payloadFile
	}
	if varsFile != "" {
		m[EnvVars] = varsFile
		m[EnvVarsDir] = VarsDir(varsFile)
	}
	delete(m, EnvFileOnlyVars) // set below, once known

	// Size what is fixed so far, plus the command line.
	used := int64(0)
	for k, v := range m {
		used += entrySize(k, v)
	}
	for _, a := range commandArgv(cmd) {
		used += int64(len(a)) + 1 + ptrSize
	}
	budget := envSpace() - used

	// Variables: those that cannot be in the environment at all go to the
	// file only; the rest enter largest last, so that when the budget runs
	// out the few big values move to the file and the many small ones stay.
	type cand struct {
		k, v string
		size int64
	}
	var cands []cand
	for k, v := range job.Vars {
		if !safeVarName(k) {
			continue
		}
		if _, taken := fixed[k]; taken {
			continue // run.env sets it
		}
		if old, set := m[k]; set {
			// An inherited value (PATH, HOME … are refused above; others
			// such as LANG may be overridden by a variable).
			delete(m, k)
			budget += entrySize(k, old)
		}
		size := entrySize(k, v)
		if strings.ContainsRune(v, 0) || size-ptrSize > maxArgStrlen {
			fileOnly = append(fileOnly, k)
			continue
		}
		cands = append(cands, cand{k, v, size})
	}
	sort.Slice(cands, func(i, j int) bool {
		if cands[i].size != cands[j].size {
			return cands[i].size < cands[j].size
		}
		return cands[i].k < cands[j].k
	})
	// HOOKTRIGGER_FILE_ONLY_VARS needs room for every name that may end up
	// in it; reserve for the worst case, all candidate names.
	reserve := int64(0)
	for _, k := range fileOnly {
		reserve += int64(len(k)) + 1
	}
	for _, c := range cands {
		reserve += int64(len(c.k)) + 1
	}
	budget -= entrySize(EnvFileOnlyVars, "") + min(reserve, maxFileOnlyList)
	for _, c := range cands {
		if c.size <= budget {
			m[c.k] = c.v
			budget -= c.size
		} else {
			fileOnly = append(fileOnly, c.k)
		}
	}
	sort.Strings(fileOnly)
	m[EnvFileOnlyVars] = fileOnlyList(fileOnly)
	for k, v := range job.Vars {
		if validFileName(k) {
			if got, ok := m[k]; !ok || got != v {
				missing = append(missing, k)
			}
		}
	}

	env = make([]string, 0, len(m))
	for k, v := range m {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	return env, fileOnly, missing
}

// fileOnlyList is the value of HOOKTRIGGER_FILE_ONLY_VARS: the names,
// space-separated, cut at a name boundary and ended with " ..." when they
// would take more than maxFileOnlyList bytes (the log and VarsDir still
// name them all).
func fileOnlyList(names []string) string {
	var b strings.Builder
	for i, k := range names {
		if b.Len()+1+len(k)+len(" ...") > maxFileOnlyList {
			b.WriteString(" ...")
			break
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k)
	}
	return b.String()
}

// entrySize is what "k=v" costs in execve's argument space.
func entrySize(k, v string) int64 {
	return int64(len(k)+1+len(v)+1) + ptrSize
}

// envSpace is the room for argv plus envp: envBudget, or less when the
// stack rlimit leaves execve less. The limit is read again at most every
// envSpaceTTL: it changes only if someone runs prlimit on hooktrigger, and
// the system call costs every build start.
func envSpace() int64 {
	now := time.Now().UnixNano()
	if c := envSpaceCache.Load(); c != nil && now-c.at < int64(envSpaceTTL) {
		return c.space
	}
	space := int64(maxArgSpace)
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_STACK, &rl); err == nil && rl.Cur != ^uint64(0) {
		space = min(space, int64(rl.Cur/4))
	}
	space = max(space, minArgSpace)
	// Leave a quarter for what the kernel adds (auxv, filename) and for the
	// build to extend its own environment.
	space = min(envBudget, space*3/4)
	envSpaceCache.Store(&envSpaceReading{space: space, at: now})
	return space
}

const envSpaceTTL = 10 * time.Second

type envSpaceReading struct{ space, at int64 }

var envSpaceCache atomic.Pointer[envSpaceReading]

// commandArgv is the argv Execute passes to execve for cmd.
func commandArgv(cmd *Command) []string {
	if len(cmd.Argv) > 0 {
		return cmd.Argv
	}
	return []string{"/bin/sh", "-c", cmd.Script}
}
