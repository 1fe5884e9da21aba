// privacy.ip_mode: IP address literals in attrs are dropped, coarsened or hashed
// before a draft is sealed, and sealed records that still hold one are refused.
#include "engine/privacy.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "engine/core/canonical.h"
#include "ron_audit/engine.h"
#include "tests/test_util.h"

namespace ron {
namespace {

using std::chrono::seconds;

IpPolicy Policy(IpMode mode, const std::string& salt_path = "") {
  AuditConfig::Privacy privacy;
  privacy.ip_mode = mode;
  privacy.hash_salt_path = salt_path;
  auto policy = IpPolicy::FromConfig(privacy);
  EXPECT_TRUE(policy.ok()) << policy.status().ToString();
  return policy.ok() ? std::move(policy).value() : IpPolicy();
}

// Canonical attrs of a JSON object text (what Apply is given).
std::string Canonical(const std::string& attrs) {
  Canonicalizer c;
  CanonicalRecord r;
  const Status s = c.Canonicalize(
      R"({"v":1,"ts_ms":1,"writer_id":"w","seq":1,"stream":"s","kind":"K","actor":{},"subject":{},"reason":"ok","attrs":)" +
          attrs + R"(,"prev":"b3:0"})",
      &r);
  EXPECT_TRUE(s.ok()) << s.ToString() << " " << attrs;
  return r.record.attrs;
}

const char kAttrs[] =
    R"({"client_ip":"203.0.113.7","peers":["2001:db8:1:2:3:4:5:6",{"via":"198.51.100.20"}],"203.0.113.9":"a key, not a value","note":"from 203.0.113.7","net":"203.0.113.0/24","version":"1.2.3","n":7})";

TEST(IpPolicyTest, DropNullsEveryAddressValueAndNothingElse) {
  const IpPolicy drop = Policy(IpMode::kDrop);
  std::string out;
  EXPECT_EQ(drop.Apply(Canonical(kAttrs), &out), 3u);
  EXPECT_EQ(out,
            R"({"203.0.113.9":"a key, not a value","client_ip":null,"n":7,"net":"203.0.113.0/24","note":"from 203.0.113.7","peers":[null,{"via":null}],"version":"1.2.3"})");
  EXPECT_EQ(Canonical(out), out);  // still canonical
  EXPECT_FALSE(drop.HasAddress(out));
  EXPECT_TRUE(drop.HasAddress(Canonical(kAttrs)));
  EXPECT_EQ(drop.Apply(Canonical(R"({"a":"x","b":[1,2]})"), &out), 0u);
}

// Strings end at the first quote that is not escaped: escaped quotes and runs of backslashes
// inside values and keys never make an address out of text, nor hide one.
TEST(IpPolicyTest, EscapesInsideStringsAreSkippedExactly) {
  const IpPolicy drop = Policy(IpMode::kDrop);
  const std::string attrs = Canonical(
      R"({"a":"x\"1.2.3.4","b":"\\","c":"10.0.0.1","d":"\\\"","k\"1.2.3.6":"1.2.3.5",)"
      R"("l":["\\\\","192.0.2.1",{"m":"\"192.0.2.2\""}]})");
  std::string out;
  EXPECT_EQ(drop.Apply(attrs, &out), 3u) << attrs;
  EXPECT_EQ(out,
            R"({"a":"x\"1.2.3.4","b":"\\","c":null,"d":"\\\"","k\"1.2.3.6":null,)"
            R"("l":["\\\\",null,{"m":"\"192.0.2.2\""}]})");
  EXPECT_TRUE(drop.HasAddress(attrs));
  EXPECT_FALSE(drop.HasAddress(out));
}

TEST(IpPolicyTest, PrefixKeepsTheNetwork) {
  std::string out;
  EXPECT_EQ(Policy(IpMode::kPrefix).Apply(Canonical(kAttrs), &out), 3u);
  EXPECT_NE(out.find(R"("client_ip":"203.0.113.0/24")"), std::string::npos) << out;
  EXPECT_NE(out.find(R"("peers":["2001:db8:1:2::/64",{"via":"198.51.100.0/24"}])"),
            std::string::npos)
      << out;
  EXPECT_EQ(Canonical(out), out);
}

TEST(IpPolicyTest, HashIsASaltedPseudonym) {
  testing::TempDir tmp;
  const std::string salt = tmp.path() + "/salt";
  testing::WriteFile(salt, "pepper-2026");
  chmod(salt.c_str(), 0600);
  std::string a, b;
  ASSERT_EQ(Policy(IpMode::kHash, salt).Apply(Canonical(kAttrs), &a), 3u);
  EXPECT_EQ(a.find(R"("client_ip":"203)"), std::string::npos) << a;  // the address is gone
  const size_t at = a.find(R"("client_ip":"iph:)");
  ASSERT_NE(at, std::string::npos) << a;
  EXPECT_EQ(a[at + 17 + 32], '"');  // iph: + 32 hex digits
  ASSERT_EQ(Policy(IpMode::kHash, salt).Apply(Canonical(kAttrs), &b), 3u);
  EXPECT_EQ(a, b);  // the same address, the same pseudonym
  testing::WriteFile(salt, "another-salt");
  ASSERT_EQ(Policy(IpMode::kHash, salt).Apply(Canonical(kAttrs), &b), 3u);
  EXPECT_NE(a, b);  // another salt, other pseudonyms
  EXPECT_EQ(Canonical(a), a);
}

// The default configuration (drop) applies in Emit, on the caller's thread or the owner's.
// The salt file goes through the file layer: a FIFO is refused at once, a huge file unread.
TEST(IpPolicyTest, ASaltThatIsNoRegularFileOrTooLargeIsRefused) {
  testing::TempDir tmp;
  AuditConfig::Privacy privacy;
  privacy.ip_mode = IpMode::kHash;
  privacy.hash_salt_path = tmp.path() + "/fifo";
  ASSERT_EQ(mkfifo(privacy.hash_salt_path.c_str(), 0600), 0);
  auto fifo = IpPolicy::FromConfig(privacy);
  ASSERT_FALSE(fifo.ok());
  EXPECT_NE(fifo.status().message().find("is a FIFO"), std::string::npos);
  privacy.hash_salt_path = tmp.path() + "/big";
  testing::WriteFile(privacy.hash_salt_path, std::string((1 << 20) + 1, 's'));
  EXPECT_FALSE(IpPolicy::FromConfig(privacy).ok());
}

// An engine of writer svc-gw@inst-1 that canonicalizes drafts on the caller's thread
// (`in_emit`) or on the owner's, in the default configuration (ip_mode drop).
auto OpenGateway(bool in_emit) {
  EngineOptions o;
  o.writer_id = "svc-gw@inst-1";
  o.canonicalize_in_emit = in_emit;
  return Engine::Open(o);
}

TEST(IpPolicyTest, EmitStoresNoAddressAndAppendSealedRefusesOne) {
  for (const bool in_emit : {true, false}) {
    auto engine = OpenGateway(in_emit);
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    auto t = engine.value()->Emit(
        "ingress",
        R"({"kind":"GetServed","actor":{},"subject":{},"reason":"ok","attrs":{"client_ip":"203.0.113.7","status":200}})");
    ASSERT_TRUE(t.ok());
    ASSERT_TRUE(t.value().Wait(std::chrono::steady_clock::now() + seconds(10)).ok());
    const auto stored =
        engine.value()->Read("svc-gw@inst-1", "ingress", 1, 1, std::chrono::steady_clock::now() + seconds(10));
    ASSERT_TRUE(stored.ok() && stored.value().size() == 1u);
    EXPECT_NE(stored.value()[0].find(R"("attrs":{"client_ip":null,"status":200})"),
              std::string::npos)
        << stored.value()[0];
    // A sealed record with an address (made elsewhere) cannot be redacted: refused.
    Canonicalizer c;
    CanonicalRecord r;
    ASSERT_TRUE(c.Canonicalize(testing::RecordJson(1, "b3:0", R"({"client_ip":"2001:db8::1"})",
                                                   "svc-import@x", "imported"),
                               &r)
                    .ok());
    const auto refused =
        engine.value()->AppendSealed(Seal(r), std::chrono::steady_clock::now() + seconds(10));
    EXPECT_EQ(refused.code(), Code::kSchema);
    EXPECT_NE(refused.status().message().find("privacy.ip_mode"), std::string::npos);
    const std::string metrics = engine.value()->MetricsText();
    EXPECT_NE(metrics.find("audit_pii_redacted_total{service=\"ron-audit\"} 1\n"),
              std::string::npos)
        << metrics;
    EXPECT_NE(metrics.find("audit_pii_blocked_total{service=\"ron-audit\"} 1\n"),
              std::string::npos);
    ASSERT_TRUE(engine.value()->Close(std::chrono::steady_clock::now() + seconds(10)).ok());
  }
}

// Emit keeps only the writer's fields of a record it prepared on the fast path; one it must
// redact is read whole again from its bytes: every other field is stored as the draft had it
// (the fast path, the full path for a draft with whitespace, and the owner's path).
TEST(IpPolicyTest, ARedactedDraftKeepsEveryOtherField) {
  const std::string fields =
      R"("kind":"GetServed","actor":{"passport_id":"u:7","anon":false,"cap_id":"c\"q"},)"
      R"("subject":{"name":"objects/0123456789abcdef","ledger_txid":"t1"},"reason":"ok.1",)";
  const std::string draft = "{" + fields + R"("attrs":{"peer":"10.1.2.3","n":[1,"x"]}})";
  const std::string spaced = "{ " + fields + R"("attrs":{"peer":"10.1.2.3","n":[1,"x"]}})";
  for (const bool in_emit : {true, false}) {
    auto engine = OpenGateway(in_emit);
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    for (const std::string& d : {draft, spaced}) {
      auto t = engine.value()->Emit("ingress", d);
      ASSERT_TRUE(t.ok());
      const auto done = t.value().Wait(std::chrono::steady_clock::now() + seconds(10));
      ASSERT_TRUE(done.ok()) << done.status().ToString() << " " << d;
    }
    const auto stored = engine.value()->Read("svc-gw@inst-1", "ingress", 1, 2,
                                             std::chrono::steady_clock::now() + seconds(10));
    ASSERT_TRUE(stored.ok() && stored.value().size() == 2u);
    for (const std::string& record : stored.value()) {
      EXPECT_NE(record.find(R"("kind":"GetServed","actor":{"anon":false,"cap_id":"c\"q",)"
                            R"("passport_id":"u:7"},"subject":{"ledger_txid":"t1",)"
                            R"("name":"objects/0123456789abcdef"},"reason":"ok.1",)"
                            R"("attrs":{"n":[1,"x"],"peer":null},"prev":)"),
                std::string::npos)
          << record;
    }
    ASSERT_TRUE(engine.value()->Close(std::chrono::steady_clock::now() + seconds(10)).ok());
  }
}

// Emit scans a draft's attrs for addresses only when reading it saw a string value that could
// be one (Canonicalizer::attrs_may_hold_address): a draft whose attrs hold an address anywhere
// is always scanned; for random attrs of short strings of address characters, a draft not
// scanned holds none.
TEST(IpPolicyTest, OnlyDraftsThatMayHoldAnAddressAreScanned) {
  Canonicalizer c;
  const IpPolicy policy;  // drop
  const Canonicalizer::DraftContext ctx{"w", "s", 1, "b3:0", 1};
  const auto prepare = [&](const std::string& attrs, bool* fast) {
    const std::string draft =
        R"({"kind":"K","actor":{},"subject":{},"reason":"ok","attrs":)" + attrs + "}";
    CanonicalRecord r;
    const uint64_t before = c.drafts_read_fast();
    EXPECT_TRUE(c.PrepareDraft(draft, ctx, &r, Canonicalizer::Attrs::kChain).ok()) << draft;
    *fast = c.drafts_read_fast() > before;
    return std::pair(c.attrs_may_hold_address(), policy.HasAddress(r.attrs_text()));
  };
  bool fast = false;
  for (const char* attrs :
       {R"({"a":"10.0.0.1"})", R"({"a":{"b":["x","2001:db8::1"]}})", R"({"z":1,"a":[["::1"]]})",
        R"({"a":"127.000.0.1"})", R"({"b":{"d":1,"c":"10.0.0.1"},"a":1})",  // rendered
        R"({ "a":"x"})"}) {  // the last: the full path
    EXPECT_TRUE(prepare(attrs, &fast).first) << attrs;
  }
  const std::string long_hex = std::string(32, 'a') + std::string(14, ':');  // 46 bytes
  for (const std::string& attrs :
       {std::string(R"({"10.0.0.1":"x"})"), std::string(R"({"a":"10.0.0.1 "})"),
        std::string(R"({"a":"g1"})"), R"({"a":1,"b":[2,true,null],"c":")" + long_hex + "\"}"}) {
    EXPECT_FALSE(prepare(attrs, &fast).first) << attrs;
    EXPECT_TRUE(fast) << attrs;
  }
  std::mt19937 gen(20261205);
  const auto uniform = [&](int lo, int hi) {
    return std::uniform_int_distribution<int>(lo, hi)(gen);
  };
  static constexpr char kChars[] = "0123456789abcdefABCDEF.:x";
  int scanned = 0, skipped = 0, found = 0;
  for (int n = 0; n < 3000; ++n) {
    std::string attrs = "{";
    const int members = uniform(1, 4);
    for (int m = 0; m < members; ++m) {
      std::string value;
      for (int k = uniform(0, 46); k > 0; --k) value.push_back(kChars[uniform(0, 24)]);
      static constexpr const char* kAddresses[] = {"10.1.2.3", "::1", "fe80::1:2", "1.1.1.1"};
      if (uniform(0, 9) == 0) value = kAddresses[uniform(0, 3)];
      if (m > 0) attrs += ",";
      // Keys in order or not; a value in an array, or in an object out of order (its attrs
      // are then rendered rather than taken from the draft).
      attrs += "\"k" + std::to_string(n % 2 == 0 ? m : members - m) + "\":";
      const std::string quoted = "\"" + value + "\"";
      const int shape = uniform(0, 5);
      attrs += shape == 0   ? "[" + quoted + "]"
               : shape == 1 ? R"({"y":1,"x":)" + quoted + "}"
                            : quoted;
    }
    attrs += "}";
    const auto [may_hold, holds] = prepare(attrs, &fast);
    EXPECT_TRUE(fast) << attrs;
    EXPECT_TRUE(may_hold || !holds) << attrs;
    (may_hold ? scanned : skipped)++;
    found += holds;
  }
  EXPECT_GT(scanned, 300);  // both outcomes, and real addresses among them
  EXPECT_GT(skipped, 300);
  EXPECT_GT(found, 100);
}

// A sealed record's attrs are scanned for addresses only when its verification saw a string
// value that could be one (CanonicalRecord::attrs_may_hold_address): VerifySealedMany notes it
// for every record, records it reuses included; a record read by the full parse (non-ASCII)
// is always scanned; and OfferSealedMany refuses an address anywhere in attrs.
TEST(IpPolicyTest, OnlySealedRecordsThatMayHoldAnAddressAreScanned) {
  Canonicalizer c;
  const IpPolicy policy;  // drop
  const auto sealed = [&](const std::string& attrs, const std::string& stream = "s") {
    CanonicalRecord r;
    EXPECT_TRUE(c.Canonicalize(testing::RecordJson(1, "b3:0", attrs, "svc-import@x", stream), &r)
                    .ok())
        << attrs;
    return Seal(r);
  };
  const std::vector<std::pair<std::string, bool>> cases = {
      {R"({"a":"10.0.0.1"})", true},
      {R"({"a":{"b":["x","2001:db8::1"]}})", true},
      {R"({"a":[["::1"]],"z":1})", true},
      {R"({"a":"abcdef"})", true},  // a filter: hex digits may be an address
      {R"({"a":"\u00e9","b":"10.0.0.1"})", true},  // non-ASCII: the full parse, not noted
      {R"({"a":"\u00e9"})", true},
      {R"({"10.0.0.1":"x"})", false},  // a key, not a value
      {R"({"a":"10.0.0.1 "})", false},
      {R"({"a":1,"b":[2,true,null],"c":"g1"})", false},
      {"{}", false},
  };
  std::vector<std::string> texts;
  for (const auto& [attrs, may_hold] : cases) texts.push_back(sealed(attrs));
  std::vector<std::string_view> views(texts.begin(), texts.end());
  // Twice into the same records, the second time moved 3 places on (the non-ASCII ones into
  // records that said false): nothing stale survives.
  std::vector<CanonicalRecord> out(views.size());
  std::vector<Status> status(views.size());
  for (const size_t moved : {0u, 3u}) {
    std::rotate(views.begin(), views.end() - static_cast<long>(moved), views.end());
    c.VerifySealedMany(views, out.data(), status.data(), Canonicalizer::Attrs::kChain);
    for (size_t i = 0; i < views.size(); ++i) {
      const size_t k = (i + views.size() - moved) % views.size();
      ASSERT_TRUE(status[i].ok()) << cases[k].first << " " << status[i].ToString();
      EXPECT_EQ(out[i].attrs_may_hold_address, cases[k].second) << cases[k].first;
      EXPECT_TRUE(out[i].attrs_may_hold_address || !policy.HasAddress(out[i].attrs_text()))
          << cases[k].first;
      CanonicalRecord one;
      ASSERT_TRUE(c.VerifySealed(views[i], &one).ok());
      EXPECT_EQ(one.attrs_may_hold_address, cases[k].second) << cases[k].first;
    }
  }
  // Random attrs of short strings of address characters: a record not scanned holds none.
  std::mt19937 gen(20261206);
  const auto uniform = [&](int lo, int hi) {
    return std::uniform_int_distribution<int>(lo, hi)(gen);
  };
  static constexpr char kChars[] = "0123456789abcdefABCDEF.:x";
  static constexpr const char* kAddresses[] = {"10.1.2.3", "::1", "fe80::1:2", "1.1.1.1"};
  int skipped = 0, found = 0;
  for (int n = 0; n < 1000; ++n) {
    std::string value;
    for (int k = uniform(0, 46); k > 0; --k) value.push_back(kChars[uniform(0, 24)]);
    if (uniform(0, 4) == 0) value = kAddresses[uniform(0, 3)];
    const std::string quoted = "\"" + value + "\"";
    const int shape = uniform(0, 2);
    const std::string attrs = shape == 0   ? R"({"k":[1,)" + quoted + "]}"
                              : shape == 1 ? R"({"k":{"x":)" + quoted + R"(,"y":1}})"
                                           : R"({"k":)" + quoted + "}";
    const std::string text = sealed(attrs);
    CanonicalRecord r;
    ASSERT_TRUE(c.VerifySealed(text, &r, Canonicalizer::Attrs::kChain).ok()) << attrs;
    const bool holds = policy.HasAddress(r.attrs_text());
    EXPECT_TRUE(r.attrs_may_hold_address || !holds) << attrs;
    skipped += !r.attrs_may_hold_address;
    found += holds;
  }
  EXPECT_GT(skipped, 100);
  EXPECT_GT(found, 100);
  // The engine: an address deep in attrs is refused, the records around it are queued.
  auto engine = OpenGateway(true);
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  const std::vector<std::string> batch = {sealed(R"({"n":1})", "a"),
                                          sealed(R"({"p":[{"via":"198.51.100.20"}]})", "b"),
                                          sealed(R"({"n":"abc"})", "c")};
  const std::vector<std::string_view> batch_views(batch.begin(), batch.end());
  std::vector<Result<Ticket>> results;
  EXPECT_EQ(engine.value()->OfferSealedMany(batch_views, &results), 3u);
  ASSERT_EQ(results.size(), 3u);
  ASSERT_TRUE(results[0].ok() && results[2].ok());
  EXPECT_EQ(results[1].code(), Code::kSchema);
  EXPECT_NE(results[1].status().message().find("privacy.ip_mode"), std::string::npos);
  for (const size_t i : {0u, 2u}) {
    EXPECT_TRUE(results[i].value().Wait(std::chrono::steady_clock::now() + seconds(10)).ok());
  }
  const std::string metrics = engine.value()->MetricsText();
  EXPECT_NE(metrics.find("audit_pii_blocked_total{service=\"ron-audit\"} 1\n"), std::string::npos);
  ASSERT_TRUE(engine.value()->Close(std::chrono::steady_clock::now() + seconds(10)).ok());
}

}  // namespace
}  // namespace ron
