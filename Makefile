# twinleaf: build, test and package a Kea-compatible DHCPv4 server.
# `make test` is what CI runs (see .ci/run); `make demo` serves DHCP in a lab.

GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
# Debian versions must start with a digit; untagged builds sort before 0.1.0.
DEB_VERSION ?= 0.1.0~git$(shell git log -1 --format=%cd --date=format:%Y%m%d 2>/dev/null || echo 0).$(COMMIT)
LDFLAGS   := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
BIN       := bin
DIST      := dist
FUZZTIME  ?= 10s
STATICCHECK_VERSION := v0.8.2
STATICCHECK := $(BIN)/staticcheck

.PHONY: all build test unit integration test-kea cross-check lint fuzz bench cross deb image demo clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/...

# Unit tests run for anyone; the network-namespace suites need root.
test: build lint unit cross-check integration

unit:
	$(GO) test -count=1 ./...

# TWINLEAF_SUITES selects the suites run against twinleaf (a go test -run
# pattern). test-kea runs every suite against Kea 2.2 from Debian, so the
# suites' expectations are checked against the real thing.
TWINLEAF_SUITES ?= .

integration: build
	@if [ "$$(id -u)" = 0 ]; then \
		$(GO) test -count=1 -tags integration -timeout 20m -run '$(TWINLEAF_SUITES)' ./test/... && \
		$(MAKE) --no-print-directory test-kea ; \
	else \
		echo "skipped: test/ integration suites (real DHCP clients in network namespaces) need root"; \
		echo "skipped: root-only socket tests in pkg/netio report themselves as SKIP above"; \
	fi

test-kea:
	TWINLEAF_TEST_SERVER=kea $(GO) test -count=1 -tags integration -timeout 20m ./test/...

$(STATICCHECK):
	GOBIN=$(CURDIR)/$(BIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

lint: $(STATICCHECK)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt wants to change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags integration ./test/...
	$(STATICCHECK) ./...

# A short, bounded run of every fuzz target (FUZZTIME each).
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "== $$pkg $$f"; \
			$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

# Micro-benchmarks of the packages, then perfdhcp against twinleaf and Kea
# 2.2 in the same run, single servers and then hot-standby pairs (with
# failover time), then restart time and peak RSS with a large lease file
# (needs root; BENCH_FLAGS passes e.g. -rates or -period to perfbench,
# HABENCH_FLAGS e.g. -rates, -modes or -failovers to its pair run,
# RESTARTBENCH_FLAGS e.g. -runs or -rows to restartbench).
bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./pkg/...
	@if [ "$$(id -u)" = 0 ]; then $(GO) run ./test/perfbench $(BENCH_FLAGS); \
	else echo "bench: the perfdhcp comparison needs root (network namespaces)"; fi
	@if [ "$$(id -u)" = 0 ]; then $(GO) run ./test/perfbench -ha $(HABENCH_FLAGS); \
	else echo "bench: the HA pair comparison needs root (network namespaces)"; fi
	@if [ "$$(id -u)" = 0 ]; then $(GO) run ./test/restartbench $(RESTARTBENCH_FLAGS); \
	else echo "bench: the restart comparison needs root (network namespaces)"; fi

cross:
	@set -e; for t in amd64:amd64: arm64:arm64: armhf:arm:7; do \
		deb=$${t%%:*}; rest=$${t#*:}; goarch=$${rest%%:*}; goarm=$${rest#*:}; \
		echo "== linux/$$goarch $${goarm:+GOARM=$$goarm} -> $(DIST)/linux-$$deb"; \
		CGO_ENABLED=0 GOOS=linux GOARCH=$$goarch GOARM=$$goarm \
			$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(DIST)/linux-$$deb/ ./cmd/...; \
	done

# The ARM binaries really run: -V and -t on every shipped config, under
# qemu-user-static (installed by .ci/run).
cross-check: cross
	@set -e; for a in arm64:aarch64 armhf:arm; do \
		d=$${a%%:*}; q=qemu-$${a#*:}-static; \
		if ! command -v $$q >/dev/null; then echo "cross-check: $$q missing (apt-get install qemu-user-static)"; exit 1; fi; \
		$$q $(DIST)/linux-$$d/twinleaf-dhcp4 -V | head -1; \
		for f in configs/*.conf configs/lab/*.conf; do $$q $(DIST)/linux-$$d/twinleaf-dhcp4 -t $$f >/dev/null 2>&1 || { echo "$$d: -t $$f failed"; exit 1; }; done; \
		echo "cross-check: linux-$$d runs and accepts every config"; \
	done

# .deb packages for amd64, arm64 and armhf (nfpm from the Go module proxy).
deb: cross
	@set -e; for a in amd64 arm64 armhf; do bash packaging/build-deb.sh $$a $(DEB_VERSION); done

# Root file system overlays for a Raspberry Pi pair, per board and
# architecture, in dist/image (image/README.md). PAIR_FLAGS go to
# `twinleafctl pair init` when dist/image/pair does not exist yet.
image: build cross
	bash image/build.sh

# A real DHCP client gets a lease from twinleaf in a namespace lab (root).
demo: build
	bash test/demo.sh

clean:
	rm -rf $(BIN) $(DIST)
