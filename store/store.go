// Package store defines where hooktrigger keeps deliveries and runs, and the
// vocabulary shared by its implementations: sqlite (embedded, the default)
// and postgres (several instances on one database).
//
// The promise every implementation keeps: when Record returns without error,
// the delivery and its runs are committed to stable storage, so the HTTP 2xx
// that follows never announces a delivery that a crash could lose.
package store

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"strings"
	"sync"
	"time"
)

// State is the state of a run.
type State string

// Run states. Queued and Running are live; the others are final.
const (
	Queued      State = "queued"
	Running     State = "running"
	Succeeded   State = "succeeded"
	Failed      State = "failed"
	TimedOut    State = "timed_out"
	Cancelled   State = "cancelled"
	Skipped     State = "skipped"
	Superseded  State = "superseded"
	Interrupted State = "interrupted"
)

// Final reports whether s is an end state.
func (s State) Final() bool { return s != Queued && s != Running }

// Errors returned by stores.
var (
	ErrNotFound    = errors.New("store: not found")
	ErrUnavailable = errors.New("store: unavailable")
	// ErrGroupBusy is returned by Shared.Claim when the run's concurrency
	// group is at its limit (on any instance): claim it again later.
	ErrGroupBusy = errors.New("store: concurrency group busy")
)

// Delivery is one accepted webhook request.
type Delivery struct {
	ID         string              `json:"id"`
	Path       string              `json:"path"`
	SenderID   string              `json:"sender_id,omitempty"` // the sender's delivery id, used to deduplicate
	Provider   string              `json:"provider,omitempty"`
	Event      string              `json:"event,omitempty"`
	Action     string              `json:"action,omitempty"`
	ReceivedAt time.Time           `json:"received_at"`
	RemoteAddr string              `json:"remote_addr,omitempty"`
	Headers    map[string][]string `json:"headers,omitempty"` // secrets redacted
	Body       []byte              `json:"-"`
	BodySize   int                 `json:"body_size"`
	Decisions  []Decision          `json:"decisions"`
}

// Decision records what one trigger made of a delivery.
type Decision struct {
	Trigger string            `json:"trigger"`
	Fired   bool              `json:"fired"`
	Reason  string            `json:"reason,omitempty"`
	RunID   string            `json:"run_id,omitempty"`
	Vars    map[string]string `json:"vars,omitempty"`
}

// Run is one execution of a trigger's command for a delivery.
type Run struct {
	ID         string            `json:"id"`
	DeliveryID string            `json:"delivery"`
	Trigger    string            `json:"trigger"`
	State      State             `json:"state"`
	Group      string            `json:"group,omitempty"`
	Vars       map[string]string `json:"vars,omitempty"`
	Meta       map[string]string `json:"meta,omitempty"`
	CreatedAt  time.Time         `json:"created_at"`
	StartedAt  time.Time         `json:"started_at,omitzero"`
	EndedAt    time.Time         `json:"ended_at,omitzero"`
	ExitCode   *int              `json:"exit_code,omitempty"`
	Signal     string            `json:"signal,omitempty"`
	Error      string            `json:"error,omitempty"`
	Instance   string            `json:"instance,omitempty"`
	Attempt    int               `json:"attempt"`
	StatusNote string            `json:"status_note,omitempty"`
	// NotifyPending, when set on the update that records a run's end (a
	// final state), marks its notifications as owed by that instance in the
	// same commit (see SetNotifyPending). Other updates, and an update with
	// it empty, leave the mark as it is. Runs read back from a store leave
	// it empty.
	NotifyPending string `json:"-"`
}

// OwedMark is the notify_pending an update of r writes: its NotifyPending
// when r's state is final, else "" (the column is kept).
func (r *Run) OwedMark() string {
	if !r.State.Final() {
		return ""
	}
	return r.NotifyPending
}

// Recorded is the outcome of Record.
type Recorded struct {
	Duplicate  bool   // the sender's delivery id was seen before on this path
	DeliveryID string // the stored delivery (the original one when Duplicate)
	Runs       []*Run // the runs of the stored delivery
}

// RunFilter selects runs for listing; zero fields select everything.
type RunFilter struct {
	Trigger  string
	State    State
	Delivery string
	Before   string // run id: list runs older than this one (paging)
	Limit    int
}

// DeliveryFilter selects deliveries for listing.
type DeliveryFilter struct {
	Path   string
	Event  string
	Before string
	Limit  int
}

// Store keeps deliveries and runs. Implementations are safe for concurrent
// use; every method returns ErrUnavailable (wrapped) when the storage cannot
// be reached or written.
type Store interface {
	// Record commits d and runs in one transaction. When d.SenderID is set
	// and a delivery with the same path and sender id exists, nothing is
	// written and the original is returned with Duplicate set.
	Record(ctx context.Context, d *Delivery, runs []*Run) (*Recorded, error)
	// Delivery returns the delivery with its body; ErrNotFound if none.
	Delivery(ctx context.Context, id string) (*Delivery, error)
	// Deliveries lists deliveries newest first, without bodies.
	Deliveries(ctx context.Context, f DeliveryFilter) ([]*Delivery, error)
	// Run returns one run; ErrNotFound if none.
	Run(ctx context.Context, id string) (*Run, error)
	// Runs lists runs newest first.
	Runs(ctx context.Context, f RunFilter) ([]*Run, error)
	// QueuedRuns lists queued runs oldest first.
	QueuedRuns(ctx context.Context) ([]*Run, error)
	// UpdateRun writes r's state, times, exit code, signal, error, instance
	// and attempt (not the status note: see SetStatusNote). When from is
	// given, the write happens only if the stored state is one of from; the
	// result says whether it happened.
	UpdateRun(ctx context.Context, r *Run, from ...State) (bool, error)
	// SetStatusNote writes the run's status note (why its commit status was
	// not reported) and nothing else, so it never races the scheduler's
	// state writes; ErrNotFound if the run does not exist.
	SetStatusNote(ctx context.Context, runID, note string) error
	// SetStatusReported records that the API accepted the commit status
	// of run id's final state.
	SetStatusReported(ctx context.Context, id string, state State) error
	// StatusUnreported lists the runs of triggers that reached a final
	// state since since, whose commit status for it was not accepted, and
	// that carry no status note (a note says why it failed for good).
	StatusUnreported(ctx context.Context, triggers []string, since time.Time) ([]*Run, error)
	// SetNotifyPending records that instance owes the notifications of run
	// id's end ("" : they are settled).
	SetNotifyPending(ctx context.Context, id, instance string) error
	// TakeNotifyPending makes instance the owner of the notifications owed
	// by others that can no longer send them, and returns those runs: in a
	// Shared store, the instances that are not alive; else every other
	// owner (an earlier process). Owed notifications of runs that are
	// queued or running again (re-queued after an interruption) are
	// settled instead, unsent.
	TakeNotifyPending(ctx context.Context, instance string) ([]*Run, error)
	// InterruptRunning marks every run left running as interrupted and
	// returns them (for crash recovery at start). A Shared store marks only
	// the runs of instances that are no longer alive.
	InterruptRunning(ctx context.Context) ([]*Run, error)
	// Prune deletes delivery bodies older than keepBodies, runs older than
	// keepRuns or beyond the newest maxRuns (zero = keep), and revoked
	// sessions past their expiry.
	Prune(ctx context.Context, keepBodies, keepRuns time.Duration, maxRuns int) (prunedRuns []string, err error)
	// RevokeSession records that the UI session id was signed out; it is
	// refused until expires, after which Prune forgets it.
	RevokeSession(ctx context.Context, id string, expires time.Time) error
	// SessionRevoked reports whether the UI session id was signed out.
	SessionRevoked(ctx context.Context, id string) (bool, error)
	// Ping checks that the storage answers.
	Ping(ctx context.Context) error
	// Close releases the storage.
	Close() error
}

// Ordered is implemented by a store whose writes commit in the order they
// are submitted (one writer, as the embedded store has). The scheduler uses
// it to record a run's end without waiting for the commit before the next
// run of the same worker is claimed: the claim, submitted later, commits in
// the same transaction or a later one, so the end is on disk before the
// next build starts.
type Ordered interface {
	// SubmitUpdateRun queues the write UpdateRun(ctx, r, from...) would
	// make, taking r's fields now, and returns without waiting; wait
	// returns the write's outcome once it is committed.
	SubmitUpdateRun(r *Run, from ...State) (wait func() (bool, error))
}

// Logs is implemented by a store that keeps run logs for every instance
// (postgres): the executing instance ships its log file there, and the
// others read it from there.
type Logs interface {
	// AppendLog stores data as run id's log from byte offset on; the
	// appends of a run are contiguous.
	AppendLog(ctx context.Context, id string, offset int64, data []byte) error
	// ResetLog forgets run id's stored log (a new attempt writes it anew).
	ResetLog(ctx context.Context, id string) error
	// ReadLog returns at most max bytes of run id's stored log from byte
	// offset on; none when nothing is stored there (yet).
	ReadLog(ctx context.Context, id string, offset int64, max int) ([]byte, error)
}

// Shared is implemented by stores that several instances use at once
// (postgres). The scheduler claims runs through it, so that each run executes
// on exactly one instance and concurrency groups hold across instances.
type Shared interface {
	Store
	// Claim moves r from queued to running on this instance (r.State,
	// r.StartedAt and r.Instance are written) if it is still queued and, when
	// r.Group is set and groupLimit > 0, fewer than groupLimit runs of the
	// group are running anywhere; with groupLimit 1 an older queued run of
	// the group also goes first. It reports false when the run is no longer
	// queued (another instance took it, or it was cancelled), and
	// ErrGroupBusy when the group must wait.
	Claim(ctx context.Context, r *Run, groupLimit int) (bool, error)
	// Orphans marks interrupted the runs left running by instances whose
	// heartbeat stopped, and returns them.
	Orphans(ctx context.Context) ([]*Run, error)
	// Wake receives a value when another instance may have recorded or
	// ended runs.
	Wake() <-chan struct{}
	// CancelRun asks the instance executing run id to stop it, and
	// reports false when the run is not running.
	CancelRun(ctx context.Context, id, reason string) (bool, error)
	// CancelGroup asks the other instances to stop the runs of group they
	// execute (cancel-previous across instances).
	CancelGroup(ctx context.Context, group, reason string) error
	// Cancels receives the requests of CancelRun and CancelGroup, from
	// every instance, this one included, as they are made.
	Cancels() <-chan CancelRequest
	// PendingCancels lists the requests made for runs this instance
	// executes: those a notification did not deliver are found this way.
	PendingCancels(ctx context.Context) ([]CancelRequest, error)
	// GroupBusy reports whether a run of group older than run id before
	// is queued or running on any instance (skip-if-running across
	// instances: the older run goes on, the newer one is skipped).
	GroupBusy(ctx context.Context, group, before string) (bool, error)
	// NewerInQuietPeriod returns the id of a run of r's trigger and group
	// recorded on any instance after r and at most quiet after it (the
	// run that supersedes r when r's quiet period ends), or "".
	NewerInQuietPeriod(ctx context.Context, r *Run, quiet time.Duration) (string, error)
}

// CancelRequest asks the instance executing run Run to stop it.
type CancelRequest struct {
	Run    string
	Reason string
}

var (
	idMu   sync.Mutex
	idLast uint64
)

// NewID returns a new unique id that sorts by creation time: 48 bits of
// milliseconds, a 16-bit sequence within the process, then 64 random bits,
// in Crockford base32 (26 characters).
func NewID() string {
	var b [16]byte
	ms := uint64(time.Now().UnixMilli())
	idMu.Lock()
	if ms <= idLast>>16 { // keep ids from one process strictly increasing
		idLast++
	} else {
		idLast = ms << 16
	}
	v := idLast
	idMu.Unlock()
	binary.BigEndian.PutUint64(b[:8], v)
	_, _ = rand.Read(b[8:])
	return encode(b)
}

// idDigits are the Crockford base32 digits of ids, lower case.
const idDigits = "0123456789abcdefghjkmnpqrstvwxyz"

// ValidID reports whether s has the shape of an id made by NewID.
func ValidID(s string) bool {
	if len(s) != 26 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(idDigits, s[i]) < 0 {
			return false
		}
	}
	return true
}

// encode writes 128 bits as 26 Crockford base32 digits.
func encode(b [16]byte) string {
	const digits = idDigits
	hi := binary.BigEndian.Uint64(b[:8])
	lo := binary.BigEndian.Uint64(b[8:])
	var out [26]byte
	for i := 25; i >= 0; i-- {
		out[i] = digits[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out[:])
}
