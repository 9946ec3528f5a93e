# llava-eval — one plain Makefile.
#   make            builds ./llava-eval
#   make test       builds and runs every test; last line "N passed, N failed, N skipped"
#   make asan       builds ./llava-eval-asan and runs the whole suite under ASan + UBSan
# Sources are found by wildcard: a new module is a new .c/.h pair, a new test a tests/test_*.c.

PKGS    := sqlite3 libcjson libcurl openblas
CC      ?= gcc
OPT     ?= -O2 -g
WARN    := -Wall -Wextra -Wshadow -Wno-unused-parameter
CFLAGS  := -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) -pthread -ffp-contract=off \
           $(shell pkg-config --cflags $(PKGS) stb) -I. $(EXTRA_CFLAGS)
LDLIBS  := $(shell pkg-config --libs $(PKGS)) -lm -pthread

BUILD   ?= build
BIN     ?= llava-eval

LIB_SRC := $(wildcard engine/*.c) $(wildcard datasets/*.c) $(wildcard metrics/*.c) \
           $(wildcard reports/*.c) $(filter-out harness/main.c,$(wildcard harness/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
MAIN_OBJ := $(BUILD)/harness/main.o
TEST_SRC := $(wildcard tests/test_*.c)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES := $(FUZZ_SRC:tests/fuzz/fuzz_%.c=%)
# Each fuzz target also builds as a plain "replay" test over its corpus folder.
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%) $(FUZZ_NAMES:%=$(BUILD)/tests/replay_%)
TESTLIB_OBJ := $(BUILD)/tests/testlib.o

.PHONY: all test asan clean tests-bin fuzz bench demo bench-reuse
.SECONDARY:
all: $(BIN)

$(BIN): $(MAIN_OBJ) $(LIB_OBJ)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/tests/test_%: tests/test_%.c $(TESTLIB_OBJ) $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -o $@ $< $(TESTLIB_OBJ) $(LIB_OBJ) $(LDLIBS)

$(BUILD)/tests/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DFUZZ_TARGET='"$*"' -o $@ tests/fuzz/fuzz_$*.c tests/fuzz/replay.c $(LIB_OBJ) $(LDLIBS)

tests-bin: $(BIN) $(TEST_BIN)

# Tests run from the repository root; LLAVA_EVAL_BIN names the binary under test.
test: tests-bin
	@LLAVA_EVAL_BIN=./$(BIN) sh tests/run.sh $(TEST_BIN)

# Everything rebuilt with sanitizers into build-asan/, the binary as ./llava-eval-asan.
asan:
	$(MAKE) BUILD=build-asan BIN=llava-eval-asan CC=gcc \
	  OPT="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" \
	  test

# libFuzzer (clang): each target of FUZZ_TARGETS (default all) runs FUZZ_SECONDS;
# new inputs go to build-fuzz/corpus-<target>, crashes to build-fuzz/crash-*. Keep a
# crash as a regression file by copying it into tests/fuzz/corpus/<target>/.
# The library is compiled once (coverage-instrumented) and linked into each target.
# FUZZ_RUNS=N runs N inputs per target instead (for long runs that may be paused).
# score inputs are cut to 512 bytes: CHAIR on a 17 KB line held it near 400 inputs a
# second, and long lines are covered by test_score_cli's line cap.
FUZZ_SECONDS ?= 60
FUZZ_RUNS ?=
FUZZ_TARGETS ?= $(FUZZ_NAMES)
FUZZ_FLAGS := -std=c11 -D_GNU_SOURCE -O1 -g -ffp-contract=off -fno-sanitize-recover=undefined \
              $(shell pkg-config --cflags $(PKGS) stb) -I.
FUZZ_OBJ := $(LIB_SRC:%.c=build-fuzz/obj/%.o)
build-fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link,address,undefined -c -o $@ $<
build-fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJ)
	clang $(FUZZ_FLAGS) -fsanitize=fuzzer,address,undefined -o $@ $< $(FUZZ_OBJ) $(LDLIBS)
fuzz: $(FUZZ_TARGETS:%=build-fuzz/fuzz_%)
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p build-fuzz/corpus-$$t; \
	  case $$t in score) ml=-max_len=512;; *) ml=;; esac; \
	  echo "fuzzing $$t for $(if $(FUZZ_RUNS),$(FUZZ_RUNS) inputs,$(FUZZ_SECONDS) s)"; \
	  build-fuzz/fuzz_$$t $(if $(FUZZ_RUNS),-runs=$(FUZZ_RUNS),-max_total_time=$(FUZZ_SECONDS)) $$ml \
	    -rss_limit_mb=2048 -timeout=10 \
	    -artifact_prefix=build-fuzz/crash-$$t- -print_final_stats=1 \
	    build-fuzz/corpus-$$t tests/fuzz/corpus/$$t 2>&1 | grep -E 'stat::number_of_executed_units|ERROR|SUMMARY|Done' ; \
	  test -z "$$(ls build-fuzz/crash-$$t-* 2>/dev/null)" || { echo "crash in $$t"; exit 1; }; \
	done

# Speed against llama.cpp on synthetic files (tests/bench/bench.sh; LLAMA_CPP_BIN=
# a llama.cpp build's bin folder adds llama-bench, interleaved, and the ratios).
bench: $(BIN)
	@LLAVA_EVAL_BIN=./$(BIN) sh tests/bench/bench.sh

# The README's first command: a procedural suite at three resolutions, the store and
# the HTML report, on the model in models/ (about a minute on two cores).
demo: $(BIN)
	sh demo.sh

# Per-image prefix reuse against the naive per-question path (issue 7's benchmark).
bench-reuse: $(BIN)
	sh bench/reuse.sh

clean:
	rm -rf build build-asan build-fuzz llava-eval llava-eval-asan demo

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
