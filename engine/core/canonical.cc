#include "engine/core/canonical.h"

#include <simdjson.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <deque>
#include <vector>

#include "engine/core/check.h"
#include "engine/core/unicode.h"

namespace ron {
namespace {

namespace dom = simdjson::dom;

// Top-level keys in canonical order (docs/FORMAT.md §1). The index is the key's bit in a seen-mask.
enum TopKey : int {
  kV,
  kTsMs,
  kWriterId,
  kSeq,
  kStream,
  kKind,
  kActor,
  kSubject,
  kReason,
  kAttrs,
  kPrev,
  kSelfHash,
  kTopKeyCount
};
constexpr std::array<std::string_view, kTopKeyCount> kTopKeyNames = {
    "v",     "ts_ms",   "writer_id", "seq",   "stream", "kind",
    "actor", "subject", "reason",    "attrs", "prev",   "self_hash"};

// Matches a raw key against the top-level names. Keys are compared as given: NFC cannot map a
// non-ASCII key onto one of these lowercase ASCII names, so a non-ASCII key is simply unknown.
int TopKeyIndex(std::string_view key) {
  for (int i = 0; i < kTopKeyCount; ++i) {
    if (kTopKeyNames[i] == key) return i;
  }
  return -1;
}

bool IsAsciiLetter(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
bool IsAsciiDigit(char c) { return c >= '0' && c <= '9'; }

// kind: [A-Za-z][A-Za-z0-9_.]{0,63}
bool IsValidKind(std::string_view s) {
  if (s.empty() || s.size() > kMaxKindBytes || !IsAsciiLetter(s[0])) return false;
  return std::all_of(s.begin() + 1, s.end(), [](char c) {
    return IsAsciiLetter(c) || IsAsciiDigit(c) || c == '_' || c == '.';
  });
}

// reason: [A-Za-z0-9_.:-]{1,64}
bool IsValidReason(std::string_view s) {
  if (s.empty() || s.size() > kMaxReasonBytes) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return IsAsciiLetter(c) || IsAsciiDigit(c) || c == '_' || c == '.' || c == ':' || c == '-';
  });
}

// writer_id and stream: NFC UTF-8 of 1..max bytes without control characters.
bool IsValidName(std::string_view s, size_t max_bytes) {
  return !s.empty() && s.size() <= max_bytes && !HasControlCharacter(s);
}

void AppendUint(uint64_t value, std::string* out) {
  char buf[24];
  const auto result = std::to_chars(buf, buf + sizeof(buf), value);
  out->append(buf, static_cast<size_t>(result.ptr - buf));
}

void AppendInt(int64_t value, std::string* out) {
  char buf[24];
  const auto result = std::to_chars(buf, buf + sizeof(buf), value);
  out->append(buf, static_cast<size_t>(result.ptr - buf));
}

// ---- Classification of inputs simdjson rejects -------------------------------------------
//
// simdjson reports the first problem its stages meet (invalid UTF-8 before structure, say),
// but the law ranks them: malformed JSON, then Float, then Utf8. So on failure we make a
// sanitized copy in which every UTF-8 or surrogate problem and every out-of-range number is
// replaced by something harmless of the same length, and parse that: if it still fails the
// document is malformed; otherwise the replacements tell which rule was broken.

struct Sanitized {
  std::string text;
  bool had_bad_utf8 = false;
  bool had_lone_surrogate = false;
  bool had_float = false;
  bool had_big_integer = false;
};

int HexDigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes the 4 hex digits after "\u" at s[i] (i points at the backslash). -1 if malformed.
int DecodeUnicodeEscape(const std::string& s, size_t i) {
  if (i + 6 > s.size() || s[i] != '\\' || s[i + 1] != 'u') return -1;
  int value = 0;
  for (size_t k = i + 2; k < i + 6; ++k) {
    const int d = HexDigitValue(s[k]);
    if (d < 0) return -1;
    value = value << 4 | d;
  }
  return value;
}

// Length of a JSON number token starting at s[i] if it matches the JSON grammar
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, else 0. Sets *is_integer.
size_t JsonNumberLength(const std::string& s, size_t i, bool* is_integer) {
  size_t k = i;
  const auto digit_at = [&](size_t p) { return p < s.size() && IsAsciiDigit(s[p]); };
  if (k < s.size() && s[k] == '-') ++k;
  if (!digit_at(k)) return 0;
  if (s[k] == '0') {
    ++k;
  } else {
    while (digit_at(k)) ++k;
  }
  *is_integer = true;
  if (k < s.size() && s[k] == '.') {
    ++k;
    if (!digit_at(k)) return 0;
    while (digit_at(k)) ++k;
    *is_integer = false;
  }
  if (k < s.size() && (s[k] == 'e' || s[k] == 'E')) {
    ++k;
    if (k < s.size() && (s[k] == '+' || s[k] == '-')) ++k;
    if (!digit_at(k)) return 0;
    while (digit_at(k)) ++k;
    *is_integer = false;
  }
  return k - i;
}

bool IntegerTokenFits(std::string_view token) {
  if (token[0] == '-') {
    int64_t v;
    const auto r = std::from_chars(token.data(), token.data() + token.size(), v);
    return r.ec == std::errc() && r.ptr == token.data() + token.size();
  }
  uint64_t v;
  const auto r = std::from_chars(token.data(), token.data() + token.size(), v);
  return r.ec == std::errc() && r.ptr == token.data() + token.size();
}

void SanitizeString(Sanitized* out, size_t* pos) {
  std::string& s = out->text;
  size_t i = *pos + 1;  // after the opening quote
  while (i < s.size() && s[i] != '"') {
    if (s[i] != '\\') {
      ++i;
      continue;
    }
    const int unit = DecodeUnicodeEscape(s, i);
    if (unit < 0) {
      i += 2;  // a simple escape, or a malformed one that the re-parse will reject
      continue;
    }
    if (unit >= 0xD800 && unit <= 0xDBFF) {
      const int low = DecodeUnicodeEscape(s, i + 6);
      if (low >= 0xDC00 && low <= 0xDFFF) {
        i += 12;
        continue;
      }
    }
    if (unit >= 0xD800 && unit <= 0xDFFF) {
      s.replace(i, 6, "\\u003f");
      out->had_lone_surrogate = true;
    }
    i += 6;
  }
  *pos = i + 1;
}

Sanitized Sanitize(std::string_view json) {
  Sanitized out;
  out.text.assign(json);
  std::string& s = out.text;
  for (size_t i = 0; i < s.size();) {
    const size_t n = ValidUtf8SequenceLength(s, i);
    if (n == 0) {
      s[i] = '?';  // '?' is invalid outside strings, so it cannot repair a malformed document
      out.had_bad_utf8 = true;
      ++i;
    } else {
      i += n;
    }
  }
  for (size_t i = 0; i < s.size();) {
    if (s[i] == '"') {
      SanitizeString(&out, &i);
      continue;
    }
    bool is_integer = false;
    const size_t n = (s[i] == '-' || IsAsciiDigit(s[i])) ? JsonNumberLength(s, i, &is_integer) : 0;
    if (n == 0) {
      ++i;
      continue;
    }
    const bool fits = is_integer && IntegerTokenFits(std::string_view(s).substr(i, n));
    if (!fits) {
      (is_integer ? out.had_big_integer : out.had_float) = true;
      s.replace(i, n, std::string(n, ' '));
      s[i] = '0';
    }
    i += n;
  }
  return out;
}

}  // namespace

Status Limits::Validate() const {
  if (max_attrs_bytes < kMinAttrsBytes || max_attrs_bytes > kDefaultMaxAttrsBytes) {
    return Status(Code::kSchema, "max_attrs_bytes must be in [256, 1024]");
  }
  if (max_record_bytes < max_attrs_bytes + kRecordOverAttrsBytes ||
      max_record_bytes > kDefaultMaxRecordBytes) {
    return Status(Code::kSchema, "max_record_bytes must be in [max_attrs_bytes + 512, 4096]");
  }
  return Status::Ok();
}

namespace {

// True if any byte of `word` is below 0x20, '"' or '\\' (the bytes a JSON string must escape).
// SWAR: eight bytes per step with the "has zero byte" / "has byte less than" bit tricks.
inline bool NeedsEscape(uint64_t word) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  const uint64_t below_space = (word - kOnes * 0x20) & ~word;
  const uint64_t quote = word ^ (kOnes * '"');
  const uint64_t backslash = word ^ (kOnes * '\\');
  const uint64_t is_quote = (quote - kOnes) & ~quote;
  const uint64_t is_backslash = (backslash - kOnes) & ~backslash;
  return ((below_space | is_quote | is_backslash) & kHigh) != 0;
}

}  // namespace

void AppendJsonString(std::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  size_t run_start = 0;
  size_t i = 0;
  while (i < s.size()) {
    // Skip eight clean bytes at a time; most text has nothing to escape.
    if (i + 8 <= s.size()) {
      uint64_t word;
      std::memcpy(&word, s.data() + i, 8);
      if (!NeedsEscape(word)) {
        i += 8;
        continue;
      }
    }
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') {
      ++i;
      continue;
    }
    out->append(s.data() + run_start, i - run_start);
    run_start = ++i;
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case 0x08:
        out->append("\\b");
        break;
      case 0x09:
        out->append("\\t");
        break;
      case 0x0A:
        out->append("\\n");
        break;
      case 0x0C:
        out->append("\\f");
        break;
      case 0x0D:
        out->append("\\r");
        break;
      default: {
        const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
        out->append(esc, sizeof(esc));
      }
    }
  }
  out->append(s.data() + run_start, s.size() - run_start);
  out->push_back('"');
}

void AppendSealed(std::string_view canonical_bytes, const Digest& digest, std::string* out) {
  RON_CHECK(!canonical_bytes.empty() && canonical_bytes.back() == '}');
  out->append(canonical_bytes.data(), canonical_bytes.size() - 1);
  out->append(",\"self_hash\":\"");
  char text[kHashTextBytes];
  FormatHashText(digest, text);
  out->append(text, sizeof(text));
  out->append("\"}");
}

Status CheckName(std::string_view name, NameKind kind) {
  const bool writer = kind == NameKind::kWriterId;
  const char* key = writer ? "writer_id" : "stream";
  const size_t max_bytes = writer ? kMaxWriterIdBytes : kMaxStreamBytes;
  if (!IsValidUtf8(name)) return Status(Code::kUtf8, std::string(key) + " is not valid UTF-8");
  std::string scratch;
  std::string_view nfc;
  if (!NfcNormalize(name, &scratch, &nfc) || nfc != name) {
    return Status(Code::kSchema, std::string(key) + " must be NFC-normalized");
  }
  if (!IsValidName(name, max_bytes)) {
    return Status(Code::kSchema, std::string(key) + " must be 1.." + std::to_string(max_bytes) +
                                     " bytes without control characters");
  }
  return Status::Ok();
}

std::string Seal(const CanonicalRecord& record) {
  if (record.bytes.empty() || record.bytes.back() != '}') return std::string();  // unfilled
  std::string out;
  out.reserve(record.bytes.size() + kSealSuffixBytes);
  AppendSealed(record.bytes, record.digest, &out);
  return out;
}

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
  CanonicalReader(std::string_view in, const Limits& limits)
      : p_(in.data()), end_(in.data() + in.size()), limits_(limits) {}

  bool Read(Record* r) {
    r->v = kRecordVersion;
    r->actor = Actor();
    r->subject = Subject();
    if (!(Lit("{\"v\":1,\"ts_ms\":") && Digits(&r->ts_ms) && Lit(",\"writer_id\":") &&
          Text(&r->writer_id) && IsValidName(r->writer_id, kMaxWriterIdBytes) && Lit(",\"seq\":") &&
          Digits(&r->seq) && r->seq >= 1 && Lit(",\"stream\":") && Text(&r->stream) &&
          IsValidName(r->stream, kMaxStreamBytes) && Lit(",\"kind\":") && Text(&r->kind) &&
          IsValidKind(r->kind) && Lit(",\"actor\":{"))) {
      return false;
    }
    bool first = true;
    if (Lit("\"anon\":")) {
      if (Lit("true")) {
        r->actor.anon = true;
      } else if (Lit("false")) {
        r->actor.anon = false;
      } else {
        return false;
      }
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
          Text(&r->reason) && IsValidReason(r->reason) && Lit(",\"attrs\":"))) {
      return false;
    }
    const char* attrs = p_;
    if (!Object(1) || static_cast<size_t>(p_ - attrs) > limits_.max_attrs_bytes) return false;
    r->attrs.assign(attrs, static_cast<size_t>(p_ - attrs));
    return Lit(",\"prev\":") && Text(&r->prev) && IsValidPrev(r->prev) && Lit("}") && p_ == end_;
  }

 private:
  // A literal of the grammar; a template so that each compare has a constant length (inlined).
  template <size_t N>
  bool Lit(const char (&s)[N]) {
    constexpr size_t n = N - 1;
    if (static_cast<size_t>(end_ - p_) < n || std::memcmp(p_, s, n) != 0) return false;
    p_ += n;
    return true;
  }
  bool Peek(char c) const { return p_ < end_ && *p_ == c; }

  // Moves p_ over plain string bytes: printable ASCII other than '"' and backslash.
  void SkipPlain() {
#if defined(__SSE2__)
    // Sixteen bytes a step: a signed compare with 0x20 catches both the C0 controls and the
    // bytes >= 0x80 (negative as signed).
    const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\');
    const __m128i space = _mm_set1_epi8(0x20);
    while (end_ - p_ >= 16) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p_));
      const __m128i stop =
          _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                       _mm_cmplt_epi8(v, space));
      const int mask = _mm_movemask_epi8(stop);
      if (mask != 0) {
        p_ += __builtin_ctz(static_cast<unsigned>(mask));
        return;
      }
      p_ += 16;
    }
#endif
    constexpr uint64_t kHigh = 0x8080808080808080ULL;
    while (end_ - p_ >= 8) {  // eight bytes at a time
      uint64_t word;
      std::memcpy(&word, p_, 8);
      if (NeedsEscape(word) || (word & kHigh) != 0) return;
      p_ += 8;
    }
  }

  // A JSON string exactly as AppendJsonString writes ASCII text. `raw` gets the bytes between
  // the quotes, `*escaped` whether any escape occurs.
  bool String(std::string_view* raw, bool* escaped) {
    if (!Peek('"')) return false;
    const char* start = ++p_;
    *escaped = false;
    for (;;) {
      SkipPlain();
      if (p_ >= end_) return false;
      const auto c = static_cast<unsigned char>(*p_);
      if (c == '"') break;
      if (c < 0x20 || c >= 0x80) return false;  // unescaped control, or non-ASCII: full path
      if (c != '\\') {
        ++p_;
        continue;
      }
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
    return true;
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
    slot->emplace();
    *first = false;
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
    uint64_t v = 0;
    while (p_ < end_ && IsAsciiDigit(*p_)) {
      const auto d = static_cast<uint64_t>(*p_ - '0');
      if (v > (UINT64_MAX - d) / 10) return false;  // beyond uint64: full path
      v = v * 10 + d;
      ++p_;
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
      if (!String(&key, &escaped) || escaped || (!first && !(previous < key))) return false;
      previous = key;
      if (!Lit(":") || !Value(depth + 1)) return false;
      if (Peek('}')) {
        ++p_;
        return true;
      }
      if (!Lit(",")) return false;
    }
  }

  const char* p_;
  const char* const end_;
  const Limits& limits_;
};

}  // namespace

bool Canonicalizer::ReadCanonical(std::string_view bytes, CanonicalRecord* out) const {
  if (bytes.size() > limits_.max_record_bytes) return false;
  CanonicalReader reader(bytes, limits_);
  if (!reader.Read(&out->record)) return false;
  out->bytes.assign(bytes);
  return true;
}

// ---- The canonicalizer -------------------------------------------------------------------

class Canonicalizer::Impl {
 public:
  using DraftContext = Canonicalizer::DraftContext;
  explicit Impl(const Limits& limits) : limits_(limits) {
    // Every document up to kMaxInputBytes parses, however deeply nested: depth problems must be
    // reported by our field rules (Schema) after Float/Utf8, not by the parser.
    RON_CHECK(parser_.allocate(kMaxInputBytes + 1, kMaxInputBytes / 2 + 2) == simdjson::SUCCESS);
    sealed_scratch_.reserve(kMaxInputBytes + 1);
  }

  enum class Form { kUnsealed, kSealed, kDraft };

  Status Parse(std::string_view json, Form form, CanonicalRecord* out, Digest* stored_hash);
  // Writes a record's fields in canonical layout (strings escaped, attrs as given).
  void WriteRecord(const Record& r, std::string* out, size_t* attrs_bytes);
  const DraftContext* draft_ = nullptr;  // set while Form::kDraft is parsed
  bool skip_hash_ = false;               // set by PrepareDraft

 private:
  Status ParseDocument(std::string_view json, dom::element* root);
  Status BuildRecord(dom::element root, Form form, CanonicalRecord* out, Digest* stored_hash);
  Status BuildFields(dom::object top, Form form, CanonicalRecord* out, Digest* stored_hash);
  Status BuildDraftFields(const std::array<dom::element, kTopKeyCount>& fields, bool has_ts_ms,
                          CanonicalRecord* out);
  Status BuildCommonFields(const std::array<dom::element, kTopKeyCount>& fields, Record* r);
  Status AssignName(std::string_view value, size_t max_bytes, const char* key, std::string* out);
  Status ReadUint(dom::element e, std::string_view key, uint64_t* value);
  Status ReadString(dom::element e, std::string_view key, std::string* value);
  Status BuildActor(dom::element e, Actor* actor);
  Status BuildSubject(dom::element e, Subject* subject);
  Status WriteValue(dom::element e, int depth, std::string* out);
  Status WriteObject(dom::object object, int depth, std::string* out);

  // Normalized keys of non-ASCII object keys live here while one record is built; a deque
  // never moves its elements, so views into them stay valid.
  std::string_view StoreKey(std::string_view normalized) {
    key_arena_.emplace_back(normalized);
    return key_arena_.back();
  }

  struct Entry {
    std::string_view key;  // NFC key
    dom::element value;
  };

  Limits limits_;
  dom::parser parser_;
  std::vector<Entry> entries_;  // a stack of object entries, one frame per open object
  std::deque<std::string> key_arena_;
  std::string nfc_scratch_;
  std::string attrs_scratch_;

 public:
  std::string sealed_scratch_;
};

bool ContainsDouble(dom::element e) {
  switch (e.type()) {
    case dom::element_type::DOUBLE:
      return true;
    case dom::element_type::ARRAY:
      for (dom::element child : dom::array(e)) {
        if (ContainsDouble(child)) return true;
      }
      return false;
    case dom::element_type::OBJECT:
      for (dom::key_value_pair field : dom::object(e)) {
        if (ContainsDouble(field.value)) return true;
      }
      return false;
    default:
      return false;
  }
}

Status Canonicalizer::Impl::ParseDocument(std::string_view json, dom::element* root) {
  if (parser_.parse(json.data(), json.size()).get(*root) == simdjson::SUCCESS) {
    return Status::Ok();
  }
  Sanitized sanitized = Sanitize(json);
  dom::element ignored;
  if (parser_.parse(sanitized.text.data(), sanitized.text.size()).get(ignored) !=
      simdjson::SUCCESS) {
    return Status(Code::kSchema, "malformed JSON");
  }
  if (sanitized.had_float) return Status(Code::kFloat, "number with fraction or exponent");
  if (sanitized.had_bad_utf8) return Status(Code::kUtf8, "invalid UTF-8");
  if (sanitized.had_lone_surrogate) return Status(Code::kUtf8, "lone surrogate escape");
  if (sanitized.had_big_integer) {
    return Status(Code::kSchema, "integer does not fit in int64 or uint64");
  }
  return Status(Code::kSchema, "unparseable JSON");
}

Status Canonicalizer::Impl::Parse(std::string_view json, Form form, CanonicalRecord* out,
                                  Digest* stored_hash) {
  if (json.size() > kMaxInputBytes) {
    return Status(Code::kRecordTooLarge, "input longer than 65536 bytes");
  }
  dom::element root;
  RON_RETURN_IF_ERROR(ParseDocument(json, &root));
  Status status = BuildRecord(root, form, out, stored_hash);
  // A float anywhere outranks every field rule and bound.
  if (!status.ok() && status.code() != Code::kFloat && ContainsDouble(root)) {
    return Status(Code::kFloat, "number with fraction or exponent");
  }
  return status;
}

Status Canonicalizer::Impl::BuildRecord(dom::element root, Form form, CanonicalRecord* out,
                                        Digest* stored_hash) {
  dom::object top;
  if (root.get_object().get(top) != simdjson::SUCCESS) {
    return Status(Code::kSchema, "record is not a JSON object");
  }
  key_arena_.clear();
  entries_.clear();
  RON_RETURN_IF_ERROR(BuildFields(top, form, out, stored_hash));
  size_t attrs_bytes = 0;
  out->bytes.clear();
  WriteRecord(out->record, &out->bytes, &attrs_bytes);
  if (attrs_bytes > limits_.max_attrs_bytes) {
    return Status(Code::kAttrsTooLarge, "canonical attrs is " + std::to_string(attrs_bytes) +
                                            " bytes, limit " +
                                            std::to_string(limits_.max_attrs_bytes));
  }
  if (out->bytes.size() > limits_.max_record_bytes) {
    return Status(Code::kRecordTooLarge, "canonical record is " +
                                             std::to_string(out->bytes.size()) + " bytes, limit " +
                                             std::to_string(limits_.max_record_bytes));
  }
  // A prepared draft is hashed once its seq and prev are in (CompleteDraft).
  out->digest = skip_hash_ ? Digest{} : Blake3(out->bytes);
  return Status::Ok();
}

Status Canonicalizer::Impl::BuildFields(dom::object top, Form form, CanonicalRecord* out,
                                        Digest* stored_hash) {
  std::array<dom::element, kTopKeyCount> fields;
  // Which keys the input may carry and must carry, as bit masks over TopKey.
  constexpr uint32_t kAll = (1u << kTopKeyCount) - 1;
  constexpr uint32_t kAssigned =
      1u << kV | 1u << kWriterId | 1u << kSeq | 1u << kStream | 1u << kPrev | 1u << kSelfHash;
  const uint32_t allowed = form == Form::kSealed  ? kAll
                           : form == Form::kDraft ? kAll & ~kAssigned
                                                  : kAll & ~(1u << kSelfHash);
  const uint32_t required = form == Form::kDraft ? allowed & ~(1u << kTsMs) : allowed;
  uint32_t seen = 0;
  for (dom::key_value_pair field : top) {
    const int index = TopKeyIndex(field.key);
    if (index < 0 || !(allowed & (1u << index))) {
      return Status(Code::kSchema, "unknown top-level key");
    }
    if (seen & (1u << index)) {
      return Status(Code::kSchema, "duplicate key " + std::string(kTopKeyNames[index]));
    }
    seen |= 1u << index;
    fields[index] = field.value;
  }
  for (int i = 0; i < kTopKeyCount; ++i) {
    if ((required & (1u << i)) && !(seen & (1u << i))) {
      return Status(Code::kSchema, "missing key " + std::string(kTopKeyNames[i]));
    }
  }
  if (form == Form::kDraft) return BuildDraftFields(fields, seen & (1u << kTsMs), out);
  Record& r = out->record;
  RON_RETURN_IF_ERROR(ReadUint(fields[kV], "v", &r.v));
  if (r.v != kRecordVersion) return Status(Code::kSchema, "unsupported record version v");
  RON_RETURN_IF_ERROR(ReadUint(fields[kTsMs], "ts_ms", &r.ts_ms));
  RON_RETURN_IF_ERROR(ReadString(fields[kWriterId], "writer_id", &r.writer_id));
  if (!IsValidName(r.writer_id, kMaxWriterIdBytes)) {
    return Status(Code::kSchema, "writer_id must be 1..128 bytes without control characters");
  }
  RON_RETURN_IF_ERROR(ReadUint(fields[kSeq], "seq", &r.seq));
  if (r.seq == 0) return Status(Code::kSchema, "seq must be >= 1");
  RON_RETURN_IF_ERROR(ReadString(fields[kStream], "stream", &r.stream));
  if (!IsValidName(r.stream, kMaxStreamBytes)) {
    return Status(Code::kSchema, "stream must be 1..64 bytes without control characters");
  }
  RON_RETURN_IF_ERROR(BuildCommonFields(fields, &r));
  RON_RETURN_IF_ERROR(ReadString(fields[kPrev], "prev", &r.prev));
  if (!IsValidPrev(r.prev)) return Status(Code::kSchema, "prev must be b3:0 or b3:<64 hex>");
  if (form == Form::kSealed) {
    std::string_view text;
    if (fields[kSelfHash].get_string().get(text) != simdjson::SUCCESS ||
        !ParseHashText(text, stored_hash)) {
      return Status(Code::kSchema, "self_hash must be b3:<64 lowercase hex>");
    }
  }
  return Status::Ok();
}

// kind, actor, subject, reason, attrs: the fields every form carries, in canonical order.
Status Canonicalizer::Impl::BuildCommonFields(const std::array<dom::element, kTopKeyCount>& fields,
                                              Record* r) {
  RON_RETURN_IF_ERROR(ReadString(fields[kKind], "kind", &r->kind));
  if (!IsValidKind(r->kind)) {
    return Status(Code::kSchema, "kind must match [A-Za-z][A-Za-z0-9_.]{0,63}");
  }
  RON_RETURN_IF_ERROR(BuildActor(fields[kActor], &r->actor));
  RON_RETURN_IF_ERROR(BuildSubject(fields[kSubject], &r->subject));
  RON_RETURN_IF_ERROR(ReadString(fields[kReason], "reason", &r->reason));
  if (!IsValidReason(r->reason)) {
    return Status(Code::kSchema, "reason must match [A-Za-z0-9_.:-]{1,64}");
  }
  dom::object attrs;
  if (fields[kAttrs].get_object().get(attrs) != simdjson::SUCCESS) {
    return Status(Code::kSchema, "attrs must be an object");
  }
  attrs_scratch_.clear();
  RON_RETURN_IF_ERROR(WriteObject(attrs, 1, &attrs_scratch_));
  r->attrs.assign(attrs_scratch_);
  return Status::Ok();
}

// A name the engine assigns (writer_id, stream): valid UTF-8, NFC, the length/control rule.
Status Canonicalizer::Impl::AssignName(std::string_view value, size_t max_bytes, const char* key,
                                       std::string* out) {
  std::string_view nfc;
  if (!IsValidUtf8(value) || !NfcNormalize(value, &nfc_scratch_, &nfc)) {
    return Status(Code::kUtf8, std::string(key) + " is not valid UTF-8");
  }
  if (!IsValidName(nfc, max_bytes)) {
    return Status(Code::kSchema, std::string(key) + " must be 1.." + std::to_string(max_bytes) +
                                     " bytes without control characters");
  }
  out->assign(nfc);
  return Status::Ok();
}

Status Canonicalizer::Impl::BuildDraftFields(const std::array<dom::element, kTopKeyCount>& fields,
                                             bool has_ts_ms, CanonicalRecord* out) {
  Record& r = out->record;
  const DraftContext& ctx = *draft_;
  r.v = kRecordVersion;
  r.ts_ms = ctx.default_ts_ms;
  if (has_ts_ms) RON_RETURN_IF_ERROR(ReadUint(fields[kTsMs], "ts_ms", &r.ts_ms));
  RON_RETURN_IF_ERROR(AssignName(ctx.writer_id, kMaxWriterIdBytes, "writer_id", &r.writer_id));
  if (ctx.seq == 0) return Status(Code::kSchema, "seq must be >= 1");
  r.seq = ctx.seq;
  RON_RETURN_IF_ERROR(AssignName(ctx.stream, kMaxStreamBytes, "stream", &r.stream));
  RON_RETURN_IF_ERROR(BuildCommonFields(fields, &r));
  if (!IsValidPrev(ctx.prev)) return Status(Code::kSchema, "prev must be b3:0 or b3:<64 hex>");
  r.prev.assign(ctx.prev);
  return Status::Ok();
}

Status Canonicalizer::Impl::ReadUint(dom::element e, std::string_view key, uint64_t* value) {
  if (e.type() == dom::element_type::UINT64) {
    *value = e.get_uint64().value_unsafe();
    return Status::Ok();
  }
  if (e.type() == dom::element_type::INT64 && e.get_int64().value_unsafe() >= 0) {
    *value = static_cast<uint64_t>(e.get_int64().value_unsafe());
    return Status::Ok();
  }
  return Status(Code::kSchema, std::string(key) + " must be a non-negative integer");
}

Status Canonicalizer::Impl::ReadString(dom::element e, std::string_view key, std::string* value) {
  std::string_view raw;
  if (e.get_string().get(raw) != simdjson::SUCCESS) {
    return Status(Code::kSchema, std::string(key) + " must be a string");
  }
  std::string_view nfc;
  if (!NfcNormalize(raw, &nfc_scratch_, &nfc)) return Status(Code::kUtf8, "NFC failed");
  value->assign(nfc);
  return Status::Ok();
}

Status Canonicalizer::Impl::BuildActor(dom::element e, Actor* actor) {
  dom::object object;
  if (e.get_object().get(object) != simdjson::SUCCESS) {
    return Status(Code::kSchema, "actor must be an object");
  }
  *actor = Actor();
  uint32_t seen = 0;
  for (dom::key_value_pair field : object) {
    std::optional<std::string>* slot = nullptr;
    uint32_t bit = 0;
    if (field.key == "anon") {
      bit = 1;
    } else if (field.key == "cap_id") {
      slot = &actor->cap_id, bit = 2;
    } else if (field.key == "key_fpr") {
      slot = &actor->key_fpr, bit = 4;
    } else if (field.key == "passport_id") {
      slot = &actor->passport_id, bit = 8;
    } else {
      return Status(Code::kSchema, "unknown actor key");
    }
    if (seen & bit) return Status(Code::kSchema, "duplicate actor key");
    seen |= bit;
    if (slot == nullptr) {
      bool anon;
      if (field.value.get_bool().get(anon) != simdjson::SUCCESS) {
        return Status(Code::kSchema, "actor.anon must be a boolean");
      }
      actor->anon = anon;
      continue;
    }
    slot->emplace();
    RON_RETURN_IF_ERROR(ReadString(field.value, "actor." + std::string(field.key), &**slot));
  }
  return Status::Ok();
}

Status Canonicalizer::Impl::BuildSubject(dom::element e, Subject* subject) {
  dom::object object;
  if (e.get_object().get(object) != simdjson::SUCCESS) {
    return Status(Code::kSchema, "subject must be an object");
  }
  *subject = Subject();
  uint32_t seen = 0;
  for (dom::key_value_pair field : object) {
    std::optional<std::string>* slot = nullptr;
    uint32_t bit = 0;
    if (field.key == "content_id") {
      slot = &subject->content_id, bit = 1;
    } else if (field.key == "ledger_txid") {
      slot = &subject->ledger_txid, bit = 2;
    } else if (field.key == "name") {
      slot = &subject->name, bit = 4;
    } else {
      return Status(Code::kSchema, "unknown subject key");
    }
    if (seen & bit) return Status(Code::kSchema, "duplicate subject key");
    seen |= bit;
    slot->emplace();
    RON_RETURN_IF_ERROR(ReadString(field.value, "subject." + std::string(field.key), &**slot));
  }
  return Status::Ok();
}

Status Canonicalizer::Impl::WriteValue(dom::element e, int depth, std::string* out) {
  switch (e.type()) {
    case dom::element_type::OBJECT:
      return WriteObject(dom::object(e), depth, out);
    case dom::element_type::ARRAY: {
      if (depth > kMaxAttrsDepth) return Status(Code::kSchema, "attrs nested deeper than 8");
      out->push_back('[');
      bool first = true;
      for (dom::element child : dom::array(e)) {
        if (!first) out->push_back(',');
        first = false;
        RON_RETURN_IF_ERROR(WriteValue(child, depth + 1, out));
      }
      out->push_back(']');
      return Status::Ok();
    }
    case dom::element_type::INT64:
      AppendInt(e.get_int64().value_unsafe(), out);
      return Status::Ok();
    case dom::element_type::UINT64:
      AppendUint(e.get_uint64().value_unsafe(), out);
      return Status::Ok();
    case dom::element_type::DOUBLE:
      return Status(Code::kFloat, "number with fraction or exponent");
    case dom::element_type::STRING: {
      std::string_view nfc;
      if (!NfcNormalize(e.get_string().value_unsafe(), &nfc_scratch_, &nfc)) {
        return Status(Code::kUtf8, "NFC failed");
      }
      AppendJsonString(nfc, out);
      return Status::Ok();
    }
    case dom::element_type::BOOL:
      out->append(e.get_bool().value_unsafe() ? "true" : "false");
      return Status::Ok();
    case dom::element_type::NULL_VALUE:
      out->append("null");
      return Status::Ok();
  }
  return Status(Code::kSchema, "unknown JSON value type");
}

Status Canonicalizer::Impl::WriteObject(dom::object object, int depth, std::string* out) {
  if (depth > kMaxAttrsDepth) return Status(Code::kSchema, "attrs nested deeper than 8");
  const size_t frame_begin = entries_.size();
  for (dom::key_value_pair field : object) {
    std::string_view nfc;
    if (!NfcNormalize(field.key, &nfc_scratch_, &nfc)) return Status(Code::kUtf8, "NFC failed");
    if (nfc.data() == nfc_scratch_.data()) nfc = StoreKey(nfc);
    entries_.push_back(Entry{nfc, field.value});
  }
  const size_t frame_end = entries_.size();
  // std::string_view compares with char_traits<char>, i.e. as unsigned bytes: byte-wise order.
  std::sort(entries_.begin() + static_cast<ptrdiff_t>(frame_begin),
            entries_.begin() + static_cast<ptrdiff_t>(frame_end),
            [](const Entry& a, const Entry& b) { return a.key < b.key; });
  out->push_back('{');
  for (size_t i = frame_begin; i < frame_end; ++i) {
    if (i > frame_begin) {
      if (entries_[i].key == entries_[i - 1].key) {
        return Status(Code::kSchema, "duplicate key in attrs");
      }
      out->push_back(',');
    }
    AppendJsonString(entries_[i].key, out);
    out->push_back(':');
    // Children push their own frames above frame_end and pop them before returning, so
    // indexing (not iterators or references) stays valid across the recursion.
    RON_RETURN_IF_ERROR(WriteValue(entries_[i].value, depth + 1, out));
  }
  out->push_back('}');
  entries_.resize(frame_begin);
  return Status::Ok();
}

void Canonicalizer::Impl::WriteRecord(const Record& r, std::string* out, size_t* attrs_bytes) {
  out->append("{\"v\":");
  AppendUint(r.v, out);
  out->append(",\"ts_ms\":");
  AppendUint(r.ts_ms, out);
  out->append(",\"writer_id\":");
  AppendJsonString(r.writer_id, out);
  out->append(",\"seq\":");
  AppendUint(r.seq, out);
  out->append(",\"stream\":");
  AppendJsonString(r.stream, out);
  out->append(",\"kind\":");
  AppendJsonString(r.kind, out);
  // actor and subject keys are fixed sets, written in their byte-wise sorted order.
  out->append(",\"actor\":{");
  const char* sep = "";
  if (r.actor.anon) {
    out->append(*r.actor.anon ? "\"anon\":true" : "\"anon\":false");
    sep = ",";
  }
  const auto field = [&](const char* name, const std::optional<std::string>& value) {
    if (!value) return;
    out->append(sep);
    out->append(name);
    AppendJsonString(*value, out);
    sep = ",";
  };
  field("\"cap_id\":", r.actor.cap_id);
  field("\"key_fpr\":", r.actor.key_fpr);
  field("\"passport_id\":", r.actor.passport_id);
  out->append("},\"subject\":{");
  sep = "";
  field("\"content_id\":", r.subject.content_id);
  field("\"ledger_txid\":", r.subject.ledger_txid);
  field("\"name\":", r.subject.name);
  out->append("},\"reason\":");
  AppendJsonString(r.reason, out);
  out->append(",\"attrs\":");
  out->append(r.attrs);
  *attrs_bytes = r.attrs.size();
  out->append(",\"prev\":");
  AppendJsonString(r.prev, out);
  out->push_back('}');
}

// ---- Public surface ----------------------------------------------------------------------

Canonicalizer::Canonicalizer(const Limits& limits)
    : limits_(limits), impl_(std::make_unique<Impl>(limits)) {
  RON_CHECK(limits.Validate().ok());
}

Canonicalizer::~Canonicalizer() = default;

Status Canonicalizer::Canonicalize(std::string_view json, CanonicalRecord* out) {
  return impl_->Parse(json, Impl::Form::kUnsealed, out, nullptr);
}

Status Canonicalizer::VerifySealed(std::string_view sealed, CanonicalRecord* out) {
  if (sealed.size() > kMaxInputBytes) {
    return Status(Code::kRecordTooLarge, "input longer than 65536 bytes");
  }
  Digest stored;
  const size_t n = sealed.size();
  const bool canonical_suffix =
      n > kSealSuffixBytes && sealed.substr(n - kSealSuffixBytes, 14) == ",\"self_hash\":\"" &&
      sealed.substr(n - 2) == "\"}" &&
      ParseHashText(sealed.substr(n - kSealSuffixBytes + 14, kHashTextBytes), &stored);
  if (!canonical_suffix) {
    // Not sealed in canonical shape: parse the whole text so the caller learns the most
    // important problem, and call it non-canonical if there is none.
    RON_RETURN_IF_ERROR(impl_->Parse(sealed, Impl::Form::kSealed, out, &stored));
    return Status(Code::kSchema, "sealed record is not in canonical form");
  }
  std::string& candidate = impl_->sealed_scratch_;
  candidate.assign(sealed.substr(0, n - kSealSuffixBytes));
  candidate.push_back('}');
  if (ReadCanonical(candidate, out)) {  // the common case: nothing to rewrite
    out->digest = Blake3(out->bytes);
    if (out->digest != stored) {
      return Status(Code::kHashMismatch, "self_hash does not match the canonical bytes");
    }
    return Status::Ok();
  }
  RON_RETURN_IF_ERROR(impl_->Parse(candidate, Impl::Form::kUnsealed, out, nullptr));
  if (out->bytes != candidate) {
    return Status(Code::kSchema, "sealed record is not in canonical form");
  }
  if (out->digest != stored) {
    return Status(Code::kHashMismatch, "self_hash does not match the canonical bytes");
  }
  return Status::Ok();
}

Status Canonicalizer::CanonicalizeDraft(std::string_view draft_json, const DraftContext& context,
                                        CanonicalRecord* out) {
  impl_->draft_ = &context;
  Status status = impl_->Parse(draft_json, Impl::Form::kDraft, out, nullptr);
  impl_->draft_ = nullptr;
  return status;
}

Status Canonicalizer::PrepareDraft(std::string_view draft_json, const DraftContext& context,
                                   CanonicalRecord* prepared) {
  DraftContext stand_in = context;
  stand_in.seq = 1;
  stand_in.prev = kGenesisPrev;
  impl_->skip_hash_ = true;
  const Status status = CanonicalizeDraft(draft_json, stand_in, prepared);
  impl_->skip_hash_ = false;
  return status;
}

Status Canonicalizer::CompleteDraft(const CanonicalRecord& prepared, uint64_t seq,
                                    std::string_view prev, const Limits& limits,
                                    CanonicalRecord* out) {
  if (seq == 0) return Status(Code::kSchema, "seq must be >= 1");
  if (!IsValidPrev(prev)) return Status(Code::kSchema, "prev must be b3:0 or b3:<64 hex>");
  // The prepared bytes hold ,"seq":1,"stream": once (JSON strings before it escape every
  // quote) and end with ,"prev":"b3:0"} (prev is the last key).
  constexpr std::string_view kSeqKey = ",\"seq\":1,\"stream\":";
  constexpr std::string_view kPrevTail = ",\"prev\":\"b3:0\"}";
  const std::string& in = prepared.bytes;
  const size_t at = in.find(kSeqKey);
  RON_CHECK(at != std::string::npos && in.size() >= kPrevTail.size() &&
            in.compare(in.size() - kPrevTail.size(), kPrevTail.size(), kPrevTail) == 0 &&
            prepared.record.seq == 1);
  const size_t digits_at = at + 7;  // after ,"seq":
  out->record = prepared.record;
  out->record.seq = seq;
  out->record.prev.assign(prev);
  std::string& bytes = out->bytes;
  bytes.clear();
  bytes.reserve(in.size() + 20 + prev.size());
  bytes.append(in, 0, digits_at);
  AppendUint(seq, &bytes);
  bytes.append(in, digits_at + 1, in.size() - kPrevTail.size() + 9 - (digits_at + 1));
  bytes.append(prev);
  bytes.append("\"}");
  if (bytes.size() > limits.max_record_bytes) {
    return Status(Code::kRecordTooLarge, "canonical record is " + std::to_string(bytes.size()) +
                                             " bytes, limit " +
                                             std::to_string(limits.max_record_bytes));
  }
  out->digest = Blake3(bytes);
  return Status::Ok();
}

Status Canonicalizer::Encode(const Record& record, CanonicalRecord* out) {
  // Render the typed record as JSON text in the canonical layout and run it through the one
  // strict path, so a typed record can never be accepted under rules different from the text
  // form's (its strings may still need NFC, its attrs canonicalizing).
  std::string text;
  size_t attrs_bytes = 0;
  impl_->WriteRecord(record, &text, &attrs_bytes);
  return impl_->Parse(text, Impl::Form::kUnsealed, out, nullptr);
}

}  // namespace ron
