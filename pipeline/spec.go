package pipeline

import "time"

// Policy says how the runs of one concurrency group share time.
type Policy string

// The concurrency policies.
const (
	// PolicyParallel runs up to Spec.Max runs of a group at once (0 = no
	// bound but the instance's workers). It is the default.
	PolicyParallel Policy = "parallel"
	// PolicyQueue runs one run of a group at a time, first in first out.
	PolicyQueue Policy = "queue"
	// PolicyCancelPrevious makes a new run cancel the running and queued
	// runs of its group, then start once they have stopped.
	PolicyCancelPrevious Policy = "cancel-previous"
	// PolicySkipIfRunning records a new run as skipped while its group has
	// a run queued or running.
	PolicySkipIfRunning Policy = "skip-if-running"
)

// ValidPolicy reports whether p names a policy.
func ValidPolicy(p Policy) bool {
	switch p {
	case PolicyParallel, PolicyQueue, PolicyCancelPrevious, PolicySkipIfRunning:
		return true
	}
	return false
}

// Retry says when an attempt of a run is followed by another (run.retry).
// The run stays running, in its group, from its first attempt to its last;
// during the delay its worker serves other runs. Each attempt has the
// command's timeout.
type Retry struct {
	// Max is how many attempts may follow the first; attempts made after
	// an interruption (RetryInterrupted) count too. 0: no retry.
	Max      int
	Delay    time.Duration // from an attempt's end to the next one's start
	Failed   bool          // retry an attempt that failed (non-zero exit, killed, could not start)
	TimedOut bool          // retry an attempt that timed out
}

// Spec is a trigger's run block, compiled: what to execute and how runs of
// the trigger share time.
type Spec struct {
	Command          *Command
	GroupTemplate    string // rendered per delivery; "" = no group
	Policy           Policy
	Max              int
	QuietPeriod      time.Duration
	RetryInterrupted bool
	Retry            Retry
	// Wait is how long the HTTP answer to a delivery waits for the run to
	// end and carries its state, exit code and log (0: it does not wait).
	// The server's concern; the scheduler ignores it.
	Wait time.Duration
}
