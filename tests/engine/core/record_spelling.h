// Random logical records and random JSON spellings of them, for the property tests of the
// canonical form (canonical_property_test.cc, draft_fast_path_test.cc): shuffled keys,
// whitespace, NFD/NFC, different escapes — or, with Generator::compact and canonical_escapes,
// the compact spellings JSON libraries write.
#ifndef TESTS_ENGINE_CORE_RECORD_SPELLING_H_
#define TESTS_ENGINE_CORE_RECORD_SPELLING_H_

#include <gtest/gtest.h>
#include <utf8proc.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "engine/core/canonical.h"
#include "engine/core/unicode.h"

namespace ron::spelling {

struct Value {
  enum Type { kNull, kBool, kInt, kString, kArray, kObject } type = kNull;
  bool b = false;
  int64_t i = 0;
  std::string s;
  std::vector<Value> items;       // kArray elements, or kObject member values
  std::vector<std::string> keys;  // kObject member keys, parallel to items

  void Add(std::string key, Value value) {
    keys.push_back(std::move(key));
    items.push_back(std::move(value));
  }
};

inline Value MakeBool(bool b) {
  Value v;
  v.type = Value::kBool;
  v.b = b;
  return v;
}
inline Value MakeInt(int64_t i) {
  Value v;
  v.type = Value::kInt;
  v.i = i;
  return v;
}
inline Value MakeString(std::string s) {
  Value v;
  v.type = Value::kString;
  v.s = std::move(s);
  return v;
}

// Text pieces random strings are built from: ASCII, characters that need escaping,
// precomposed and decomposed accents, CJK, an astral emoji.
inline const std::vector<std::string> kPieces = {"a",
                                          "Z",
                                          "0",
                                          " ",
                                          "/",
                                          "\"",
                                          "\\",
                                          "\n",
                                          "\t",
                                          "\x01",
                                          "\x7f",
                                          "\xC3\xA9",
                                          "e\xCC\x81",
                                          "\xE2\x84\xAB",
                                          "\xE4\xB8\xAD",
                                          "\xF0\x9F\x98\x80",
                                          "\xC2\x85",
                                          "_",
                                          ":",
                                          "."};

class Generator {
 public:
  explicit Generator(uint32_t seed) : rng_(seed) {}

  int Uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool Coin() { return Uniform(0, 1) == 1; }

  std::string Text(int max_pieces) {
    std::string s;
    const int n = Uniform(0, max_pieces);
    for (int k = 0; k < n; ++k) s += kPieces[Piece()];
    return s;
  }
  // ASCII only (escapes and U+007F included): the shapes the canonical fast path handles.
  bool ascii_only = false;
  // Object keys without characters that need escaping (with ascii_only: plain ASCII keys).
  bool plain_keys = false;
  // Spellings without whitespace (as JSON libraries write by default).
  bool compact = false;
  // Spellings that escape only what the canonical form escapes, as it does (no NFD either).
  bool canonical_escapes = false;

  Value Any(int depth) {
    Value v;
    const int pick = Uniform(0, depth >= 4 ? 3 : 5);
    v.type = static_cast<Value::Type>(pick);
    switch (v.type) {
      case Value::kBool:
        v.b = Coin();
        break;
      case Value::kInt:
        v.i = Coin() ? Uniform(-1000, 1000)
                     : static_cast<int64_t>(std::uniform_int_distribution<int64_t>()(rng_));
        break;
      case Value::kString:
        v.s = Text(6);
        break;
      case Value::kArray:
        for (int k = Uniform(0, 3); k > 0; --k) v.items.push_back(Any(depth + 1));
        break;
      case Value::kObject:
        v = Object(depth);
        break;
      default:
        break;
    }
    return v;
  }

  Value Object(int depth) {
    Value v;
    v.type = Value::kObject;
    std::set<std::string> seen;  // keys must stay distinct after NFC
    for (int k = Uniform(0, 4); k > 0; --k) {
      std::string key = Key();
      std::string scratch;
      std::string_view nfc;
      EXPECT_TRUE(NfcNormalize(key, &scratch, &nfc));
      if (!seen.insert(std::string(nfc)).second) continue;
      v.Add(key, Any(depth + 1));
    }
    return v;
  }

  std::mt19937& rng() { return rng_; }

 private:
  size_t Piece() {
    if (!ascii_only) return static_cast<size_t>(Uniform(0, kPieces.size() - 1));
    static constexpr size_t kAscii[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 17, 18, 19};
    return kAscii[Uniform(0, std::size(kAscii) - 1)];
  }
  std::string Key() {
    if (!plain_keys) return Text(3);
    static constexpr const char* kPlain[] = {"a", "Z", "0", " ", "/", "_", ":", "."};
    std::string s;
    for (int k = Uniform(0, 3); k > 0; --k) s += kPlain[Uniform(0, std::size(kPlain) - 1)];
    return s;
  }

  std::mt19937 rng_;
};

// One random JSON spelling of a value: whitespace, key order, escapes and normalization vary.
class Writer {
 public:
  explicit Writer(Generator* gen) : gen_(gen) {}

  void Space(std::string* out) {
    if (gen_->compact) return;
    static const char* kSpaces[] = {"", "", " ", "\n", "\t ", "\r\n  "};
    *out += kSpaces[gen_->Uniform(0, 5)];
  }

  void String(const std::string& s, std::string* out) {
    std::string text = s;
    if (gen_->canonical_escapes) {
      AppendJsonString(s, out);  // REQUIRES (as the generator gives): NFC text
      return;
    }
    if (gen_->Coin() && text.find('\0') == std::string::npos) {  // NFD spelling
      utf8proc_uint8_t* nfd = utf8proc_NFD(reinterpret_cast<const utf8proc_uint8_t*>(text.c_str()));
      text = reinterpret_cast<char*>(nfd);
      std::free(nfd);
    }
    *out += '"';
    for (size_t i = 0; i < text.size();) {
      const size_t n = ValidUtf8SequenceLength(text, i);
      const std::string ch = text.substr(i, n);
      const auto c = static_cast<unsigned char>(text[i]);
      i += n;
      if (c == '"' || c == '\\' || c < 0x20 || gen_->Uniform(0, 4) == 0) {
        Escaped(ch, out);
      } else {
        *out += ch;
      }
    }
    *out += '"';
  }

  void Value(const struct Value& v, std::string* out) {
    Space(out);
    switch (v.type) {
      case Value::kNull:
        *out += "null";
        break;
      case Value::kBool:
        *out += v.b ? "true" : "false";
        break;
      case Value::kInt:
        *out += (v.i == 0 && gen_->Coin()) ? "-0" : std::to_string(v.i);
        break;
      case Value::kString:
        String(v.s, out);
        break;
      case Value::kArray:
        *out += '[';
        for (size_t k = 0; k < v.items.size(); ++k) {
          if (k > 0) *out += ',';
          Value(v.items[k], out);
        }
        Space(out);
        *out += ']';
        break;
      case Value::kObject: {
        std::vector<size_t> order(v.keys.size());
        for (size_t k = 0; k < order.size(); ++k) order[k] = k;
        std::shuffle(order.begin(), order.end(), gen_->rng());
        *out += '{';
        for (size_t k = 0; k < order.size(); ++k) {
          if (k > 0) *out += ',';
          Space(out);
          String(v.keys[order[k]], out);
          Space(out);
          *out += ':';
          Value(v.items[order[k]], out);
        }
        Space(out);
        *out += '}';
        break;
      }
    }
    Space(out);
  }

 private:
  // Escapes one UTF-8 character in a randomly chosen valid form.
  void Escaped(const std::string& ch, std::string* out) {
    const auto c = static_cast<unsigned char>(ch[0]);
    if (c == '/' && gen_->Coin()) {
      *out += "\\/";
      return;
    }
    // Decode the code point.
    uint32_t cp = c;
    if (c >= 0xF0)
      cp = (c & 0x07u) << 18 | (ch[1] & 0x3Fu) << 12 | (ch[2] & 0x3Fu) << 6 | (ch[3] & 0x3Fu);
    else if (c >= 0xE0)
      cp = (c & 0x0Fu) << 12 | (ch[1] & 0x3Fu) << 6 | (ch[2] & 0x3Fu);
    else if (c >= 0xC0)
      cp = (c & 0x1Fu) << 6 | (ch[1] & 0x3Fu);
    char buf[16];
    const char* fmt = gen_->Coin() ? "\\u%04x" : "\\u%04X";
    if (cp >= 0x10000) {
      cp -= 0x10000;
      std::snprintf(buf, sizeof(buf), fmt, 0xD800 + (cp >> 10));
      *out += buf;
      std::snprintf(buf, sizeof(buf), fmt, 0xDC00 + (cp & 0x3FF));
      *out += buf;
      return;
    }
    std::snprintf(buf, sizeof(buf), fmt, cp);
    *out += buf;
  }

  Generator* gen_;
};

struct LogicalRecord {
  std::string writer_id, stream, kind, reason;
  uint64_t ts_ms = 0, seq = 1;
  struct Value actor, subject, attrs;
};

inline LogicalRecord RandomRecord(Generator* gen) {
  LogicalRecord r;
  r.writer_id = "svc-" + std::string(gen->Coin() ? "caf\xC3\xA9" : "gw") + "@inst-" +
                std::to_string(gen->Uniform(0, 9));
  r.stream = gen->Coin() ? "ingress" : "e\xCC\x81v\xC3\xA9nements";
  r.kind = gen->Coin() ? "GetServed" : "LOCK_ACQUIRE";
  r.reason = gen->Coin() ? "ok" : "audit:backpressure";
  r.ts_ms = static_cast<uint64_t>(gen->Uniform(0, 1 << 30)) * 1000;
  r.seq = static_cast<uint64_t>(gen->Uniform(1, 1 << 20));
  r.actor.type = r.subject.type = Value::kObject;
  if (gen->Coin()) r.actor.Add("anon", MakeBool(gen->Coin()));
  if (gen->Coin()) r.actor.Add("cap_id", MakeString(gen->Text(4)));
  if (gen->Coin()) r.actor.Add("passport_id", MakeString("u:ab"));
  if (gen->Coin()) r.subject.Add("name", MakeString(gen->Text(4)));
  if (gen->Coin()) r.subject.Add("content_id", MakeString("b3:11"));
  r.attrs = gen->Object(1);
  return r;
}

inline std::string Spell(const LogicalRecord& r, Generator* gen) {
  Writer w(gen);
  struct Value object;
  object.type = Value::kObject;
  const auto str = [](const std::string& s) { return MakeString(s); };
  object.Add("v", MakeInt(1));
  object.Add("ts_ms", MakeInt(static_cast<int64_t>(r.ts_ms)));
  object.Add("writer_id", str(r.writer_id));
  object.Add("seq", MakeInt(static_cast<int64_t>(r.seq)));
  object.Add("stream", str(r.stream));
  object.Add("kind", str(r.kind));
  object.Add("actor", r.actor);
  object.Add("subject", r.subject);
  object.Add("reason", str(r.reason));
  object.Add("attrs", r.attrs);
  object.Add("prev", str("b3:0"));
  std::string out;
  w.Value(object, &out);
  return out;
}

// What the engine writes: ASCII names, ASCII text with every kind of escape in values.
inline LogicalRecord RandomAsciiRecord(Generator* gen) {
  LogicalRecord r = RandomRecord(gen);
  r.writer_id = "svc-gw@inst-" + std::to_string(gen->Uniform(0, 9));
  r.stream = gen->Coin() ? "ingress" : "lock.events";
  // Every actor and subject key, here where the draft fast path reads them.
  if (gen->Coin()) r.actor.Add("key_fpr", MakeString(gen->Text(3)));
  if (gen->Coin()) r.subject.Add("ledger_txid", MakeString(gen->Text(3)));
  return r;
}


// A draft spelling of `r` (what a host hands to Emit): no v, writer_id, seq, stream or prev.
inline std::string SpellDraft(const LogicalRecord& r, Generator* gen) {
  Writer w(gen);
  struct Value object;
  object.type = Value::kObject;
  if (gen->Coin()) object.Add("ts_ms", MakeInt(static_cast<int64_t>(r.ts_ms)));
  object.Add("kind", MakeString(r.kind));
  object.Add("actor", r.actor);
  object.Add("subject", r.subject);
  object.Add("reason", MakeString(r.reason));
  object.Add("attrs", r.attrs);
  std::string out;
  w.Value(object, &out);
  return out;
}

}  // namespace ron::spelling

#endif  // TESTS_ENGINE_CORE_RECORD_SPELLING_H_
