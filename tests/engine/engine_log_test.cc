// The engine's JSON-lines log: every line carries the required fields, never a record's
// content, and rejections are rate-limited.
#include <simdjson.h>
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "engine/core/canonical.h"
#include "engine/testing_hooks.h"
#include "ron_audit/engine.h"
#include "tests/engine/engine_test_util.h"
#include "tests/test_util.h"
#include "wal/reader.h"

namespace ron::engine_test {
namespace {

using std::chrono::seconds;

// docs/OBSERVABILITY.md: JSON lines with ts/level/service/event/writer_id and the audit fields, a
// rejection names its reason, and no record content ever reaches the log.
TEST_P(EngineTest, LogLinesCarryTheRequiredFieldsAndNoRecordContent) {
  EngineOptions o = Options(1, 4);
  std::mutex mu;
  std::vector<std::string> lines;
  o.log = [&](std::string_view line) {
    std::lock_guard<std::mutex> lock(mu);
    lines.emplace_back(line);
  };
  o.log_appends = true;
  o.service = "svc-gateway";
  auto engine = Open(o);
  const std::string secret = "tok-5ecret-value";
  auto ok = engine->Emit("ingress", R"({"kind":"GetServed","actor":{"anon":true},"subject":{},)"
                                    R"("reason":"ok","attrs":{"token":")" +
                                        secret + R"("}})");
  ASSERT_TRUE(ok.ok());
  ASSERT_TRUE(ok.value().Wait(In(seconds(10))).ok());
  auto bad = engine->Emit("ingress", R"({"kind":"GetServed","actor":{},"subject":{},)"
                                     R"("reason":"ok","attrs":{"token":")" +
                                         secret + R"(","f":1.5}})");
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(bad.value().Wait(In(seconds(10))).code(), Code::kFloat);
  for (int i = 0; i < 2000; ++i) (void)engine->Emit("ingress", Draft(i));  // some Busy
  ASSERT_TRUE(engine->Close(In(seconds(10))).ok());
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_FALSE(lines.empty());
  size_t ok_lines = 0, reject_lines = 0, float_lines = 0;
  simdjson::dom::parser parser;
  for (const std::string& line : lines) {
    EXPECT_EQ(line.find(secret), std::string::npos) << line;
    simdjson::dom::element doc;
    ASSERT_EQ(parser.parse(line).get(doc), simdjson::SUCCESS) << line;
    std::string_view ts, level, service, event, writer;
    ASSERT_EQ(doc["ts"].get(ts), simdjson::SUCCESS) << line;
    EXPECT_EQ(ts.size(), 24u) << ts;  // 2026-11-22T07:31:00.123Z
    EXPECT_EQ(ts.back(), 'Z');
    EXPECT_EQ(doc["level"].get(level), simdjson::SUCCESS);
    EXPECT_EQ(doc["service"].get(service), simdjson::SUCCESS);
    EXPECT_EQ(service, "svc-gateway");
    ASSERT_EQ(doc["event"].get(event), simdjson::SUCCESS);
    EXPECT_EQ(doc["writer_id"].get(writer), simdjson::SUCCESS);
    if (event == "audit.append.ok") {
      ++ok_lines;
      std::string_view stream, hash;
      uint64_t seq = 0;
      EXPECT_EQ(doc["stream"].get(stream), simdjson::SUCCESS);
      EXPECT_EQ(doc["seq"].get(seq), simdjson::SUCCESS);
      EXPECT_EQ(doc["self_hash"].get(hash), simdjson::SUCCESS);
    } else if (event == "audit.append.reject") {
      ++reject_lines;
      std::string_view reason;
      EXPECT_EQ(doc["reason"].get(reason), simdjson::SUCCESS);
      // The Float draft says float (not schema); the rest were shed.
      EXPECT_TRUE(reason == "float" || reason == "busy") << reason;
      float_lines += reason == "float";
    }
  }
  EXPECT_EQ(float_lines, 1u);
  EXPECT_GT(ok_lines, 0u);
  EXPECT_GT(reject_lines, 0u);
  EXPECT_LE(reject_lines, 40u);  // rate-limited: 20 a second
}

// Durable by default: a WAL engine under fsync=always says nothing about fsync; one opened with a
// weaker policy says once, at Open, what a power loss can lose (docs/CONFIG.md).
TEST(EngineFsyncWarningTest, AWeakerPolicyIsNamedWithItsLossWindowOnce) {
  testing::TempDir tmp;
  for (const FsyncPolicy policy :
       {FsyncPolicy::kAlways, FsyncPolicy::kOnCheckpoint, FsyncPolicy::kNever}) {
    const std::string dir = tmp.path() + "/wal" + std::to_string(static_cast<int>(policy));
    EngineOptions o = WalEngineOptions(dir, 1, 64);
    o.config.wal.fsync = policy;
    std::vector<std::string> warnings;
    o.log = [&](std::string_view line) {
      if (line.find("audit.fsync.weak") != std::string_view::npos) warnings.emplace_back(line);
    };
    auto engine = OpenEngine(o);
    ASSERT_NE(engine, nullptr);
    ASSERT_TRUE(engine->Close(In(seconds(10))).ok());
    if (policy == FsyncPolicy::kAlways) {
      EXPECT_TRUE(warnings.empty()) << warnings.front();
      continue;
    }
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(warnings[0].find("\"level\":\"warn\""), std::string::npos) << warnings[0];
    EXPECT_NE(warnings[0].find("power loss can lose"), std::string::npos) << warnings[0];
    if (policy == FsyncPolicy::kOnCheckpoint) {
      EXPECT_NE(warnings[0].find("up to 50000 acknowledged records"), std::string::npos)
          << warnings[0];
    }
  }
}

}  // namespace
}  // namespace ron::engine_test
