// The draft fast path: internal::ReadDraft reads a draft in the shapes hosts write
// (DraftReader, on CanonicalReader's steps), and WriteDraftAttrs writes its attrs.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/canonical.h"
#include "engine/core/canonical_reader.h"
#include "engine/core/canonical_rules.h"
#include "engine/core/check.h"
#include "engine/core/equal_bytes.h"

namespace ron::internal {
namespace {

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

char* WriteDraftAttrs(std::string_view draft, const DraftFields& d,
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

bool ReadDraft(std::string_view draft, const Limits& limits, DraftScratch* scratch,
               DraftFields* out, std::string* attrs) {
  if (draft.size() > kMaxInputBytes) return false;
  DraftReader reader(draft, limits, scratch);
  return reader.Read(out, attrs);
}

}  // namespace ron::internal
