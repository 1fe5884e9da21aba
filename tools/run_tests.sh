#!/usr/bin/env bash
# Runs the GoogleTest binary of a build and ends with the plain line "N passed, N failed".
# usage: tools/run_tests.sh BUILD_DIR [GTEST_FILTER]
set -uo pipefail
build=${1:-build}
filter=${2:-*}
xml="$build/test_results.xml"
rm -f "$xml"
"$build/ron_tests" --gtest_filter="$filter" --gtest_output="xml:$xml" --gtest_brief=1
rc=$?
if [[ ! -s "$xml" ]]; then
  echo "the test binary died before writing its report (exit $rc)"
  echo "0 passed, 1 failed"
  exit 1
fi
# The root <testsuites> element carries the totals.
read -r tests failures errors disabled skipped < <(
  grep -m1 '<testsuites' "$xml" |
    sed -E 's/.* tests="([0-9]+)".* failures="([0-9]+)".* disabled="([0-9]+)".* errors="([0-9]+)".*/\1 \2 \4 \3 0/')
skipped=$(grep -c '<skipped' "$xml" || true)
failed=$((failures + errors))
passed=$((tests - failed - disabled - skipped))
if [[ $rc -ne 0 && $failed -eq 0 ]]; then failed=1; fi
if [[ $skipped -gt 0 ]]; then
  echo "$passed passed, $failed failed, $skipped skipped"
else
  echo "$passed passed, $failed failed"
fi
[[ $failed -eq 0 ]]
