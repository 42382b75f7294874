// Package pipeline runs builds: the run model, the scheduler with its
// concurrency policies, and the process executor, Execute, described here.
//
// # Execution
//
// Execute starts a trigger's command (Command) for one delivery (Job) and
// waits for it. Command.Argv is executed directly; Command.Script is run as
// "/bin/sh -c SCRIPT". Payload values never become part of a command line:
// they reach the build only through its environment and through files.
//
// Each build runs in a process group of its own. On timeout or
// cancellation the group gets SIGTERM and, after Command.KillGrace
// (default 10s), SIGKILL, so grandchildren that ignore SIGTERM die too.
// Processes a build leaves behind after its main process exits are stopped
// the same way. The child gets SIGKILL if hooktrigger dies (Linux
// Pdeathsig). This file set is Linux-only.
//
// Stdout and stderr share one pipe, so their lines keep their order in the
// log file, which is written as output arrives and can be read during the
// run. Past Command.MaxLog (default 10 MiB) output is read and dropped and
// one line "[hooktrigger: log truncated at N bytes]" is written. Lines of
// hooktrigger's own in the log start with "[hooktrigger: ".
//
// # Files
//
// Execute writes into Job.RunDir (mode 0700), each file mode 0600:
//
//	payload     the raw request body, byte for byte   ($HOOKTRIGGER_PAYLOAD)
//	vars.json   a JSON object of all variables          ($HOOKTRIGGER_VARS)
//	vars/NAME   the value, byte for byte, of each variable that is not in
//	            the environment under its own name     ($HOOKTRIGGER_VARS_DIR)
//
// vars.json is valid JSON, so bytes of a value that are not UTF-8 become
// U+FFFD there; the environment and vars/NAME hold the exact bytes. The
// vars directory exists only when it has files (a variable named other than
// [A-Za-z0-9_]+ is in vars.json only). Not every variable gets a file,
// because GWT-style flattening can make hundreds of them per delivery.
//
// # Environment
//
// The child's environment is built from these sources, later ones winning:
//
//  1. hooktrigger's own environment, by name: Command.InheritEnv, or
//     PATH HOME LANG TZ TMPDIR when it is nil; an empty list inherits
//     nothing, and "all" inherits everything except HOOKTRIGGER_* names
//     (hooktrigger's own settings such as HOOKTRIGGER_API_TOKEN), which
//     are inherited only when named. A secret such as SECRET_TOKEN in
//     hooktrigger's environment is therefore absent by default.
//  2. the delivery's variables (Job.Vars). A variable never sets a
//     HOOKTRIGGER_* name, nor one that changes how the loader or a shell
//     behaves before the build runs (PATH, HOME, TMPDIR, SHELL, IFS, ENV,
//     BASH_ENV, LD_*, GLIBC_TUNABLES, GIT_CONFIG_* …): such variables are
//     in the files only, as are variables with names that are not valid
//     environment names. Other inherited names (LANG, TZ …) a variable may
//     override.
//  3. run.env (Command.Env): the administrator's literal values; they
//     override inherited names and variables.
//  4. hooktrigger's entries, which nothing overrides: Job.Meta (the keys
//     are given the HOOKTRIGGER_ prefix if they lack it), then
//     HOOKTRIGGER_ATTEMPT (Job.Attempt+1), HOOKTRIGGER_PAYLOAD,
//     HOOKTRIGGER_VARS, HOOKTRIGGER_VARS_DIR and HOOKTRIGGER_FILE_ONLY_VARS.
//
// Linux refuses an exec whose single environment string exceeds 128 KiB or
// whose argv and environment together exceed a quarter of the stack limit
// ("Argument list too long"). Execute keeps the environment under 1 MiB
// (less when the stack limit is small): a variable that is too long, holds
// a NUL byte, or no longer fits is left out of the environment, the largest
// first. Such variables are still in the files. HOOKTRIGGER_FILE_ONLY_VARS
// lists them, space-separated; it is set, empty, when there are none, and
// past 64 KiB the list is cut and ends in " ...". Result.FileOnly reports
// them and the log's first line names them. A script reads one so:
//
//	ref=${ref-$(cat "$HOOKTRIGGER_VARS_DIR/ref")}
package pipeline
