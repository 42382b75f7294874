# hooktrigger — see README.md.
GO      ?= go
BIN     ?= bin/hooktrigger
CONFIG  ?= examples/quickstart/hooktrigger.yaml
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
FUZZTIME ?= 60s

.PHONY: all build run test bench fuzz lint clean screenshots

all: build

build:
	CGO_ENABLED=0 $(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/hooktrigger

# Serve the quick-start example with the embedded SQLite store under ./data.
run: build
	cd examples/quickstart && ../../$(BIN) serve --config hooktrigger.yaml

test: lint
	CGO_ENABLED=0 $(GO) test -count=1 -timeout 20m ./...
	# A short real fuzz of the fast path against the full JSONPath path
	# (counted executions, not a deadline); make fuzz runs it long.
	CGO_ENABLED=0 $(GO) test -run '^$$' -fuzz '^FuzzSingularFastPath$$' -fuzztime 3000x ./extract/

bench: build
	$(GO) run ./cmd/hookbench -out bench-out

# Rewrite docs/screenshots from the browser tests (needs Chromium).
screenshots:
	HOOKTRIGGER_UPDATE_SCREENSHOTS=1 HOOKTRIGGER_TEST_CHROMIUM=$${HOOKTRIGGER_TEST_CHROMIUM:-/usr/bin/chromium} \
	  CGO_ENABLED=0 $(GO) test -count=1 -run 'TestUI' ./cmd/hooktrigger/

# Long fuzzing of every fuzz target, FUZZTIME each.
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

lint:
	@out=$$(gofmt -l .); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf bin bench-out
