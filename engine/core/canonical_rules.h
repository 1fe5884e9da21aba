// The canonical form's shared pieces, internal to engine/core: the top-level keys in canonical
// order, the field rules, integer writing, and the ranking of inputs simdjson rejects. Used by
// the writer (json_text.cc), the one-pass reader (canonical_reader.cc) and the full parser
// (canonical.cc).
#ifndef ENGINE_CORE_CANONICAL_RULES_H_
#define ENGINE_CORE_CANONICAL_RULES_H_

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/unicode.h"
#include "ron_audit/record.h"
#include "ron_audit/status.h"

namespace ron::internal {

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
inline constexpr std::array<std::string_view, kTopKeyCount> kTopKeyNames = {
    "v",     "ts_ms",   "writer_id", "seq",   "stream", "kind",
    "actor", "subject", "reason",    "attrs", "prev",   "self_hash"};

// Matches a raw key against the top-level names. Keys are compared as given: NFC cannot map a
// non-ASCII key onto one of these lowercase ASCII names, so a non-ASCII key is simply unknown.
inline int TopKeyIndex(std::string_view key) {
  for (int i = 0; i < kTopKeyCount; ++i) {
    if (kTopKeyNames[i] == key) return i;
  }
  return -1;
}

constexpr bool IsAsciiLetter(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
constexpr bool IsAsciiDigit(char c) { return c >= '0' && c <= '9'; }

// What each byte may be in kind and reason, one table lookup a byte: bit 0, a kind byte after
// the first ([A-Za-z0-9_.]); bit 1, a reason byte ([A-Za-z0-9_.:-]).
inline constexpr std::array<uint8_t, 256> kFieldBytes = [] {
  std::array<uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    const char ch = static_cast<char>(c);
    const bool word = IsAsciiLetter(ch) || IsAsciiDigit(ch) || ch == '_' || ch == '.';
    const bool reason_only = ch == ':' || ch == '-';
    t[static_cast<size_t>(c)] = static_cast<uint8_t>((word ? 3 : 0) | (reason_only ? 2 : 0));
  }
  return t;
}();

inline bool AllFieldBytes(std::string_view s, uint8_t bit) {
  uint8_t all = bit;
  for (const char c : s) all &= kFieldBytes[static_cast<unsigned char>(c)];
  return all != 0;
}

// kind: [A-Za-z][A-Za-z0-9_.]{0,63}
inline bool IsValidKind(std::string_view s) {
  if (s.empty() || s.size() > kMaxKindBytes || !IsAsciiLetter(s[0])) return false;
  return AllFieldBytes(s.substr(1), 1);
}

// reason: [A-Za-z0-9_.:-]{1,64}
inline bool IsValidReason(std::string_view s) {
  if (s.empty() || s.size() > kMaxReasonBytes) return false;
  return AllFieldBytes(s, 2);
}

// writer_id and stream: NFC UTF-8 of 1..max bytes without control characters.
inline bool IsValidName(std::string_view s, size_t max_bytes) {
  return !s.empty() && s.size() <= max_bytes && !HasControlCharacter(s);
}

inline void AppendUint(uint64_t value, std::string* out) {
  char buf[24];
  const auto result = std::to_chars(buf, buf + sizeof(buf), value);
  out->append(buf, static_cast<size_t>(result.ptr - buf));
}

inline void AppendInt(int64_t value, std::string* out) {
  char buf[24];
  const auto result = std::to_chars(buf, buf + sizeof(buf), value);
  out->append(buf, static_cast<size_t>(result.ptr - buf));
}

// Canonicalizer::PrepareDraft's fast path (canonical_reader.cc): a draft as hosts write it —
// compact ASCII JSON in any key order — read in one pass into `out` (its attrs rendered into
// *attrs only when an object inside them needs its keys sorted; WriteDraftAttrs writes them).
// False means only "not read here": the full path decides. Where it returns true the full
// path would have read the same fields. `scratch` keeps its buffers across calls.
//
// Each string is given as written in the draft (between its quotes), which is its canonical
// JSON text: the reader accepts only the escapes the canonical form writes (and none in kind
// or reason, whose rules allow no byte an escape stands for). `escaped` has bit i set when
// actor string i (0..2) or subject string i - 3 (3..5) holds one: its text is then
// DecodeJsonText of it.
struct DraftFields {
  bool has_ts_ms = false;
  bool attrs_may_hold_address = false;  // an attrs string value passes MayBeAddressLiteral
  uint64_t ts_ms = 0;
  std::string_view kind, reason;
  std::optional<bool> anon;
  std::array<std::optional<std::string_view>, 3> actor;    // cap_id, key_fpr, passport_id
  std::array<std::optional<std::string_view>, 3> subject;  // content_id, ledger_txid, name
  uint32_t escaped = 0;
  // The attrs' canonical text (in the draft, or rendered) — unless attrs_reordered: then the
  // draft's attrs object, whose members are written in another order (WriteDraftAttrs).
  std::string_view attrs;
  bool attrs_reordered = false;
};
// Whether a JSON string value could be an IP address literal: 2..kMaxAddressLiteralBytes
// bytes of hex digits, dots and colons. privacy.ip_mode (engine/privacy.cc) parses only the
// strings that pass.
inline constexpr size_t kMaxAddressLiteralBytes = 45;  // INET6_ADDRSTRLEN - 1
inline bool MayBeAddressLiteral(std::string_view s) {
  if (s.size() < 2 || s.size() > kMaxAddressLiteralBytes) return false;
  for (const char c : s) {
    const bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (!hex && c != ':' && c != '.') return false;
  }
  return true;
}

// The text of a JSON string's contents that the reader checked (its escapes are the
// canonical form's), into *out.
void DecodeJsonText(std::string_view raw, std::string* out);
struct DraftScratch {
  struct Member {
    std::string_view key;
    size_t begin, end;  // the member's text in the attrs being written, or in the draft
  };
  std::vector<Member> members;  // a frame per open attrs object
  std::string aside;            // an unsorted object's members while they are written back
};
bool ReadDraft(std::string_view draft, const Limits& limits, DraftScratch* scratch,
               DraftFields* out, std::string* attrs);
// Writes the attrs ReadDraft read from `draft` (with the same scratch) in canonical form,
// d.attrs.size() bytes, at `out`; returns their end.
char* WriteDraftAttrs(std::string_view draft, const DraftFields& d, const DraftScratch& scratch,
                      char* out);

// The error of a document simdjson rejected, ranked as the law wants (malformed JSON, then
// Float, then Utf8; json_errors.cc). `parser` is reused for a sanitized copy.
Status RankRejectedJson(simdjson::dom::parser* parser, std::string_view json);

}  // namespace ron::internal

#endif  // ENGINE_CORE_CANONICAL_RULES_H_
