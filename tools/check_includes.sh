#!/usr/bin/env bash
# The dependency arrows of the library, enforced. Layers, lowest first:
#   0 core        engine/core/, include/ron_audit/{export,status,types,record}.h
#   1 segment     segment/
#   2 wal         wal/
#   3 checkpoint  checkpoint/, include/ron_audit/{signer,verify}.h
#   4 engine      engine/ (outside core), include/ron_audit/{config,engine,ron_audit}.h
#   5 programs    tools/, tests/, bench/, fuzz/, examples/
# A file may include headers of its own layer or below, never above. A public header
# (include/ron_audit/) includes only other public headers and the standard library, and
# examples/ include only public headers (they build against the installed package).
# Prints "ok include_graph" or one "FAIL include_graph: FILE includes HEADER (why)" per arrow
# that points the wrong way; exits non-zero on any.
set -uo pipefail
cd "$(dirname "$0")/.."

layer() {
  case $1 in
    include/ron_audit/export.h | include/ron_audit/status.h | include/ron_audit/types.h | \
      include/ron_audit/record.h) echo 0 ;;
    include/ron_audit/signer.h | include/ron_audit/verify.h) echo 3 ;;
    include/ron_audit/*) echo 4 ;;
    engine/core/*) echo 0 ;;
    segment/*) echo 1 ;;
    wal/*) echo 2 ;;
    checkpoint/*) echo 3 ;;
    engine/*) echo 4 ;;
    *) echo 5 ;;
  esac
}

bad=0
while IFS= read -r file; do
  mine=$(layer "$file")
  while IFS= read -r header; do
    [[ -n "$header" ]] || continue
    path=$header
    [[ $header == ron_audit/* ]] && path=include/$header
    if [[ $file == include/ron_audit/* && $header != ron_audit/* ]]; then
      echo "FAIL include_graph: $file includes $header (a public header includes only ron_audit/ headers)"
      bad=1
      continue
    fi
    if [[ $file == examples/* && $header != ron_audit/* ]]; then
      echo "FAIL include_graph: $file includes $header (examples use only the installed API)"
      bad=1
      continue
    fi
    [[ -e $path ]] || continue  # a system header in quotes, or a generated one
    theirs=$(layer "$path")
    if ((theirs > mine)); then
      echo "FAIL include_graph: $file includes $header (layer $mine includes layer $theirs)"
      bad=1
    fi
  done < <(sed -nE 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"](ron_audit\/[^">]+|[^">]+\.h)[">].*/\1/p' "$file" |
             grep -E '^(ron_audit|engine|segment|wal|checkpoint|tools|tests|bench|fuzz)/' || true)
done < <(git ls-files --cached --others --exclude-standard -- '*.h' '*.cc' 2>/dev/null || find . -name '*.h' -o -name '*.cc')
((bad == 0)) && echo "ok include_graph"
exit $bad
