// Command hookbench measures hooktrigger the same way every time, against a
// bare net/http handler on the same machine in the same run.
//
//	hookbench load -url URL -secret S [-n N] [-c C] [-size BYTES]   one load run, signed GitHub pushes
//	hookbench bare -listen ADDR                                     the baseline: read the body, answer 202
//	hookbench floor -store file|sqlite -dir DIR [-listen ADDR]      the durable floor: the baseline plus a group commit of the body
//	hookbench suite -bin bin/hooktrigger [-out DIR]                 everything; prints a markdown table
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	args := os.Args[1:]
	cmd := "suite"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "load":
		err = loadCmd(ctx, args)
	case "bare":
		err = bareCmd(ctx, args)
	case "floor":
		err = floorCmd(ctx, args)
	case "suite":
		err = suiteCmd(ctx, args)
	default:
		err = fmt.Errorf("unknown command %q (load, bare, floor, suite)", cmd)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "hookbench:", err)
		os.Exit(1)
	}
}

func loadCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("load", flag.ExitOnError)
	url := fs.String("url", "", "webhook URL")
	secret := fs.String("secret", "", "GitHub webhook secret")
	n := fs.Int("n", 10000, "deliveries")
	c := fs.Int("c", 32, "concurrency")
	size := fs.Int("size", 0, "body size in bytes (0: a typical 8.8 KB push)")
	fs.Parse(args)
	if *url == "" {
		return fmt.Errorf("load: -url is required")
	}
	body := PushPayload(*size)
	res, err := Load(ctx, LoadOptions{URL: *url, N: *n, C: *c, Body: body, Secret: *secret, IDPrefix: randomPrefix()})
	if err != nil {
		return err
	}
	fmt.Println(res)
	return nil
}

// bareCmd serves the baseline handler: it reads the whole body and answers
// 202 with a small JSON body, like hooktrigger does minus the work.
func bareCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bare", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address")
	fs.Parse(args)
	return serveBaseline(ctx, *listen, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		accepted(w)
	})
}

// accepted answers 202 with a small JSON body, as hooktrigger does.
func accepted(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write([]byte(`{"delivery":"x","runs":[]}` + "\n"))
}

// serveBaseline serves h on listen until ctx ends, printing the address
// the way hooktrigger does, for the suite to find.
func serveBaseline(ctx context.Context, listen string, h http.HandlerFunc) error {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	fmt.Printf("listening %s\n", ln.Addr())
	srv := &http.Server{Handler: h}
	go func() { <-ctx.Done(); srv.Close() }()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}
