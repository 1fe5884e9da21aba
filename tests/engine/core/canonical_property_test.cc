// Property-style tests: random logical records, written in many equivalent JSON spellings
// (shuffled keys, whitespace, NFD/NFC, different escapes), must all canonicalize to the same
// bytes and hash; canonicalization is idempotent; any changed byte of a sealed record is caught.
#include <gtest/gtest.h>
#include <utf8proc.h>

#include <algorithm>
#include <cstdlib>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "engine/core/canonical.h"
#include "engine/core/unicode.h"
#include "engine/core/verify.h"
#include "tests/engine/core/record_spelling.h"
#include "tests/test_util.h"

namespace ron {
namespace {

using namespace spelling;  // NOLINT: the generator and writers of random spellings

// If the fast path accepts bytes, the full path must accept them as canonical, with the same
// record. Returns whether the fast path accepted.
bool FastPathAgrees(Canonicalizer* c, const std::string& bytes) {
  CanonicalRecord fast, full;
  // CheckCanonical (the WAL reader's walk) gives ReadCanonical's verdict and record, but for
  // attrs, which it leaves empty.
  Record checked;
  const bool check = c->CheckCanonical(bytes, &checked);
  const bool read = c->ReadCanonical(bytes, &fast);
  EXPECT_EQ(check, read) << bytes;
  // CheckChain (the WAL reader's record check) gives the same verdict and the chain fields.
  Record chain;
  chain.reason = "stale";  // left from another record: must not survive
  chain.actor.cap_id = "stale";
  const bool chain_ok = c->CheckChain(bytes, &chain);
  EXPECT_EQ(chain_ok, read) << bytes;
  if (check && read) {
    EXPECT_TRUE(checked.attrs.empty());
    checked.attrs = fast.record.attrs;
    EXPECT_TRUE(checked == fast.record) << bytes;
  }
  if (chain_ok && read) {
    Record expected;
    expected.v = fast.record.v;
    expected.ts_ms = fast.record.ts_ms;
    expected.writer_id = fast.record.writer_id;
    expected.seq = fast.record.seq;
    expected.stream = fast.record.stream;
    expected.kind = fast.record.kind;
    expected.prev = fast.record.prev;
    expected.attrs.clear();
    EXPECT_TRUE(chain == expected) << bytes;
  }
  // The views of the chain fields: CheckChain's verdict and fields, unless one is written with
  // an escape (then false: the Record form decodes it).
  ChainView views;
  const bool views_ok = c->CheckChain(bytes, &views);
  const auto escaped = [](const std::string& text) {
    std::string json;
    AppendJsonString(text, &json);
    return json.size() != text.size() + 2;
  };
  const bool plain = chain_ok && !escaped(chain.writer_id) && !escaped(chain.stream) &&
                     !escaped(chain.kind) && !escaped(chain.prev);
  EXPECT_EQ(views_ok, plain) << bytes;
  if (views_ok && chain_ok) {
    EXPECT_EQ(views.ts_ms, chain.ts_ms);
    EXPECT_EQ(views.seq, chain.seq);
    EXPECT_EQ(views.writer_id, chain.writer_id);
    EXPECT_EQ(views.stream, chain.stream);
    EXPECT_EQ(views.kind, chain.kind);
    EXPECT_EQ(views.prev, chain.prev);
    // Views into the bytes themselves, nothing copied.
    for (const std::string_view view : {views.writer_id, views.stream, views.kind, views.prev}) {
      EXPECT_GE(view.data(), bytes.data());
      EXPECT_LE(view.data() + view.size(), bytes.data() + bytes.size());
    }
  }
  if (!read) return false;
  const Status status = c->Canonicalize(bytes, &full);
  EXPECT_TRUE(status.ok()) << status.ToString() << "\n" << bytes;
  EXPECT_EQ(full.bytes, bytes);
  EXPECT_EQ(fast.bytes, bytes);
  EXPECT_TRUE(fast.record == full.record) << bytes;
  return true;
}

// The canonical fast path (Canonicalizer::ReadCanonical, used by every verifier) against the
// full path: it accepts the canonical bytes of ASCII records, and whatever it accepts — also
// among every one-byte change, deletion and duplication of them — the full path accepts as
// canonical with the same record. It never accepts what the law refuses.
TEST(CanonicalPropertyTest, FastPathAcceptsOnlyWhatTheFullPathWritesByteForByte) {
  Generator gen(20261201);
  gen.ascii_only = true;
  Canonicalizer c;
  CanonicalRecord r;
  int records = 0, fast = 0, mutants_accepted = 0;
  for (int n = 0; n < 600 && records < 300; ++n) {
    gen.plain_keys = n % 2 == 0;
    if (!c.Canonicalize(Spell(RandomAsciiRecord(&gen), &gen), &r).ok()) continue;
    ++records;
    const bool accepted = FastPathAgrees(&c, r.bytes);
    fast += accepted;
    if (gen.plain_keys) {
      EXPECT_TRUE(accepted) << r.bytes;  // plain keys, ASCII text: nothing to give up on
    }
    if (records > 60) continue;
    for (size_t i = 0; i < r.bytes.size(); ++i) {
      std::string flipped = r.bytes;
      flipped[i] = static_cast<char>(flipped[i] ^ (1 << gen.Uniform(0, 7)));
      mutants_accepted += FastPathAgrees(&c, flipped);
      std::string deleted = r.bytes;
      deleted.erase(i, 1);
      mutants_accepted += FastPathAgrees(&c, deleted);
      std::string doubled = r.bytes;
      doubled.insert(i, 1, doubled[i]);
      mutants_accepted += FastPathAgrees(&c, doubled);
    }
  }
  EXPECT_EQ(records, 300);
  EXPECT_GT(fast, records / 2);
  EXPECT_GT(mutants_accepted, 0);  // some changes stay canonical (a digit, a letter): agreed on
  // Shapes it leaves to the full path, which then decides.
  CanonicalRecord out;
  // A canonical-looking record with the given writer_id text, seq text and attrs text.
  const auto record = [](const std::string& writer, const std::string& seq,
                         const std::string& attrs) {
    return R"({"v":1,"ts_ms":1,"writer_id":")" + writer + R"(","seq":)" + seq +
           R"(,"stream":"s","kind":"K","actor":{},"subject":{},"reason":"ok","attrs":)" + attrs +
           R"(,"prev":"b3:0"})";
  };
  for (const std::string& s : {
           record(R"(caf\u00e9)", "1", "{}"),               // an escaped non-ASCII name
           record("caf\xC3\xA9", "1", "{}"),                // non-ASCII text
           record("w", "1", R"({"a":-0})"),                 // -0 (written 0)
           record("w", "1", R"({"a":1.0})"),                // a float
           record("w", "1", R"({"b":1,"a":2})"),            // keys out of order
           record("w", "1", R"({"a":"\/"})"),               // an escape canonical form does not use
           record("w", "0", "{}"),                          // seq 0
           record("w", "1", R"({"a":[[[[[[[[1]]]]]]]]})"),  // deeper than 8
       }) {
    EXPECT_FALSE(c.ReadCanonical(s, &out)) << s;
  }
  EXPECT_TRUE(c.ReadCanonical(
      R"({"v":1,"ts_ms":1,"writer_id":"w","seq":1,"stream":"s","kind":"K","actor":{"anon":true,"cap_id":"c\n\u0001\"\\"},"subject":{"name":"n"},"reason":"ok","attrs":{"a":[[[[[[[1]]]]]]],"b":-9223372036854775808,"c":18446744073709551615},"prev":"b3:0"})",
      &out));
  EXPECT_EQ(*out.record.actor.cap_id, "c\n\x01\"\\");
  EXPECT_TRUE(FastPathAgrees(&c, out.bytes));
}

constexpr int kRecords = 400;
constexpr int kSpellings = 6;

TEST(CanonicalPropertyTest, EquivalentSpellingsHashEqualAndCanonIsIdempotent) {
  Generator gen(20261122);
  Canonicalizer c;
  CanonicalRecord first, other, again;
  int accepted = 0;
  for (int n = 0; n < kRecords; ++n) {
    const LogicalRecord r = RandomRecord(&gen);
    const std::string spelling = Spell(r, &gen);
    const Status status = c.Canonicalize(spelling, &first);
    if (status.code() == Code::kAttrsTooLarge) continue;  // random attrs may exceed 1 KiB
    ASSERT_TRUE(status.ok()) << status.ToString() << "\n" << spelling;
    ++accepted;
    for (int k = 1; k < kSpellings; ++k) {
      const std::string alt = Spell(r, &gen);
      ASSERT_TRUE(c.Canonicalize(alt, &other).ok()) << alt;
      ASSERT_EQ(other.bytes, first.bytes) << spelling << "\n" << alt;
      ASSERT_EQ(other.digest, first.digest);
    }
    const std::string canonical = first.bytes;
    ASSERT_TRUE(c.Canonicalize(canonical, &again).ok());
    ASSERT_EQ(again.bytes, canonical);  // idempotent
  }
  EXPECT_GT(accepted, kRecords / 2);
}

TEST(CanonicalPropertyTest, SmallPerturbationsChangeTheDedupeKey) {
  Generator gen(7);
  Canonicalizer c;
  CanonicalRecord a, b;
  for (int n = 0; n < 200; ++n) {
    LogicalRecord r = RandomRecord(&gen);
    if (!c.Canonicalize(Spell(r, &gen), &a).ok()) continue;
    r.ts_ms += 1;
    ASSERT_TRUE(c.Canonicalize(Spell(r, &gen), &b).ok());
    EXPECT_NE(a.digest, b.digest);
    r.ts_ms -= 1;
    r.attrs.Add("\xF0\x9F\x98\x80perturb", Value());
    if (c.Canonicalize(Spell(r, &gen), &b).ok()) {
      EXPECT_NE(a.digest, b.digest);
    }
  }
}

TEST(CanonicalPropertyTest, EveryFlippedByteOfASealedRecordIsDetected) {
  Generator gen(99);
  Canonicalizer c;
  CanonicalRecord r, check;
  int records = 0;
  while (records < 25) {
    if (!c.Canonicalize(Spell(RandomRecord(&gen), &gen), &r).ok()) continue;
    ++records;
    const std::string sealed = Seal(r);
    ASSERT_TRUE(c.VerifySealed(sealed, &check).ok());
    for (size_t i = 0; i < sealed.size(); ++i) {
      std::string bad = sealed;
      bad[i] = static_cast<char>(bad[i] ^ (1 << gen.Uniform(0, 7)));
      ASSERT_FALSE(c.VerifySealed(bad, &check).ok()) << "byte " << i << " of " << sealed;
    }
  }
}


// The two-step path (PrepareDraft on the caller's thread, CompleteDraft on the owner) is the
// one-step CanonicalizeDraft byte for byte, errors included — also for seq values of every
// length and bounds that only the final record crosses.
TEST(CanonicalPropertyTest, PreparedAndCompletedDraftsEqualTheOneStepPath) {
  Generator gen(20261123);
  const Limits small{256, 768};
  for (const Limits& limits : {Limits(), small}) {
    Canonicalizer one(limits), two(limits);
    CanonicalRecord a, prepared, b;
    int compared = 0, errors = 0;
    for (int i = 0; i < kRecords; ++i) {
      const LogicalRecord r = RandomRecord(&gen);
      const std::string draft = SpellDraft(r, &gen);
      const std::string prev = gen.Coin() ? "b3:0" : HashText(Blake3(draft));
      for (uint64_t seq :
           {uint64_t{1}, uint64_t{9}, uint64_t{10}, uint64_t{123456789}, UINT64_MAX}) {
        const Canonicalizer::DraftContext ctx{r.writer_id, r.stream, seq, prev, 1700000000000};
        const Status expected = one.CanonicalizeDraft(draft, ctx, &a);
        Status got = two.PrepareDraft(draft, ctx, &prepared);
        if (got.ok()) got = Canonicalizer::CompleteDraft(prepared, seq, prev, limits, &b);
        ASSERT_EQ(got.code(), expected.code())
            << draft << " seq " << seq << ": " << expected.ToString() << " vs " << got.ToString();
        if (!expected.ok()) {
          ++errors;
          continue;
        }
        ++compared;
        EXPECT_EQ(b.bytes, a.bytes);
        EXPECT_EQ(b.digest, a.digest);
        EXPECT_EQ(b.record.seq, seq);
        EXPECT_EQ(b.record.prev, prev);
      }
    }
    EXPECT_GT(compared, 1000);
    if (limits.max_record_bytes == small.max_record_bytes) {
      EXPECT_GT(errors, 0);
    }
  }
}

// `got` is `full` as the engine's tasks carry it (Attrs::kChain): the same bytes and digest,
// the attrs found in the bytes, of the fields only those the writer reads — or all of it,
// where the draft's fast path gave up (`whole`).
void ExpectChainFieldsOf(const CanonicalRecord& full, const CanonicalRecord& got, bool whole) {
  EXPECT_EQ(got.bytes, full.bytes);
  EXPECT_EQ(got.digest, full.digest);
  EXPECT_EQ(got.attrs_text(), full.attrs_text());
  if (whole) {
    EXPECT_EQ(got.attrs_bytes, 0u);
    EXPECT_EQ(got.record, full.record);
    return;
  }
  EXPECT_GT(got.attrs_bytes, 0u);
  EXPECT_EQ(got.record, testing::ChainFieldsOf(full.record));
}

// What a writer thread does with a batch's drafts (engine/worker.cc): SpliceDraft moves the
// prepared record's fields into the record (bytes and fields as CompleteDraft's, unhashed), and
// Resplice, for a record whose seq changed after it was spliced, gives CompleteDraft's record
// for the new seq and prev — across seqs and prevs of other lengths, errors included.
TEST(CanonicalPropertyTest, SplicedAndResplicedDraftsEqualTheOneStepPath) {
  Generator gen(20261205);
  const Limits small{256, 768};
  const uint64_t seqs[] = {1, 9, 10, 123456789, UINT64_MAX};
  for (const Limits& limits : {Limits(), small}) {
    Canonicalizer one(limits), two(limits);
    CanonicalRecord a, prepared, spliced;
    int compared = 0, prepared_slim = 0, prepared_whole = 0;
    for (int i = 0; i < 2 * kRecords; ++i) {
      // Half of the drafts in the spellings hosts write, which PrepareDraft reads in one pass.
      gen.ascii_only = gen.plain_keys = gen.compact = gen.canonical_escapes = i % 2 == 0;
      const LogicalRecord r = gen.ascii_only ? RandomAsciiRecord(&gen) : RandomRecord(&gen);
      const std::string draft = SpellDraft(r, &gen);
      const std::string hash_prev = HashText(Blake3(draft));
      const uint64_t first = seqs[gen.Uniform(0, 4)], then = seqs[gen.Uniform(0, 4)];
      const std::string first_prev = first == 1 ? "b3:0" : "b3:" + std::string(64, '0');
      const std::string then_prev = then == 1 ? "b3:0" : hash_prev;
      const Canonicalizer::DraftContext ctx{r.writer_id, r.stream, first, first_prev, 1};
      if (!two.PrepareDraft(draft, ctx, &prepared).ok()) continue;
      const CanonicalRecord kept = prepared;
      // The same draft prepared as the engine's tasks carry it (Attrs::kChain).
      CanonicalRecord slim, slim_spliced, slim_completed;
      ASSERT_TRUE(two.PrepareDraft(draft, ctx, &slim, Canonicalizer::Attrs::kChain).ok());
      const bool whole = slim.attrs_bytes == 0;  // the fast path gave up: filled whole
      (whole ? prepared_whole : prepared_slim)++;
      ASSERT_EQ(slim.bytes, prepared.bytes);
      const Status expected_first = one.CanonicalizeDraft(draft, ctx, &a);
      const Status got_first =
          Canonicalizer::SpliceDraft(&prepared, first, first_prev, limits, &spliced);
      ASSERT_EQ(got_first.code(), expected_first.code()) << draft << " seq " << first;
      if (!got_first.ok()) {
        EXPECT_TRUE(prepared.record == kept.record);  // a refused splice moves nothing
        continue;
      }
      EXPECT_EQ(spliced.bytes, a.bytes);
      EXPECT_TRUE(spliced.record == a.record);
      EXPECT_EQ(Blake3(spliced.bytes), a.digest);
      ASSERT_TRUE(Canonicalizer::CompleteDraft(slim, first, first_prev, limits, &slim_completed)
                      .ok());
      ExpectChainFieldsOf(a, slim_completed, whole);
      ASSERT_TRUE(Canonicalizer::SpliceDraft(&slim, first, first_prev, limits, &slim_spliced).ok());
      slim_spliced.digest = a.digest;
      ExpectChainFieldsOf(a, slim_spliced, whole);
      const Canonicalizer::DraftContext then_ctx{r.writer_id, r.stream, then, then_prev, 1};
      const Status expected = one.CanonicalizeDraft(draft, then_ctx, &a);
      const Status got = Canonicalizer::Resplice(&spliced, then, then_prev, limits);
      ASSERT_EQ(got.code(), expected.code())
          << draft << " seq " << first << " then " << then << ": " << expected.ToString();
      if (!expected.ok()) continue;
      ++compared;
      EXPECT_EQ(spliced.bytes, a.bytes);
      EXPECT_EQ(spliced.digest, a.digest);
      EXPECT_TRUE(spliced.record == a.record);
      ASSERT_TRUE(Canonicalizer::Resplice(&slim_spliced, then, then_prev, limits).ok());
      ExpectChainFieldsOf(a, slim_spliced, whole);
    }
    EXPECT_GT(compared, 200);
    EXPECT_GT(prepared_slim, 100);  // both ways taken
    EXPECT_GT(prepared_whole, 100);
  }
  // A record just under the bound with seq 1 and prev b3:0 goes over it with seq 2 and a hash:
  // refused by Resplice and by SpliceDraft, which then change nothing.
  Canonicalizer c;
  for (size_t pad = 3000;; ++pad) {
    const std::string draft = R"({"kind":"K","actor":{"cap_id":"u"},"subject":{"name":")" +
                              std::string(pad, 'x') + R"("},"reason":"ok","attrs":{}})";
    CanonicalRecord prepared, record, unused;
    ASSERT_TRUE(c.PrepareDraft(draft, {"w", "s", 1, "b3:0", 1}, &prepared).ok()) << pad;
    if (prepared.bytes.size() + 20 <= Limits().max_record_bytes) continue;
    const std::string prev = "b3:" + std::string(64, 'a');
    const CanonicalRecord kept = prepared;
    EXPECT_EQ(Canonicalizer::SpliceDraft(&prepared, 2, prev, Limits(), &unused).code(),
              Code::kRecordTooLarge);
    EXPECT_TRUE(prepared.record == kept.record);
    ASSERT_TRUE(Canonicalizer::SpliceDraft(&prepared, 1, "b3:0", Limits(), &record).ok());
    const std::string bytes = record.bytes;
    EXPECT_EQ(Canonicalizer::Resplice(&record, 2, prev, Limits()).code(), Code::kRecordTooLarge);
    EXPECT_EQ(record.bytes, bytes);
    EXPECT_EQ(record.record.seq, 1u);
    EXPECT_EQ(c.CanonicalizeDraft(draft, {"w", "s", 2, prev, 1}, &unused).code(),
              Code::kRecordTooLarge);
    break;
  }
}

// The fast path's string walk goes 16, 32 (AVX2) or 64 (AVX-512BW) bytes a step and its
// numbers are read without an overflow check below 20 digits: a special byte at every place of
// strings of every length around those steps (in reason, attrs, writer_id and stream), and
// integers of every length around 2^64, are decided as the full path decides them. Where the
// full path writes the bytes as they are (ASCII text, any escape it uses; an integer in range),
// the fast path accepts them too.
TEST(CanonicalPropertyTest, FastPathFindsEverySpecialByteAndEveryIntegerBound) {
  Canonicalizer c;
  const auto record = [](const std::string& reason, const std::string& attrs) {
    return R"({"v":1,"ts_ms":1,"writer_id":"w","seq":1,"stream":"s","kind":"K","actor":{},"subject":{},"reason":")" +
           reason + R"(","attrs":)" + attrs + R"(,"prev":"b3:0"})";
  };
  // Accepted by the full path as the very same bytes.
  const auto canonical = [&](const std::string& bytes) {
    CanonicalRecord full;
    return c.Canonicalize(bytes, &full).ok() && full.bytes == bytes;
  };
  int checked = 0, accepted = 0;
  for (size_t length = 0; length <= 100; ++length) {
    for (size_t at = 0; at <= length; ++at) {
      // Escapes the canonical form writes, and bytes it never leaves raw in a string.
      for (const std::string special : {"\\\"", "\\\\", "\\n", "\\u001f", "\\u0001", "\x01", "\x1f",
                                        "\x7f", "\xC3\xA9", "\"", "\\/", "\\u00e9"}) {
        std::string text(length, 'x');
        text.insert(at, special);
        for (const std::string& bytes :
             {record(text, "{}"), record("ok", R"({"a":")" + text + R"("})")}) {
          const bool fast = FastPathAgrees(&c, bytes);
          const bool ascii = special.find_first_of("\x80\xC3") == std::string::npos;
          if (ascii) {
            EXPECT_EQ(fast, canonical(bytes)) << bytes;
          }
          accepted += fast;
          ++checked;
        }
      }
    }
  }
  EXPECT_GT(checked, 60000);
  EXPECT_GT(accepted, checked / 5);  // the escapes and DEL in attrs (reason takes none of them)
  // writer_id and stream: the walk looks only for DEL in an unescaped name (String has seen
  // every other control byte); an escaped one is decoded and checked in full.
  const auto named = [](const std::string& writer_id, const std::string& stream) {
    return R"({"v":1,"ts_ms":1,"writer_id":")" + writer_id + R"(","seq":1,"stream":")" + stream +
           R"(","kind":"K","actor":{},"subject":{},"reason":"r","attrs":{},"prev":"b3:0"})";
  };
  int names = 0, names_accepted = 0;
  // Up to the longest names (128 bytes), through the 64-byte steps.
  for (size_t length = 0; length <= 130; length += (length < 40 ? 1 : 5)) {
    for (size_t at = 0; at <= length; at += (at < 20 || at + 20 > length ? 1 : 7)) {
      for (const std::string special : {"\\\"", "\\\\", "\\n", "\\u001f", "\\u007f", "\x01",
                                        "\x7f", "\xC3\xA9", "\"", "\\/", "\\u00e9", "a"}) {
        std::string text(length, 'x');
        text.insert(at, special);
        for (const std::string& bytes : {named(text, "s"), named("w", text)}) {
          const bool fast = FastPathAgrees(&c, bytes);
          if (special.find_first_of("\x80\xC3") == std::string::npos) {
            EXPECT_EQ(fast, canonical(bytes)) << bytes;
          }
          names_accepted += fast;
          ++names;
        }
      }
    }
  }
  EXPECT_GT(names, 10000);
  EXPECT_GT(names_accepted, names / 6);  // plain names of at most 128 bytes, writer escapes
  for (size_t digits = 1; digits <= 22; ++digits) {
    for (const std::string& number :
         {"1" + std::string(digits - 1, '0'), std::string(digits, '9'),
          "-" + std::string(digits, '9'), std::string("18446744073709551615"),
          std::string("18446744073709551616"), std::string("18446744073709551619"),
          std::string("18446744073709551620"), std::string("28446744073709551615"),
          std::string("-9223372036854775808"), std::string("-9223372036854775809")}) {
      const std::string bytes = record("ok", R"({"a":)" + number + "}");
      EXPECT_EQ(FastPathAgrees(&c, bytes), canonical(bytes)) << bytes;
    }
    const std::string seq = std::string(digits, '9');
    std::string bytes = record("ok", "{}");
    bytes.replace(bytes.find(R"("seq":1)"), 7, R"("seq":)" + seq);
    EXPECT_EQ(FastPathAgrees(&c, bytes), canonical(bytes)) << bytes;
    // ts_ms (13 digits today), every length, and the largest values of 19 and 20 digits.
    for (const std::string& ts : {"1" + std::string(digits - 1, '3'), std::string(digits, '9'),
                                  std::string("9999999999999999999"),
                                  std::string("18446744073709551615"),
                                  std::string("18446744073709551616")}) {
      std::string timed = record("ok", "{}");
      timed.replace(timed.find(R"("ts_ms":1)"), 9, R"("ts_ms":)" + ts);
      EXPECT_EQ(FastPathAgrees(&c, timed), canonical(timed)) << timed;
    }
  }
}

}  // namespace
}  // namespace ron
