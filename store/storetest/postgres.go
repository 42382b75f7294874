package storetest

import (
	"context"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/hooktrigger/hooktrigger/store"
)

// PostgresDatabase creates an empty database on the server named by
// HOOKTRIGGER_TEST_POSTGRES, drops it when tb ends, and returns its URL. It
// skips tb when the variable is unset (.ci/run starts a server and sets it).
func PostgresDatabase(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv("HOOKTRIGGER_TEST_POSTGRES")
	if base == "" {
		tb.Skip("HOOKTRIGGER_TEST_POSTGRES is not set (postgres://user@127.0.0.1:port/db); .ci/run starts a PostgreSQL server and sets it")
	}
	u, drop, err := CreateDatabase(context.Background(), base, "ht_")
	if err != nil {
		tb.Fatalf("HOOKTRIGGER_TEST_POSTGRES is set, but: %v", err)
	}
	tb.Cleanup(drop)
	return u
}

// CreateDatabase creates an empty database named prefix plus a new id on
// the server of base (a postgres:// URL whose user may create databases)
// and returns its URL and what drops it.
func CreateDatabase(ctx context.Context, base, prefix string) (string, func(), error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", nil, err
	}
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", nil, err
	}
	defer admin.Close(ctx)
	name := prefix + strings.ToLower(store.NewID())
	if _, err := admin.Exec(ctx, `CREATE DATABASE `+name); err != nil {
		return "", nil, err
	}
	drop := func() {
		c, err := pgx.Connect(context.Background(), base)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), `DROP DATABASE `+name+` WITH (FORCE)`)
	}
	u.Path = "/" + name
	return u.String(), drop, nil
}
