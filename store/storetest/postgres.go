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
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		tb.Fatalf("HOOKTRIGGER_TEST_POSTGRES is set but the server does not answer: %v", err)
	}
	defer admin.Close(ctx)
	name := "ht_" + strings.ToLower(store.NewID())
	if _, err := admin.Exec(ctx, `CREATE DATABASE `+name); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			return
		}
		defer c.Close(ctx)
		_, _ = c.Exec(ctx, `DROP DATABASE `+name+` WITH (FORCE)`)
	})
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}
