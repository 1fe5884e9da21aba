#!/usr/bin/env bash
# Runs the GoogleTest binary of a build, then the repository checks (the include graph; for a
# build with libronaudit.so, the installed package: tools/check_package.sh), and ends with the
# plain line "N passed, N failed" over all of them.
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
# The checks print "ok NAME" or "FAIL NAME: why", one line per check.
checks=(tools/check_includes.sh)
if [[ "$filter" == "*" ]] && compgen -G "$build/libronaudit.so.*" > /dev/null; then
  checks+=("tools/check_package.sh $build")
fi
for check in "${checks[@]}"; do
  out=$(bash $check 2>&1)
  check_rc=$?
  echo "$out"
  ok_count=$(grep -c '^ok ' <<< "$out" || true)
  fail_count=$(grep -c '^FAIL ' <<< "$out" || true)
  if [[ $check_rc -ne 0 && $fail_count -eq 0 ]]; then fail_count=1; fi
  passed=$((passed + ok_count))
  failed=$((failed + fail_count))
done
if [[ $skipped -gt 0 ]]; then
  echo "$passed passed, $failed failed, $skipped skipped"
else
  echo "$passed passed, $failed failed"
fi
[[ $failed -eq 0 ]]
