package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hooktrigger/hooktrigger/store"
	msqlite "modernc.org/sqlite"
)

// floorCmd serves the least a durable ingest can do, as a reference point
// between the bare handler and hooktrigger: read the body, make it durable
// together with the bodies that arrived at the same time (group commit),
// answer 202 after that commit. -store file appends the bodies to one file
// and fdatasyncs it; -store sqlite inserts them into a SQLite table with the
// settings of hooktrigger's store (WAL, synchronous=FULL, fdatasync). No signature, no
// extraction, no decision: what is left is the storage and the HTTP.
func floorCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("floor", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address")
	kind := fs.String("store", "file", "file or sqlite")
	dir := fs.String("dir", "", "directory for the data (required)")
	fs.Parse(args)
	if *dir == "" {
		return fmt.Errorf("floor: -dir is required")
	}
	var commit func(bodies [][]byte) error
	switch *kind {
	case "file":
		f, err := os.OpenFile(filepath.Join(*dir, "bodies"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		var buf []byte
		commit = func(bodies [][]byte) error {
			buf = buf[:0]
			for _, b := range bodies {
				buf = strconv.AppendInt(buf, int64(len(b)), 10)
				buf = append(buf, '\n')
				buf = append(buf, b...)
			}
			if _, err := f.Write(buf); err != nil {
				return err
			}
			return syscall.Fdatasync(int(f.Fd()))
		}
	case "sqlite":
		_, _ = msqlite.Fdatasync(true) // as hooktrigger's store does
		db, err := sql.Open("sqlite", "file:"+filepath.Join(*dir, "floor.db")+"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate")
		if err != nil {
			return err
		}
		defer db.Close()
		db.SetMaxOpenConns(1)
		if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS deliveries (id TEXT PRIMARY KEY, received_at INTEGER NOT NULL, body BLOB)`); err != nil {
			return err
		}
		ins, err := db.Prepare(`INSERT INTO deliveries (id, received_at, body) VALUES (?, ?, ?)`)
		if err != nil {
			return err
		}
		var seq atomic.Int64
		commit = func(bodies [][]byte) error {
			tx, err := db.Begin()
			if err != nil {
				return err
			}
			defer tx.Rollback()
			stmt := tx.Stmt(ins)
			for _, b := range bodies {
				if _, err := stmt.Exec(strconv.FormatInt(seq.Add(1), 36), time.Now().UnixNano(), b); err != nil {
					return err
				}
			}
			return tx.Commit()
		}
	default:
		return fmt.Errorf("floor: -store must be file or sqlite")
	}

	type write struct {
		body []byte
		done chan error
	}
	writes := make(chan write, 4096)
	go func() {
		batch := make([]write, 0, 256)
		bodies := make([][]byte, 0, 256)
		for first := range writes {
			batch = store.NextBatch(batch, first, writes, 256)
			bodies = bodies[:0]
			for _, w := range batch {
				bodies = append(bodies, w.body)
			}
			err := commit(bodies)
			for _, w := range batch {
				w.done <- err
			}
		}
	}()

	return serveBaseline(ctx, *listen, func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		wr := write{body: body, done: make(chan error, 1)}
		writes <- wr
		if err := <-wr.done; err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		accepted(w)
	})
}
