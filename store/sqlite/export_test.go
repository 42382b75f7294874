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

// BodyPieces says whether a delivery's body column is NULL and how many
// pieces of it delivery_chunks holds.
func BodyPieces(db *DB, id string) (null bool, pieces int, err error) {
	if err := db.r.QueryRow(`SELECT body IS NULL FROM deliveries WHERE id = ?`, id).Scan(&null); err != nil {
		return false, 0, err
	}
	err = db.r.QueryRow(`SELECT COUNT(*) FROM delivery_chunks WHERE delivery_id = ?`, id).Scan(&pieces)
	return null, pieces, err
}

// DropPiece deletes one piece of a delivery's body, as a damaged file would.
func DropPiece(db *DB, id string, seq int) error {
	return db.write(context.Background(), func(tx *sql.Tx) error {
		_, err := tx.Exec(`DELETE FROM delivery_chunks WHERE delivery_id = ? AND seq = ?`, id, seq)
		return err
	})
}
