// The fast path of the canonical form: Canonicalizer::ReadCanonical.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

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

// *out = raw. The same field of the record read before has mostly the same length (a stream's
// writer_id and name, every prev): then its bytes are overwritten in place, without
// basic_string::assign's general replace (1.5 % of a verify's instructions).
void AssignText(std::string* out, std::string_view raw) {
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

// ---- Drafts in the shapes hosts write -----------------------------------------------------
//
// A draft from a JSON library is compact, ASCII and in its own key order. DraftReader reads
// such a draft once: its strings and numbers are taken as written when that is how the
// canonical form writes them (String and Int accept exactly that text), and only the order of
// keys is changed — top-level, actor and subject keys go to their fixed places (the record is
// written from them in WriteRecord's layout: Canonicalizer::Impl::PreparePlainDraft),
// attrs members are copied from the draft in sorted order (an object inside them whose keys
// are out of order makes them rendered, sorted, instead). Like CanonicalReader it gives up on
// anything else (whitespace, non-ASCII text, an escape the canonical form writes otherwise, a
// number not in shortest form, an unknown or repeated key, a bound crossed), and the caller
// takes the full path, which also finds the exact error.
class DraftReader : CanonicalReader {
 public:
  DraftReader(std::string_view in, const Limits& limits, DraftScratch* scratch)
      : CanonicalReader(in, limits), scratch_(*scratch) {}

  bool Read(DraftFields* d, std::string* attrs) {
    constexpr uint32_t kRequired =
        1u << kKind | 1u << kActor | 1u << kSubject | 1u << kReason | 1u << kAttrs;
    *d = DraftFields();
    scratch_.members.clear();
    uint32_t seen = 0;
    if (!Lit("{")) return false;
    for (;;) {
      std::string_view key;
      bool escaped = false;
      if (!String(&key, &escaped) || escaped || !Lit(":")) return false;
      const int index = DraftKeyIndex(key);
      if (index < 0 || !(kDraftKeys & (1u << index)) || (seen & (1u << index))) return false;
      seen |= 1u << index;
      bool ok = false;
      switch (index) {
        case kTsMs:
          ok = Digits(&d->ts_ms);
          break;
        case kKind:  // a valid kind holds no byte an escape stands for
          ok = String(&d->kind, &escaped) && !escaped && IsValidKind(d->kind);
          break;
        case kActor:
          ok = Members<ActorSlot>(&d->anon, &d->actor, 0, &d->escaped);
          break;
        case kSubject:
          ok = Members<SubjectSlot>(nullptr, &d->subject, 3, &d->escaped);
          break;
        case kReason:  // neither does a valid reason
          ok = String(&d->reason, &escaped) && !escaped && IsValidReason(d->reason);
          break;
        default:  // kAttrs
          ok = Attrs(d, attrs);
          break;
      }
      if (!ok) return false;
      if (Peek('}')) break;
      if (!Lit(",")) return false;
    }
    ++p_;
    d->has_ts_ms = (seen & (1u << kTsMs)) != 0;
    d->attrs_may_hold_address = attrs_address_;
    return p_ == end_ && (seen & kRequired) == kRequired;
  }

 private:
  // TopKeyIndex for the keys a draft may hold (-1 for any other), by length and a word
  // compare: a memcmp call per candidate name was ~4 % of a draft.
  static int DraftKeyIndex(std::string_view key) {
    const char* k = key.data();
    switch (key.size()) {
      case 4:
        return EqualBytes<4>(k, "kind") ? kKind : -1;
      case 5:
        return EqualBytes<5>(k, "ts_ms") ? kTsMs : EqualBytes<5>(k, "actor") ? kActor
               : EqualBytes<5>(k, "attrs")                               ? kAttrs
                                                                         : -1;
      case 6:
        return EqualBytes<6>(k, "reason") ? kReason : -1;
      case 7:
        return EqualBytes<7>(k, "subject") ? kSubject : -1;
      default:
        return -1;
    }
  }
  static constexpr uint32_t kDraftKeys = 1u << kTsMs | 1u << kKind | 1u << kActor |
                                         1u << kSubject | 1u << kReason | 1u << kAttrs;
  // The slot of one of actor's string keys (cap_id, key_fpr, passport_id, in their sorted
  // order; "anon", a boolean, is actor's too) or of subject's (content_id, ledger_txid,
  // name), else -1. Each set's names differ in length: a length and a word compare (a loop
  // over the names, byte by byte, was ~120 instructions a member).
  template <size_t A, size_t B, size_t C>
  static int SlotAmong(std::string_view key, const char (&a)[A], const char (&b)[B],
                       const char (&c)[C]) {
    static_assert(A != B && B != C && A != C, "names told apart by their lengths");
    const char* k = key.data();
    if (key.size() == A - 1) return EqualBytes<A - 1>(k, a) ? 0 : -1;
    if (key.size() == B - 1) return EqualBytes<B - 1>(k, b) ? 1 : -1;
    if (key.size() == C - 1) return EqualBytes<C - 1>(k, c) ? 2 : -1;
    return -1;
  }
  static int ActorSlot(std::string_view key) {
    return SlotAmong(key, "cap_id", "key_fpr", "passport_id");
  }
  static int SubjectSlot(std::string_view key) {
    return SlotAmong(key, "content_id", "ledger_txid", "name");
  }

  // An actor or subject object, its keys in any order, each at most once: each value's text
  // as written into its slot (SlotOf), and bit `first_bit` + its slot set in *escaped if it
  // holds an escape.
  template <int (*SlotOf)(std::string_view)>
  bool Members(std::optional<bool>* anon, std::array<std::optional<std::string_view>, 3>* slots,
               int first_bit, uint32_t* escaped_bits) {
    if (!Lit("{")) return false;
    if (Peek('}')) {
      ++p_;
      return true;
    }
    for (;;) {
      std::string_view key;
      bool escaped = false;
      if (!String(&key, &escaped) || escaped || !Lit(":")) return false;
      if (anon != nullptr && key.size() == 4 && EqualBytes<4>(key.data(), "anon")) {
        if (anon->has_value()) return false;
        if (Lit("true")) {
          *anon = true;
        } else if (Lit("false")) {
          *anon = false;
        } else {
          return false;
        }
      } else {
        const int at = SlotOf(key);
        if (at < 0) return false;
        std::optional<std::string_view>& slot = (*slots)[static_cast<size_t>(at)];
        if (slot.has_value()) return false;
        std::string_view raw;
        if (!String(&raw, &escaped)) return false;
        slot = raw;
        if (escaped) *escaped_bits |= 1u << (first_bit + at);
      }
      if (Peek('}')) {
        ++p_;
        return true;
      }
      if (!Lit(",")) return false;
    }
  }

  // The attrs object. A host's attrs are mostly canonical as written but for the order of
  // their top-level keys (a hash map's): read once, d->attrs is then their text in the draft,
  // and, if the keys were out of order, scratch_.members lists its members in sorted order
  // (WriteDraftAttrs writes them). Attrs with an object inside that is not canonical as
  // written are read again and rendered into *rendered.
  bool Attrs(DraftFields* d, std::string* rendered) {
    const char* const start = p_;
    bool reorder = false;
    if (AttrsAsWritten(&reorder)) {
      d->attrs = std::string_view(start, static_cast<size_t>(p_ - start));
      d->attrs_reordered = reorder;
      return d->attrs.size() <= limits_.max_attrs_bytes;
    }
    p_ = start;
    scratch_.members.clear();
    rendered->clear();
    // One allocation: attrs are never longer than the draft, nor (if read) than their bound.
    rendered->reserve(std::min(static_cast<size_t>(end_ - p_), limits_.max_attrs_bytes));
    if (!SortedObject(1, rendered) || rendered->size() > limits_.max_attrs_bytes) return false;
    d->attrs = *rendered;
    return true;
  }

  // An attrs object whose values are canonical as written (CanonicalReader::Value: inner
  // objects' keys in order); each member's text in the draft listed, sorted by key if
  // *reorder is set. False also on a repeated top-level key (then so is SortedObject's).
  bool AttrsAsWritten(bool* reorder) {
    if (!Lit("{")) return false;
    if (Peek('}')) {
      ++p_;
      return true;
    }
    std::vector<DraftScratch::Member>& members = scratch_.members;
    for (;;) {
      const size_t member = static_cast<size_t>(p_ - begin_);
      std::string_view key;
      bool escaped = false;
      if (!String(&key, &escaped) || escaped || !Lit(":") || !Value<true>(2, &attrs_address_)) {
        return false;
      }
      if (!members.empty() && !KeyLess(members.back().key, key)) *reorder = true;
      members.push_back({key, member, static_cast<size_t>(p_ - begin_)});
      if (Peek('}')) break;
      if (!Lit(",")) return false;
    }
    ++p_;
    return !*reorder || SortMembers(0);
  }

  // An attrs value at `depth` (CanonicalReader::Value's rules), written to `out` as the
  // canonical form writes it.
  bool RenderValue(int depth, std::string* out) {
    if (p_ >= end_) return false;
    const char* const start = p_;
    switch (*p_) {
      case '{':
        return SortedObject(depth, out);
      case '[':
        if (depth > kMaxAttrsDepth) return false;
        ++p_;
        out->push_back('[');
        if (!Peek(']')) {
          for (;;) {
            if (!RenderValue(depth + 1, out)) return false;
            if (Peek(']')) break;
            if (!Lit(",")) return false;
            out->push_back(',');
          }
        }
        ++p_;
        out->push_back(']');
        return true;
      default:  // a scalar: checked (and noted) as the canonical walk does, written as read
        if (!Value<true>(depth, &attrs_address_)) return false;
        break;
    }
    out->append(start, static_cast<size_t>(p_ - start));  // written as read
    return true;
  }

  // An object at `depth`, written to `out` with its members in byte order of their keys.
  // Members are written as read, each's place noted; if the keys were not in order, the
  // object's members are copied aside and written back sorted. A repeated key: full path.
  bool SortedObject(int depth, std::string* out) {
    if (depth > kMaxAttrsDepth || !Lit("{")) return false;
    out->push_back('{');
    if (Peek('}')) {
      ++p_;
      out->push_back('}');
      return true;
    }
    std::vector<DraftScratch::Member>& members = scratch_.members;
    const size_t frame = members.size();
    bool sorted = true;
    for (;;) {
      std::string_view key;
      bool escaped = false;
      if (!String(&key, &escaped) || escaped || !Lit(":")) return false;
      if (members.size() > frame && !KeyLess(members.back().key, key)) sorted = false;
      const size_t at = out->size();
      out->push_back('"');
      out->append(key);
      out->append("\":", 2);
      if (!RenderValue(depth + 1, out)) return false;
      // Inner objects pushed their members above this frame and took them off again.
      members.push_back({key, at, out->size()});
      if (Peek('}')) break;
      if (!Lit(",")) return false;
      out->push_back(',');
    }
    ++p_;
    if (!sorted && !Sort(frame, out)) return false;
    members.resize(frame);
    out->push_back('}');
    return true;
  }

  // Sorts the members of the frame from `frame` by key; false on a repeated key.
  bool SortMembers(size_t frame) {
    std::vector<DraftScratch::Member>& members = scratch_.members;
    const auto first = members.begin() + static_cast<ptrdiff_t>(frame);
    std::sort(first, members.end(), [](const DraftScratch::Member& a,
                                       const DraftScratch::Member& b) {
      return KeyLess(a.key, b.key);
    });
    for (auto m = first + 1; m < members.end(); ++m) {
      if (SameText(m->key, (m - 1)->key)) return false;
    }
    return true;
  }

  // Rewrites the members of the frame from `frame` in sorted order; false on a repeated key.
  bool Sort(size_t frame, std::string* out) {
    std::vector<DraftScratch::Member>& members = scratch_.members;
    const auto first = members.begin() + static_cast<ptrdiff_t>(frame);
    const size_t region = first->begin;  // the first member read: where the members begin
    if (!SortMembers(frame)) return false;
    std::string& aside = scratch_.aside;
    aside.assign(*out, region, std::string::npos);
    out->resize(region);
    for (auto m = first; m < members.end(); ++m) {
      if (m != first) out->push_back(',');
      out->append(aside, m->begin - region, m->end - m->begin);
    }
    return true;
  }

  DraftScratch& scratch_;
};

}  // namespace

void internal::DecodeJsonText(std::string_view raw, std::string* out) {
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

char* internal::WriteDraftAttrs(std::string_view draft, const DraftFields& d,
                                const DraftScratch& scratch, char* out) {
  if (!d.attrs_reordered) {
    std::memcpy(out, d.attrs.data(), d.attrs.size());
    return out + d.attrs.size();
  }
  // The same members and commas, in another order: the same length.
  char* w = out;
  *w++ = '{';
  for (const DraftScratch::Member& m : scratch.members) {
    if (&m != scratch.members.data()) *w++ = ',';
    std::memcpy(w, draft.data() + m.begin, m.end - m.begin);
    w += m.end - m.begin;
  }
  *w++ = '}';
  RON_CHECK(w == out + d.attrs.size());
  return w;
}

bool internal::ReadDraft(std::string_view draft, const Limits& limits, DraftScratch* scratch,
                         DraftFields* out, std::string* attrs) {
  if (draft.size() > kMaxInputBytes) return false;
  DraftReader reader(draft, limits, scratch);
  return reader.Read(out, attrs);
}

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
  reader.NoteAddresses();
  if (!reader.Read(&out->record)) return false;
  out->attrs_may_hold_address = reader.attrs_may_hold_address();
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

bool Canonicalizer::CheckChain(std::string_view bytes, ChainView* out) const {
  if (bytes.size() > limits_.max_record_bytes) return false;
  CanonicalReader reader(bytes, limits_, CanonicalReader::Keep::kChain);
  return reader.Read(out);
}

}  // namespace ron
