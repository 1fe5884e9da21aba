// PrepareDraft's one-pass reading of drafts as hosts write them (compact ASCII JSON, keys in
// any order) against the full parser: for random drafts in every spelling, for every one-byte
// change of compact ones, and for the shapes it must leave to the full path, the verdict, the
// error, the canonical bytes and the record are the same with the fast path on and off.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "engine/core/canonical.h"
#include "engine/core/canonical_rules.h"
#include "tests/engine/core/record_spelling.h"
#include "tests/test_util.h"

namespace ron {
namespace {

using namespace spelling;  // NOLINT: the generator and writers of random spellings

constexpr uint64_t kDefaultTs = 1700000000000;

// PrepareDraft of `draft` with the fast path on (`fast`) and off (`full`): the same outcome.
// Returns whether the fast path read it.
bool SameBothWays(Canonicalizer* fast, Canonicalizer* full, const std::string& draft,
                  std::string_view writer_id = "svc-gw@inst-1", std::string_view stream = "s") {
  const Canonicalizer::DraftContext ctx{writer_id, stream, 7, "b3:0", kDefaultTs};
  CanonicalRecord a;
  static CanonicalRecord b;  // reused, as Emit's callers reuse theirs: nothing of it may survive
  b.record.attrs = "stale";
  b.record.actor.key_fpr = "stale";
  b.digest[0] = 0x5a;
  const uint64_t before = fast->drafts_read_fast();
  const Status expected = full->PrepareDraft(draft, ctx, &a);
  const Status got = fast->PrepareDraft(draft, ctx, &b);
  const bool read_fast = fast->drafts_read_fast() > before;
  EXPECT_EQ(got.code(), expected.code()) << draft;
  EXPECT_EQ(got.message(), expected.message()) << draft;
  EXPECT_TRUE(!read_fast || got.ok()) << draft;
  // Attrs::kChain (what the engine's tasks carry), into a reused record: the same verdict and
  // bytes; read fast, the attrs found in the bytes and only the writer's fields kept, else
  // the whole record.
  static CanonicalRecord c;
  c.record.reason = "stale";
  c.attrs_at = 3, c.attrs_bytes = 4;
  const uint64_t before_chain = fast->drafts_read_fast();
  const Status chained = fast->PrepareDraft(draft, ctx, &c, Canonicalizer::Attrs::kChain);
  EXPECT_EQ(fast->drafts_read_fast() > before_chain, read_fast) << draft;
  EXPECT_EQ(chained.code(), expected.code()) << draft;
  EXPECT_EQ(chained.message(), expected.message()) << draft;
  if (!expected.ok() || !got.ok() || !chained.ok()) return read_fast;
  EXPECT_EQ(b.bytes, a.bytes) << draft;
  EXPECT_TRUE(b.record == a.record) << draft;
  EXPECT_EQ(b.attrs_text(), a.attrs_text()) << draft;
  EXPECT_EQ(b.digest, Digest{}) << draft;  // hashed by CompleteDraft, once seq and prev are in
  EXPECT_EQ(c.bytes, a.bytes) << draft;
  EXPECT_EQ(c.attrs_text(), a.attrs_text()) << draft;
  if (read_fast) {
    EXPECT_GT(c.attrs_bytes, 0u) << draft;
  }
  EXPECT_TRUE(c.record == (read_fast ? testing::ChainFieldsOf(a.record) : a.record)) << draft;
  return read_fast;
}

struct Pair {
  explicit Pair(const Limits& limits = Limits()) : fast(limits), full(limits) {
    full.UseDraftFastPath(false);
  }
  Canonicalizer fast, full;
};

TEST(DraftFastPathTest, RandomDraftsInEverySpellingEqualTheFullPath) {
  Generator gen(20261204);
  const Limits small{256, 768};
  for (const Limits& limits : {Limits(), small}) {
    Pair p(limits);
    int read_fast = 0, full_path = 0, mutants_fast = 0;
    for (int n = 0; n < 2000; ++n) {
      gen.ascii_only = n % 4 != 0;
      gen.plain_keys = n % 3 != 0;
      gen.compact = n % 5 != 0;
      gen.canonical_escapes = gen.ascii_only && n % 2 == 0;
      const LogicalRecord r = gen.ascii_only ? RandomAsciiRecord(&gen) : RandomRecord(&gen);
      const std::string draft = SpellDraft(r, &gen);
      const bool fast = SameBothWays(&p.fast, &p.full, draft, r.writer_id, r.stream);
      (fast ? read_fast : full_path)++;
      if (n >= 200 || !gen.compact || !gen.canonical_escapes) continue;
      // Every one-byte change, deletion and doubling of a compact draft.
      for (size_t i = 0; i < draft.size(); ++i) {
        std::string flipped = draft;
        flipped[i] = static_cast<char>(flipped[i] ^ (1 << gen.Uniform(0, 7)));
        mutants_fast += SameBothWays(&p.fast, &p.full, flipped, r.writer_id, r.stream);
        std::string deleted = draft;
        deleted.erase(i, 1);
        mutants_fast += SameBothWays(&p.fast, &p.full, deleted, r.writer_id, r.stream);
        std::string doubled = draft;
        doubled.insert(i, 1, doubled[i]);
        mutants_fast += SameBothWays(&p.fast, &p.full, doubled, r.writer_id, r.stream);
      }
    }
    EXPECT_GT(read_fast, 250);  // the shapes it is for are read in one pass...
    EXPECT_GT(full_path, 500);  // ...and every other shape reached the full path
    EXPECT_GT(mutants_fast, 100);
  }
}

const std::string kActor = R"("actor":{"passport_id":"u:1","anon":false,"cap_id":"c"})";
const std::string kRest = R"("subject":{"name":"n","content_id":"b3:1"},"reason":"ok")";

// A draft with `attrs` as its attrs text (and kind K).
std::string WithAttrs(const std::string& attrs) {
  return R"({"kind":"K",)" + kActor + "," + kRest + R"(,"attrs":)" + attrs + "}";
}

TEST(DraftFastPathTest, ReadsCompactAsciiDraftsInAnyKeyOrder) {
  Pair p;
  for (const std::string& draft : std::vector<std::string>{
           WithAttrs("{}"),
           R"({"attrs":{},"reason":"ok","subject":{},"actor":{},"kind":"K"})",
           R"({"reason":"ok","ts_ms":5,"kind":"K","actor":{"anon":true},"subject":{},"attrs":{}})",
           R"({"kind":"K","actor":{},"subject":{},"reason":"ok","attrs":{},"ts_ms":0})",
           WithAttrs(R"({"b":[{"y":1,"x":[2,{"q":null,"p":true}]}],"a":{"d":null,"c":-12}})"),
           WithAttrs(R"({"z":"c\n\u0001\"\\","y":"\u001f\b\t\f\r","x":18446744073709551615})"),
           WithAttrs(R"({"m":-9223372036854775808,"a":0,"Z":"","_":[]})"),
           WithAttrs(R"({"a":[[[[[[[1]]]]]]]})"),  // seven arrays in attrs: depth 8, allowed
           "{\"kind\":\"K\",\"actor\":{\"cap_id\":\"\x7f\\\"x\"},\"subject\":{},"  // DEL as is
           "\"reason\":\"a:b-c.d_e\",\"attrs\":{}}",
       }) {
    EXPECT_TRUE(SameBothWays(&p.fast, &p.full, draft)) << draft;
  }
  CanonicalRecord r;
  const Canonicalizer::DraftContext ctx{"w", "s", 1, "b3:0", kDefaultTs};
  ASSERT_TRUE(p.fast.PrepareDraft(WithAttrs(R"({"b":{"d":1,"c":2},"a":3})"), ctx, &r).ok());
  EXPECT_EQ(r.record.attrs, R"({"a":3,"b":{"c":2,"d":1}})");
  EXPECT_EQ(*r.record.actor.passport_id, "u:1");
  EXPECT_FALSE(*r.record.actor.anon);
  EXPECT_EQ(r.record.ts_ms, kDefaultTs);
}

TEST(DraftFastPathTest, LeavesEveryOtherShapeToTheFullPath) {
  Pair p;
  for (const std::string& draft : std::vector<std::string>{
           WithAttrs(R"({"a":1,"a":2})"),             // a repeated key (Schema)...
           WithAttrs(R"({"b":1,"a":1,"b":2})"),       // ...found only once sorted
           WithAttrs(R"({"a":{"x":1,"y":{},"x":2}})"),  // ...inside a nested object
           R"({"kind":"K","kind":"K",)" + kActor + "," + kRest + R"(,"attrs":{}})",
           R"({"kind":"K","actor":{"cap_id":"a","cap_id":"b"},)"
           R"("subject":{},"reason":"ok","attrs":{}})",
           R"({"kind":"K","actor":{"anon":true,"anon":true},)"
           R"("subject":{},"reason":"ok","attrs":{}})",
           WithAttrs(R"({"a":-0})"), WithAttrs(R"({"a":1.5})"), WithAttrs(R"({"a":1e3})"),
           WithAttrs(R"({"a":01})"), WithAttrs(R"({"a":18446744073709551616})"),
           WithAttrs(R"({"a":-9223372036854775809})"), WithAttrs(R"({"a":+1})"),
           WithAttrs(R"({"a":[[[[[[[[1]]]]]]]]})"),  // depth 9
           WithAttrs(R"({"a":"caf\u00e9"})"), WithAttrs("{\"a\":\"caf\xC3\xA9\"}"),
           WithAttrs(R"({"a":"\/"})"), WithAttrs(R"({"a":"\u0041"})"),
           WithAttrs(R"({"a":"\u000A"})"),
           WithAttrs(R"({"a":"\u007f"})"),  // DEL is written as is
           WithAttrs(R"({"\u0061":1})"), WithAttrs("{\"a\":\"\x01\"}"),
           WithAttrs(R"({ "a":1})"), " " + WithAttrs("{}"), WithAttrs("{}") + "\n",
           WithAttrs("{}") + "x", WithAttrs("{}").substr(1), WithAttrs("{"), "{}", "", "[]",
           R"({"kind":"9K",)" + kActor + "," + kRest + R"(,"attrs":{}})",
           R"({"kind":"K",)" + kActor + "," + kRest + "}",  // no attrs
           R"({"kind":"K","actor":{"who":"x"},"subject":{},"reason":"ok","attrs":{}})",
           R"({"kind":"K","actor":{},"subject":{"anon":true},"reason":"ok","attrs":{}})",
           R"({"kind":"K","actor":{},"subject":{},"reason":"ok","attrs":[]})",
           R"({"kind":"K","actor":{},"subject":{},"reason":"","attrs":{}})",
           R"({"kind":"K","actor":{},"subject":{},"reason":"ok","attrs":{},"ts_ms":-1})",
           R"({"kind":"K","actor":{},"subject":{},"reason":"ok","attrs":{},"ts_ms":"1"})",
       }) {
    EXPECT_FALSE(SameBothWays(&p.fast, &p.full, draft)) << draft;
  }
  // Keys the engine assigns are Schema in a draft, whatever their place.
  for (const char* key : {"v", "writer_id", "seq", "stream", "prev", "self_hash"}) {
    const std::string draft = R"({")" + std::string(key) + R"(":1,"kind":"K",)" + kActor + "," +
                              kRest + R"(,"attrs":{}})";
    EXPECT_FALSE(SameBothWays(&p.fast, &p.full, draft)) << draft;
  }
}

// Attrs canonical as written but for the order of their top-level keys are written from the
// draft's text, members moved; attrs with an inner object out of order are rendered: either
// way as the full path writes them, and a repeated key at any level is refused by both.
TEST(DraftFastPathTest, AttrsInEveryOrderAsTheFullPathWritesThem) {
  Pair p;
  const struct {
    std::string attrs, canonical;
  } cases[] = {
      {"{}", "{}"},
      {R"({"z":1})", R"({"z":1})"},
      {R"({"a":1,"b":{"c":[true,null],"d":"x"}})", R"({"a":1,"b":{"c":[true,null],"d":"x"}})"},
      {R"({"b":{"c":1,"d":2},"a":[{"e":-3}],"ab":""})",
       R"({"a":[{"e":-3}],"ab":"","b":{"c":1,"d":2}})"},
      {R"({"c":"x,y","b":"}","a":"\",\""})", R"({"a":"\",\"","b":"}","c":"x,y"})"},
      {R"({"a":{"d":1,"c":2},"b":0})", R"({"a":{"c":2,"d":1},"b":0})"},
      {R"({"b":[{"d":1,"c":2}],"a":0})", R"({"a":0,"b":[{"c":2,"d":1}]})"},
      {R"({"b":1,"a":{"x":{"z":1,"y":2}}})", R"({"a":{"x":{"y":2,"z":1}},"b":1})"},
  };
  const Canonicalizer::DraftContext ctx{"w", "s", 1, "b3:0", kDefaultTs};
  for (const auto& c : cases) {
    const std::string draft = WithAttrs(c.attrs);
    EXPECT_TRUE(SameBothWays(&p.fast, &p.full, draft)) << draft;
    for (const auto attrs : {Canonicalizer::Attrs::kCopy, Canonicalizer::Attrs::kChain}) {
      CanonicalRecord r;
      ASSERT_TRUE(p.fast.PrepareDraft(draft, ctx, &r, attrs).ok()) << draft;
      EXPECT_EQ(r.attrs_text(), c.canonical) << draft;
      EXPECT_NE(r.bytes.find(",\"attrs\":" + c.canonical + ",\"prev\":"), std::string::npos)
          << draft;
    }
  }
  for (const std::string attrs :
       {R"({"a":1,"b":2,"a":3})", R"({"b":1,"a":2,"b":3})", R"({"a":{"c":1,"c":2}})",
        R"({"b":{"c":1,"c":2},"a":1})", R"({"b":{"d":1,"c":2,"d":3},"a":1})",
        R"({"b":[{"c":1,"c":2}],"a":1})"}) {
    EXPECT_FALSE(SameBothWays(&p.fast, &p.full, WithAttrs(attrs))) << attrs;
    CanonicalRecord r;
    EXPECT_EQ(p.fast.PrepareDraft(WithAttrs(attrs), ctx, &r).code(), Code::kSchema) << attrs;
  }
}

// Which way ReadDraft read each attrs: their text in the draft (its members listed in sorted
// order when the top-level keys were not), or rendered when an object inside them needs its
// keys sorted.
TEST(DraftFastPathTest, AttrsAreTakenFromTheDraftUnlessAnInnerObjectNeedsSorting) {
  const Limits limits;
  internal::DraftScratch scratch;
  std::string rendered;
  const struct {
    std::string attrs;
    bool from_draft, reordered;
  } cases[] = {
      {"{}", true, false},
      {R"({"a":1,"b":{"c":[true,null],"d":"x"}})", true, false},
      {R"({"b":{},"a":[]})", true, true},
      {R"({"b":{"c":1,"d":2},"a":[{"e":-3}],"ab":""})", true, true},
      {R"({"a":{"d":1,"c":2},"b":0})", false, false},
      {R"({"b":[{"d":1,"c":2}],"a":0})", false, false},
  };
  for (const auto& c : cases) {
    const std::string draft = WithAttrs(c.attrs);
    internal::DraftFields d;
    ASSERT_TRUE(internal::ReadDraft(draft, limits, &scratch, &d, &rendered)) << draft;
    const auto at = reinterpret_cast<uintptr_t>(d.attrs.data());
    const auto begin = reinterpret_cast<uintptr_t>(draft.data());
    EXPECT_EQ(at >= begin && at + d.attrs.size() <= begin + draft.size(), c.from_draft) << draft;
    EXPECT_EQ(d.attrs_reordered, c.reordered) << draft;
    if (!c.from_draft) {
      EXPECT_EQ(d.attrs.data(), rendered.data()) << draft;
    }
  }
}

// The bounds (attrs, then the whole record) are decided as the full path decides them, and
// the names the engine assigns too: NFD names normalized, bad names refused, and the last pair
// remembered only for that pair.
TEST(DraftFastPathTest, BoundsAndAssignedNamesAsTheFullPathDecides) {
  const Limits small{256, 768};
  Pair p(small);
  const std::string fill(256 - 8, 'x');  // {"a":""} is 8 bytes
  EXPECT_TRUE(SameBothWays(&p.fast, &p.full, WithAttrs(R"({"a":")" + fill + R"("})")));
  EXPECT_FALSE(SameBothWays(&p.fast, &p.full, WithAttrs(R"({"a":")" + fill + R"(x"})")));
  // Unsorted: the bound holds for the sorted text, which is as long (257 bytes; 256 fit).
  EXPECT_FALSE(SameBothWays(&p.fast, &p.full,
                            WithAttrs(R"({"b":")" + fill.substr(0, 243) + R"(","a":1})")));
  EXPECT_TRUE(SameBothWays(&p.fast, &p.full,
                           WithAttrs(R"({"b":")" + fill.substr(0, 242) + R"(","a":1})")));
  int under = 0, over = 0;
  for (size_t cap = 0; cap <= 450; cap += 3) {  // the record crosses 768 bytes on the way
    const std::string draft = R"({"kind":"K","actor":{"cap_id":")" + std::string(cap, 'c') +
                              R"("},"subject":{},"reason":"ok","attrs":{"a":")" + fill + R"("}})";
    (SameBothWays(&p.fast, &p.full, draft) ? under : over)++;
  }
  EXPECT_GT(under, 50);
  EXPECT_GT(over, 10);
  const std::string draft = WithAttrs("{}");
  // The first names a canonicalizer sees are checked like any others, empty ones included.
  for (const std::string_view name : {"", "x\x01", "\xff"}) {
    Pair fresh;
    EXPECT_FALSE(SameBothWays(&fresh.fast, &fresh.full, draft, name, name));
  }
  Pair q;
  for (const std::string_view writer :
       {"a", "b", "a", "e\xCC\x81", "\xC3\xA9", "", "x\x01", "a", "x\x7f", "\xff"}) {
    for (const std::string_view stream : {"s", "t", "e\xCC\x81", "", "s"}) {
      SameBothWays(&q.fast, &q.full, draft, writer, stream);
    }
  }
  CanonicalRecord r;
  ASSERT_TRUE(q.fast.PrepareDraft(draft, {"a", "s", 1, "b3:0", 1}, &r).ok());
  ASSERT_TRUE(q.fast.PrepareDraft(draft, {"b", "s", 1, "b3:0", 1}, &r).ok());
  EXPECT_EQ(r.record.writer_id, "b");
  ASSERT_TRUE(q.fast.PrepareDraft(draft, {"b", "t", 1, "b3:0", 1}, &r).ok());
  EXPECT_EQ(r.record.stream, "t");
  EXPECT_NE(r.bytes.find(R"("writer_id":"b","seq":1,"stream":"t")"), std::string::npos);
  EXPECT_FALSE(q.fast.PrepareDraft(draft, {"b", "", 1, "b3:0", 1}, &r).ok());
}

// What the owner does next (CompleteDraft) gives the one-step path's bytes and hash.
TEST(DraftFastPathTest, CompletedFastDraftsEqualTheOneStepPath) {
  Pair p;
  CanonicalRecord prepared, completed, one;
  const std::string draft =
      R"({"ts_ms":9,"attrs":{"b":[1,{"d":2,"c":3}],"a":"x"},"reason":"ok","subject":{},)"
      R"("actor":{"passport_id":"u"},"kind":"K"})";
  const std::string prev = "b3:" + std::string(64, 'a');
  const Canonicalizer::DraftContext ctx{"w", "s", 42, prev, kDefaultTs};
  const uint64_t before = p.fast.drafts_read_fast();
  ASSERT_TRUE(p.fast.PrepareDraft(draft, ctx, &prepared).ok());
  EXPECT_EQ(p.fast.drafts_read_fast(), before + 1);
  ASSERT_TRUE(Canonicalizer::CompleteDraft(prepared, 42, prev, p.fast.limits(), &completed).ok());
  ASSERT_TRUE(p.full.CanonicalizeDraft(draft, ctx, &one).ok());
  EXPECT_EQ(completed.bytes, one.bytes);
  EXPECT_EQ(completed.digest, one.digest);
  EXPECT_TRUE(completed.record == one.record);
}

// The fast path notes where seq sits in the prepared bytes (seq_at), for the owner's splice; a
// hint that is wrong (anywhere else, at the same bytes in an escaped string or spelled by attrs
// keys, past the end, or left from another record) is searched past, and the record comes out
// the same.
TEST(DraftFastPathTest, TheSeqHintIsCheckedBeforeItIsUsed) {
  Pair p;
  CanonicalRecord prepared, expected;
  const std::string draft =
      R"({"kind":"K","actor":{"cap_id":",\"seq\":1,\"stream\":"},"subject":{},"reason":"ok",)"
      R"("attrs":{"a":1,"seq":1,"stream":2,"x":",\"seq\":1,\"stream\":"}})";
  const std::string prev = "b3:" + std::string(64, 'b');
  for (const std::string_view writer : {"w", "a-much-longer-writer@instance-7"}) {
    const Canonicalizer::DraftContext ctx{writer, "s", 1, kGenesisPrev, kDefaultTs};
    const uint64_t before = p.fast.drafts_read_fast();
    const Status status = p.fast.PrepareDraft(draft, ctx, &prepared);
    ASSERT_TRUE(status.ok()) << writer << ": " << status.ToString();
    ASSERT_EQ(p.fast.drafts_read_fast(), before + 1);
    ASSERT_GT(prepared.seq_at, 0u);
    EXPECT_EQ(prepared.bytes.substr(prepared.seq_at, 18), R"(,"seq":1,"stream":)");
    ASSERT_TRUE(Canonicalizer::CompleteDraft(prepared, 7, prev, p.fast.limits(), &expected).ok());
    EXPECT_EQ(expected.bytes.find(R"(,"seq":7,"stream":"s")"), prepared.seq_at);
    for (size_t at = 0; at <= prepared.bytes.size() + 40; ++at) {
      CanonicalRecord hinted = prepared, spliced;
      hinted.seq_at = static_cast<uint32_t>(at);
      ASSERT_TRUE(Canonicalizer::SpliceDraft(&hinted, 7, prev, p.fast.limits(), &spliced).ok());
      ASSERT_EQ(spliced.bytes, expected.bytes) << "seq_at " << at;
      EXPECT_EQ(spliced.seq_at, 0u);
    }
  }
}

}  // namespace
}  // namespace ron
