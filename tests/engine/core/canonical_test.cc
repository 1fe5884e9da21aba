// The canonical form and every rule of docs/FORMAT.md §1, one sentence of the spec per test.
#include "engine/core/canonical.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "tests/test_util.h"

namespace ron {
namespace {

using testing::RecordJson;

constexpr char kGenesis[] =
    R"({"v":1,"ts_ms":1730246400000,"writer_id":"svc-gateway@inst-1","seq":1,"stream":"ingress","kind":"GetServed","actor":{"anon":true},"subject":{},"reason":"ok","attrs":{},"prev":"b3:0"})";

// Replaces the first occurrence of `from` in the genesis record by `to`.
std::string Genesis(const std::string& from = "", const std::string& to = "") {
  std::string s = kGenesis;
  if (!from.empty()) {
    const size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) s.replace(at, from.size(), to);
  }
  return s;
}

class CanonicalTest : public ::testing::Test {
 protected:
  Code CodeOf(const std::string& json) {
    return canonicalizer_.Canonicalize(json, &record_).code();
  }
  std::string Canon(const std::string& json) {
    const Status status = canonicalizer_.Canonicalize(json, &record_);
    EXPECT_TRUE(status.ok()) << status.ToString() << " for " << json;
    return record_.bytes;
  }
  std::string CanonAttrs(const std::string& attrs) {
    const std::string canon = Canon(RecordJson(1, "b3:0", attrs));
    const size_t begin = canon.find("\"attrs\":") + 8;
    const size_t end = canon.rfind(",\"prev\":");
    return canon.substr(begin, end - begin);
  }

  Canonicalizer canonicalizer_;
  CanonicalRecord record_;
};

TEST_F(CanonicalTest, CanonicalInputIsReturnedByteForByte) { EXPECT_EQ(Canon(kGenesis), kGenesis); }

TEST_F(CanonicalTest, WhitespaceIsRemoved) {
  EXPECT_EQ(Canon(" {\"v\" : 1 ,\n\t\"ts_ms\":1730246400000,\r\"writer_id\":\"svc-gateway@inst-1\","
                  "\"seq\":1,\"stream\":\"ingress\",\"kind\":\"GetServed\",\"actor\":{ \"anon\" : "
                  "true },\"subject\":{ },\"reason\":\"ok\",\"attrs\":{ },\"prev\":\"b3:0\"}\r\n"),
            kGenesis);
}

TEST_F(CanonicalTest, TopLevelKeysTakeTheFixedOrder) {
  const std::string shuffled =
      R"({"prev":"b3:0","attrs":{},"reason":"ok","subject":{},"actor":{"anon":true},"kind":"GetServed","stream":"ingress","seq":1,"writer_id":"svc-gateway@inst-1","ts_ms":1730246400000,"v":1})";
  EXPECT_EQ(Canon(shuffled), kGenesis);
}

TEST_F(CanonicalTest, NestedKeysAreSortedByteWise) {
  EXPECT_EQ(CanonAttrs(R"({"b":1,"a":{"z":1,"y":[{"d":1,"c":2}]},"B":2,"é":3,"e":4})"),
            R"({"B":2,"a":{"y":[{"c":2,"d":1}],"z":1},"b":1,"e":4,"é":3})");
}

TEST_F(CanonicalTest, ActorAndSubjectKeysAreSorted) {
  const std::string json = Genesis(
      R"("actor":{"anon":true},"subject":{})",
      R"("actor":{"passport_id":"p","key_fpr":"k","cap_id":"c","anon":false},"subject":{"name":"n","ledger_txid":"l","content_id":"c"})");
  EXPECT_NE(
      Canon(json).find(
          R"("actor":{"anon":false,"cap_id":"c","key_fpr":"k","passport_id":"p"},"subject":{"content_id":"c","ledger_txid":"l","name":"n"})"),
      std::string::npos);
}

TEST_F(CanonicalTest, StringsAreNormalizedToNfc) {
  // "e" + U+0301 COMBINING ACUTE ACCENT composes to U+00E9; so does the escaped form.
  EXPECT_EQ(Canon(Genesis("svc-gateway@inst-1", "s\\u0065\\u0301rver")),
            Canon(Genesis("svc-gateway@inst-1", "s\xC3\xA9rver")));
  EXPECT_NE(record_.bytes.find("\"writer_id\":\"s\xC3\xA9rver\""), std::string::npos);
  // U+212B ANGSTROM SIGN is canonically equivalent to U+00C5.
  EXPECT_EQ(CanonAttrs("{\"k\":\"\xE2\x84\xAB\"}"), "{\"k\":\"\xC3\x85\"}");
}

TEST_F(CanonicalTest, KeysAreNormalizedBeforeSorting) {
  // NFD "é" (65 CC 81) and NFC "é" (C3 A9) are the same key after NFC.
  EXPECT_EQ(CanonAttrs("{\"e\xCC\x81\":1,\"f\":2}"), "{\"f\":2,\"\xC3\xA9\":1}");
}

TEST_F(CanonicalTest, EscapesAreMinimal) {
  EXPECT_EQ(CanonAttrs(R"({"s":"\u0041\/\"\\\b\t\n\f\r\u0001\u001f\u007f\u00e9"})"),
            "{\"s\":\"A/\\\"\\\\\\b\\t\\n\\f\\r\\u0001\\u001f\x7F\xC3\xA9\"}");
  EXPECT_EQ(CanonAttrs(R"({"s":"\ud83d\ude00"})"), "{\"s\":\"\xF0\x9F\x98\x80\"}");
  EXPECT_EQ(CanonAttrs(R"({"\u0000":"\u0000"})"), R"({"\u0000":"\u0000"})");
}

TEST_F(CanonicalTest, IntegersAreBase10WithoutSignOrZeros) {
  EXPECT_EQ(
      CanonAttrs(R"({"a":-0,"b":-1,"c":18446744073709551615,"d":-9223372036854775808,"e":0})"),
      R"({"a":0,"b":-1,"c":18446744073709551615,"d":-9223372036854775808,"e":0})");
}

TEST_F(CanonicalTest, LiteralsAndEmptyContainers) {
  EXPECT_EQ(CanonAttrs(R"({"a":true,"b":false,"c":null,"d":[],"e":{},"f":[[]]})"),
            R"({"a":true,"b":false,"c":null,"d":[],"e":{},"f":[[]]})");
}

TEST_F(CanonicalTest, DigestIsBlake3OfCanonicalBytes) {
  Canon(kGenesis);
  EXPECT_EQ(record_.digest, Blake3(kGenesis));
  EXPECT_EQ(HashText(record_.digest),
            "b3:0c1a9dc479041a90fc084e5090d29f743f179a895a73f31181110c02f65ee001");
}

TEST_F(CanonicalTest, CanonicalizeIsIdempotent) {
  const std::string once = Canon(
      R"({ "attrs":{"z":[1,{"b":"\u00e9","a":-0}],"a":"x"}, "v":1,"ts_ms":5,"writer_id":"w","seq":3,"stream":"s","kind":"K","actor":{},"subject":{},"reason":"r","prev":"b3:0000000000000000000000000000000000000000000000000000000000000000"})");
  EXPECT_EQ(Canon(once), once);
}

TEST_F(CanonicalTest, TypedRecordEncodesLikeItsText) {
  Record r;
  r.ts_ms = 1730246400000;
  r.writer_id = "svc-gateway@inst-1";
  r.seq = 1;
  r.stream = "ingress";
  r.kind = "GetServed";
  r.actor.anon = true;
  r.reason = "ok";
  ASSERT_TRUE(canonicalizer_.Encode(r, &record_).ok());
  EXPECT_EQ(record_.bytes, kGenesis);
  r.attrs = R"({"b":1,"a":2})";
  ASSERT_TRUE(canonicalizer_.Encode(r, &record_).ok());
  EXPECT_EQ(record_.record.attrs, R"({"a":2,"b":1})");
  r.attrs = R"({},"kind":"Evil")";  // cannot smuggle a key in through attrs
  EXPECT_EQ(canonicalizer_.Encode(r, &record_).code(), Code::kSchema);
  r.attrs = "{}";
  r.writer_id = "bad\xFF";
  EXPECT_EQ(canonicalizer_.Encode(r, &record_).code(), Code::kUtf8);
}

// ---- Schema ------------------------------------------------------------------------------

TEST_F(CanonicalTest, MalformedJsonIsSchema) {
  for (const char* bad : {"", "{", "[]", "1", "\"x\"", "null", "{\"v\":1,}", "{\"v\" 1}", "{'v':1}",
                          "{\"v\":01}", "{\"v\":1}{}", "{\"v\":+1}"}) {
    EXPECT_EQ(CodeOf(bad), Code::kSchema) << bad;
  }
  EXPECT_EQ(CodeOf(Genesis("}", "")), Code::kSchema);  // truncated
}

TEST_F(CanonicalTest, MissingKeyIsSchema) {
  EXPECT_EQ(CodeOf(Genesis(R"("reason":"ok",)", "")), Code::kSchema);
  EXPECT_EQ(CodeOf(Genesis(R"(,"prev":"b3:0")", "")), Code::kSchema);
  EXPECT_EQ(CodeOf(Genesis(R"("v":1,)", "")), Code::kSchema);
}

TEST_F(CanonicalTest, UnknownOrDuplicateKeyIsSchema) {
  EXPECT_EQ(CodeOf(Genesis(R"("v":1,)", R"("v":1,"extra":1,)")), Code::kSchema);
  EXPECT_EQ(CodeOf(Genesis(R"("v":1,)", R"("v":1,"v":1,)")), Code::kSchema);
  EXPECT_EQ(CodeOf(Genesis(R"("anon":true)", R"("anon":true,"anon":true)")), Code::kSchema);
  EXPECT_EQ(CodeOf(Genesis(R"("anon":true)", R"("anon":true,"ip":"1.2.3.4")")), Code::kSchema);
  EXPECT_EQ(CodeOf(Genesis(R"("subject":{})", R"("subject":{"who":"x"})")), Code::kSchema);
  EXPECT_EQ(CodeOf(Genesis(R"("subject":{})", R"("subject":{"name":"a","name":"b"})")),
            Code::kSchema);
  EXPECT_EQ(CodeOf(RecordJson(1, "b3:0", R"({"a":1,"a":1})")), Code::kSchema);
  // Duplicates that only appear after NFC are still duplicates.
  EXPECT_EQ(CodeOf(RecordJson(1, "b3:0", "{\"\xC3\xA9\":1,\"e\xCC\x81\":2}")), Code::kSchema);
}

TEST_F(CanonicalTest, UnsealedInputMayNotCarrySelfHash) {
  EXPECT_EQ(
      CodeOf(Genesis(
          R"("prev":"b3:0")",
          R"("prev":"b3:0","self_hash":"b3:0c1a9dc479041a90fc084e5090d29f743f179a895a73f31181110c02f65ee001")")),
      Code::kSchema);
}

TEST_F(CanonicalTest, VersionMustBeOne) {
  EXPECT_EQ(CodeOf(Genesis(R"("v":1)", R"("v":2)")), Code::kSchema);
  EXPECT_EQ(CodeOf(Genesis(R"("v":1)", R"("v":0)")), Code::kSchema);
  EXPECT_EQ(CodeOf(Genesis(R"("v":1)", R"("v":"1")")), Code::kSchema);
}

TEST_F(CanonicalTest, TopLevelIntegersAreUnsignedAndInRange) {
  EXPECT_EQ(CodeOf(Genesis("1730246400000", "-1")), Code::kSchema);
  EXPECT_EQ(CodeOf(Genesis("1730246400000", "18446744073709551616")), Code::kSchema);
  EXPECT_EQ(Canon(Genesis("1730246400000", "18446744073709551615")).find("18446744073709551615"),
            15u);
  EXPECT_EQ(CodeOf(Genesis("1730246400000", "\"1\"")), Code::kSchema);
  EXPECT_EQ(CodeOf(Genesis(R"("seq":1)", R"("seq":0)")), Code::kSchema);
  EXPECT_EQ(CodeOf(Genesis(R"("seq":1)", R"("seq":-5)")), Code::kSchema);
  EXPECT_TRUE(canonicalizer_.Canonicalize(Genesis("1730246400000", "-0"), &record_).ok());
  EXPECT_EQ(record_.record.ts_ms, 0u);
}

TEST_F(CanonicalTest, WriterIdAndStreamRules) {
  EXPECT_EQ(CodeOf(Genesis("svc-gateway@inst-1", "")), Code::kSchema);
  EXPECT_EQ(CodeOf(Genesis("svc-gateway@inst-1", std::string(129, 'w'))), Code::kSchema);
  EXPECT_TRUE(
      canonicalizer_.Canonicalize(Genesis("svc-gateway@inst-1", std::string(128, 'w')), &record_)
          .ok());
  EXPECT_EQ(CodeOf(Genesis("svc-gateway@inst-1", "a\\u0001b")), Code::kSchema);
  EXPECT_EQ(CodeOf(Genesis("svc-gateway@inst-1", "a\\u007fb")), Code::kSchema);
  EXPECT_EQ(CodeOf(Genesis("svc-gateway@inst-1", "a\\u0085b")), Code::kSchema);  // C1 control
  EXPECT_EQ(CodeOf(Genesis("svc-gateway@inst-1", "a\\u00a0b")), Code::kOk);      // not a control
  EXPECT_EQ(CodeOf(Genesis("ingress", std::string(65, 's'))), Code::kSchema);
  EXPECT_EQ(CodeOf(Genesis("ingress", std::string(64, 's'))), Code::kOk);
  EXPECT_EQ(CodeOf(Genesis("ingress", "")), Code::kSchema);
  EXPECT_EQ(CodeOf(Genesis("\"ingress\"", "7")), Code::kSchema);
  // 64 bytes counted in UTF-8 after NFC: 32 × "é" (2 bytes each) fits, 33 does not.
  std::string e32, e33;
  for (int i = 0; i < 32; ++i) e32 += "e\\u0301";
  e33 = e32 + "e\\u0301";
  EXPECT_EQ(CodeOf(Genesis("ingress", e32)), Code::kOk);
  EXPECT_EQ(CodeOf(Genesis("ingress", e33)), Code::kSchema);
}

TEST_F(CanonicalTest, KindRule) {
  EXPECT_EQ(CodeOf(Genesis("GetServed", "LOCK_ACQUIRE")), Code::kOk);
  EXPECT_EQ(CodeOf(Genesis("GetServed", "a.b_c9")), Code::kOk);
  EXPECT_EQ(CodeOf(Genesis("GetServed", std::string(64, 'K'))), Code::kOk);
  EXPECT_EQ(CodeOf(Genesis("GetServed", std::string(65, 'K'))), Code::kSchema);
  EXPECT_EQ(CodeOf(Genesis("GetServed", "9Lives")), Code::kSchema);
  EXPECT_EQ(CodeOf(Genesis("GetServed", "_x")), Code::kSchema);
  EXPECT_EQ(CodeOf(Genesis("GetServed", "a-b")), Code::kSchema);
  EXPECT_EQ(CodeOf(Genesis("GetServed", "")), Code::kSchema);
  // U+212A KELVIN SIGN is canonically "K": the rule applies to the NFC form.
  EXPECT_EQ(CodeOf(Genesis("GetServed", "\\u212Aind")), Code::kOk);
  EXPECT_NE(record_.bytes.find("\"kind\":\"Kind\""), std::string::npos);
}

TEST_F(CanonicalTest, ReasonRule) {
  EXPECT_EQ(CodeOf(Genesis(R"("reason":"ok")", R"("reason":"audit:back-pressure_1.x")")),
            Code::kOk);
  EXPECT_EQ(CodeOf(Genesis(R"("reason":"ok")", R"("reason":"")")), Code::kSchema);
  EXPECT_EQ(CodeOf(Genesis(R"("reason":"ok")", R"("reason":"a b")")), Code::kSchema);
  EXPECT_EQ(CodeOf(Genesis(R"("reason":"ok")", "\"reason\":\"" + std::string(65, 'r') + "\"")),
            Code::kSchema);
  EXPECT_EQ(CodeOf(Genesis(R"("reason":"ok")", R"("reason":1)")), Code::kSchema);
}

TEST_F(CanonicalTest, ActorAndSubjectTypes) {
  EXPECT_EQ(CodeOf(Genesis(R"("anon":true)", R"("anon":"yes")")), Code::kSchema);
  EXPECT_EQ(CodeOf(Genesis(R"("anon":true)", R"("cap_id":1)")), Code::kSchema);
  EXPECT_EQ(CodeOf(Genesis(R"("actor":{"anon":true})", R"("actor":[])")), Code::kSchema);
  EXPECT_EQ(CodeOf(Genesis(R"("subject":{})", R"("subject":null)")), Code::kSchema);
  EXPECT_EQ(CodeOf(Genesis(R"("subject":{})", R"("subject":{"name":null})")), Code::kSchema);
  EXPECT_EQ(CodeOf(Genesis(R"("actor":{"anon":true})", R"("actor":{})")), Code::kOk);
}

TEST_F(CanonicalTest, PrevRule) {
  const std::string hex64(64, 'a');
  EXPECT_EQ(CodeOf(RecordJson(2, "b3:" + hex64)), Code::kOk);
  EXPECT_EQ(CodeOf(RecordJson(2, "b3:" + std::string(64, 'A'))), Code::kSchema);
  EXPECT_EQ(CodeOf(RecordJson(2, "b3:" + std::string(63, 'a'))), Code::kSchema);
  EXPECT_EQ(CodeOf(RecordJson(2, "b3:" + std::string(65, 'a'))), Code::kSchema);
  EXPECT_EQ(CodeOf(RecordJson(2, "sha256:" + hex64)), Code::kSchema);
  EXPECT_EQ(CodeOf(RecordJson(2, "b3:00")), Code::kSchema);
  EXPECT_EQ(CodeOf(Genesis(R"("prev":"b3:0")", R"("prev":null)")), Code::kSchema);
}

TEST_F(CanonicalTest, AttrsMustBeAnObject) {
  EXPECT_EQ(CodeOf(RecordJson(1, "b3:0", "[]")), Code::kSchema);
  EXPECT_EQ(CodeOf(RecordJson(1, "b3:0", "null")), Code::kSchema);
  EXPECT_EQ(CodeOf(RecordJson(1, "b3:0", "\"{}\"")), Code::kSchema);
}

TEST_F(CanonicalTest, AttrsDepthIsAtMostEight) {
  // attrs is depth 1; a container directly inside it is depth 2.
  const auto arrays = [](int depth) {  // attrs {"a": [[...]]} with the deepest array at `depth`
    return "{\"a\":" + std::string(static_cast<size_t>(depth - 1), '[') +
           std::string(static_cast<size_t>(depth - 1), ']') + "}";
  };
  EXPECT_EQ(CodeOf(RecordJson(1, "b3:0", arrays(8))), Code::kOk);
  EXPECT_EQ(CodeOf(RecordJson(1, "b3:0", arrays(9))), Code::kSchema);
  EXPECT_EQ(
      CodeOf(RecordJson(1, "b3:0", "{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{}}}}}}}}")),
      Code::kOk);  // 8 objects
  EXPECT_EQ(CodeOf(RecordJson(
                1, "b3:0", "{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{\"h\":{}}}}}}}}}")),
            Code::kSchema);  // 9 objects
  // Scalars at depth 9 are fine: only containers count.
  EXPECT_EQ(CodeOf(RecordJson(1, "b3:0", "{\"a\":[[[[[[[1]]]]]]]}")), Code::kOk);
}

// ---- Float, Utf8, bounds, and their precedence -------------------------------------------

TEST_F(CanonicalTest, AnyFloatIsFloat) {
  EXPECT_EQ(CodeOf(Genesis(R"("seq":1)", R"("seq":2.0)")), Code::kFloat);
  EXPECT_EQ(CodeOf(Genesis(R"("seq":1)", R"("seq":1e3)")), Code::kFloat);
  EXPECT_EQ(CodeOf(RecordJson(1, "b3:0", R"({"a":[1,{"b":0.5}]})")), Code::kFloat);
  EXPECT_EQ(CodeOf(RecordJson(1, "b3:0", R"({"a":1E-2})")), Code::kFloat);
  EXPECT_EQ(CodeOf(RecordJson(1, "b3:0", R"({"a":1e400})")), Code::kFloat);
  EXPECT_EQ(CodeOf(RecordJson(1, "b3:0", R"({"a":-0.0})")), Code::kFloat);
}

TEST_F(CanonicalTest, OutOfRangeIntegerIsSchema) {
  EXPECT_EQ(CodeOf(RecordJson(1, "b3:0", R"({"a":18446744073709551616})")), Code::kSchema);
  EXPECT_EQ(CodeOf(RecordJson(1, "b3:0", R"({"a":-9223372036854775809})")), Code::kSchema);
}

TEST_F(CanonicalTest, InvalidUtf8IsUtf8) {
  EXPECT_EQ(CodeOf(RecordJson(1, "b3:0", "{\"a\":\"\xFF\"}")), Code::kUtf8);
  EXPECT_EQ(CodeOf(RecordJson(1, "b3:0", "{\"a\":\"\xC3\"}")), Code::kUtf8);          // truncated
  EXPECT_EQ(CodeOf(RecordJson(1, "b3:0", "{\"a\":\"\xC0\xAF\"}")), Code::kUtf8);      // overlong
  EXPECT_EQ(CodeOf(RecordJson(1, "b3:0", "{\"a\":\"\xED\xA0\x80\"}")), Code::kUtf8);  // surrogate
  EXPECT_EQ(CodeOf(RecordJson(1, "b3:0", "{\"a\":\"\xF4\x90\x80\x80\"}")), Code::kUtf8);  // >10FFFF
  EXPECT_EQ(CodeOf(Genesis("svc-gateway", "svc\xFE")), Code::kUtf8);
  EXPECT_EQ(CodeOf(RecordJson(1, "b3:0", "{\"\xFF\":1}")), Code::kUtf8);
}

TEST_F(CanonicalTest, LoneSurrogateEscapeIsUtf8) {
  EXPECT_EQ(CodeOf(RecordJson(1, "b3:0", R"({"a":"\ud800"})")), Code::kUtf8);
  EXPECT_EQ(CodeOf(RecordJson(1, "b3:0", R"({"a":"\udc00\ud800"})")), Code::kUtf8);
  EXPECT_EQ(CodeOf(RecordJson(1, "b3:0", R"({"a":"\ud800\u0041"})")), Code::kUtf8);
  EXPECT_EQ(CodeOf(RecordJson(1, "b3:0", R"({"\uDFFF":1})")), Code::kUtf8);
}

TEST_F(CanonicalTest, AttrsTooLarge) {
  Canonicalizer small(Limits{256, 768});
  const std::string fits = "{\"a\":\"" + std::string(256 - 8, 'x') + "\"}";  // exactly 256 bytes
  const std::string over = "{\"a\":\"" + std::string(256 - 7, 'x') + "\"}";
  EXPECT_TRUE(small.Canonicalize(RecordJson(1, "b3:0", fits), &record_).ok());
  EXPECT_EQ(small.Canonicalize(RecordJson(1, "b3:0", over), &record_).code(), Code::kAttrsTooLarge);
  // Measured on the canonical form: whitespace in the input does not count.
  EXPECT_TRUE(
      small
          .Canonicalize(RecordJson(1, "b3:0", "{ \"a\" : \"" + std::string(248, 'x') + "\" }"),
                        &record_)
          .ok());
  // The default bound is 1 KiB.
  EXPECT_EQ(CodeOf(RecordJson(1, "b3:0", "{\"a\":\"" + std::string(1024 - 7, 'x') + "\"}")),
            Code::kAttrsTooLarge);
  EXPECT_EQ(CodeOf(RecordJson(1, "b3:0", "{\"a\":\"" + std::string(1024 - 8, 'x') + "\"}")),
            Code::kOk);
}

TEST_F(CanonicalTest, RecordTooLarge) {
  // A record whose attrs fit but whose whole canonical form exceeds the bound.
  Canonicalizer small(Limits{256, 768});
  std::string actor = "\"actor\":{\"cap_id\":\"" + std::string(600, 'c') + "\"}";
  EXPECT_EQ(small.Canonicalize(Genesis(R"("actor":{"anon":true})", actor), &record_).code(),
            Code::kRecordTooLarge);
  EXPECT_EQ(CodeOf(Genesis(R"("actor":{"anon":true})", actor)), Code::kOk);
  actor = "\"actor\":{\"cap_id\":\"" + std::string(4000, 'c') + "\"}";
  EXPECT_EQ(CodeOf(Genesis(R"("actor":{"anon":true})", actor)), Code::kRecordTooLarge);
  // Input above 64 KiB is rejected before parsing, even if it is garbage.
  EXPECT_EQ(CodeOf(std::string(kMaxInputBytes + 1, '{')), Code::kRecordTooLarge);
  EXPECT_EQ(CodeOf(std::string(kMaxInputBytes, '{')), Code::kSchema);
}

TEST_F(CanonicalTest, PrecedenceMalformedBeatsFloatBeatsUtf8) {
  // malformed + float + bad UTF-8 → Schema
  EXPECT_EQ(CodeOf(RecordJson(1, "b3:0", "{\"a\":[1.5,\"\xFF\"}")), Code::kSchema);
  // float + bad UTF-8 → Float (simdjson alone would report the UTF-8 problem first)
  EXPECT_EQ(CodeOf(RecordJson(1, "b3:0", "{\"a\":\"\xFF\",\"b\":1.5}")), Code::kFloat);
  // float + lone surrogate → Float
  EXPECT_EQ(CodeOf(RecordJson(1, "b3:0", R"({"a":"\ud800","b":1.5})")), Code::kFloat);
  // float + out-of-range integer → Float
  EXPECT_EQ(CodeOf(RecordJson(1, "b3:0", R"({"a":99999999999999999999,"b":1.5})")), Code::kFloat);
  // bad UTF-8 + out-of-range integer → Utf8
  EXPECT_EQ(CodeOf(RecordJson(1, "b3:0", "{\"a\":99999999999999999999,\"b\":\"\xFF\"}")),
            Code::kUtf8);
}

TEST_F(CanonicalTest, PrecedenceParseErrorsBeatFieldRules) {
  // Unknown key (a field rule) + float → Float; wrong version + bad UTF-8 → Utf8.
  EXPECT_EQ(CodeOf(Genesis(R"("v":1,)", R"("v":1,"x":0.5,)")), Code::kFloat);
  EXPECT_EQ(CodeOf(Genesis(R"("v":1)", R"("v":2)")), Code::kSchema);
  EXPECT_EQ(CodeOf(Genesis(R"("v":1)", "\"v\":2,\"zz\":\"\xFF\"")), Code::kUtf8);
  // A float after an earlier field error still wins.
  std::string json = Genesis(R"("kind":"GetServed")", R"("kind":"9bad")");
  json.insert(json.size() - 1, R"(,"zzz":1.5)");
  EXPECT_EQ(CodeOf(json), Code::kFloat);
}

TEST_F(CanonicalTest, PrecedenceFieldRulesBeatBoundsAndAttrsBeatsRecord) {
  const std::string big_attrs = "{\"a\":\"" + std::string(2000, 'x') + "\"}";
  // Oversized attrs + a bad prev after it → Schema.
  EXPECT_EQ(CodeOf(RecordJson(2, "b3:bad", big_attrs)), Code::kSchema);
  // Oversized attrs in an oversized record → AttrsTooLarge.
  std::string json = RecordJson(1, "b3:0", big_attrs);
  const std::string actor = R"("actor":{"anon":true})";
  json.replace(json.find(actor), actor.size(),
               "\"actor\":{\"cap_id\":\"" + std::string(4000, 'c') + "\"}");
  EXPECT_EQ(CodeOf(json), Code::kAttrsTooLarge);
}

TEST(LimitsTest, ValidateEnforcesConfigRules) {
  EXPECT_TRUE(Limits().Validate().ok());
  EXPECT_TRUE((Limits{256, 768}.Validate().ok()));
  EXPECT_FALSE((Limits{255, 4096}.Validate().ok()));
  EXPECT_FALSE((Limits{1025, 4096}.Validate().ok()));  // looser than the law
  EXPECT_FALSE((Limits{1024, 1535}.Validate().ok()));  // record < attrs + 512
  EXPECT_FALSE((Limits{1024, 4097}.Validate().ok()));
}

TEST(SealTest, SealInsertsSelfHashBeforeTheFinalBrace) {
  Canonicalizer c;
  CanonicalRecord r;
  ASSERT_TRUE(c.Canonicalize(kGenesis, &r).ok());
  const std::string sealed = Seal(r);
  EXPECT_EQ(sealed, std::string(kGenesis).substr(0, sizeof(kGenesis) - 2) + ",\"self_hash\":\"" +
                        HashText(r.digest) + "\"}");
  EXPECT_EQ(sealed.size(), r.bytes.size() - 1 + kSealSuffixBytes);
}

}  // namespace
}  // namespace ron

namespace ron {
namespace {

// VerifySealedMany gives every record VerifySealed's verdict and record: sealed records of
// one and two chunks, a changed one (HashMismatch), a non-canonical one (Schema), a torn one.
TEST(VerifySealedManyTest, EachRecordGetsVerifySealedsVerdict) {
  Canonicalizer c;
  std::vector<std::string> sealed;
  for (size_t pad : {0u, 10u, 700u, 900u}) {  // 900: the record passes one chunk
    CanonicalRecord r;
    ASSERT_TRUE(c.Canonicalize(RecordJson(1, "b3:0", R"({"p":")" + std::string(pad, 'x') + "\"}"),
                               &r)
                    .ok());
    sealed.push_back(Seal(r));
  }
  std::string changed = sealed[2];
  changed[changed.find("xxx")] = 'y';
  sealed.push_back(changed);
  sealed.push_back(" " + sealed[0]);
  sealed.push_back(sealed[1].substr(0, sealed[1].size() / 2));
  const std::vector<std::string_view> views(sealed.begin(), sealed.end());
  std::vector<CanonicalRecord> many(views.size());
  std::vector<Status> status(views.size());
  c.VerifySealedMany(views, many.data(), status.data());
  // Attrs::kLocate, into records that held other records before (the engine reuses them):
  // the same verdicts and bytes, the attrs text found in the bytes instead of copied.
  std::vector<CanonicalRecord> located(views.size());
  for (auto& r : located) ASSERT_TRUE(c.Canonicalize(RecordJson(9, "b3:0", R"({"z":1})"), &r).ok());
  located[3].attrs_at = 5, located[3].attrs_bytes = 3;  // stale: must not survive
  std::vector<Status> located_status(views.size());
  c.VerifySealedMany(views, located.data(), located_status.data(), Canonicalizer::Attrs::kLocate);
  // Attrs::kChain (the engine's import path): the same again, of the record only what the
  // engine's writer reads; reason, actor and subject left empty, also where stale ones were.
  std::vector<CanonicalRecord> chained(views.size());
  for (auto& r : chained) ASSERT_TRUE(c.Canonicalize(RecordJson(9, "b3:0", R"({"z":1})"), &r).ok());
  std::vector<Status> chained_status(views.size());
  c.VerifySealedMany(views, chained.data(), chained_status.data(), Canonicalizer::Attrs::kChain);
  for (size_t i = 0; i < views.size(); ++i) {
    CanonicalRecord one;
    const Status expected = c.VerifySealed(views[i], &one);
    EXPECT_EQ(status[i].code(), expected.code()) << i << " " << status[i].ToString();
    EXPECT_EQ(located_status[i].code(), expected.code()) << i;
    if (expected.ok()) {
      EXPECT_EQ(many[i].bytes, one.bytes) << i;
      EXPECT_EQ(many[i].digest, one.digest) << i;
      EXPECT_EQ(many[i].record, one.record) << i;
      EXPECT_EQ(many[i].attrs_text(), one.record.attrs) << i;
      EXPECT_EQ(located[i].bytes, one.bytes) << i;
      EXPECT_EQ(located[i].digest, one.digest) << i;
      EXPECT_EQ(located[i].attrs_text(), one.record.attrs) << i;
      EXPECT_TRUE(located[i].record.attrs.empty()) << i;
      Record without_attrs = one.record;
      without_attrs.attrs.clear();
      EXPECT_EQ(located[i].record, without_attrs) << i;
      EXPECT_EQ(chained_status[i].code(), expected.code()) << i;
      EXPECT_EQ(chained[i].bytes, one.bytes) << i;
      EXPECT_EQ(chained[i].digest, one.digest) << i;
      EXPECT_EQ(chained[i].attrs_text(), one.record.attrs) << i;
      const Record chain_fields = testing::ChainFieldsOf(one.record);
      EXPECT_EQ(chained[i].record, chain_fields) << i;
      // VerifySealed of one record under kChain (OfferSealed), into a record with stale
      // fields and a stale attrs place: the same as VerifySealedMany's.
      CanonicalRecord single = located[(i + 1) % views.size()];
      single.attrs_at = 7, single.attrs_bytes = 2;
      ASSERT_TRUE(c.VerifySealed(views[i], &single, Canonicalizer::Attrs::kChain).ok()) << i;
      EXPECT_EQ(single.bytes, one.bytes) << i;
      EXPECT_EQ(single.digest, one.digest) << i;
      EXPECT_EQ(single.attrs_text(), one.record.attrs) << i;
      EXPECT_EQ(single.record, chain_fields) << i;
    } else {
      EXPECT_EQ(chained_status[i].code(), expected.code()) << i;
      CanonicalRecord single;
      EXPECT_EQ(c.VerifySealed(views[i], &single, Canonicalizer::Attrs::kChain).code(),
                expected.code())
          << i;
    }
  }
  EXPECT_EQ(status[4].code(), Code::kHashMismatch);
}

// A sealed record that is valid but not on the fast path (non-ASCII text: the full path
// normalizes and compares) gets its attrs copied under Attrs::kLocate too.
TEST(VerifySealedManyTest, FullPathRecordsKeepTheirAttrsUnderLocate) {
  Canonicalizer c;
  CanonicalRecord r;
  ASSERT_TRUE(c.Canonicalize(RecordJson(1, "b3:0", R"({"caf\u00e9":"\u00e9t\u00e9"})"), &r).ok());
  const std::string sealed = Seal(r);
  const std::string_view view = sealed;
  CanonicalRecord out;
  out.attrs_at = 1, out.attrs_bytes = 2;
  Status status;
  c.VerifySealedMany(std::span(&view, 1), &out, &status, Canonicalizer::Attrs::kLocate);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(out.attrs_bytes, 0u);
  EXPECT_EQ(out.record.attrs, r.record.attrs);
  EXPECT_EQ(out.attrs_text(), r.record.attrs);
  EXPECT_EQ(out.bytes, r.bytes);
}

// A record filled under Attrs::kLocate and then reused by another call (the engine reuses
// records as scratch) gives that call's attrs through attrs_text(), never the old place.
TEST(VerifySealedManyTest, ReusedRecordsForgetWhereAttrsWere) {
  Canonicalizer c;
  CanonicalRecord sealed_form;
  const std::string attrs = R"({"long":")" + std::string(300, 'q') + "\"}";
  ASSERT_TRUE(c.Canonicalize(RecordJson(1, "b3:0", attrs), &sealed_form).ok());
  const std::string sealed = Seal(sealed_form);
  const std::string_view view = sealed;
  const auto located = [&](CanonicalRecord* r) {
    Status status;
    c.VerifySealedMany(std::span(&view, 1), r, &status, Canonicalizer::Attrs::kLocate);
    ASSERT_TRUE(status.ok()) << status.ToString();
    ASSERT_NE(r->attrs_bytes, 0u);
  };
  CanonicalRecord r;
  located(&r);
  ASSERT_TRUE(c.Canonicalize(RecordJson(2, "b3:0", R"({"a":1})"), &r).ok());
  EXPECT_EQ(r.attrs_text(), R"({"a":1})");
  located(&r);
  ASSERT_TRUE(c.ReadCanonical(sealed_form.bytes, &r));
  EXPECT_EQ(r.attrs_text(), sealed_form.record.attrs);
  located(&r);
  CanonicalRecord prepared;
  const Canonicalizer::DraftContext ctx{"w@1", "s", 1, "b3:0", 1};
  const std::string draft = R"({"kind":"K","actor":{},"subject":{},"reason":"r","attrs":{"b":2}})";
  ASSERT_TRUE(c.PrepareDraft(draft, ctx, &prepared).ok());
  ASSERT_TRUE(Canonicalizer::CompleteDraft(prepared, 1, "b3:0", c.limits(), &r).ok());
  EXPECT_EQ(r.attrs_text(), R"({"b":2})");
}

// AppendJsonString skips clean bytes sixteen and eight at a time: every byte that needs an
// escape is found wherever it sits against those steps (and UTF-8 bytes pass unescaped),
// against a byte-at-a-time rendering of RFC 8259's rules.
TEST(AppendJsonStringTest, EscapesEveryByteWhereverItSits) {
  const auto reference = [](std::string_view s) {
    std::string out = "\"";
    for (const char ch : s) {
      const auto c = static_cast<unsigned char>(ch);
      const char* named = c == '"'    ? "\\\""
                          : c == '\\' ? "\\\\"
                          : c == 0x08 ? "\\b"
                          : c == 0x09 ? "\\t"
                          : c == 0x0A ? "\\n"
                          : c == 0x0C ? "\\f"
                          : c == 0x0D ? "\\r"
                                      : nullptr;
      if (named != nullptr) {
        out += named;
      } else if (c < 0x20) {
        char esc[7];
        std::snprintf(esc, sizeof(esc), "\\u%04x", c);
        out += esc;
      } else {
        out += ch;
      }
    }
    return out + "\"";
  };
  int checked = 0;
  const std::vector<unsigned char> specials = {0x00, 0x01, 0x08, 0x0A, 0x1F, 0x20,
                                               0x22, 0x5C, 0x7F, 0x80, 0xC3, 0xFF};
  for (const unsigned char special : specials) {
    // Up to 130 bytes: the scalar bytes below 16, the 16-byte steps, the 32-byte steps from 64
    // bytes, and the last, overlapping step of each.
    for (size_t len = 1; len <= 130; ++len) {
      for (size_t at = 0; at < len; ++at) {
        std::string s(len, 'a');
        s[at] = static_cast<char>(special);
        if (at + 17 < len) s[at + 17] = '"';  // a second one, a step further
        std::string got;
        AppendJsonString(s, &got);
        ASSERT_EQ(got, reference(s)) << "byte " << int{special} << " at " << at << " of " << len;
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 12 * (130 * 131 / 2));
}

}  // namespace
}  // namespace ron
