// The KeyRotated record, defined once: the draft the engine emits canonicalizes into a record
// that ParseKeyRotated reads back; only the record's own kind and top-level attrs count.
#include "engine/core/key_rotation.h"

#include <gtest/gtest.h>

#include <string>

#include "engine/core/canonical.h"

namespace ron {
namespace {

Record Canonical(const std::string& draft) {
  Canonicalizer canonicalizer;
  CanonicalRecord out;
  const Canonicalizer::DraftContext ctx{"w@h", "s", 1, "b3:0", 1};
  EXPECT_TRUE(canonicalizer.CanonicalizeDraft(draft, ctx, &out).ok()) << draft;
  EXPECT_EQ(MayBeKeyRotated(out.bytes), out.record.kind == kKeyRotatedKind) << out.bytes;
  return out.record;
}

// The cheap test looks only where kind can be: found even behind the longest writer_id and
// stream, every byte of them escaped, and the largest ts_ms and seq.
TEST(KeyRotationTest, MayBeKeyRotatedFindsKindBehindTheLongestNames) {
  Canonicalizer canonicalizer;
  CanonicalRecord out;
  const std::string writer(kMaxWriterIdBytes, '"'), stream(kMaxStreamBytes, '\\');
  const std::string draft =
      R"({"ts_ms":18446744073709551615,"kind":"KeyRotated","actor":{},"subject":{},)"
      R"("reason":"key_rotation","attrs":{}})";
  const std::string prev = "b3:" + std::string(64, 'a');
  const Canonicalizer::DraftContext ctx{writer, stream, 18446744073709551615u, prev, 0};
  const Status made = canonicalizer.CanonicalizeDraft(draft, ctx, &out);
  ASSERT_TRUE(made.ok()) << made.ToString();
  EXPECT_TRUE(MayBeKeyRotated(out.bytes)) << out.bytes.size();
  const Canonicalizer::DraftContext short_names{"w", "s", 2, prev, 0};
  ASSERT_TRUE(canonicalizer.CanonicalizeDraft(draft, short_names, &out).ok());
  EXPECT_TRUE(MayBeKeyRotated(out.bytes));
  // A record whose attrs say so is not one.
  ASSERT_TRUE(canonicalizer
                  .CanonicalizeDraft(R"({"kind":"K","actor":{},"subject":{},"reason":"ok",)"
                                     R"("attrs":{"x":",\"kind\":\"KeyRotated\",\"actor\":"}})",
                                     short_names, &out)
                  .ok());
  EXPECT_FALSE(MayBeKeyRotated(out.bytes));
}

TEST(KeyRotationTest, TheEnginesDraftReadsBack) {
  std::string old_id, new_id;
  const Record r = Canonical(KeyRotatedDraft("ops-1", "ops-2"));
  EXPECT_EQ(r.kind, "KeyRotated");
  EXPECT_EQ(r.reason, "key_rotation");
  ASSERT_TRUE(ParseKeyRotated(r, &old_id, &new_id));
  EXPECT_EQ(old_id, "ops-1");
  EXPECT_EQ(new_id, "ops-2");
}

TEST(KeyRotationTest, OnlyTopLevelAttrsOfAKeyRotatedRecordCount) {
  std::string old_id, new_id;
  // Nested look-alikes sort before the real keys in canonical attrs; they are not read.
  const Record nested = Canonical(
      R"({"kind":"KeyRotated","actor":{},"subject":{},"reason":"key_rotation","attrs":)"
      R"({"a":{"new_key_id":"ops-9","old_key_id":"ops-1"},"new_key_id":"ops-7","old_key_id":"ops-5"}})");
  ASSERT_TRUE(ParseKeyRotated(nested, &old_id, &new_id));
  EXPECT_EQ(old_id, "ops-5");
  EXPECT_EQ(new_id, "ops-7");
  // Only nested ids: no rotation.
  EXPECT_FALSE(ParseKeyRotated(
      Canonical(R"({"kind":"KeyRotated","actor":{},"subject":{},"reason":"ok","attrs":)"
                R"({"a":{"new_key_id":"ops-9","old_key_id":"ops-1"}}})"),
      &old_id, &new_id));
  // Another kind with the same attrs: no rotation.
  EXPECT_FALSE(ParseKeyRotated(
      Canonical(R"({"kind":"Note","actor":{},"subject":{},"reason":"ok","attrs":)"
                R"({"new_key_id":"ops-9","old_key_id":"ops-1"}})"),
      &old_id, &new_id));
  // A non-string or empty new key id: no rotation.
  EXPECT_FALSE(ParseKeyRotated(
      Canonical(R"({"kind":"KeyRotated","actor":{},"subject":{},"reason":"ok","attrs":)"
                R"({"new_key_id":7,"old_key_id":"ops-1"}})"),
      &old_id, &new_id));
  EXPECT_FALSE(ParseKeyRotated(
      Canonical(R"({"kind":"KeyRotated","actor":{},"subject":{},"reason":"ok","attrs":)"
                R"({"new_key_id":"","old_key_id":"ops-1"}})"),
      &old_id, &new_id));
}

}  // namespace
}  // namespace ron
