# Set-up and entry points. Everything a fresh Debian 12 machine needs is
# installed here (as root, or through sudo), only when missing.

BUILD ?= build
MESON_OPTS ?=
# Build tools, libraries, and what the tests run (busybox-static; diod for
# the 9P interop tests; clang and its runtime for the libFuzzer target).
DEPS := gcc libc6-dev make meson ninja-build pkg-config python3 \
	libseccomp-dev libprotobuf-c-dev protobuf-c-compiler libunwind-dev \
	libcmocka-dev libjson-c-dev busybox-static util-linux \
	diod clang libclang-rt-dev

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps build demo check bench docs clean fuzz

all: build

deps:
	@missing=""; \
	for p in $(DEPS); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(BUILD)/build.ninja:
	meson setup $(BUILD) $(MESON_OPTS)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

demo: build
	@echo '$$ runsc do -- bash -c "ls /usr/bin | wc -l"   (Debian'"'"'s dynamic bash and coreutils)'
	@./$(BUILD)/runsc-cli/runsc do -- /bin/bash -c 'ls /usr/bin | wc -l'
	@echo '$$ runsc do -- python3 -c ...'
	@./$(BUILD)/runsc-cli/runsc do -- python3 -c 'import sys; print("python", sys.version.split()[0], "in the sandbox")'
	@echo '$$ runsc do --rw DIR -- bash -c "gcc -o DIR/hello DIR/hello.c && DIR/hello"'
	@d=$$(mktemp -d) && printf '#include <stdio.h>\nint main(void) { puts("hello from gcc in the sandbox"); return 0; }\n' > $$d/hello.c && \
		./$(BUILD)/runsc-cli/runsc do --rw $$d -- /bin/bash -c "gcc -o $$d/hello $$d/hello.c && $$d/hello"; \
		status=$$?; rm -rf $$d; exit $$status
	@echo '$$ seq 1 3 | runsc do -- busybox cat'
	@seq 1 3 | ./$(BUILD)/runsc-cli/runsc do -- /bin/busybox cat
	@echo '$$ runsc do --strace -- busybox true'
	@./$(BUILD)/runsc-cli/runsc do --strace -- /bin/busybox true

check: build
	@meson test -C $(BUILD) --print-errorlogs --num-processes 2 > $(BUILD)/test-output.txt 2>&1; \
	status=$$?; cat $(BUILD)/test-output.txt; \
	python3 tests/summary.py $(BUILD)/meson-logs/testlog.json || status=1; \
	exit $$status

bench: build
	ninja -C $(BUILD) bench

# The 9P decoder's, the ELF parser's and the seccomp filter checker's fuzz
# targets for FUZZ_SECONDS each (make check runs them 10 s).
FUZZ_SECONDS ?= 600
fuzz: build
	tests/fuzz/run-fuzz.sh $(BUILD)/tests/fuzz/fuzz-p9 $(FUZZ_SECONDS) \
		tests/fuzz/corpus $(BUILD)/tests/fuzz/artifacts
	tests/fuzz/run-fuzz-elf.sh $(BUILD)/tests/fuzz/fuzz-elf $(FUZZ_SECONDS) \
		$(BUILD)/tests/fuzz/artifacts-elf /bin/true \
		/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 /bin/busybox
	tests/fuzz/run-fuzz.sh $(BUILD)/tests/fuzz/fuzz-bpf $(FUZZ_SECONDS) \
		tests/fuzz/corpus-bpf $(BUILD)/tests/fuzz/artifacts-bpf

docs: build
	./$(BUILD)/sentry/syscalls-doc > docs/syscalls.md

clean:
	rm -rf $(BUILD)
