// The fast path of the canonical form (Canonicalizer::ReadCanonical and the readers' checks)
// and the base of the draft fast path (draft_reader.cc): CanonicalReader, the walk of bytes in
// the grammar of the canonical form. Internal to engine/core.
#ifndef ENGINE_CORE_CANONICAL_READER_H_
#define ENGINE_CORE_CANONICAL_READER_H_

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "engine/core/canonical.h"
#include "engine/core/canonical_rules.h"
#include "engine/core/check.h"
#include "engine/core/equal_bytes.h"
#include "engine/core/text_scan.h"

namespace ron::internal {

// ---- The fast path: bytes already in canonical form --------------------------------------
//
// Every record the engine stores is canonical, so verifiers mostly check bytes that need no
// rewriting. CanonicalReader walks such bytes once, in the grammar of the canonical form itself,
// and accepts only what the full path would write byte for byte. Anything it does not handle —
// non-ASCII text, an escape inside an attrs key, whitespace, a number not in shortest form, an
// unknown or misplaced key — makes it give up, and the caller takes the full path, which also
// finds the exact error. It may refuse too much, never accept too much: the property tests and
// record_parse_fuzzer hold both paths to the same verdict and output.

inline int LowerHexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// *out = raw. The same field of the record read before has mostly the same length (a stream's
// writer_id and name, every prev): then its bytes are overwritten in place, without
// basic_string::assign's general replace (1.5 % of a verify's instructions).
inline void AssignText(std::string* out, std::string_view raw) {
  if (out->size() != raw.size()) {
    out->assign(raw);
  } else if (!raw.empty()) {
    std::memcpy(out->data(), raw.data(), raw.size());
  }
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
  // Read notes whether an attrs string value passes MayBeAddressLiteral (privacy.ip_mode
  // parses only those); off by default, so that the verifier's walk pays nothing for it.
  void NoteAddresses() { note_addresses_ = true; }
  // After a Read with NoteAddresses: false when no attrs string value could be an address.
  bool attrs_may_hold_address() const { return !note_addresses_ || attrs_address_; }

  // The walk keeps its place in a local (a register), and each step below returns it. Kept in
  // the reader, the place went through memory from step to step, and those round trips, one
  // after the other, were a quarter of the walk's time (BM_CheckCanonical1KiB).
  // Out: a Record, or a ChainView (read with Keep::kChain; its fields then view the text).
  template <typename Out>
  bool Read(Out* r) {
    constexpr bool kRecord = std::is_same_v<Out, Record>;
    static_assert(kRecord || std::is_same_v<Out, ChainView>);
    // A ChainView has no slots for what Keep::kChain leaves unstored (Optional, Reason).
    if constexpr (!kRecord) RON_CHECK(keep_ == Keep::kChain);
    if constexpr (kRecord) {
      r->v = kRecordVersion;
      r->actor = Actor();
      r->subject = Subject();
    }
    const char* p = Lit(begin_, "{\"v\":1,\"ts_ms\":");
    p = Digits(p, &r->ts_ms);
    p = Lit(p, ",\"writer_id\":");
    p = Name(p, &r->writer_id, kMaxWriterIdBytes);
    p = Lit(p, ",\"seq\":");
    p = Digits(p, &r->seq);
    if (p == nullptr || r->seq < 1) return false;
    p = Lit(p, ",\"stream\":");
    p = Name(p, &r->stream, kMaxStreamBytes);
    p = Lit(p, ",\"kind\":");
    p = Text(p, &r->kind);
    if (p == nullptr || !IsValidKind(r->kind)) return false;
    p = Lit(p, ",\"actor\":{");
    bool first = true;
    if (const char* value = Lit(p, "\"anon\":")) {
      bool anon = false;
      if (const char* t = Lit(value, "true")) {
        anon = true;
        p = t;
      } else {
        p = Lit(value, "false");
      }
      if (p == nullptr) return false;
      if constexpr (kRecord) {
        if (keep_ != Keep::kChain) r->actor.anon = anon;
      }
      first = false;
    }
    p = Optional(p, "\"cap_id\":", &first, SlotOf(r, &Record::actor, &Actor::cap_id));
    p = Optional(p, "\"key_fpr\":", &first, SlotOf(r, &Record::actor, &Actor::key_fpr));
    p = Optional(p, "\"passport_id\":", &first, SlotOf(r, &Record::actor, &Actor::passport_id));
    p = Lit(p, "},\"subject\":{");
    first = true;
    p = Optional(p, "\"content_id\":", &first, SlotOf(r, &Record::subject, &Subject::content_id));
    p = Optional(p, "\"ledger_txid\":", &first, SlotOf(r, &Record::subject, &Subject::ledger_txid));
    p = Optional(p, "\"name\":", &first, SlotOf(r, &Record::subject, &Subject::name));
    p = Lit(p, "},\"reason\":");
    if constexpr (kRecord) {
      p = Reason(p, &r->reason);
    } else {
      p = Reason(p, nullptr);
    }
    p = Lit(p, ",\"attrs\":");
    if (p == nullptr) return false;
    const char* const attrs = p;
    p = note_addresses_ ? Object<true>(p, 1, &attrs_address_) : Object<false>(p, 1, nullptr);
    if (p == nullptr || static_cast<size_t>(p - attrs) > limits_.max_attrs_bytes) return false;
    attrs_at_ = static_cast<size_t>(attrs - begin_);
    attrs_bytes_ = static_cast<size_t>(p - attrs);
    if constexpr (kRecord) {
      if (keep_ == Keep::kAll) {
        r->attrs.assign(attrs, attrs_bytes_);
      } else {
        r->attrs.clear();
      }
    }
    p = Lit(p, ",\"prev\":");
    p = Text(p, &r->prev);
    if (p == nullptr || !IsValidPrev(r->prev)) return false;
    return Lit(p, "}") == end_;
  }

 protected:
  // ---- Steps. Each reads its part of the grammar at p and returns the place after it, or
  // nullptr if the text there is not that part; given nullptr it returns nullptr (and stores
  // nothing), so that steps chain with one test where the walk must look at a result.

  // A literal of the grammar, compared in whole words: its length is a constant, so each
  // compare is a load or two and no call (memcmp was a call per literal).
  template <size_t N>
  const char* Lit(const char* p, const char (&s)[N]) const {
    constexpr size_t n = N - 1;
    if (p == nullptr || static_cast<size_t>(end_ - p) < n || !EqualBytes<n>(p, s)) return nullptr;
    return p + n;
  }
  bool At(const char* p, char c) const { return p != nullptr && p < end_ && *p == c; }

  // A JSON string exactly as AppendJsonString writes ASCII text. `raw` gets the bytes between
  // the quotes, `*escaped` whether any escape occurs.
  [[gnu::always_inline]] const char* String(const char* p, std::string_view* raw,
                                            bool* escaped) const {
    if (!At(p, '"')) return nullptr;
    const char* start = ++p;
    *escaped = false;
    for (;;) {
      p = FindEscapeOrNonAsciiInline(p, end_);
      if (p >= end_) return nullptr;
      const char c = *p;
      if (c == '"') break;
      if (c != '\\') return nullptr;  // unescaped control, or non-ASCII: full path
      if (end_ - p < 2) return nullptr;
      const char e = p[1];
      *escaped = true;
      if (e == '"' || e == '\\' || e == 'b' || e == 't' || e == 'n' || e == 'f' || e == 'r') {
        p += 2;
        continue;
      }
      // \u00xx, lowercase, only for the code points below U+0020 without a short escape.
      if (e != 'u' || end_ - p < 6 || p[2] != '0' || p[3] != '0') return nullptr;
      const int hi = p[4] - '0', lo = LowerHexValue(p[5]);
      if ((hi != 0 && hi != 1) || lo < 0) return nullptr;
      const int code = hi * 16 + lo;
      if (code == 0x08 || code == 0x09 || code == 0x0A || code == 0x0C || code == 0x0D) {
        return nullptr;
      }
      p += 6;
    }
    *raw = std::string_view(start, static_cast<size_t>(p - start));
    return p + 1;
  }

  // A string field of the record, decoded into `out`.
  const char* Text(const char* p, std::string* out) const {
    std::string_view raw;
    bool escaped = false;
    p = String(p, &raw, &escaped);
    if (p == nullptr) return nullptr;
    if (!escaped) {
      AssignText(out, raw);
    } else {
      DecodeJsonText(raw, out);
    }
    return p;
  }

  // writer_id or stream (IsValidName). Unescaped, String saw only ASCII and no byte below
  // 0x20: DEL is the one control character left to look for (HasControlCharacter's scan was
  // 1.4 % of a verify).
  const char* Name(const char* p, std::string* out, size_t max_bytes) const {
    std::string_view raw;
    bool escaped = false;
    p = String(p, &raw, &escaped);
    if (p == nullptr) return nullptr;
    if (escaped) {
      DecodeJsonText(raw, out);
      return IsValidName(*out, max_bytes) ? p : nullptr;
    }
    bool del = false;
    for (const char c : raw) del |= c == '\x7f';
    if (raw.empty() || raw.size() > max_bytes || del) return nullptr;
    AssignText(out, raw);
    return p;
  }

  // Text and Name into a view of the text: an escaped one is refused (it would have to be
  // decoded into storage of its own). On refusal *out is left pointing at what was read.
  const char* Text(const char* p, std::string_view* out) const {
    bool escaped = false;
    p = String(p, out, &escaped);
    return escaped ? nullptr : p;
  }
  const char* Name(const char* p, std::string_view* out, size_t max_bytes) const {
    p = Text(p, out);
    if (p == nullptr) return nullptr;
    bool del = false;
    for (const char c : *out) del |= c == '\x7f';
    return out->empty() || out->size() > max_bytes || del ? nullptr : p;
  }

  // Where Read stores an optional actor or subject string: a Record's slot, none for a
  // ChainView.
  template <typename Out, typename Part>
  static std::optional<std::string>* SlotOf(Out* r, Part Record::*part,
                                            std::optional<std::string> Part::*slot) {
    if constexpr (std::is_same_v<Out, Record>) {
      return &((r->*part).*slot);
    } else {
      return nullptr;
    }
  }

  // The reason, stored unless keep_ is kChain (then left empty, or, with out nullptr, not
  // stored). Its rule allows no byte an escape stands for, so an escaped reason is refused
  // unread.
  const char* Reason(const char* p, std::string* out) const {
    if (keep_ != Keep::kChain) {
      p = Text(p, out);
      return p != nullptr && IsValidReason(*out) ? p : nullptr;
    }
    if (p == nullptr) return nullptr;
    if (out != nullptr) out->clear();
    std::string_view raw;
    bool escaped = false;
    p = String(p, &raw, &escaped);
    return p != nullptr && !escaped && IsValidReason(raw) ? p : nullptr;
  }

  // An optional actor/subject key in its sorted place; absent, it consumes nothing.
  template <size_t N>
  const char* Optional(const char* p, const char (&key)[N], bool* first,
                       std::optional<std::string>* slot) const {
    if (p == nullptr) return nullptr;
    const char* value = Lit(*first ? p : Lit(p, ","), key);
    if (value == nullptr) return p;
    *first = false;
    if (keep_ == Keep::kChain) {  // actor and subject values have no rule beyond JSON's
      std::string_view raw;
      bool escaped = false;
      return String(value, &raw, &escaped);
    }
    slot->emplace();
    return Text(value, &**slot);
  }

  // A uint64 in shortest form (ts_ms, seq, a non-negative attrs integer).
  const char* Digits(const char* p, uint64_t* value) const {
    if (p == nullptr || p >= end_ || !IsAsciiDigit(*p)) return nullptr;
    if (*p == '0') {  // no leading zeros
      ++p;
      if (p < end_ && IsAsciiDigit(*p)) return nullptr;
      *value = 0;
      return p;
    }
    // Up to 19 digits always fit in a uint64, accumulated as they are scanned; a 20th may not
    // (checked); more never do (full path).
    const char* const stop = end_ - p < 19 ? end_ : p + 19;
    uint64_t v = 0;
    for (; p < stop && IsAsciiDigit(*p); ++p) v = v * 10 + static_cast<uint64_t>(*p - '0');
    if (p < end_ && IsAsciiDigit(*p)) {
      const auto d = static_cast<uint64_t>(*p++ - '0');
      if (v > (UINT64_MAX - d) / 10 || (p < end_ && IsAsciiDigit(*p))) return nullptr;
      v = v * 10 + d;
    }
    *value = v;
    return p;
  }
  // An attrs integer: uint64, or a negative int64 (never -0, which is written 0).
  const char* Int(const char* p) const {
    uint64_t magnitude = 0;
    if (!At(p, '-')) return Digits(p, &magnitude);
    p = Digits(p + 1, &magnitude);
    return magnitude != 0 && magnitude <= (uint64_t{1} << 63) ? p : nullptr;
  }

  // A value whose container, if it is one, is at `depth`. kNoteAddresses (a draft's attrs:
  // privacy.ip_mode): *address is set when a string value passes MayBeAddressLiteral; a
  // template argument, so that the verifier's walk pays nothing for it.
  template <bool kNoteAddresses>
  const char* Value(const char* p, int depth, bool* address) const {
    if (p == nullptr || p >= end_) return nullptr;
    switch (*p) {
      case '{':
        return Object<kNoteAddresses>(p, depth, address);
      case '[':
        if (depth > kMaxAttrsDepth) return nullptr;
        ++p;
        if (At(p, ']')) return p + 1;
        for (;;) {
          p = Value<kNoteAddresses>(p, depth + 1, address);
          if (At(p, ']')) return p + 1;
          p = Lit(p, ",");
          if (p == nullptr) return nullptr;
        }
      case '"': {
        std::string_view raw;
        bool escaped;
        p = String(p, &raw, &escaped);
        if constexpr (kNoteAddresses) {
          if (p != nullptr) *address = *address || MayBeAddressLiteral(raw);
        }
        return p;
      }
      case 't':
        return Lit(p, "true");
      case 'f':
        return Lit(p, "false");
      case 'n':
        return Lit(p, "null");
      default:
        return Int(p);
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
  template <bool kNoteAddresses>
  const char* Object(const char* p, int depth, bool* address) const {
    if (depth > kMaxAttrsDepth) return nullptr;
    p = Lit(p, "{");
    if (At(p, '}')) return p + 1;
    std::string_view previous;
    for (bool first = true; p != nullptr; first = false) {
      std::string_view key;
      bool escaped = false;
      // An escaped key would have to be compared decoded: left to the full path.
      p = String(p, &key, &escaped);
      if (p == nullptr || escaped || (!first && !KeyLess(previous, key))) return nullptr;
      previous = key;
      p = Value<kNoteAddresses>(Lit(p, ":"), depth + 1, address);
      if (At(p, '}')) return p + 1;
      p = Lit(p, ",");
    }
    return nullptr;
  }

  // ---- The same steps at p_, for DraftReader, which reads a draft's members in any order:
  // each moves p_ past what it read and returns true, or returns false.
  bool Take(const char* p) {
    if (p == nullptr) return false;
    p_ = p;
    return true;
  }
  template <size_t N>
  bool Lit(const char (&s)[N]) {
    return Take(Lit(p_, s));
  }
  bool Peek(char c) const { return At(p_, c); }
  [[gnu::always_inline]] bool String(std::string_view* raw, bool* escaped) {
    return Take(String(p_, raw, escaped));
  }
  bool Digits(uint64_t* value) { return Take(Digits(p_, value)); }
  template <bool kNoteAddresses>
  bool Value(int depth, bool* address) {
    return Take(Value<kNoteAddresses>(p_, depth, address));
  }

  const char* const begin_;
  const char* p_;  // DraftReader's place (Read keeps its own)
  const char* const end_;
  const Limits& limits_;
  const Keep keep_;
  size_t attrs_at_ = 0, attrs_bytes_ = 0;
  bool note_addresses_ = false;
  // An attrs string value read so far passes MayBeAddressLiteral (noted by Read with
  // NoteAddresses, and always by DraftReader).
  bool attrs_address_ = false;
};

}  // namespace ron::internal

#endif  // ENGINE_CORE_CANONICAL_READER_H_
