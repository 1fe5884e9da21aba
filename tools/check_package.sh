#!/usr/bin/env bash
# The library as a host consumes it: installs into a temporary prefix, then checks
#   exported_symbols   libronaudit.so exports the public API and nothing internal;
#   headers_alone      every installed header compiles on its own with the pkg-config flags;
#   example_shared     examples/minimal_host.cc built with `pkg-config --cflags --libs`, run,
#                      and its WAL verified by the installed ronctl;
#   example_static     the same against libronaudit.a (no libronaudit.so needed at run time);
#   example_verifier   examples/verify_wal.cc verifies that WAL and catches a changed byte;
#   destdir            DESTDIR stages the same files under another root;
#   uninstall          make uninstall leaves the prefix empty.
# Prints "ok NAME" or "FAIL NAME: why" per check; exits non-zero if any failed.
# usage: tools/check_package.sh BUILD_DIR
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
cxx=${CXX:-c++}
work=$(mktemp -d "${TMPDIR:-/tmp}/ron-package.XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
failed=0
ok() { echo "ok $1"; }
fail() {
  echo "FAIL $1: $2"
  failed=1
}

if ! make -s install BUILD="$build" PREFIX="$prefix" > "$work/install.log" 2>&1; then
  fail install "make install failed: $(tail -3 "$work/install.log")"
  exit 1
fi
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
cflags=$(pkg-config --cflags ron-audit) || { fail install "pkg-config knows no ron-audit"; exit 1; }
libs=$(pkg-config --libs ron-audit)
static_libs=$(pkg-config --static --libs ron-audit)

# exported_symbols: each dynamic symbol's qualified name (before its parameter list).
so=$(ls "$prefix"/lib/libronaudit.so.* 2>/dev/null | head -1)
if [[ -z "$so" ]]; then
  fail exported_symbols "no libronaudit.so.<major> installed"
else
  nm -D --defined-only "$so" | awk '{print $3}' | c++filt > "$work/symbols"
  leaked=$(sed -E 's/^(typeinfo name for|typeinfo for|vtable for) //; s/\(.*//; s/\[abi:[^]]*\]//g' \
             "$work/symbols" |
           grep -vE '^ron::[A-Za-z_0-9]+(::[A-Za-z_0-9~]+)?$' |
           head -5)
  internal=$(grep -E 'ron::(wal|segment|internal|testing)::|anonymous namespace|Engine::Impl::|EngineAccess' \
               "$work/symbols" | grep -v '^ron::Engine::Engine(' | head -5)
  if [[ -n "$leaked$internal" ]]; then
    fail exported_symbols "internal symbols exported: $(echo $leaked $internal | head -c 400)"
  elif ! grep -q '^ron::Engine::Open(' "$work/symbols"; then
    fail exported_symbols "ron::Engine::Open is not exported"
  else
    ok exported_symbols
  fi
fi

# headers_alone
bad_headers=""
for h in "$prefix"/include/ron_audit/*.h; do
  name=ron_audit/$(basename "$h")
  printf '#include <%s>\n#include <%s>\n' "$name" "$name" |
    $cxx -std=c++20 -Wall -Wextra -Werror -fsyntax-only $cflags -x c++ - 2> "$work/h.err" ||
    bad_headers+=" $name ($(head -1 "$work/h.err"))"
done
[[ -z "$bad_headers" ]] && ok headers_alone || fail headers_alone "$bad_headers"

# minimal_host_check NAME WANT_SO FLAGS...: builds examples/minimal_host.cc with FLAGS, checks
# that it needs libronaudit.so exactly when WANT_SO is yes, runs it on $work/wal-<kind> and
# verifies that WAL with the installed ronctl.
minimal_host_check() {
  local name=$1 want_so=$2
  shift 2
  local bin="$work/$name" wal="$work/wal-${name#example_}" out="$work/$name.out"
  if ! $cxx -std=c++20 examples/minimal_host.cc "$@" -o "$bin" 2> "$work/build.err"; then
    fail "$name" "does not build: $(head -5 "$work/build.err")"
    return
  fi
  local needs=no
  readelf -d "$bin" | grep -q 'NEEDED.*libronaudit' && needs=yes
  if [[ $needs != "$want_so" ]]; then
    fail "$name" "needs libronaudit.so: $needs (wanted $want_so)"
  elif ! "$bin" "$wal" > "$out" 2>&1; then
    fail "$name" "minimal_host exited non-zero: $(cat "$out")"
  elif [[ $(grep -cE '^seq [1-3] b3:[0-9a-f]{64}$' "$out") -ne 3 ]]; then
    fail "$name" "unexpected output: $(cat "$out")"
  elif ! "$prefix/bin/ronctl" audit verify --dir "$wal" > "$work/v.out" 2>&1; then
    fail "$name" "ronctl audit verify: $(cat "$work/v.out")"
  else
    ok "$name"
  fi
}
# shellcheck disable=SC2086  # the pkg-config flags are lists of words
minimal_host_check example_shared yes $cflags $libs -Wl,-rpath,"$prefix/lib"
# The archive first; --as-needed drops the .so the later -lronaudit names.
# shellcheck disable=SC2086
minimal_host_check example_static no $cflags -Wl,--as-needed -l:libronaudit.a $static_libs

# example_verifier
if $cxx -std=c++20 examples/verify_wal.cc $cflags $libs -Wl,-rpath,"$prefix/lib" \
    -o "$work/verify_wal" 2> "$work/build.err"; then
  seg=$(ls "$work"/wal-shared/*/*/wal-*.seg 2>/dev/null | head -1)
  if ! "$work/verify_wal" "$work/wal-shared" > "$work/vw.out" 2>&1 ||
     ! grep -q '^ok 3 records, 1 streams' "$work/vw.out"; then
    fail example_verifier "pristine WAL: $(cat "$work/vw.out")"
  elif [[ -z "$seg" ]]; then
    fail example_verifier "no segment in the example's WAL"
  else
    # One byte of the first record's JSON (frames start at 4096; JSON at +13).
    printf 'X' | dd of="$seg" bs=1 seek=$((4096 + 20)) conv=notrunc status=none
    "$work/verify_wal" "$work/wal-shared" > "$work/vw.out" 2>&1
    rc=$?
    if [[ $rc -ne 1 ]] || ! grep -q "^err .* file $seg " "$work/vw.out"; then
      fail example_verifier "a changed byte was not caught (exit $rc): $(cat "$work/vw.out")"
    else
      ok example_verifier
    fi
  fi
else
  fail example_verifier "does not build: $(head -5 "$work/build.err")"
fi

# destdir
if make -s install BUILD="$build" PREFIX=/opt/ron DESTDIR="$work/stage" > "$work/stage.log" 2>&1 &&
   [[ -f "$work/stage/opt/ron/include/ron_audit/engine.h" &&
      -f "$work/stage/opt/ron/lib/pkgconfig/ron-audit.pc" ]] &&
   grep -q '^prefix=/opt/ron$' "$work/stage/opt/ron/lib/pkgconfig/ron-audit.pc"; then
  ok destdir
else
  fail destdir "staged install incomplete: $(tail -3 "$work/stage.log")"
fi

# uninstall
if make -s uninstall BUILD="$build" PREFIX="$prefix" > "$work/uninstall.log" 2>&1; then
  left=$(find "$prefix" -mindepth 1 2>/dev/null | head -5)
  if [[ -n "$left" ]]; then
    fail uninstall "left behind: $left"
  else
    ok uninstall
  fi
else
  fail uninstall "make uninstall failed: $(tail -3 "$work/uninstall.log")"
fi
exit $failed
