// What the WAL's tests share: the I/O configurations they run under, and records staged on a
// stream, each continuing its chain.
#ifndef TESTS_WAL_WAL_TEST_UTIL_H_
#define TESTS_WAL_WAL_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "engine/core/canonical.h"
#include "wal/io.h"
#include "wal/wal.h"

namespace ron::testing {

// One I/O configuration of the WAL.
struct WalParam {
  wal::IoBackendKind backend;
  wal::WriteMode mode;
  // io_uring: a commit of one write up to this size runs on the owner thread (0: the ring).
  size_t inline_bytes = 0;
};

inline std::string WalParamName(const ::testing::TestParamInfo<WalParam>& info) {
  return std::string(info.param.backend == wal::IoBackendKind::kPwritev ? "pwritev"
                                                                         : "io_uring") +
         (info.param.mode == wal::WriteMode::kDirect ? "_direct" : "_buffered") +
         (info.param.inline_bytes > 0 ? "_inline" : "");
}

// Every backend in both write modes, and what the engine runs (small commits inline).
inline auto AllWalParams() {
  using wal::IoBackendKind;
  using wal::WriteMode;
  return ::testing::Values(
      WalParam{IoBackendKind::kIoUring, WriteMode::kBuffered},
      WalParam{IoBackendKind::kPwritev, WriteMode::kBuffered},
      WalParam{IoBackendKind::kIoUring, WriteMode::kDirect},
      WalParam{IoBackendKind::kPwritev, WriteMode::kDirect},
      WalParam{IoBackendKind::kIoUring, WriteMode::kBuffered, wal::kDefaultInlineWriteBytes},
      WalParam{IoBackendKind::kIoUring, WriteMode::kDirect, wal::kDefaultInlineWriteBytes});
}

// Wal::Open(o), or null after failing the test with its status.
inline std::unique_ptr<wal::Wal> OpenWalOrFail(const wal::WalOptions& o) {
  auto r = wal::Wal::Open(o);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r).value() : nullptr;
}

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

#endif  // TESTS_WAL_WAL_TEST_UTIL_H_
