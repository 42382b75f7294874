// Package postgres is hooktrigger's store for several instances sharing one
// PostgreSQL database (github.com/jackc/pgx/v5). It keeps the promises of
// package store — a Record that returns nil is committed, a sender's
// delivery id is recorded once — and implements store.Shared: runs are
// claimed atomically so each executes on exactly one instance, concurrency
// groups hold across instances, instances heartbeat so the runs of a dead one
// are marked interrupted by a live one, and LISTEN/NOTIFY wakes idle
// instances when runs are recorded or end.
//
// Deliveries arriving together are written by one goroutine in one
// transaction, sent as one pipelined batch (group commit).
package postgres

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hooktrigger/hooktrigger/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

const (
	// maxBatch bounds how many deliveries share one transaction.
	maxBatch = 256
	// channel is the LISTEN/NOTIFY channel.
	channel = "hooktrigger"
	// cancelChannel carries cancel requests: "RUN_ID REASON".
	cancelChannel = "hooktrigger_cancel"
	// migrateLock is the advisory lock key held while migrating, so that
	// instances starting together do not race ("hooktrig" in ASCII).
	migrateLock int64 = 0x686f6f6b74726967
)

// Options tune a DB. The zero value is usable.
type Options struct {
	// Instance names this process in the instances table and in claimed
	// runs; empty means no heartbeat (a tool, not a server).
	Instance string
	// Heartbeat is how often the instance's row is refreshed (default 2s).
	Heartbeat time.Duration
	// StaleAfter is how old a heartbeat may get before the instance counts
	// as dead and its running runs are interrupted (default 10s).
	StaleAfter time.Duration
}

// DB is a store.Shared backed by PostgreSQL. It is safe for concurrent use.
type DB struct {
	pool   *pgxpool.Pool
	opts   Options
	recs   chan *recOp
	closed chan struct{}
	done   chan struct{} // the writer has stopped
	bgCtx  context.Context
	bgStop context.CancelFunc
	bg     sync.WaitGroup
	wake   chan struct{}
	// cancels receives the cancel requests heard on cancelChannel.
	cancels chan store.CancelRequest
	once    sync.Once

	// CommitHook, when set before use, is called after every group commit
	// with the batch size and the commit's duration (for metrics).
	CommitHook func(n int, d time.Duration)
}

var (
	_ store.Shared = (*DB)(nil)
	_ store.Logs   = (*DB)(nil)
)

type recOp struct {
	d                  *store.Delivery
	runs               []*store.Run
	headers, decisions []byte
	vars, metas        [][]byte
	inserted           bool
	err                error
	done               chan struct{}
}

// Open connects to the database at url (a postgres:// URL), applies the
// embedded migrations under an advisory lock and, when opts.Instance is
// set, registers the instance and starts its heartbeat.
func Open(ctx context.Context, url string, opts Options) (*DB, error) {
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = 2 * time.Second
	}
	if opts.StaleAfter <= 0 {
		opts.StaleAfter = 10 * time.Second
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// Never echo the URL: it may hold a password that redaction misses.
		msg := "postgres: database: not a valid postgres:// URL"
		if inner := errors.Unwrap(err); inner != nil && !strings.Contains(inner.Error(), "@") {
			msg += ": " + inner.Error()
		}
		return nil, errors.New(msg)
	}
	if !strings.Contains(url, "pool_max_conns") && cfg.MaxConns < 16 {
		cfg.MaxConns = 16
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("%w: postgres: migrate: %v", store.ErrUnavailable, err)
	}
	db := &DB{pool: pool, opts: opts, recs: make(chan *recOp, 4096), closed: make(chan struct{}), done: make(chan struct{}), wake: make(chan struct{}, 1),
		cancels: make(chan store.CancelRequest, 256)}
	db.bgCtx, db.bgStop = context.WithCancel(context.Background())
	if opts.Instance != "" {
		if err := db.heartbeat(ctx); err != nil {
			pool.Close()
			return nil, fmt.Errorf("%w: postgres: register instance: %v", store.ErrUnavailable, err)
		}
		db.bg.Add(2)
		go db.heartbeatLoop()
		go db.listen()
	}
	go db.writer()
	return db, nil
}

func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrateLock); err != nil {
		return err
	}
	defer conn.Exec(context.Background(), `SELECT pg_advisory_unlock($1)`, migrateLock)
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`); err != nil {
		return err
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Slice(names, func(i, j int) bool { return version(names[i]) < version(names[j]) })
	for _, name := range names {
		v := version(name)
		if v <= 0 {
			return fmt.Errorf("migration %s: bad name", name)
		}
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM schema_migrations WHERE version = $1`, v).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			continue
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, string(body)); err != nil {
				return fmt.Errorf("migration %s: %w", name, err)
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, v)
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func version(name string) int {
	v, err := strconv.Atoi(strings.SplitN(path.Base(name), "_", 2)[0])
	if err != nil {
		return -1
	}
	return v
}

// wrap maps every error but the store's own sentinels and context errors
// to ErrUnavailable.
func wrap(err error) error {
	if err == nil || errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrGroupBusy) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%w: postgres: %v", store.ErrUnavailable, err)
}

func ts(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// Record implements store.Store. Concurrent calls share one transaction.
func (db *DB) Record(ctx context.Context, d *store.Delivery, runs []*store.Run) (*store.Recorded, error) {
	o := &recOp{d: d, runs: runs, done: make(chan struct{})}
	o.headers, _ = json.Marshal(d.Headers)
	o.decisions, _ = json.Marshal(d.Decisions)
	for _, r := range runs {
		v, _ := json.Marshal(r.Vars)
		m, _ := json.Marshal(r.Meta)
		o.vars, o.metas = append(o.vars, v), append(o.metas, m)
	}
	select {
	case db.recs <- o:
	case <-db.closed:
		return nil, fmt.Errorf("%w: closed", store.ErrUnavailable)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	// Once queued, the write is waited for even if ctx ends: the caller
	// must learn whether it committed.
	select {
	case <-o.done:
	case <-db.done:
		select {
		case <-o.done:
		default: // queued after the writer stopped: never written
			return nil, fmt.Errorf("%w: closed", store.ErrUnavailable)
		}
	}
	if o.err != nil {
		return nil, wrap(o.err)
	}
	if o.inserted || d.SenderID == "" {
		return &store.Recorded{DeliveryID: d.ID, Runs: runs}, nil
	}
	rec := &store.Recorded{Duplicate: true}
	if err := db.pool.QueryRow(ctx, `SELECT id FROM deliveries WHERE path = $1 AND sender_id = $2`, d.Path, d.SenderID).Scan(&rec.DeliveryID); err != nil {
		return nil, wrap(err)
	}
	rs, err := db.queryRuns(ctx, `WHERE delivery_id = $1 ORDER BY id`, rec.DeliveryID)
	if err != nil {
		return nil, err
	}
	rec.Runs = rs
	return rec, nil
}

// writer commits the deliveries waiting together in one transaction.
func (db *DB) writer() {
	defer close(db.done)
	batch := make([]*recOp, 0, maxBatch)
	for {
		select {
		case <-db.closed:
			for {
				select {
				case o := <-db.recs:
					o.err = fmt.Errorf("%w: closed", store.ErrUnavailable)
					close(o.done)
				default:
					return
				}
			}
		case o := <-db.recs:
			batch = store.NextBatch(batch, o, db.recs, maxBatch)
		}
		db.commit(batch)
		// Drop the references: an op holds its delivery, body included.
		clear(batch)
	}
}

func (db *DB) commit(batch []*recOp) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := db.insert(ctx, batch)
	if err != nil && len(batch) > 1 && statementError(err) {
		// One delivery's data was refused: write each on its own so the
		// others still commit.
		for _, o := range batch {
			o.err = db.insert(ctx, []*recOp{o})
		}
	} else {
		for _, o := range batch {
			o.err = err
		}
	}
	if err == nil && db.CommitHook != nil {
		db.CommitHook(len(batch), time.Since(start))
	}
	for _, o := range batch {
		if o.err != nil {
			o.inserted = false
		}
		close(o.done)
	}
}

// statementError reports whether err is about the data written (a
// constraint, a bad value), not about the database's availability.
func statementError(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (strings.HasPrefix(pe.Code, "22") || strings.HasPrefix(pe.Code, "23"))
}

// insert writes ops in one transaction, pipelined in one batch. A delivery
// whose (path, sender id) exists is not written, nor are its runs.
func (db *DB) insert(ctx context.Context, ops []*recOp) error {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.Background())
	b := &pgx.Batch{}
	notify := false
	for _, o := range ops {
		d := o.d
		b.Queue(`INSERT INTO deliveries (id, path, sender_id, provider, event, action, received_at, remote_addr, headers, body, body_size, decisions)
			VALUES ($1, $2, NULLIF($3, ''), $4, $5, $6, $7, $8, $9, $10, $11, $12)
			ON CONFLICT (path, sender_id) WHERE sender_id IS NOT NULL DO NOTHING`,
			d.ID, d.Path, d.SenderID, d.Provider, d.Event, d.Action, d.ReceivedAt, d.RemoteAddr, o.headers, d.Body, len(d.Body), o.decisions)
		for i, r := range o.runs {
			b.Queue(`INSERT INTO runs (id, delivery_id, trigger, state, grp, vars, meta, created_at, started_at, ended_at, exit_code, signal, error, instance, attempt, status_note)
				SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16
				WHERE EXISTS (SELECT 1 FROM deliveries WHERE id = $2)`,
				r.ID, r.DeliveryID, r.Trigger, string(r.State), r.Group, o.vars[i], o.metas[i], r.CreatedAt, ts(r.StartedAt), ts(r.EndedAt),
				r.ExitCode, r.Signal, r.Error, r.Instance, r.Attempt, r.StatusNote)
			notify = notify || r.State == store.Queued
		}
	}
	if notify {
		b.Queue(`SELECT pg_notify($1, 'recorded')`, channel)
	}
	br := tx.SendBatch(ctx, b)
	for _, o := range ops {
		tag, err := br.Exec()
		if err != nil {
			br.Close()
			return err
		}
		o.inserted = tag.RowsAffected() == 1
		for range o.runs {
			if _, err := br.Exec(); err != nil {
				br.Close()
				return err
			}
		}
	}
	if err := br.Close(); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

const deliveryColumns = `id, path, COALESCE(sender_id, ''), provider, event, action, received_at, remote_addr, headers, %s, body_size, decisions`

// Delivery implements store.Store.
func (db *DB) Delivery(ctx context.Context, id string) (*store.Delivery, error) {
	ds, err := db.deliveries(ctx, true, `WHERE id = $1`, id)
	if err != nil {
		return nil, err
	}
	if len(ds) == 0 {
		return nil, store.ErrNotFound
	}
	return ds[0], nil
}

// Deliveries implements store.Store.
func (db *DB) Deliveries(ctx context.Context, f store.DeliveryFilter) ([]*store.Delivery, error) {
	var w where
	if f.Path != "" {
		w.add("path = ", f.Path)
	}
	if f.Event != "" {
		w.add("event = ", f.Event)
	}
	if f.Before != "" {
		w.add("id < ", f.Before)
	}
	return db.deliveries(ctx, false, w.String()+" ORDER BY id DESC LIMIT "+strconv.Itoa(limit(f.Limit)), w.args...)
}

// where builds a WHERE clause with numbered placeholders.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, arg any) {
	w.args = append(w.args, arg)
	w.conds = append(w.conds, cond+"$"+strconv.Itoa(len(w.args)))
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return "WHERE " + strings.Join(w.conds, " AND ")
}

func limit(n int) int {
	if n <= 0 || n > 1000 {
		return 100
	}
	return n
}

func (db *DB) deliveries(ctx context.Context, withBody bool, tail string, args ...any) ([]*store.Delivery, error) {
	body := "NULL::bytea"
	if withBody {
		body = "body"
	}
	rows, err := db.pool.Query(ctx, `SELECT `+fmt.Sprintf(deliveryColumns, body)+` FROM deliveries `+tail, args...)
	if err != nil {
		return nil, wrap(err)
	}
	defer rows.Close()
	var out []*store.Delivery
	for rows.Next() {
		d := &store.Delivery{}
		var headers, decisions []byte
		if err := rows.Scan(&d.ID, &d.Path, &d.SenderID, &d.Provider, &d.Event, &d.Action, &d.ReceivedAt, &d.RemoteAddr, &headers, &d.Body, &d.BodySize, &decisions); err != nil {
			return nil, wrap(err)
		}
		d.ReceivedAt = d.ReceivedAt.UTC()
		_ = json.Unmarshal(headers, &d.Headers)
		_ = json.Unmarshal(decisions, &d.Decisions)
		out = append(out, d)
	}
	return out, wrap(rows.Err())
}

const runColumns = `id, delivery_id, trigger, state, grp, vars, meta, created_at, started_at, ended_at, exit_code, signal, error, instance, attempt, status_note`

func scanRuns(rows pgx.Rows) ([]*store.Run, error) {
	defer rows.Close()
	var out []*store.Run
	for rows.Next() {
		r := &store.Run{}
		var state string
		var vars, meta []byte
		var started, ended *time.Time
		var exit *int32
		if err := rows.Scan(&r.ID, &r.DeliveryID, &r.Trigger, &state, &r.Group, &vars, &meta, &r.CreatedAt, &started, &ended, &exit, &r.Signal, &r.Error, &r.Instance, &r.Attempt, &r.StatusNote); err != nil {
			return nil, wrap(err)
		}
		r.State = store.State(state)
		_ = json.Unmarshal(vars, &r.Vars)
		_ = json.Unmarshal(meta, &r.Meta)
		r.CreatedAt = r.CreatedAt.UTC()
		if started != nil {
			r.StartedAt = started.UTC()
		}
		if ended != nil {
			r.EndedAt = ended.UTC()
		}
		if exit != nil {
			c := int(*exit)
			r.ExitCode = &c
		}
		out = append(out, r)
	}
	return out, wrap(rows.Err())
}

func (db *DB) queryRuns(ctx context.Context, tail string, args ...any) ([]*store.Run, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+runColumns+` FROM runs `+tail, args...)
	if err != nil {
		return nil, wrap(err)
	}
	return scanRuns(rows)
}

// Run implements store.Store.
func (db *DB) Run(ctx context.Context, id string) (*store.Run, error) {
	rs, err := db.queryRuns(ctx, `WHERE id = $1`, id)
	if err != nil {
		return nil, err
	}
	if len(rs) == 0 {
		return nil, store.ErrNotFound
	}
	return rs[0], nil
}

// Runs implements store.Store.
func (db *DB) Runs(ctx context.Context, f store.RunFilter) ([]*store.Run, error) {
	var w where
	if f.Trigger != "" {
		w.add("trigger = ", f.Trigger)
	}
	if f.State != "" {
		w.add("state = ", string(f.State))
	}
	if f.Delivery != "" {
		w.add("delivery_id = ", f.Delivery)
	}
	if f.Before != "" {
		w.add("id < ", f.Before)
	}
	return db.queryRuns(ctx, w.String()+" ORDER BY id DESC LIMIT "+strconv.Itoa(limit(f.Limit)), w.args...)
}

// QueuedRuns implements store.Store.
func (db *DB) QueuedRuns(ctx context.Context) ([]*store.Run, error) {
	return db.queryRuns(ctx, `WHERE state = 'queued' ORDER BY id`)
}

// UpdateRun implements store.Store. A run that ends or is queued again
// wakes the other instances (a group may be free, a run may wait).
func (db *DB) UpdateRun(ctx context.Context, r *store.Run, from ...store.State) (bool, error) {
	// status_note is not written here: SetStatusNote owns it, and the
	// scheduler's copy of a run would erase a note on its next state.
	q := `UPDATE runs SET state = $1, started_at = $2, ended_at = $3, exit_code = $4, signal = $5, error = $6, instance = $7, attempt = $8,
		notify_pending = COALESCE(NULLIF($10, ''), notify_pending) WHERE id = $9`
	args := []any{string(r.State), ts(r.StartedAt), ts(r.EndedAt), r.ExitCode, r.Signal, r.Error, r.Instance, r.Attempt, r.ID, r.OwedMark()}
	if len(from) > 0 {
		states := make([]string, len(from))
		for i, s := range from {
			states[i] = string(s)
		}
		q += ` AND state = ANY($11)`
		args = append(args, states)
	}
	tag, err := db.pool.Exec(ctx, q, args...)
	if err != nil {
		return false, wrap(err)
	}
	changed := tag.RowsAffected() > 0
	if changed && r.State != store.Running {
		_, _ = db.pool.Exec(ctx, `SELECT pg_notify($1, 'ended')`, channel)
	}
	return changed, nil
}

// SetStatusNote implements store.Store.
func (db *DB) SetStatusNote(ctx context.Context, runID, note string) error {
	tag, err := db.pool.Exec(ctx, `UPDATE runs SET status_note = $1 WHERE id = $2`, note, runID)
	if err != nil {
		return wrap(err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: run %s", store.ErrNotFound, runID)
	}
	return nil
}

// InterruptRunning implements store.Store: with several instances on one
// database it interrupts the runs of instances that are not alive (no
// heartbeat within StaleAfter), never those of a live instance.
func (db *DB) InterruptRunning(ctx context.Context) ([]*store.Run, error) {
	rs, err := db.updateRuns(ctx, `UPDATE runs SET state = 'interrupted', ended_at = now(),
			error = 'the instance executing the run (' || instance || ') stopped'
		WHERE state = 'running' AND instance NOT IN (
			SELECT id FROM instances WHERE heartbeat_at > now() - make_interval(secs => $1))
		RETURNING `+runColumns, db.opts.StaleAfter.Seconds())
	if err != nil {
		return nil, err
	}
	if len(rs) > 0 {
		_, _ = db.pool.Exec(ctx, `SELECT pg_notify($1, 'ended')`, channel)
	}
	return rs, nil
}

// Orphans implements store.Shared.
func (db *DB) Orphans(ctx context.Context) ([]*store.Run, error) {
	rs, err := db.InterruptRunning(ctx)
	if err != nil {
		return nil, err
	}
	_, err = db.pool.Exec(ctx, `DELETE FROM instances WHERE heartbeat_at < now() - make_interval(secs => $1)`, 10*db.opts.StaleAfter.Seconds())
	return rs, wrap(err)
}

// Claim implements store.Shared. The group's running runs are counted under
// a transaction-scoped advisory lock on the group, so two instances cannot
// both see a free slot; the run itself is taken with FOR UPDATE SKIP LOCKED.
func (db *DB) Claim(ctx context.Context, r *store.Run, groupLimit int) (bool, error) {
	if r.StartedAt.IsZero() {
		r.StartedAt = time.Now()
	}
	claimed := false
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if r.Group != "" && groupLimit > 0 {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('hooktrigger group ' || $1))`, r.Group); err != nil {
				return err
			}
			var running int
			var older bool
			if err := tx.QueryRow(ctx, `SELECT count(*) FILTER (WHERE state = 'running'),
					coalesce(bool_or(state = 'queued' AND id < $2), false)
				FROM runs WHERE grp = $1 AND state IN ('queued', 'running')`, r.Group, r.ID).Scan(&running, &older); err != nil {
				return err
			}
			if running >= groupLimit || (groupLimit == 1 && older) {
				return store.ErrGroupBusy
			}
		}
		tag, err := tx.Exec(ctx, `UPDATE runs SET state = 'running', started_at = $2, instance = $3
			WHERE id = (SELECT id FROM runs WHERE id = $1 AND state = 'queued' FOR UPDATE SKIP LOCKED)`, r.ID, r.StartedAt, r.Instance)
		if err != nil {
			return err
		}
		claimed = tag.RowsAffected() == 1
		return nil
	})
	if err != nil {
		return false, wrap(err)
	}
	if claimed {
		r.State = store.Running
	}
	return claimed, nil
}

// Wake implements store.Shared.
func (db *DB) Wake() <-chan struct{} { return db.wake }

// Cancels implements store.Shared.
func (db *DB) Cancels() <-chan store.CancelRequest { return db.cancels }

// maxReason bounds a cancel reason in a notification (payloads are limited
// to 8,000 bytes).
const maxReason = 1000

// CancelRun implements store.Shared: the request is stored, and a
// notification reaches every instance; the one executing the run stops it.
func (db *DB) CancelRun(ctx context.Context, id, reason string) (bool, error) {
	n, err := db.requestCancel(ctx, reason, `id = $3`, id)
	return n > 0, err
}

// CancelGroup implements store.Shared.
func (db *DB) CancelGroup(ctx context.Context, group, reason string) error {
	_, err := db.requestCancel(ctx, reason, `grp = $3 AND instance <> $4`, group, db.opts.Instance)
	return err
}

// requestCancel stores a cancel request for each running run that where
// selects (its arguments from $3) and notifies the instances; it returns
// how many runs it asked to stop.
func (db *DB) requestCancel(ctx context.Context, reason, where string, args ...any) (int64, error) {
	tag, err := db.pool.Exec(ctx, `WITH req AS (
			INSERT INTO cancel_requests (run_id, attempt, reason)
			SELECT id, attempt, $2 FROM runs WHERE state = 'running' AND `+where+`
			ON CONFLICT (run_id, attempt) DO UPDATE SET reason = EXCLUDED.reason
			RETURNING run_id)
		SELECT pg_notify($1, run_id || ' ' || $2) FROM req`, append([]any{cancelChannel, cutReason(reason)}, args...)...)
	if err != nil {
		return 0, wrap(err)
	}
	return tag.RowsAffected(), nil
}

// GroupBusy implements store.Shared.
func (db *DB) GroupBusy(ctx context.Context, group, before string) (bool, error) {
	var busy bool
	err := db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM runs
		WHERE state IN ('queued', 'running') AND grp = $1 AND id < $2)`, group, before).Scan(&busy)
	return busy, wrap(err)
}

// NewerInQuietPeriod implements store.Shared.
func (db *DB) NewerInQuietPeriod(ctx context.Context, r *store.Run, quiet time.Duration) (string, error) {
	var id string
	err := db.pool.QueryRow(ctx, `SELECT id FROM runs
		WHERE trigger = $1 AND grp = $2 AND id <> $3 AND created_at > $4 AND created_at <= $5
		ORDER BY created_at DESC, id DESC LIMIT 1`, r.Trigger, r.Group, r.ID, r.CreatedAt, r.CreatedAt.Add(quiet)).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return id, wrap(err)
}

// PendingCancels implements store.Shared.
func (db *DB) PendingCancels(ctx context.Context) ([]store.CancelRequest, error) {
	rows, err := db.pool.Query(ctx, `SELECT c.run_id, c.reason FROM cancel_requests c
		JOIN runs r ON r.id = c.run_id AND r.attempt = c.attempt
		WHERE r.state = 'running' AND r.instance = $1`, db.opts.Instance)
	if err != nil {
		return nil, wrap(err)
	}
	reqs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.CancelRequest, error) {
		var c store.CancelRequest
		err := row.Scan(&c.Run, &c.Reason)
		return c, err
	})
	return reqs, wrap(err)
}

func cutReason(s string) string {
	if len(s) <= maxReason {
		return s
	}
	return strings.ToValidUTF8(s[:maxReason], "")
}

func (db *DB) heartbeat(ctx context.Context) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO instances (id, started_at, heartbeat_at) VALUES ($1, now(), now())
		ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()`, db.opts.Instance)
	return err
}

func (db *DB) heartbeatLoop() {
	defer db.bg.Done()
	t := time.NewTicker(db.opts.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-db.bgCtx.Done():
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(db.bgCtx, db.opts.Heartbeat)
		_ = db.heartbeat(ctx)
		cancel()
	}
}

// listen holds a connection that LISTENs on the channel and turns each
// notification into a wake-up, reconnecting after errors.
func (db *DB) listen() {
	defer db.bg.Done()
	for db.bgCtx.Err() == nil {
		if err := db.listenOnce(); err != nil && db.bgCtx.Err() == nil {
			select {
			case <-db.bgCtx.Done():
			case <-time.After(time.Second):
			}
		}
		db.poke() // a notification may have been missed
	}
}

func (db *DB) listenOnce() error {
	pc, err := db.pool.Acquire(db.bgCtx)
	if err != nil {
		return err
	}
	conn := pc.Hijack()
	defer conn.Close(context.Background())
	if _, err := conn.Exec(db.bgCtx, `LISTEN `+channel+`; LISTEN `+cancelChannel); err != nil {
		return err
	}
	for {
		n, err := conn.WaitForNotification(db.bgCtx)
		if err != nil {
			return err
		}
		if n.Channel != cancelChannel {
			db.poke()
			continue
		}
		id, reason, _ := strings.Cut(n.Payload, " ")
		select {
		case db.cancels <- store.CancelRequest{Run: id, Reason: reason}:
		case <-db.bgCtx.Done():
			return db.bgCtx.Err()
		}
	}
}

func (db *DB) poke() {
	select {
	case db.wake <- struct{}{}:
	default:
	}
}

// Prune implements store.Store.
func (db *DB) Prune(ctx context.Context, keepBodies, keepRuns time.Duration, maxRuns int) ([]string, error) {
	now := time.Now()
	if keepBodies > 0 {
		if _, err := db.pool.Exec(ctx, `UPDATE deliveries SET body = NULL WHERE received_at < $1 AND body IS NOT NULL`, now.Add(-keepBodies)); err != nil {
			return nil, wrap(err)
		}
	}
	if _, err := db.pool.Exec(ctx, `DELETE FROM revoked_sessions WHERE expires_at < $1`, now); err != nil {
		return nil, wrap(err)
	}
	var conds []string
	var args []any
	if keepRuns > 0 {
		args = append(args, now.Add(-keepRuns))
		conds = append(conds, `created_at < $`+strconv.Itoa(len(args)))
	}
	if maxRuns > 0 {
		args = append(args, maxRuns)
		conds = append(conds, `id NOT IN (SELECT id FROM runs ORDER BY id DESC LIMIT $`+strconv.Itoa(len(args))+`)`)
	}
	if len(conds) == 0 {
		return nil, nil
	}
	if _, err := db.pool.Exec(ctx, `DELETE FROM cancel_requests c WHERE NOT EXISTS
		(SELECT 1 FROM runs r WHERE r.id = c.run_id AND r.attempt = c.attempt AND r.state = 'running')`); err != nil {
		return nil, wrap(err)
	}
	rows, err := db.pool.Query(ctx, `DELETE FROM runs WHERE state NOT IN ('queued', 'running') AND (`+strings.Join(conds, " OR ")+`) RETURNING id`, args...)
	if err != nil {
		return nil, wrap(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return ids, wrap(err)
}

// SetStatusReported implements store.Store.
func (db *DB) SetStatusReported(ctx context.Context, id string, state store.State) error {
	_, err := db.pool.Exec(ctx, `UPDATE runs SET status_reported = $1 WHERE id = $2`, string(state), id)
	return wrap(err)
}

// StatusUnreported implements store.Store.
func (db *DB) StatusUnreported(ctx context.Context, triggers []string, since time.Time) ([]*store.Run, error) {
	if len(triggers) == 0 {
		return nil, nil
	}
	return db.queryRuns(ctx, `WHERE ended_at >= $1 AND state NOT IN ('queued', 'running') AND status_reported <> state AND status_note = ''
		AND trigger = ANY($2) ORDER BY id`, since, triggers)
}

// SetNotifyPending implements store.Store.
func (db *DB) SetNotifyPending(ctx context.Context, id, instance string) error {
	_, err := db.pool.Exec(ctx, `UPDATE runs SET notify_pending = $1 WHERE id = $2`, instance, id)
	return wrap(err)
}

// TakeNotifyPending implements store.Store: the owners it takes from are
// the instances without a heartbeat within StaleAfter. Each row is taken
// by one instance: the update locks it, and a second taker then finds a
// live owner.
func (db *DB) TakeNotifyPending(ctx context.Context, instance string) ([]*store.Run, error) {
	const dead = `notify_pending <> '' AND notify_pending <> $1 AND notify_pending NOT IN (
		SELECT id FROM instances WHERE heartbeat_at > now() - make_interval(secs => $2))`
	if _, err := db.pool.Exec(ctx, `UPDATE runs SET notify_pending = '' WHERE `+dead+` AND state IN ('queued', 'running')`,
		instance, db.opts.StaleAfter.Seconds()); err != nil {
		return nil, wrap(err)
	}
	return db.updateRuns(ctx, `UPDATE runs SET notify_pending = $1 WHERE `+dead+` AND state NOT IN ('queued', 'running')
		RETURNING `+runColumns, instance, db.opts.StaleAfter.Seconds())
}

// updateRuns runs an UPDATE … RETURNING runColumns and returns the runs
// it changed, in id order.
func (db *DB) updateRuns(ctx context.Context, sql string, args ...any) ([]*store.Run, error) {
	rows, err := db.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, wrap(err)
	}
	rs, err := scanRuns(rows)
	if err != nil {
		return nil, err
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].ID < rs[j].ID })
	return rs, nil
}

// AppendLog implements store.Logs.
func (db *DB) AppendLog(ctx context.Context, id string, offset int64, data []byte) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO run_logs (run_id, off, data) VALUES ($1, $2, $3)
		ON CONFLICT (run_id, off) DO UPDATE SET data = excluded.data`, id, offset, data)
	return wrap(err)
}

// ResetLog implements store.Logs.
func (db *DB) ResetLog(ctx context.Context, id string) error {
	_, err := db.pool.Exec(ctx, `DELETE FROM run_logs WHERE run_id = $1`, id)
	return wrap(err)
}

// ReadLog implements store.Logs.
func (db *DB) ReadLog(ctx context.Context, id string, offset int64, max int) ([]byte, error) {
	rows, err := db.pool.Query(ctx, `SELECT off, data FROM run_logs WHERE run_id = $1 AND off + length(data) > $2 ORDER BY off`, id, offset)
	if err != nil {
		return nil, wrap(err)
	}
	defer rows.Close()
	var out []byte
	next := offset
	for rows.Next() && len(out) < max {
		var off int64
		var data []byte
		if err := rows.Scan(&off, &data); err != nil {
			return nil, wrap(err)
		}
		if off > next { // not contiguous: stop at the gap
			break
		}
		data = data[next-off:]
		data = data[:min(len(data), max-len(out))]
		out = append(out, data...)
		next += int64(len(data))
	}
	return out, wrap(rows.Err())
}

// RevokeSession implements store.Store.
func (db *DB) RevokeSession(ctx context.Context, id string, expires time.Time) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO revoked_sessions (id, expires_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING`, id, expires)
	return wrap(err)
}

// SessionRevoked implements store.Store.
func (db *DB) SessionRevoked(ctx context.Context, id string) (bool, error) {
	var revoked bool
	err := db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM revoked_sessions WHERE id = $1)`, id).Scan(&revoked)
	return revoked, wrap(err)
}

// Ping implements store.Store: it writes, so a read-only or unreachable
// database fails it.
func (db *DB) Ping(ctx context.Context) error {
	_, err := db.pool.Exec(ctx, `UPDATE schema_migrations SET applied_at = applied_at WHERE version = 1`)
	if err != nil {
		return fmt.Errorf("%w: postgres: %v", store.ErrUnavailable, err)
	}
	return nil
}

// Close stops the writer, the heartbeat and the listener, removes the
// instance's row and closes the pool.
func (db *DB) Close() error {
	db.once.Do(func() {
		close(db.closed)
		<-db.done
		db.bgStop()
		db.bg.Wait()
		if db.opts.Instance != "" {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, _ = db.pool.Exec(ctx, `DELETE FROM instances WHERE id = $1`, db.opts.Instance)
			cancel()
		}
		db.pool.Close()
	})
	return nil
}
