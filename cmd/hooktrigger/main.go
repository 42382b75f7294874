// Command hooktrigger turns repository webhooks into build runs.
//
//	hooktrigger serve   --config FILE
//	hooktrigger check   --config FILE
//	hooktrigger extract --config FILE --trigger NAME --payload FILE [--header 'K: V']... [--query k=v]...
//	hooktrigger replay  --config FILE DELIVERY-ID
//	hooktrigger version
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
