# Tocsin build. `make` builds bin/tocsin; `make test` runs every test;
# `make demo` runs the main job on examples/; `make bench` prints figures.
# Sources are found by wildcard: a new file in a stage folder needs no edit here.

CC       ?= gcc
BUILD    ?= build
PKGS     := rdkafka jansson libmaxminddb lmdb yaml-0.1 libpcre2-8 zlib libcurl libcrypto libmicrohttpd
WARN     := -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion \
            -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wvla -Werror
# clang: librdkafka's producev/headers macros use GNU statement expressions
ifneq ($(findstring clang,$(shell $(CC) --version 2>/dev/null | head -1)),)
WARN     += -Wno-gnu-statement-expression -Wno-gnu-zero-variadic-macro-arguments
endif
OPT      ?= -O2 -g
SAN      ?=
CFLAGS   ?=
CFLAGS   += -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) $(SAN) -pthread
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CHECK_CFLAGS = $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS   = $(shell pkg-config --libs check 2>/dev/null)
LDLIBS   := -pthread -lm

STAGES   := core ingest normalise enrich rules correlate storage escalate runtime http
LIB_SRC  := $(wildcard $(addsuffix /*.c,$(STAGES)))
CLI_SRC  := $(wildcard cli/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/console_assets.o
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC := $(wildcard tests/unit/check_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%-replay)
TOOL_SRC := $(wildcard tests/tools/*.c bench/*.c)
TOOL_BIN := $(patsubst %.c,$(BUILD)/tools/%,$(notdir $(TOOL_SRC)))
LIBTS    := $(BUILD)/libtocsin.a
BIN      := bin/tocsin

.PHONY: all deps test unit unit-asan fuzz-replay fuzz fuzz-build integration demo bench clean tools soak

all: $(BIN)

deps:
	@scripts/ensure-deps.sh

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -MMD -MP -c $< -o $@

# The web console's static files, embedded into the binary as a C table
# (scripts/embed.sh; generated under $(BUILD)/gen, never committed).
CONSOLE_ASSETS := $(sort $(wildcard http/console/*.html http/console/*.js http/console/*.css http/console/*.svg))
$(BUILD)/gen/console_assets.c: scripts/embed.sh $(CONSOLE_ASSETS) Makefile
	@mkdir -p $(dir $@)
	scripts/embed.sh $@ $(CONSOLE_ASSETS)
$(BUILD)/gen/console_assets.o: $(BUILD)/gen/console_assets.c
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -I. -MMD -MP -c $< -o $@

$(LIBTS): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BIN): $(CLI_OBJ) $(LIBTS)
	@mkdir -p bin
	$(CC) $(CFLAGS) -o $@ $(CLI_OBJ) $(LIBTS) $(PKG_LIBS) $(LDLIBS)

# check_torture_*: malloc/calloc/realloc wrapped so that the Nth one fails
$(BUILD)/tests/check_torture_%: LDWRAP = -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup
# check_esc_clockstep: the wall clock stepped and LMDB commits failed on demand
$(BUILD)/tests/check_esc_clockstep: LDWRAP = -Wl,--wrap=clock_gettime,--wrap=mdb_txn_commit
$(BUILD)/tests/%: tests/unit/%.c tests/unit/check_util.h $(LIBTS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) $(CHECK_CFLAGS) -o $@ $< $(LIBTS) $(LDWRAP) $(PKG_LIBS) $(CHECK_LIBS) $(LDLIBS)

$(BUILD)/fuzz/%-replay: tests/fuzz/%.c tests/fuzz/replay_main.c $(wildcard tests/fuzz/*.h) tests/unit/lmdb_dir.h $(LIBTS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -o $@ $< tests/fuzz/replay_main.c $(LIBTS) $(PKG_LIBS) $(LDLIBS)

# the same targets linked with libFuzzer (clang; `make fuzz`)
FUZZ_LF  := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%-lf)
$(BUILD)/fuzz/%-lf: tests/fuzz/%.c $(wildcard tests/fuzz/*.h) tests/unit/lmdb_dir.h $(LIBTS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -fsanitize=fuzzer -o $@ $< $(LIBTS) $(PKG_LIBS) $(LDLIBS)

$(BUILD)/tools/%: tests/tools/%.c $(LIBTS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) $(CHECK_CFLAGS) -o $@ $< $(LIBTS) $(PKG_LIBS) $(CHECK_LIBS) $(LDLIBS)

$(BUILD)/tools/%: bench/%.c $(LIBTS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -o $@ $< $(LIBTS) $(PKG_LIBS) $(LDLIBS)

tools: $(TOOL_BIN)

unit: $(UNIT_BIN)
	@tests/run-unit.sh $(UNIT_BIN)

fuzz-replay: $(FUZZ_BIN)
	@tests/fuzz/run-seeds.sh $(BUILD)/fuzz

# The unit tests under AddressSanitizer + UndefinedBehaviorSanitizer.
unit-asan:
	@$(MAKE) --no-print-directory BUILD=build-asan OPT="-O1 -g" \
	    SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" unit fuzz-replay

# Coverage-guided fuzzing: every target built with clang + libFuzzer +
# ASan/UBSan (in build-fuzz/), run FUZZ_TIME seconds each from its seed
# corpus (FUZZ_TARGETS="syslog json" for some); one line per target:
# "fuzz TARGET: N execs, C coverage, K crashes". Crashes are kept in
# build-fuzz/crashes/ and make it fail.
FUZZ_TIME ?= 60
FUZZ_TARGETS ?=
fuzz-build: $(FUZZ_LF)
fuzz:
	@command -v clang >/dev/null || scripts/ensure-deps.sh
	@$(MAKE) --no-print-directory BUILD=build-fuzz CC=clang OPT="-O1 -g" \
	    SAN="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" fuzz-build
	@tests/fuzz/run-fuzz.sh build-fuzz $(FUZZ_TIME) $(FUZZ_TARGETS)

integration: $(BIN) tools
	@tests/integration/run.sh

# The soak (tests/soak/soak.py; not in `make test` nor CI): `run` for
# SOAK_TIME seconds at half its measured rate with kill -9, broker restarts
# and a flapping webhook; checks exactly-once incidents, RSS and fds.
SOAK_TIME ?= 1800
soak: $(BIN) tools
	@SOAK_TIME=$(SOAK_TIME) python3 tests/soak/soak.py

test: deps
	@$(MAKE) --no-print-directory $(BIN) tools
	@$(MAKE) --no-print-directory unit fuzz-replay
	@$(MAKE) --no-print-directory integration

demo: deps
	@$(MAKE) --no-print-directory $(BIN)
	@scripts/demo.sh

bench: deps
	@$(MAKE) --no-print-directory $(BIN) tools
	@bench/run.sh

clean:
	rm -rf build build-asan build-fuzz bin

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d)
