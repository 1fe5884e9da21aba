#include "tools/append_guards.h"

#include <cstdio>
#include <utility>
#include <vector>

#include "checkpoint/builder.h"
#include "checkpoint/checkpoint.h"
#include "segment/segment_format.h"
#include "tools/cli_util.h"
#include "wal/reader.h"

namespace ron::tools {

// A new signing key while the export's last checkpoint of a stream of this writer was signed
// by another: without the previous key to cross-sign, auditors see missing_cross_signature on
// that stream forever (a key change nobody vouched for). Refused unless the operator says
// --rotate-without-cross-signature (the old key is lost); docs/RUNBOOK.md §6.
int RefuseUnvouchedRotation(const std::string& export_dir, const std::string& writer_id,
                            const std::string& key_id) {
  std::vector<std::pair<std::string, std::string>> exported;
  if (!ListExportStreams(export_dir, &exported).ok()) return kExitOk;  // the engine will say
  for (const auto& [writer, stream] : exported) {
    ExportTail tail;
    if (writer != writer_id || !ReadExportTail(export_dir, writer, stream, &tail).ok()) continue;
    if (tail.last_seq == 0 || tail.last_key_id.empty() || tail.last_key_id == key_id) continue;
    std::fprintf(stderr,
                 "ronctl audit append: Schema: stream %s was last signed by key '%s', not '%s': "
                 "pass the old key as --previous-signer-key so that it cross-signs the change "
                 "(without it auditors see missing_cross_signature for good), or, if the old key "
                 "is lost, --rotate-without-cross-signature\n",
                 segment::PrintedStreamName(writer, stream).c_str(), tail.last_key_id.c_str(),
                 key_id.c_str());
    return kExitFailed;
  }
  return kExitOk;
}

// The default writer id is this host's: run on another host (or after a rename), it starts a
// new chain beside the old one rather than continuing it. Say so when the stream exists under
// another writer id only.
void WarnOfAnotherWritersStream(const std::string& dir, const std::string& writer_id,
                                const std::string& stream) {
  std::vector<std::pair<std::string, std::string>> streams;
  if (!wal::ListStreams(dir, &streams).ok()) return;
  std::string others;
  for (const auto& [w, s] : streams) {
    if (w == writer_id && s == stream) return;
    if (s == stream) others += (others.empty() ? "" : ", ") + segment::EscapePathComponent(w);
  }
  if (others.empty()) return;
  std::fprintf(stderr,
               "ronctl audit append: warning: stream '%s' exists under writer id %s but not under "
               "%s (the default --writer-id, from this host's name): this run starts a new "
               "chain; pass --writer-id to continue an existing one\n",
               segment::EscapePathComponent(stream).c_str(), others.c_str(),
               segment::EscapePathComponent(writer_id).c_str());
}

}  // namespace ron::tools
