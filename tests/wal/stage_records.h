// Records staged on a WAL stream for its tests: each continues the stream's chain.
#ifndef TESTS_WAL_STAGE_RECORDS_H_
#define TESTS_WAL_STAGE_RECORDS_H_

#include <string>

#include "engine/core/canonical.h"
#include "wal/wal.h"

namespace ron::testing {

// Stages n records of ~480 bytes on (writer, stream), continuing its chain; `scratch` holds
// each record while it is staged.
inline Status StageRecords(wal::Wal* wal, Canonicalizer* canonicalizer, CanonicalRecord* scratch,
                           const std::string& writer, const std::string& stream, int n) {
  auto got = wal->GetStream(writer, stream);
  if (!got.ok()) return got.status();
  wal::StreamWal* s = got.value();
  for (int i = 0; i < n; ++i) {
    const std::string draft =
        R"({"kind":"GetServed","actor":{},"subject":{},"reason":"ok","attrs":{"i":)" +
        std::to_string(s->head_seq() + 1) + R"(,"pad":")" + std::string(200, 'p') + "\"}}";
    const std::string prev = s->HeadText();
    const Canonicalizer::DraftContext ctx{writer, stream, s->head_seq() + 1, prev, 1000};
    RON_RETURN_IF_ERROR(canonicalizer->CanonicalizeDraft(draft, ctx, scratch));
    RON_RETURN_IF_ERROR(wal->Stage(s, *scratch));
  }
  return Status::Ok();
}

}  // namespace ron::testing

#endif  // TESTS_WAL_STAGE_RECORDS_H_
