// Package sqlite is hooktrigger's embedded store: one SQLite file in WAL mode
// with synchronous=FULL, written by a single goroutine that commits the
// writes arriving together in one transaction (group commit), so durability
// costs one fsync per batch, not per delivery.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	msqlite "modernc.org/sqlite" // the pure-Go SQLite driver
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/hooktrigger/hooktrigger/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// maxBatch bounds how many writes share one transaction.
const maxBatch = 256

// writerBusyMillis is how long a write waits for a lock held by another
// process before the store reports itself unavailable: well inside the 10
// seconds GitHub waits for an answer, so the sender sees a 503 and retries.
const writerBusyMillis = 4000

// DB is a store.Store backed by a SQLite file.
type DB struct {
	path   string
	w      *sql.DB // the single writer connection
	r      *sql.DB // readers
	ckpt   *sql.DB // the background checkpointer's connection
	ops    chan *op
	closed chan struct{}
	done   chan struct{}

	ckptDone chan struct{}

	// Statements of the hot path, prepared once on the writer connection
	// (parsing SQL was a tenth of an ingest's CPU).
	dupStmt, deliveryStmt, chunkStmt, runStmt, updateRunStmt *sql.Stmt

	// CommitHook, when set before use, is called after every commit with
	// the batch size and the commit's duration (for metrics).
	CommitHook func(n int, d time.Duration)
}

const (
	dupSQL = `SELECT id FROM deliveries WHERE path = ? AND sender_id = ?`
	// deliverySQL inserts nothing when the path already has a delivery of
	// the same sender id (the partial unique index deliveries_sender):
	// Record then reads the original, and the usual case costs no query.
	deliverySQL = `INSERT INTO deliveries (id, path, sender_id, provider, event, action, received_at, remote_addr, headers, body, body_size, decisions, body_chunks)
		VALUES (?, ?, NULLIF(?, ''), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`
	chunkSQL = `INSERT INTO delivery_chunks (delivery_id, seq, data) VALUES (?, ?, ?)`
	// updateRunSQL is UpdateRun's statement for the common case of one
	// expected current state (a run's start and its end, twice per run).
	updateRunSQL  = updateRunBase + ` AND state IN (?)`
	updateRunBase = `UPDATE runs SET state = ?, started_at = ?, ended_at = ?, exit_code = ?, signal = ?, error = ?, instance = ?, attempt = ?,
		notify_pending = COALESCE(NULLIF(?, ''), notify_pending) WHERE id = ?`
	runSQL = `INSERT INTO runs (id, delivery_id, trigger, state, grp, vars, meta, created_at, started_at, ended_at, exit_code, signal, error, instance, attempt, status_note)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
)

// prepare prepares the hot-path statements on the writer connection.
func (db *DB) prepare() error {
	var err error
	for _, p := range []struct {
		dst **sql.Stmt
		sql string
	}{{&db.dupStmt, dupSQL}, {&db.deliveryStmt, deliverySQL}, {&db.chunkStmt, chunkSQL}, {&db.runStmt, runSQL}, {&db.updateRunStmt, updateRunSQL}} {
		if *p.dst, err = db.w.Prepare(p.sql); err != nil {
			return err
		}
	}
	return nil
}

var (
	_ store.Store   = (*DB)(nil)
	_ store.Ordered = (*DB)(nil)
)

type op struct {
	fn   func(tx *sql.Tx) error
	done chan error
}

// Open opens (creating if needed) the database at path and applies the
// embedded migrations.
func Open(path string) (*DB, error) {
	// Commit with fdatasync, as SQLite built by its configure script does
	// on Linux: the library keeps the amalgamation's fsync, which on ext4
	// also forces the file's timestamps through the journal at every
	// commit. fdatasync still syncs the data and the size needed to read
	// them back, so a commit is as durable. Where the call does not exist
	// the library says so and fsync stays.
	_, _ = msqlite.Fdatasync(true)
	// Pages stay at SQLite's 4 KiB. 16 KiB pages (asked for here until the
	// driver began to sort the _pragma list, which put journal_mode before
	// page_size and left them at 4 KiB) halve the write system calls of an
	// ingest but double its bytes and make the file half as large again,
	// for no measurable gain.
	dsn := "file:" + filepath.ToSlash(path) + "?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(" + strconv.Itoa(writerBusyMillis) + ")&_pragma=foreign_keys(1)&_pragma=wal_autocheckpoint(0)&_txlock=immediate"
	w, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	if err := migrate(w); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: migrate %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", "file:"+filepath.ToSlash(path)+"?_pragma=busy_timeout(10000)&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	r.SetMaxOpenConns(8)
	r.SetMaxIdleConns(8)
	db := &DB{path: path, w: w, r: r, ops: make(chan *op, 4096), closed: make(chan struct{}), done: make(chan struct{})}
	if err := db.prepare(); err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("sqlite: prepare: %w", err)
	}
	ck, err := sql.Open("sqlite", "file:"+filepath.ToSlash(path)+"?_pragma=busy_timeout("+strconv.Itoa(writerBusyMillis)+")")
	if err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	ck.SetMaxOpenConns(1)
	db.ckpt = ck
	db.ckptDone = make(chan struct{})
	go db.writer()
	go db.checkpointer()
	return db, nil
}

func migrate(db *sql.DB) error {
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return err
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		v, err := strconv.Atoi(strings.SplitN(filepath.Base(name), "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migration %s: bad name", name)
		}
		var n int
		if err := db.QueryRow(`SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, v).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			continue
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		tx, err := db.Begin()
		if err != nil {
			return err
		}
		if _, err := tx.Exec(string(body)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %s: %w", name, err)
		}
		if _, err := tx.Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, v, time.Now().UnixNano()); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

// writer runs every write. It takes the first waiting write, gathers the
// others already waiting, runs them in one transaction (each under its own
// savepoint, so one failing write does not undo the others) and answers each
// after the commit.
// checkpointInterval is how often the WAL is copied back into the
// database file.
const checkpointInterval = 250 * time.Millisecond

// checkpointer copies the WAL back into the database file from its own
// connection. SQLite would otherwise do it inside the commit that crosses
// 1,000 pages, and that commit (and every request waiting on it) would pay
// for writing and syncing the database file.
func (db *DB) checkpointer() {
	defer close(db.ckptDone)
	t := time.NewTicker(checkpointInterval)
	defer t.Stop()
	for {
		select {
		case <-db.closed:
			return
		case <-t.C:
			// PASSIVE never waits for the writer or readers; what it
			// cannot copy now it copies next time.
			_, _ = db.ckpt.Exec(`PRAGMA wal_checkpoint(PASSIVE)`)
		}
	}
}

func (db *DB) writer() {
	defer close(db.done)
	batch := make([]*op, 0, maxBatch)
	for {
		select {
		case <-db.closed:
			return
		case o := <-db.ops:
			batch = store.NextBatch(batch, o, db.ops, maxBatch)
		}
		db.commit(batch)
		// Drop the references: an op holds its delivery, body included.
		clear(batch)
	}
}

func (db *DB) commit(batch []*op) {
	start := time.Now()
	errs, err := db.runBatch(batch)
	switch {
	case err == nil:
	case len(batch) == 1 && !storageFailure(err):
		errs[0] = err // a single write's own error is its answer
	case storageFailure(err):
		// The storage itself failed (full, I/O, locked): SQLite may have
		// rolled the transaction back on its own, and nothing of the batch
		// is written.
		for i := range batch {
			errs[i] = unavailable(err)
		}
	default:
		// One write failed on its own (a constraint, a bad value) and the
		// batch was rolled back: run each write in a transaction of its
		// own, so that write fails alone and the others commit.
		for i := range batch {
			if _, err := db.runBatch(batch[i : i+1]); err != nil {
				if storageFailure(err) {
					err = unavailable(err)
				}
				errs[i] = err
			}
		}
	}
	if db.CommitHook != nil {
		db.CommitHook(len(batch), time.Since(start))
	}
	for i, o := range batch {
		o.done <- errs[i]
	}
}

func unavailable(err error) error {
	if errors.Is(err, store.ErrUnavailable) {
		return err
	}
	return fmt.Errorf("%w: %v", store.ErrUnavailable, err)
}

// runBatch runs the writes of batch in one transaction, without a
// savepoint per write (they cost a statement each on the hot path). When
// one fails, the transaction is rolled back and err says why.
func (db *DB) runBatch(batch []*op) (errs []error, err error) {
	errs = make([]error, len(batch))
	tx, err := db.w.Begin()
	if err != nil {
		return errs, fmt.Errorf("%w: begin: %v", store.ErrUnavailable, err)
	}
	for _, o := range batch {
		if err := o.fn(tx); err != nil {
			_ = tx.Rollback()
			return errs, err
		}
	}
	if err := tx.Commit(); err != nil {
		_ = tx.Rollback()
		return errs, fmt.Errorf("%w: commit: %v", store.ErrUnavailable, err)
	}
	return errs, nil
}

// storageFailure reports whether err comes from the storage rather than
// from the statement: after such an error SQLite may have rolled back the
// transaction on its own.
func storageFailure(err error) bool {
	if errors.Is(err, store.ErrUnavailable) {
		return true
	}
	var se *msqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_NOMEM, sqlite3.SQLITE_READONLY,
		sqlite3.SQLITE_INTERRUPT, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_FULL,
		sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PROTOCOL, sqlite3.SQLITE_NOTADB:
		return true
	}
	return false
}

// write runs fn in the writer and waits for its commit.
func (db *DB) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	o, err := db.submit(ctx, fn)
	if err != nil {
		return err
	}
	// Once queued, the write is waited for even if ctx ends: the caller
	// must learn whether it committed.
	return db.await(o)
}

// submit queues fn for the writer, which commits writes in the order they
// are queued.
func (db *DB) submit(ctx context.Context, fn func(tx *sql.Tx) error) (*op, error) {
	o := &op{fn: fn, done: make(chan error, 1)}
	select {
	case db.ops <- o:
		return o, nil
	case <-db.closed:
		return nil, fmt.Errorf("%w: closed", store.ErrUnavailable)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// await waits for a queued write's commit.
func (db *DB) await(o *op) error {
	select {
	case err := <-o.done:
		return err
	case <-db.done:
		return fmt.Errorf("%w: closed", store.ErrUnavailable)
	}
}

// Record implements store.Store.
func (db *DB) Record(ctx context.Context, d *store.Delivery, runs []*store.Run) (*store.Recorded, error) {
	rec := &store.Recorded{DeliveryID: d.ID, Runs: runs}
	// Everything that can be prepared outside the single writer is: its
	// time is what every delivery waiting to commit waits for.
	headers, _ := json.Marshal(d.Headers)
	decisions, _ := json.Marshal(d.Decisions)
	rows := make([]runRow, len(runs))
	for i, r := range runs {
		rows[i] = newRunRow(r)
	}
	body, chunks := d.Body, 0
	if len(body) > BodyChunk {
		body, chunks = nil, (len(d.Body)+BodyChunk-1)/BodyChunk
	}
	err := db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.Stmt(db.deliveryStmt).Exec(d.ID, d.Path, d.SenderID, d.Provider, d.Event, d.Action, d.ReceivedAt.UnixNano(), d.RemoteAddr, headers, body, len(d.Body), decisions, chunks)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err != nil {
				return err
			}
			// A redelivery: answer with the original and its runs.
			var orig string
			if err := tx.Stmt(db.dupStmt).QueryRow(d.Path, d.SenderID).Scan(&orig); err != nil {
				return err
			}
			rec.Duplicate = true
			rec.DeliveryID = orig
			rs, err := queryRuns(tx, `WHERE delivery_id = ? ORDER BY id`, orig)
			rec.Runs = rs
			return err
		}
		if chunks > 0 {
			ins := tx.Stmt(db.chunkStmt)
			for i := 0; i < chunks; i++ {
				if _, err := ins.Exec(d.ID, i, d.Body[i*BodyChunk:min(len(d.Body), (i+1)*BodyChunk)]); err != nil {
					return err
				}
			}
		}
		if len(rows) > 0 {
			ins := tx.Stmt(db.runStmt)
			for _, row := range rows {
				if _, err := ins.Exec(row...); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, wrap(err)
	}
	return rec, nil
}

// runRow is the arguments of runSQL for one run.
type runRow []any

func newRunRow(r *store.Run) runRow {
	vars, _ := json.Marshal(r.Vars)
	meta, _ := json.Marshal(r.Meta)
	return runRow{r.ID, r.DeliveryID, r.Trigger, string(r.State), r.Group, vars, meta, r.CreatedAt.UnixNano(), nanos(r.StartedAt), nanos(r.EndedAt),
		r.ExitCode, r.Signal, r.Error, r.Instance, r.Attempt, r.StatusNote}
}

func nanos(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixNano()
}

func wrap(err error) error {
	if err == nil || errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrNotFound) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%w: %v", store.ErrUnavailable, err)
}

// Delivery implements store.Store.
func (db *DB) Delivery(ctx context.Context, id string) (*store.Delivery, error) {
	ds, err := db.deliveries(ctx, true, `WHERE id = ?`, id)
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
	q, args := newestFirst(f.Limit, eq{"path = ?", f.Path}, eq{"event = ?", f.Event}, eq{"id < ?", f.Before})
	return db.deliveries(ctx, false, q, args...)
}

// live is the condition of the runs_live index (migration 2), which a
// query must repeat word for word for SQLite to use that index.
const live = `state IN ('queued', 'running')`

// eq is one condition of a listing; an empty value leaves it out.
type eq struct{ cond, value string }

// newestFirst builds the WHERE … ORDER BY id DESC LIMIT tail of a listing.
func newestFirst(n int, conds ...eq) (string, []any) {
	var where []string
	var args []any
	for _, c := range conds {
		if c.value != "" {
			where, args = append(where, c.cond), append(args, c.value)
		}
	}
	q := ""
	if len(where) > 0 {
		q = "WHERE " + strings.Join(where, " AND ")
	}
	return q + " ORDER BY id DESC LIMIT " + strconv.Itoa(limit(n)), args
}

func limit(n int) int {
	if n <= 0 || n > 1000 {
		return 100
	}
	return n
}

// BodyChunk is the size of the pieces a larger body is stored in
// (migration 6).
const BodyChunk = 1 << 20

func (db *DB) deliveries(ctx context.Context, withBody bool, where string, args ...any) ([]*store.Delivery, error) {
	body := "NULL"
	if withBody {
		body = "body"
	}
	rows, err := db.r.QueryContext(ctx, `SELECT id, path, COALESCE(sender_id, ''), provider, event, action, received_at, remote_addr, headers, `+body+`, body_size, decisions, body_chunks FROM deliveries `+where, args...)
	if err != nil {
		return nil, wrap(err)
	}
	defer rows.Close()
	var out []*store.Delivery
	chunked := map[*store.Delivery]int{}
	for rows.Next() {
		d := &store.Delivery{}
		var received int64
		var headers, decisions []byte
		// The body is taken as the driver hands it over, without the copy
		// that scanning into a []byte makes: the driver allocates every
		// blob it returns afresh (TestDB_DeliveryBodiesAreDistinct), and a
		// second copy of a 25 MB body is 25 MB more at the peak.
		var body sql.RawBytes
		var chunks int
		if err := rows.Scan(&d.ID, &d.Path, &d.SenderID, &d.Provider, &d.Event, &d.Action, &received, &d.RemoteAddr, &headers, &body, &d.BodySize, &decisions, &chunks); err != nil {
			return nil, wrap(err)
		}
		d.Body = body
		if withBody && chunks > 0 {
			chunked[d] = chunks
		}
		d.ReceivedAt = time.Unix(0, received).UTC()
		_ = json.Unmarshal(headers, &d.Headers)
		_ = json.Unmarshal(decisions, &d.Decisions)
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(err)
	}
	rows.Close()
	for d, n := range chunked {
		if d.Body, err = db.readChunks(ctx, d.ID, d.BodySize, n); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// readChunks reads back a body stored in n pieces, size bytes in all,
// into one slice.
func (db *DB) readChunks(ctx context.Context, id string, size, n int) ([]byte, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT data FROM delivery_chunks WHERE delivery_id = ? ORDER BY seq`, id)
	if err != nil {
		return nil, wrap(err)
	}
	defer rows.Close()
	body := make([]byte, 0, size)
	got := 0
	for rows.Next() {
		var data sql.RawBytes
		if err := rows.Scan(&data); err != nil {
			return nil, wrap(err)
		}
		body = append(body, data...)
		got++
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(err)
	}
	if got != n || len(body) != size {
		return nil, fmt.Errorf("sqlite: delivery %s: body stored in %d pieces of %d bytes in all, found %d of %d bytes", id, n, size, got, len(body))
	}
	return body, nil
}

const runColumns = `id, delivery_id, trigger, state, grp, vars, meta, created_at, started_at, ended_at, exit_code, signal, error, instance, attempt, status_note`

type querier interface {
	Query(query string, args ...any) (*sql.Rows, error)
}

func queryRuns(q querier, where string, args ...any) ([]*store.Run, error) {
	rows, err := q.Query(`SELECT `+runColumns+` FROM runs `+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.Run
	for rows.Next() {
		r := &store.Run{}
		var state string
		var vars, meta []byte
		var created int64
		var started, ended, exit sql.NullInt64
		if err := rows.Scan(&r.ID, &r.DeliveryID, &r.Trigger, &state, &r.Group, &vars, &meta, &created, &started, &ended, &exit, &r.Signal, &r.Error, &r.Instance, &r.Attempt, &r.StatusNote); err != nil {
			return nil, err
		}
		r.State = store.State(state)
		_ = json.Unmarshal(vars, &r.Vars)
		_ = json.Unmarshal(meta, &r.Meta)
		r.CreatedAt = time.Unix(0, created).UTC()
		if started.Valid {
			r.StartedAt = time.Unix(0, started.Int64).UTC()
		}
		if ended.Valid {
			r.EndedAt = time.Unix(0, ended.Int64).UTC()
		}
		if exit.Valid {
			c := int(exit.Int64)
			r.ExitCode = &c
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

type ctxQuerier struct {
	ctx context.Context
	db  *sql.DB
}

func (c ctxQuerier) Query(q string, args ...any) (*sql.Rows, error) {
	return c.db.QueryContext(c.ctx, q, args...)
}

// Run implements store.Store.
func (db *DB) Run(ctx context.Context, id string) (*store.Run, error) {
	rs, err := queryRuns(ctxQuerier{ctx, db.r}, `WHERE id = ?`, id)
	if err != nil {
		return nil, wrap(err)
	}
	if len(rs) == 0 {
		return nil, store.ErrNotFound
	}
	return rs[0], nil
}

// Runs implements store.Store.
func (db *DB) Runs(ctx context.Context, f store.RunFilter) ([]*store.Run, error) {
	state := eq{"state = ?", string(f.State)}
	if f.State == store.Queued || f.State == store.Running {
		state.cond += ` AND ` + live
	}
	q, args := newestFirst(f.Limit, eq{"trigger = ?", f.Trigger}, state,
		eq{"delivery_id = ?", f.Delivery}, eq{"id < ?", f.Before})
	rs, err := queryRuns(ctxQuerier{ctx, db.r}, q, args...)
	return rs, wrap(err)
}

// QueuedRuns implements store.Store.
func (db *DB) QueuedRuns(ctx context.Context) ([]*store.Run, error) {
	rs, err := queryRuns(ctxQuerier{ctx, db.r}, `WHERE state = 'queued' AND `+live+` ORDER BY id`)
	return rs, wrap(err)
}

// UpdateRun implements store.Store.
func (db *DB) UpdateRun(ctx context.Context, r *store.Run, from ...store.State) (bool, error) {
	fn, changed := db.updateRun(r, from)
	err := db.write(ctx, fn)
	return *changed, wrap(err)
}

// SubmitUpdateRun implements store.Ordered: ops are committed in the order
// they enter db.ops.
func (db *DB) SubmitUpdateRun(r *store.Run, from ...store.State) (wait func() (bool, error)) {
	fn, changed := db.updateRun(r, from)
	o, err := db.submit(context.Background(), fn)
	if err != nil {
		return func() (bool, error) { return false, err }
	}
	return func() (bool, error) {
		err := db.await(o)
		return *changed, wrap(err)
	}
}

// updateRun returns UpdateRun's write, with r's fields taken now, and where
// it reports whether a row changed.
func (db *DB) updateRun(r *store.Run, from []store.State) (func(tx *sql.Tx) error, *bool) {
	changed := new(bool)
	args := []any{string(r.State), nanos(r.StartedAt), nanos(r.EndedAt), r.ExitCode, r.Signal, r.Error, r.Instance, r.Attempt, r.OwedMark(), r.ID}
	for _, s := range from {
		args = append(args, string(s))
	}
	return func(tx *sql.Tx) error {
		var res sql.Result
		var err error
		switch len(from) {
		case 0:
			res, err = tx.Exec(updateRunBase, args...)
		case 1:
			res, err = tx.Stmt(db.updateRunStmt).Exec(args...)
		default:
			res, err = tx.Exec(updateRunBase+` AND state IN (`+strings.TrimSuffix(strings.Repeat("?,", len(from)), ",")+`)`, args...)
		}
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		*changed = n > 0
		return nil
	}, changed
}

// SetStatusNote implements store.Store.
func (db *DB) SetStatusNote(ctx context.Context, runID, note string) error {
	found := false
	err := db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(`UPDATE runs SET status_note = ? WHERE id = ?`, note, runID)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		found = n > 0
		return nil
	})
	if err != nil {
		return wrap(err)
	}
	if !found {
		return fmt.Errorf("%w: run %s", store.ErrNotFound, runID)
	}
	return nil
}

// InterruptRunning implements store.Store.
func (db *DB) InterruptRunning(ctx context.Context) ([]*store.Run, error) {
	var out []*store.Run
	err := db.write(ctx, func(tx *sql.Tx) error {
		rs, err := queryRuns(tx, `WHERE state = 'running' AND `+live+` ORDER BY id`)
		if err != nil {
			return err
		}
		now := time.Now().UnixNano()
		for _, r := range rs {
			if _, err := tx.Exec(`UPDATE runs SET state = 'interrupted', ended_at = ?, error = 'hooktrigger stopped while the run was executing' WHERE id = ?`, now, r.ID); err != nil {
				return err
			}
			r.State = store.Interrupted
			r.EndedAt = time.Unix(0, now).UTC()
		}
		out = rs
		return nil
	})
	return out, wrap(err)
}

// Prune implements store.Store.
func (db *DB) Prune(ctx context.Context, keepBodies, keepRuns time.Duration, maxRuns int) ([]string, error) {
	var pruned []string
	err := db.write(ctx, func(tx *sql.Tx) error {
		now := time.Now()
		if keepBodies > 0 {
			before := now.Add(-keepBodies).UnixNano()
			if _, err := tx.Exec(`DELETE FROM delivery_chunks WHERE delivery_id IN (SELECT id FROM deliveries WHERE received_at < ? AND body_chunks > 0)`, before); err != nil {
				return err
			}
			if _, err := tx.Exec(`UPDATE deliveries SET body = NULL, body_chunks = 0 WHERE received_at < ? AND (body IS NOT NULL OR body_chunks > 0)`, before); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(`DELETE FROM revoked_sessions WHERE expires_at < ?`, now.UnixNano()); err != nil {
			return err
		}
		var conds []string
		var args []any
		if keepRuns > 0 {
			conds, args = append(conds, `created_at < ?`), append(args, now.Add(-keepRuns).UnixNano())
		}
		if maxRuns > 0 {
			conds, args = append(conds, `id NOT IN (SELECT id FROM runs ORDER BY id DESC LIMIT ?)`), append(args, maxRuns)
		}
		if len(conds) == 0 {
			return nil
		}
		where := `WHERE state NOT IN ('queued', 'running') AND (` + strings.Join(conds, " OR ") + `)`
		rows, err := tx.Query(`SELECT id FROM runs `+where, args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			pruned = append(pruned, id)
		}
		rows.Close()
		_, err = tx.Exec(`DELETE FROM runs `+where, args...)
		return err
	})
	return pruned, wrap(err)
}

// SetStatusReported implements store.Store.
func (db *DB) SetStatusReported(ctx context.Context, id string, state store.State) error {
	return wrap(db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`UPDATE runs SET status_reported = ? WHERE id = ?`, string(state), id)
		return err
	}))
}

// StatusUnreported implements store.Store.
func (db *DB) StatusUnreported(ctx context.Context, triggers []string, since time.Time) ([]*store.Run, error) {
	if len(triggers) == 0 {
		return nil, nil
	}
	args := []any{since.UnixNano()}
	for _, t := range triggers {
		args = append(args, t)
	}
	rs, err := queryRuns(ctxQuerier{ctx, db.r}, `WHERE ended_at >= ? AND state NOT IN ('queued', 'running') AND status_reported <> state AND status_note = ''
		AND trigger IN (`+strings.TrimSuffix(strings.Repeat("?,", len(triggers)), ",")+`) ORDER BY id`, args...)
	return rs, wrap(err)
}

// SetNotifyPending implements store.Store.
func (db *DB) SetNotifyPending(ctx context.Context, id, instance string) error {
	return wrap(db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`UPDATE runs SET notify_pending = ? WHERE id = ?`, instance, id)
		return err
	}))
}

// TakeNotifyPending implements store.Store. One process writes the
// database, so every other owner is an earlier process.
func (db *DB) TakeNotifyPending(ctx context.Context, instance string) ([]*store.Run, error) {
	var rs []*store.Run
	err := db.write(ctx, func(tx *sql.Tx) error {
		var err error
		rs, err = queryRuns(tx, `WHERE notify_pending NOT IN ('', ?) AND state NOT IN ('queued', 'running') ORDER BY id`, instance)
		if err != nil {
			return err
		}
		_, err = tx.Exec(`UPDATE runs SET notify_pending = CASE WHEN state IN ('queued', 'running') THEN '' ELSE ? END
			WHERE notify_pending NOT IN ('', ?)`, instance, instance)
		return err
	})
	if err != nil {
		return nil, wrap(err)
	}
	return rs, nil
}

// RevokeSession implements store.Store.
func (db *DB) RevokeSession(ctx context.Context, id string, expires time.Time) error {
	return wrap(db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO revoked_sessions (id, expires_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING`, id, expires.UnixNano())
		return err
	}))
}

// SessionRevoked implements store.Store.
func (db *DB) SessionRevoked(ctx context.Context, id string) (bool, error) {
	var n int
	err := db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM revoked_sessions WHERE id = ?`, id).Scan(&n)
	return n > 0, wrap(err)
}

// Ping implements store.Store: it writes through the writer, as a delivery
// would, and checks that a page can still be allocated (then undoes that).
// Unlike other writes, it gives up waiting when ctx ends.
func (db *DB) Ping(ctx context.Context) error {
	o := &op{done: make(chan error, 1), fn: func(tx *sql.Tx) error {
		if _, err := tx.Exec(`UPDATE schema_migrations SET applied_at = applied_at WHERE version = 1`); err != nil {
			return err
		}
		if _, err := tx.Exec(`SAVEPOINT ping`); err != nil {
			return err
		}
		_, err := tx.Exec(`INSERT INTO deliveries (id, path, received_at, body) VALUES ('~ping', '', 0, zeroblob(16384))`)
		if _, rerr := tx.Exec(`ROLLBACK TO ping`); err == nil {
			err = rerr
		}
		_, _ = tx.Exec(`RELEASE ping`)
		if err != nil && !storageFailure(err) {
			err = fmt.Errorf("%w: %v", store.ErrUnavailable, err)
		}
		return err
	}}
	select {
	case db.ops <- o:
	case <-db.closed:
		return fmt.Errorf("%w: closed", store.ErrUnavailable)
	case <-ctx.Done():
		return fmt.Errorf("%w: %v", store.ErrUnavailable, ctx.Err())
	}
	select {
	case err := <-o.done:
		return wrap(err)
	case <-db.done:
		return fmt.Errorf("%w: closed", store.ErrUnavailable)
	case <-ctx.Done():
		return fmt.Errorf("%w: no answer: %v", store.ErrUnavailable, ctx.Err())
	}
}

// Close stops the writer and closes the database.
func (db *DB) Close() error {
	select {
	case <-db.closed:
		return nil
	default:
	}
	close(db.closed)
	<-db.done
	<-db.ckptDone
	_, _ = db.ckpt.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
	db.ckpt.Close()
	// Answer writes that were queued but never run.
	for {
		select {
		case o := <-db.ops:
			o.done <- fmt.Errorf("%w: closed", store.ErrUnavailable)
		default:
			for _, st := range []*sql.Stmt{db.dupStmt, db.deliveryStmt, db.chunkStmt, db.runStmt, db.updateRunStmt} {
				st.Close()
			}
			return errors.Join(db.r.Close(), db.w.Close())
		}
	}
}
