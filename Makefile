# ringwatch: the front door. `make run` and `make test` are the two commands
# a new machine needs; each installs what is missing first.
BUILD      ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
SOAK_SECONDS ?= 600
JOBS       ?= 2
DB         ?= ringwatch.db
DEMO_ACCOUNTS ?= 20000
LISTEN     ?= 127.0.0.1:8080

.PHONY: all build install build-asan build-tsan build-fuzz run test fuzz soak bench ops-check fmt fmt-check clean deps help

all: build

deps:
	@scripts/install-deps build

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# The binary to $(PREFIX)/bin, its man page to share/man/man1 and the
# commented default settings to etc/ringwatch/ringwatch.conf.
PREFIX ?= /usr/local
install: build
	@cmake --install $(BUILD) --prefix $(PREFIX)

build-asan:
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DRW_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)

# ThreadSanitizer (gcc): the binary and the concurrency test program only.
build-tsan:
	@cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS_DEBUG="-g -O1" -DRW_TSAN=ON >/dev/null
	@cmake --build $(TSAN_BUILD) -j $(JOBS) --target tsan_online

# libFuzzer targets (clang, ASan+UBSan), the libraries they need and no more.
build-fuzz:
	@CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS_DEBUG="-g -O1" -DRW_FUZZ=ON >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzzers

run: build
	@scripts/run-demo $(BUILD)/ringwatch $(DB) $(DEMO_ACCOUNTS) $(LISTEN)

test:
	@scripts/install-deps test
	@$(MAKE) --no-print-directory build
	@$(MAKE) --no-print-directory build-asan
	@$(MAKE) --no-print-directory build-tsan
	@$(MAKE) --no-print-directory build-fuzz
	@echo "== tests (release build)"
	@cd $(BUILD) && ctest --output-on-failure -j 1
	@echo "== tests (ASan+UBSan build)"
	@cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    ctest --output-on-failure -j 1
	@echo "== concurrency tests (ThreadSanitizer build)"
	@cd $(TSAN_BUILD) && TSAN_OPTIONS=halt_on_error=0:second_deadlock_stack=1 ctest --output-on-failure -j 1
	@echo "== fuzzing, 20 s per target"
	@scripts/fuzz $(FUZZ_BUILD) 20

# Each fuzz target for FUZZ_SECONDS (default 60) on its corpus; new inputs
# stay in $(FUZZ_BUILD)/fuzz-corpus, crashes go to $(FUZZ_BUILD)/fuzz-artifacts.
fuzz:
	@scripts/install-deps test
	@$(MAKE) --no-print-directory build-fuzz
	@scripts/fuzz $(FUZZ_BUILD) $(FUZZ_SECONDS)

# Mixed load over loopback for SOAK_SECONDS (default 600); not part of `make test`.
soak:
	@scripts/install-deps soak
	@$(MAKE) --no-print-directory build
	@scripts/soak $(BUILD)/ringwatch $(SOAK_SECONDS)

bench:
	@scripts/install-deps bench
	@$(MAKE) --no-print-directory build
	@bench/run $(BUILD)

# deploy/'s files through the tools that read them: promtool (Debian's
# prometheus, installed by `scripts/install-deps ops`) checks and unit-tests
# the alert rules; systemd-analyze verifies the unit (pointed at the built
# binary, as verify wants ExecStart to exist).
ops-check: build
	@scripts/install-deps ops
	@promtool check rules deploy/prometheus/ringwatch-alerts.yml
	@cd deploy/prometheus && promtool test rules ringwatch-alerts.test.yml
	@sed "s#/usr/local/bin/ringwatch#$(abspath $(BUILD))/ringwatch#" deploy/systemd/ringwatch.service > $(BUILD)/ringwatch.service
	@systemd-analyze verify --man=no $(BUILD)/ringwatch.service && echo "systemd-analyze verify: ringwatch.service ok"

fmt:
	@clang-format -i $$(git ls-files '*.c' '*.h')

fmt-check:
	@clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) $(TSAN_BUILD)

help:
	@echo "make run           build, seed a demo world, serve it on LISTEN (default 127.0.0.1:8080)"
	@echo "make test          release, ASan+UBSan, TSan and fuzz builds; every test; 20 s of fuzzing per target"
	@echo "make build         release binary at $(BUILD)/ringwatch"
	@echo "make install       build, then install the binary, ringwatch(1) and ringwatch.conf under PREFIX (/usr/local)"
	@echo "make fuzz          each libFuzzer target for FUZZ_SECONDS (default 60): executions and coverage"
	@echo "make soak          SOAK_SECONDS (default 600) of mixed load: served, 5xx, p99, RSS start and end"
	@echo "make bench         benchmarks beside their ceilings"
	@echo "make ops-check     promtool and systemd-analyze on deploy/ (installs prometheus: about 100 MB)"
	@echo "make fmt           clang-format every source"
