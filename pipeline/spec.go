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

// Spec is a trigger's run block, compiled: what to execute and how runs of
// the trigger share time.
type Spec struct {
	Command          *Command
	GroupTemplate    string // rendered per delivery; "" = no group
	Policy           Policy
	Max              int
	QuietPeriod      time.Duration
	RetryInterrupted bool
	// Wait is how long the HTTP answer to a delivery waits for the run to
	// end and carries its state, exit code and log (0: it does not wait).
	// The server's concern; the scheduler ignores it.
	Wait time.Duration
}
