# ringwatch: the front door. `make run` and `make test` are the two commands
# a new machine needs; each installs what is missing first.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= 2
DB         ?= ringwatch.db
DEMO_ACCOUNTS ?= 20000

.PHONY: all build build-asan run test bench fmt fmt-check clean deps

all: build

deps:
	@scripts/install-deps build

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

build-asan:
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DRW_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)

run: build
	@scripts/run-demo $(BUILD)/ringwatch $(DB) $(DEMO_ACCOUNTS)

test:
	@scripts/install-deps test
	@$(MAKE) --no-print-directory build
	@$(MAKE) --no-print-directory build-asan
	@echo "== tests (release build)"
	@cd $(BUILD) && ctest --output-on-failure -j 1
	@echo "== tests (ASan+UBSan build)"
	@cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    ctest --output-on-failure -j 1

bench:
	@scripts/install-deps bench
	@$(MAKE) --no-print-directory build
	@bench/run $(BUILD)

fmt:
	@clang-format -i $$(git ls-files '*.c' '*.h')

fmt-check:
	@clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz build-tsan
