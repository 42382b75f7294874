package sqlite

import (
	"context"
	"database/sql"
	"strconv"

	"github.com/hooktrigger/hooktrigger/store"
)

// SetMaxPageCount caps the database's size, so tests can fill it.
func SetMaxPageCount(db *DB, pages int) error {
	return db.write(context.Background(), func(tx *sql.Tx) error {
		_, err := tx.Exec(`PRAGMA max_page_count = ` + strconv.Itoa(pages))
		return err
	})
}

// PageCount is the database's size in pages.
func PageCount(db *DB) (int, error) {
	var n int
	err := db.r.QueryRow(`PRAGMA page_count`).Scan(&n)
	return n, err
}

// DeliveriesWithBodies lists every delivery, bodies included, from one query.
func DeliveriesWithBodies(db *DB) ([]*store.Delivery, error) {
	return db.deliveries(context.Background(), true, `ORDER BY id`)
}
