# ron-audit — plain GNU Makefile.
#
#   make            build libronaudit.a, libronaudit.so.$(SOVERSION), ronctl and the tests
#                   (never installs packages: `make deps` does, and so do run and test)
#   make install    headers, libraries, ronctl and ron-audit.pc under DESTDIR/PREFIX
#   make uninstall  removes exactly what install put there
#   make run        the main job (README.md)
#   make test       every test; ends with "N passed, N failed"
#   make asan|tsan  the tests under ASan+UBSan / TSan (clang)
#   make bench      Google Benchmark micro benches, the rigs, and bench/peers when RocksDB and
#                   SQLite are installed (installs them: tools/deps.sh bench)
#   make bench-peers  ron-audit against SQLite, RocksDB and the raw device (PEERS_ARGS=...)
#   make bench-rig DIR=/mnt/nvme/x  the same on the operator's disk, with its facts (BENCH_RIG.md)
#   make fuzz       libFuzzer targets, FUZZ_SECONDS each (clang)
#   make chaos      the chaos drills of tools/chaos/ (LONG=1: soak lengths; needs root for
#                   disk_full's loop mount)
#   make deps       install missing Debian packages (tools/deps.sh)
#
# Public targets first install what is missing, then re-enter make for the real work, so that
# paths found with $(wildcard) (the BLAKE3 sources) are read after the packages exist.

BUILD ?= build
VERSION := 0.1.0
SOVERSION := 0
PREFIX ?= /usr/local
DESTDIR ?=
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
FUZZ_SECONDS ?= 30
BENCH_SECONDS ?= 2
PROFILE ?= macronode
SAN_FLAGS ?=
TEST_FILTER ?=
LONG ?= 0
MAKEFLAGS += --no-print-directory
SUBMAKE = $(MAKE) -f $(firstword $(MAKEFILE_LIST))

.PHONY: all test run deps bench fuzz asan tsan chaos clean install uninstall
.PHONY: build-all test-run run-demo bench-run fuzz-run chaos-run have-deps
.PHONY: bench-peers bench-peers-run bench-rig bench-rig-run have-peer-deps

all: build-all

test: deps
	+@$(SUBMAKE) test-run

run: deps
	+@$(SUBMAKE) run-demo

bench:
	@bash tools/deps.sh bench
	+@$(SUBMAKE) bench-run

bench-peers:
	@bash tools/deps.sh bench
	+@$(SUBMAKE) bench-peers-run

bench-rig:
	@test -n "$(DIR)" || { echo "usage: make bench-rig DIR=/path/on/the/disk/to/measure" >&2; \
	  exit 2; }
	@test -d "$(DIR)" -a -w "$(DIR)" || { echo "bench-rig: $(DIR) is not a writable directory" >&2; \
	  exit 2; }
	@bash tools/deps.sh bench
	+@$(SUBMAKE) bench-rig-run

# UBSan's vptr check is left out: it probes the memory it inspects through a pipe, which a
# process at its descriptor limit cannot create (tests/tools/chaos_rig_test.cc runs the rig
# under ulimit -n 24 on purpose), so there it reports valid objects as "invalid vptr" (clang
# 14). ASan still checks every access to freed or foreign memory.
asan: deps
	+@$(SUBMAKE) test-run BUILD=build/asan CXX=clang++ CC=clang \
	  SAN_FLAGS="-fsanitize=address,undefined -fno-sanitize=vptr -fno-sanitize-recover=all -fno-omit-frame-pointer"

tsan: deps
	+@$(SUBMAKE) test-run BUILD=build/tsan CXX=clang++ CC=clang \
	  SAN_FLAGS="-fsanitize=thread -fno-omit-frame-pointer"

fuzz: deps
	+@$(SUBMAKE) fuzz-run BUILD=build/fuzz CXX=clang++ CC=clang \
	  SAN_FLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all"

chaos: deps
	+@$(SUBMAKE) chaos-run

deps:
	@bash tools/deps.sh

clean:
	rm -rf build

# ---- Real work (entered through the targets above) ----------------------------------------

BLAKE3_DIR := $(lastword $(sort $(wildcard /usr/share/cargo/registry/blake3-*/c)))

# A plain `make` never installs packages; it names what is missing instead.
have-deps:
	@test -n "$(BLAKE3_DIR)" || { echo "missing packages (librust-blake3-dev, ...): run 'make deps' first" >&2; exit 1; }

CXXFLAGS_BASE := -std=c++20 -O2 -g -Wall -Wextra -Werror -I. -Iinclude -isystem $(BLAKE3_DIR) -MMD -MP \
                 -DTOML_HEADER_ONLY=0 -DTOML_SHARED_LIB=1
CXXFLAGS_ALL = $(CXXFLAGS_BASE) $(SAN_FLAGS) $(CXXFLAGS)
LDFLAGS_ALL = $(SAN_FLAGS) $(LDFLAGS)
LIBS := -lsimdjson -lutf8proc -lxxhash -luring -ltomlplusplus -lsodium -lpthread
# mimalloc replaces malloc in the programs we ship and measure (ronctl, the peer rig): about a
# third of an import's time was glibc malloc (docs/PERFORMANCE_LOG.md). Never with a sanitizer,
# which brings its own allocator. Hosts opt in by linking -lmimalloc themselves.
MALLOC_LIBS := $(if $(SAN_FLAGS),,-Wl,--push-state,--no-as-needed -lmimalloc -Wl,--pop-state)
MIMALLOC_SO := $(firstword $(wildcard /usr/lib/*/libmimalloc.so.2))

# The official BLAKE3 C implementation, built from the files librust-blake3-dev installs (never
# copied into this repository), chosen by architecture: x86-64 assembly with run-time dispatch,
# NEON on arm64, the portable C elsewhere.
ARCH ?= $(shell uname -m)
BLAKE3_C := blake3.c blake3_dispatch.c blake3_portable.c
ifeq ($(ARCH),x86_64)
BLAKE3_S := blake3_sse2_x86-64_unix.S blake3_sse41_x86-64_unix.S blake3_avx2_x86-64_unix.S \
            blake3_avx512_x86-64_unix.S
BLAKE3_CFLAGS :=
else ifeq ($(ARCH),aarch64)
BLAKE3_C += blake3_neon.c
BLAKE3_S :=
BLAKE3_CFLAGS := -DBLAKE3_USE_NEON=1
else
BLAKE3_S :=
BLAKE3_CFLAGS := -DBLAKE3_NO_SSE2 -DBLAKE3_NO_SSE41 -DBLAKE3_NO_AVX2 -DBLAKE3_NO_AVX512
endif
BLAKE3_OBJS := $(addprefix $(BUILD)/blake3/,$(BLAKE3_C:.c=.o) $(BLAKE3_S:.S=.o))

LIB_SRCS := $(wildcard engine/core/*.cc engine/*.cc segment/*.cc wal/*.cc checkpoint/*.cc)
LIB_OBJS := $(LIB_SRCS:%.cc=$(BUILD)/%.o)
LIB := $(BUILD)/libronaudit.a
SO_NAME := libronaudit.so.$(SOVERSION)
SO := $(BUILD)/$(SO_NAME)
PUBLIC_HEADERS := $(wildcard include/ron_audit/*.h)
# The library's objects are position-independent (one set for the .a and the .so) and hide
# every symbol the public headers do not mark RON_AUDIT_EXPORT.
LIB_FLAGS := -fPIC -fvisibility=hidden -fvisibility-inlines-hidden
# The shared library is built where it can be linked without a sanitizer runtime.
SHARED := $(if $(SAN_FLAGS),,$(SO))

TOOL_SRCS := $(filter-out tools/ronctl.cc tools/demo.cc tools/hosts_demo.cc tools/chaos_rig.cc,\
               $(wildcard tools/*.cc))
TOOL_OBJS := $(TOOL_SRCS:%.cc=$(BUILD)/%.o)
TEST_SRCS := $(shell find tests -name '*.cc' 2>/dev/null)
TEST_OBJS := $(TEST_SRCS:%.cc=$(BUILD)/%.o)
BENCH_SRCS := $(wildcard bench/*.cc)
FUZZ_SRCS := $(wildcard fuzz/*_fuzzer.cc)
FUZZERS := $(FUZZ_SRCS:fuzz/%.cc=$(BUILD)/%)
# The fuzz targets again, with their entry points renamed, for tests/fuzz/fuzz_replay_test.cc.
FUZZ_REPLAY_OBJS := $(FUZZ_SRCS:fuzz/%.cc=$(BUILD)/fuzz_replay/%.o)

build-all: have-deps
	+@$(SUBMAKE) build-targets

.PHONY: build-targets
build-targets: $(LIB) $(SHARED) $(BUILD)/ronctl $(BUILD)/ron_tests $(BUILD)/ron_demo \
               $(BUILD)/ron_hosts $(BUILD)/ron_chaos

$(BUILD)/blake3/%.o: $(BLAKE3_DIR)/%.c
	@mkdir -p $(@D)
	$(CC) -O3 -g -fPIC -fvisibility=hidden $(BLAKE3_CFLAGS) $(SAN_FLAGS) -c $< -o $@

$(BUILD)/blake3/%.o: $(BLAKE3_DIR)/%.S
	@mkdir -p $(@D)
	$(CC) -fPIC -c $< -o $@

$(LIB_OBJS): CXXFLAGS_ALL += $(LIB_FLAGS)

$(BUILD)/%.o: %.cc
	@mkdir -p $(@D)
	$(CXX) $(CXXFLAGS_ALL) -c $< -o $@

$(LIB): $(LIB_OBJS) $(BLAKE3_OBJS)
	@rm -f $@
	ar rcs $@ $^

# Exports only the ron:: symbols the objects left visible (the public API): the version script
# keeps BLAKE3's assembly entry points and the standard library's instantiations inside.
$(SO): $(LIB_OBJS) $(BLAKE3_OBJS) tools/libronaudit.map
	$(CXX) -shared -Wl,-soname,$(SO_NAME) -Wl,--version-script=tools/libronaudit.map -Wl,-z,defs \
	  $(LDFLAGS_ALL) $(LIB_OBJS) $(BLAKE3_OBJS) -o $@ $(LIBS)
	ln -sf $(SO_NAME) $(BUILD)/libronaudit.so

# The installed files, each listed once so that uninstall removes exactly these.
INSTALLED_HEADERS := $(PUBLIC_HEADERS:include/%=$(DESTDIR)$(INCLUDEDIR)/%)
install: have-deps
	+@$(SUBMAKE) install-files

.PHONY: install-files
install-files: $(LIB) $(SO) $(BUILD)/ronctl
	install -d -m 755 $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR) \
	  $(DESTDIR)$(INCLUDEDIR)/ron_audit
	install -m 644 $(PUBLIC_HEADERS) $(DESTDIR)$(INCLUDEDIR)/ron_audit/
	install -m 644 $(LIB) $(DESTDIR)$(LIBDIR)/libronaudit.a
	install -m 755 $(SO) $(DESTDIR)$(LIBDIR)/$(SO_NAME)
	ln -sf $(SO_NAME) $(DESTDIR)$(LIBDIR)/libronaudit.so
	sed -e 's|@PREFIX@|$(PREFIX)|; s|@LIBDIR@|$(LIBDIR)|; s|@INCLUDEDIR@|$(INCLUDEDIR)|' \
	  -e 's|@VERSION@|$(VERSION)|; s|@LIBS@|$(LIBS)|' tools/ron-audit.pc.in \
	  > $(DESTDIR)$(PKGCONFIGDIR)/ron-audit.pc
	chmod 644 $(DESTDIR)$(PKGCONFIGDIR)/ron-audit.pc
	install -m 755 $(BUILD)/ronctl $(DESTDIR)$(BINDIR)/ronctl

uninstall:
	rm -f $(INSTALLED_HEADERS) $(DESTDIR)$(LIBDIR)/libronaudit.a \
	  $(DESTDIR)$(LIBDIR)/$(SO_NAME) $(DESTDIR)$(LIBDIR)/libronaudit.so \
	  $(DESTDIR)$(PKGCONFIGDIR)/ron-audit.pc $(DESTDIR)$(BINDIR)/ronctl
	@# The directories install may have created, deepest first, each only if now empty.
	@for d in $(DESTDIR)$(INCLUDEDIR)/ron_audit $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR) \
	  $(DESTDIR)$(LIBDIR) $(DESTDIR)$(BINDIR); do \
	  if [ -d "$$d" ]; then rmdir --ignore-fail-on-non-empty "$$d"; fi; \
	done

$(BUILD)/ronctl: $(BUILD)/tools/ronctl.o $(TOOL_OBJS) $(LIB)
	$(CXX) $(LDFLAGS_ALL) $^ -o $@ $(LIBS) $(MALLOC_LIBS)

$(BUILD)/ron_demo: $(BUILD)/tools/demo.o $(TOOL_OBJS) $(LIB)
	$(CXX) $(LDFLAGS_ALL) $^ -o $@ $(LIBS)

$(BUILD)/ron_hosts: $(BUILD)/tools/hosts_demo.o $(TOOL_OBJS) $(LIB)
	$(CXX) $(LDFLAGS_ALL) $^ -o $@ $(LIBS)

$(BUILD)/ron_chaos: $(BUILD)/tools/chaos_rig.o $(LIB)
	$(CXX) $(LDFLAGS_ALL) $^ -o $@ $(LIBS)

$(BUILD)/fuzz_replay/%.o: fuzz/%.cc
	@mkdir -p $(@D)
	$(CXX) $(CXXFLAGS_ALL) -DLLVMFuzzerTestOneInput=RonFuzz_$* -c $< -o $@

$(BUILD)/ron_tests: $(TEST_OBJS) $(FUZZ_REPLAY_OBJS) $(TOOL_OBJS) $(LIB)
	$(CXX) $(LDFLAGS_ALL) $^ -o $@ -lgtest -lgtest_main $(LIBS)

# The bench programs are built (not run) with the tests, so that a change that breaks one is
# seen at once; sanitizer builds skip them.
BENCH_BINS := $(BENCH_SRCS:bench/%.cc=$(BUILD)/bench/%)
test-run: $(BUILD)/ronctl $(BUILD)/ron_chaos $(BUILD)/ron_hosts $(BUILD)/ron_tests $(SHARED) \
          $(if $(SAN_FLAGS),,$(BENCH_BINS))
	@RON_BUILD_DIR=$(BUILD) bash tools/run_tests.sh $(BUILD) $(TEST_FILTER)

chaos-run: $(BUILD)/ronctl $(BUILD)/ron_chaos
	@BUILD=$(BUILD) LONG=$(LONG) bash tools/chaos/run_all.sh

run-demo: $(BUILD)/ronctl $(BUILD)/ron_demo $(BUILD)/ron_hosts
	@bash tools/demo.sh $(BUILD) $(PROFILE)

# bench/peers links the system's RocksDB and SQLite, so it is built only where both are installed
# (`tools/deps.sh bench`); a plain build, install or test never needs them.
PEERS_ARGS ?= --seconds 1 --records 50000
PEER_HEADERS := $(and $(wildcard /usr/include/rocksdb/db.h),$(wildcard /usr/include/sqlite3.h))
PEERS := $(if $(PEER_HEADERS),$(BUILD)/bench/peers)

$(BUILD)/bench/%: bench/%.cc $(LIB)
	@mkdir -p $(@D)
	$(CXX) $(CXXFLAGS_ALL) $< -o $@ $(LIB) -lbenchmark $(LIBS)

bench-run: $(BENCH_SRCS:bench/%.cc=$(BUILD)/bench/%) $(PEERS)
	@for b in $(filter %_bench,$^); do echo "== $$b"; $$b --benchmark_min_time=0.5 || exit 1; done
	@echo "== $(BUILD)/bench/append_hot (engine emit path)"
	@$(BUILD)/bench/append_hot --seconds $(BENCH_SECONDS) --dir $(BUILD)/bench-data/append_hot
	@echo "== $(BUILD)/bench/shed_storm (110 % of capacity)"
	@$(BUILD)/bench/shed_storm --seconds $(BENCH_SECONDS) --dir $(BUILD)/bench-data/shed_storm
	@echo "== $(BUILD)/bench/export_batch (checkpoints and the verifier)"
	@$(BUILD)/bench/export_batch --records 300000 --dir $(BUILD)/bench-data/export_batch
	@echo "== $(BUILD)/bench/emit_bound (Emit against BLAKE3; allocations; glibc malloc)"
	@$(BUILD)/bench/emit_bound --dir $(BUILD)/bench-data/emit_bound
	@$(if $(MIMALLOC_SO),echo "== $(BUILD)/bench/emit_bound (the same under mimalloc)" && \
	  LD_PRELOAD=$(MIMALLOC_SO) $(BUILD)/bench/emit_bound --dir $(BUILD)/bench-data/emit_bound)
	@echo "== $(BUILD)/bench/wal_steady (WAL rig, ~1 minute)"
	@$(BUILD)/bench/wal_steady --dir $(BUILD)/bench-data --seconds $(BENCH_SECONDS)
	@$(if $(PEERS),echo "== $(PEERS) (against SQLite, RocksDB and the device)" && \
	  $(PEERS) --dir $(BUILD)/bench-data/peers $(PEERS_ARGS),\
	  echo "== bench/peers skipped: RocksDB or SQLite headers missing (tools/deps.sh bench)")

have-peer-deps:
	@test -n "$(PEERS)" || { echo "bench/peers needs librocksdb-dev and libsqlite3-dev:" \
	  "run 'bash tools/deps.sh bench' first" >&2; exit 1; }

$(BUILD)/bench/peers: bench/peers/peers.cc $(LIB)
	@mkdir -p $(@D)
	$(CXX) $(CXXFLAGS_ALL) $< -o $@ $(LIB) -lrocksdb -lsqlite3 $(LIBS) $(MALLOC_LIBS)

bench-peers-run: have-deps have-peer-deps
	+@$(SUBMAKE) $(BUILD)/bench/peers
	@$(BUILD)/bench/peers --dir $(BUILD)/bench-data/peers $(PEERS_ARGS)

bench-rig-run: have-deps have-peer-deps
	+@$(SUBMAKE) $(BUILD)/bench/peers
	@PEERS=$(BUILD)/bench/peers bash tools/bench_rig.sh "$(DIR)" $(RIG_ARGS)

$(BUILD)/%_fuzzer: fuzz/%_fuzzer.cc $(LIB)
	$(CXX) $(CXXFLAGS_ALL) -fsanitize=fuzzer $< -o $@ $(LIB) $(LIBS)

# Runs every target even when one fails, then prints "N passed, N failed" (one per target).
fuzz-run: $(FUZZERS)
	@passed=0; failed=0; \
	for f in $(FUZZERS); do \
	  name=$$(basename $$f); work=$(BUILD)/corpus/$$name; mkdir -p $$work fuzz/corpus/$$name; \
	  echo "== $$name for $(FUZZ_SECONDS)s"; \
	  if $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -artifact_prefix=$(BUILD)/$$name- \
	      $$work fuzz/corpus/$$name 2>$(BUILD)/$$name.log; then \
	    passed=$$((passed + 1)); \
	    grep -E 'stat::number_of_executed_units|Done' $(BUILD)/$$name.log | tail -2; \
	  else \
	    failed=$$((failed + 1)); tail -40 $(BUILD)/$$name.log; \
	    echo "$$name FAILED: minimize the artifact above into fuzz/regressions/$$name/"; \
	  fi; \
	done; \
	echo "$$passed passed, $$failed failed"; [ $$failed -eq 0 ]

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
