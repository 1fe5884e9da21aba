// The fast path of the canonical form: Canonicalizer::ReadCanonical.
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "engine/core/canonical.h"
#include "engine/core/canonical_rules.h"
#include "engine/core/check.h"
#include "engine/core/equal_bytes.h"
#include "engine/core/text_scan.h"

namespace ron {

using namespace internal;  // NOLINT: the shared rules of canonical_rules.h

// ---- The fast path: bytes already in canonical form --------------------------------------
//
// Every record the engine stores is canonical, so verifiers mostly check bytes that need no
// rewriting. CanonicalReader walks such bytes once, in the grammar of the canonical form itself,
// and accepts only what the full path would write byte for byte. Anything it does not handle —
// non-ASCII text, an escape inside an attrs key, whitespace, a number not in shortest form, an
// unknown or misplaced key — makes it give up, and the caller takes the full path, which also
// finds the exact error. It may refuse too much, never accept too much: the property tests and
// record_parse_fuzzer hold both paths to the same verdict and output.

namespace {

int LowerHexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

class CanonicalReader {
 public:
  // What Read stores into the record; the rest is checked only.
  enum class Keep {
    kAll,
    kAllButAttrs,
    kChain,  // v, ts_ms, writer_id, seq, stream, kind, prev (what the engine's writers and
             // readers use)
  };
  CanonicalReader(std::string_view in, const Limits& limits, Keep keep = Keep::kAll)
      : begin_(in.data()),
        p_(in.data()),
        end_(in.data() + in.size()),
        limits_(limits),
        keep_(keep) {}

  // After a successful Read: where the attrs text sits in the input.
  size_t attrs_at() const { return attrs_at_; }
  size_t attrs_bytes() const { return attrs_bytes_; }

  bool Read(Record* r) {
    r->v = kRecordVersion;
    r->actor = Actor();
    r->subject = Subject();
    if (!(Lit("{\"v\":1,\"ts_ms\":") && Digits(&r->ts_ms) && Lit(",\"writer_id\":") &&
          Name(&r->writer_id, kMaxWriterIdBytes) && Lit(",\"seq\":") && Digits(&r->seq) &&
          r->seq >= 1 && Lit(",\"stream\":") && Name(&r->stream, kMaxStreamBytes) &&
          Lit(",\"kind\":") && Text(&r->kind) &&
          IsValidKind(r->kind) && Lit(",\"actor\":{"))) {
      return false;
    }
    bool first = true;
    if (Lit("\"anon\":")) {
      bool anon = false;
      if (Lit("true")) {
        anon = true;
      } else if (!Lit("false")) {
        return false;
      }
      if (keep_ != Keep::kChain) r->actor.anon = anon;
      first = false;
    }
    if (!(Optional("\"cap_id\":", &first, &r->actor.cap_id) &&
          Optional("\"key_fpr\":", &first, &r->actor.key_fpr) &&
          Optional("\"passport_id\":", &first, &r->actor.passport_id) && Lit("},\"subject\":{"))) {
      return false;
    }
    first = true;
    if (!(Optional("\"content_id\":", &first, &r->subject.content_id) &&
          Optional("\"ledger_txid\":", &first, &r->subject.ledger_txid) &&
          Optional("\"name\":", &first, &r->subject.name) && Lit("},\"reason\":") &&
          Reason(&r->reason) && Lit(",\"attrs\":"))) {
      return false;
    }
    const char* attrs = p_;
    if (!Object(1) || static_cast<size_t>(p_ - attrs) > limits_.max_attrs_bytes) return false;
    attrs_at_ = static_cast<size_t>(attrs - begin_);
    attrs_bytes_ = static_cast<size_t>(p_ - attrs);
    if (keep_ == Keep::kAll) {
      r->attrs.assign(attrs, attrs_bytes_);
    } else {
      r->attrs.clear();
    }
    return Lit(",\"prev\":") && Text(&r->prev) && IsValidPrev(r->prev) && Lit("}") && p_ == end_;
  }

 private:
  // A literal of the grammar, compared in whole words: its length is a constant, so each
  // compare is a load or two and no call (memcmp was a call per literal).
  template <size_t N>
  bool Lit(const char (&s)[N]) {
    constexpr size_t n = N - 1;
    if (static_cast<size_t>(end_ - p_) < n || !EqualBytes<n>(p_, s)) return false;
    p_ += n;
    return true;
  }
  bool Peek(char c) const { return p_ < end_ && *p_ == c; }

  // A JSON string exactly as AppendJsonString writes ASCII text. `raw` gets the bytes between
  // the quotes, `*escaped` whether any escape occurs.
  bool String(std::string_view* raw, bool* escaped) {
    if (!Peek('"')) return false;
    const char* start = ++p_;
    *escaped = false;
    for (;;) {
      p_ = FindEscapeOrNonAsciiInline(p_, end_);
      if (p_ >= end_) return false;
      const char c = *p_;
      if (c == '"') break;
      if (c != '\\') return false;  // unescaped control, or non-ASCII: full path
      if (end_ - p_ < 2) return false;
      const char e = p_[1];
      *escaped = true;
      if (e == '"' || e == '\\' || e == 'b' || e == 't' || e == 'n' || e == 'f' || e == 'r') {
        p_ += 2;
        continue;
      }
      // \u00xx, lowercase, only for the code points below U+0020 without a short escape.
      if (e != 'u' || end_ - p_ < 6 || p_[2] != '0' || p_[3] != '0') return false;
      const int hi = p_[4] - '0', lo = LowerHexValue(p_[5]);
      if ((hi != 0 && hi != 1) || lo < 0) return false;
      const int code = hi * 16 + lo;
      if (code == 0x08 || code == 0x09 || code == 0x0A || code == 0x0C || code == 0x0D) {
        return false;
      }
      p_ += 6;
    }
    *raw = std::string_view(start, static_cast<size_t>(p_ - start));
    ++p_;
    return true;
  }

  // A string field of the record, decoded into `out`.
  bool Text(std::string* out) {
    std::string_view raw;
    bool escaped = false;
    if (!String(&raw, &escaped)) return false;
    if (!escaped) {
      out->assign(raw);
      return true;
    }
    Decode(raw, out);
    return true;
  }

  // writer_id or stream (IsValidName). Unescaped, String saw only ASCII and no byte below
  // 0x20: DEL is the one control character left to look for (HasControlCharacter's scan was
  // 1.4 % of a verify).
  bool Name(std::string* out, size_t max_bytes) {
    std::string_view raw;
    bool escaped = false;
    if (!String(&raw, &escaped)) return false;
    if (escaped) {
      Decode(raw, out);
      return IsValidName(*out, max_bytes);
    }
    bool del = false;
    for (const char c : raw) del |= c == '\x7f';
    if (raw.empty() || raw.size() > max_bytes || del) return false;
    out->assign(raw);
    return true;
  }

  // The reason, stored unless keep_ is kChain (then left empty). Its rule allows no byte an
  // escape stands for, so an escaped reason is refused unread.
  bool Reason(std::string* out) {
    if (keep_ != Keep::kChain) return Text(out) && IsValidReason(*out);
    out->clear();
    std::string_view raw;
    bool escaped = false;
    return String(&raw, &escaped) && !escaped && IsValidReason(raw);
  }

  // The text of a string whose escapes String checked.
  static void Decode(std::string_view raw, std::string* out) {
    out->clear();
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] != '\\') {
        out->push_back(raw[i]);
        continue;
      }
      const char e = raw[++i];
      constexpr std::string_view kShort = "btnfr", kDecoded = "\b\t\n\f\r";
      if (e == 'u') {  // \u00xx (String checked the form)
        out->push_back(static_cast<char>((raw[i + 3] - '0') * 16 + LowerHexValue(raw[i + 4])));
        i += 4;
      } else if (const size_t k = kShort.find(e); k != std::string_view::npos) {
        out->push_back(kDecoded[k]);
      } else {
        out->push_back(e);  // " or backslash
      }
    }
  }

  // An optional actor/subject key in its sorted place; absent, it consumes nothing.
  template <size_t N>
  bool Optional(const char (&key)[N], bool* first, std::optional<std::string>* slot) {
    const char* save = p_;
    if (!*first && !Lit(",")) return true;
    if (!Lit(key)) {
      p_ = save;
      return true;
    }
    *first = false;
    if (keep_ == Keep::kChain) {  // actor and subject values have no rule beyond JSON's
      std::string_view raw;
      bool escaped = false;
      return String(&raw, &escaped);
    }
    slot->emplace();
    return Text(&**slot);
  }

  // A uint64 in shortest form (ts_ms, seq, a non-negative attrs integer).
  bool Digits(uint64_t* value) {
    if (p_ >= end_ || !IsAsciiDigit(*p_)) return false;
    if (*p_ == '0') {  // no leading zeros
      ++p_;
      *value = 0;
      return !(p_ < end_ && IsAsciiDigit(*p_));
    }
    const char* digits = p_;
    while (p_ < end_ && IsAsciiDigit(*p_)) ++p_;
    // Up to 19 digits always fit in a uint64; 20 may not; more never do (full path).
    const auto n = static_cast<size_t>(p_ - digits);
    if (n > 20) return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) {
      const auto d = static_cast<uint64_t>(digits[i] - '0');
      if (n == 20 && v > (UINT64_MAX - d) / 10) return false;
      v = v * 10 + d;
    }
    *value = v;
    return true;
  }
  // An attrs integer: uint64, or a negative int64 (never -0, which is written 0).
  bool Int() {
    uint64_t magnitude = 0;
    if (!Peek('-')) return Digits(&magnitude);
    ++p_;
    return Digits(&magnitude) && magnitude != 0 && magnitude <= (uint64_t{1} << 63);
  }

  // A value whose container, if it is one, is at `depth`.
  bool Value(int depth) {
    if (p_ >= end_) return false;
    switch (*p_) {
      case '{':
        return Object(depth);
      case '[':
        if (depth > kMaxAttrsDepth) return false;
        ++p_;
        if (Peek(']')) {
          ++p_;
          return true;
        }
        for (;;) {
          if (!Value(depth + 1)) return false;
          if (Peek(']')) {
            ++p_;
            return true;
          }
          if (!Lit(",")) return false;
        }
      case '"': {
        std::string_view raw;
        bool escaped;
        return String(&raw, &escaped);
      }
      case 't':
        return Lit("true");
      case 'f':
        return Lit("false");
      case 'n':
        return Lit("null");
      default:
        return Int();
    }
  }

  // a < b in byte order (string_view's), in a loop: keys are short, and a memcmp call per key
  // was 1-2 % of a verify.
  static bool KeyLess(std::string_view a, std::string_view b) {
    const size_t n = a.size() < b.size() ? a.size() : b.size();
    for (size_t i = 0; i < n; ++i) {
      if (a[i] != b[i]) return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[i]);
    }
    return a.size() < b.size();
  }

  // An object at `depth` with keys in strictly increasing byte order (so no duplicates).
  bool Object(int depth) {
    if (depth > kMaxAttrsDepth || !Lit("{")) return false;
    if (Peek('}')) {
      ++p_;
      return true;
    }
    std::string_view previous;
    for (bool first = true;; first = false) {
      std::string_view key;
      bool escaped = false;
      // An escaped key would have to be compared decoded: left to the full path.
      if (!String(&key, &escaped) || escaped || (!first && !KeyLess(previous, key))) return false;
      previous = key;
      if (!Lit(":") || !Value(depth + 1)) return false;
      if (Peek('}')) {
        ++p_;
        return true;
      }
      if (!Lit(",")) return false;
    }
  }

  const char* const begin_;
  const char* p_;
  const char* const end_;
  const Limits& limits_;
  const Keep keep_;
  size_t attrs_at_ = 0, attrs_bytes_ = 0;
};

}  // namespace

bool Canonicalizer::ReadCanonical(std::string_view bytes, CanonicalRecord* out) const {
  if (bytes.size() > limits_.max_record_bytes) return false;
  CanonicalReader reader(bytes, limits_);
  if (!reader.Read(&out->record)) return false;
  out->bytes.assign(bytes);
  out->attrs_at = out->attrs_bytes = 0;
  return true;
}

bool Canonicalizer::ReadCanonicalInPlace(CanonicalRecord* out, Attrs attrs) const {
  if (out->bytes.size() > limits_.max_record_bytes) return false;
  CanonicalReader reader(out->bytes, limits_,
                         attrs == Attrs::kCopy     ? CanonicalReader::Keep::kAll
                         : attrs == Attrs::kLocate ? CanonicalReader::Keep::kAllButAttrs
                                                   : CanonicalReader::Keep::kChain);
  if (!reader.Read(&out->record)) return false;
  if (attrs != Attrs::kCopy) {
    out->attrs_at = static_cast<uint32_t>(reader.attrs_at());
    out->attrs_bytes = static_cast<uint32_t>(reader.attrs_bytes());
  }
  return true;
}

bool Canonicalizer::CheckCanonical(std::string_view bytes, Record* out) const {
  if (bytes.size() > limits_.max_record_bytes) return false;
  CanonicalReader reader(bytes, limits_, CanonicalReader::Keep::kAllButAttrs);
  return reader.Read(out);
}

bool Canonicalizer::CheckChain(std::string_view bytes, Record* out) const {
  if (bytes.size() > limits_.max_record_bytes) return false;
  CanonicalReader reader(bytes, limits_, CanonicalReader::Keep::kChain);
  return reader.Read(out);
}

}  // namespace ron
