// Strict parsing and canonical serialization of audit records (docs/FORMAT.md §1).
//
// Canonical form: no whitespace; top-level keys in the fixed order v, ts_ms, writer_id, seq,
// stream, kind, actor, subject, reason, attrs, prev; nested object keys sorted byte-wise by
// their NFC UTF-8; every string NFC-normalized and minimally escaped; integers in base 10.
// The serializer is ours (it is the law); simdjson only tokenizes and validates.
//
// Error precedence for one input (the first that applies wins):
//   1. input longer than kMaxInputBytes                      → RecordTooLarge
//   2. malformed JSON                                        → Schema
//   3. a number with a fraction or exponent anywhere         → Float
//   4. invalid UTF-8 or a lone surrogate escape              → Utf8
//   5. field rules (types, keys, formats, depth, int range)  → Schema
//   6. canonical attrs longer than max_attrs_bytes           → AttrsTooLarge
//   7. canonical record longer than max_record_bytes         → RecordTooLarge
// Within step 5 fields are checked in canonical key order.
//
// Thread-safety: a Canonicalizer is NOT thread-safe (it owns a parser and scratch buffers that
// are reused so the hot path does not allocate once warmed up). Use one per thread.
#ifndef ENGINE_CORE_CANONICAL_H_
#define ENGINE_CORE_CANONICAL_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "engine/core/hash.h"
#include "ron_audit/record.h"
#include "ron_audit/status.h"

namespace ron {

// A stored record's chain fields as views into its bytes (Canonicalizer::CheckChain): what the
// WAL's readers judge a record by, besides its bytes and self_hash.
struct ChainView {
  uint64_t ts_ms = 0;
  uint64_t seq = 0;
  std::string_view writer_id, stream, kind, prev;
};

// The result of canonicalizing one record. Reuse one instance across calls to avoid allocation.
struct CanonicalRecord {
  Record record;      // typed, NFC-normalized fields
  std::string bytes;  // canonical JSON without self_hash
  Digest digest{};    // BLAKE3-256(bytes): self_hash and dedupe key
  // Where the attrs text sits in `bytes` when record.attrs was left empty (VerifySealed and
  // VerifySealedMany and PrepareDraft with Attrs::kLocate or kChain, and what SpliceDraft,
  // CompleteDraft and Resplice make of such a record); 0 bytes: record.attrs holds it. Every
  // Canonicalizer call that fills a record sets them.
  uint32_t attrs_at = 0, attrs_bytes = 0;
  // A hint: where PrepareDraft's fast path put `,"seq":1,"stream":` in `bytes` (0: not known;
  // the calls that fill a record set it). SpliceDraft and CompleteDraft use it only if those
  // bytes are there and before the attrs (whose keys may spell them too), and search for them
  // otherwise.
  uint32_t seq_at = 0;
  // Set by VerifySealed and VerifySealedMany (other calls leave it): false when no string value
  // in attrs could be an IP address literal (internal::MayBeAddressLiteral), so that
  // privacy.ip_mode need not scan them; true when not known.
  bool attrs_may_hold_address = true;
  std::string_view attrs_text() const {
    return attrs_bytes == 0 ? std::string_view(record.attrs)
                            : std::string_view(bytes).substr(attrs_at, attrs_bytes);
  }
};

// `,"self_hash":"` + "b3:<64 hex>" + `"}`: what sealing appends in place of the final `}`.
inline constexpr size_t kSealSuffixBytes = 14 + kHashTextBytes + 2;
static_assert(kSealSuffixBytes == 83);

class Canonicalizer {
 public:
  // REQUIRES: limits.Validate().ok().
  explicit Canonicalizer(const Limits& limits = Limits());
  ~Canonicalizer();
  Canonicalizer(const Canonicalizer&) = delete;
  Canonicalizer& operator=(const Canonicalizer&) = delete;

  const Limits& limits() const { return limits_; }

  // Parses JSON text of a record WITHOUT self_hash (a self_hash key is unknown → Schema),
  // validates every rule and fills `out` with its canonical bytes and digest.
  Status Canonicalize(std::string_view json, CanonicalRecord* out);

  // Verifies a sealed record: parse, re-canonicalize, require the bytes to equal the input
  // without self_hash (else Schema), recompute the hash (else HashMismatch). On success `out`
  // holds the record (whole under Attrs::kCopy, the default; the others below), its canonical
  // bytes and digest.
  // Attrs::kLocate: a record read on the fast path gets no copy of its attrs text in
  // record.attrs, only its place in `bytes` (attrs_text() gives it either way): for callers
  // that look at attrs once and keep the bytes, as the engine's import path does.
  // Attrs::kChain: as kLocate, and a record read on the fast path keeps only the fields
  // CheckChain keeps (reason, actor and subject are left empty: the engine's writer reads
  // none of them). A record the fast path gives up on is filled whole, as always.
  enum class Attrs { kCopy, kLocate, kChain };
  Status VerifySealed(std::string_view sealed, CanonicalRecord* out, Attrs attrs = Attrs::kCopy);

  // VerifySealed of many records: status[i] and out[i] are what VerifySealed(sealed[i],
  // &out[i], attrs) gives, but the self_hashes of the records are computed side by side in
  // SIMD lanes (Blake3Batch, bit-identical), several times cheaper per record than one by one.
  // REQUIRES: out and status hold sealed.size() elements.
  void VerifySealedMany(std::span<const std::string_view> sealed, CanonicalRecord* out,
                        Status* status, Attrs attrs = Attrs::kCopy);
  // The same, into *out[i] (records that live elsewhere: the engine's queued tasks).
  void VerifySealedMany(std::span<const std::string_view> sealed, CanonicalRecord* const* out,
                        Status* status, Attrs attrs = Attrs::kCopy);

  // The fast path for bytes that are already canonical (what every stored record is): true iff
  // `bytes` are exactly the canonical form of a valid record, in one pass with no rewriting;
  // then `out` holds the record and `out->bytes` the bytes (the digest is NOT computed). False
  // means only "not known canonical" — it gives up on non-ASCII text and other rare shapes —
  // so call Canonicalize for the verdict and its error. When it returns true, Canonicalize
  // would have accepted `bytes` and produced the same record and bytes. VerifySealed walks its
  // input the same way (in place).
  bool ReadCanonical(std::string_view bytes, CanonicalRecord* out) const;

  // ReadCanonical's check alone, for readers that judge a stored record by its bytes, its
  // self_hash and its chain fields: the same verdict, but `out` gets every field except
  // `attrs` (left empty), and nothing of `bytes` is copied.
  bool CheckCanonical(std::string_view bytes, Record* out) const;
  // CheckCanonical's verdict, storing only what the engine's readers and writers use: v,
  // ts_ms, writer_id, seq, stream, kind and prev. reason, actor, subject and attrs are left
  // empty (their text is checked all the same). The WAL reader's record check uses it.
  bool CheckChain(std::string_view bytes, Record* out) const;
  // The same with nothing copied: `out` views `bytes`. False also where a chain field is
  // written with an escape (a writer_id or stream with a quote or a backslash), which the
  // Record form decodes. After false, `out` holds nothing of use.
  bool CheckChain(std::string_view bytes, ChainView* out) const;

  // The fields the engine assigns to a draft (docs/API.md: emit fills v, seq, prev, writer_id
  // and, if absent, ts_ms).
  struct DraftContext {
    std::string_view writer_id;
    std::string_view stream;
    uint64_t seq = 0;
    std::string_view prev;
    uint64_t default_ts_ms = 0;  // used when the draft has no ts_ms
  };
  // Canonicalizes a draft: a JSON object with kind, actor, subject, reason, attrs and optional
  // ts_ms. Keys the engine assigns (v, writer_id, seq, stream, prev, self_hash) are Schema.
  Status CanonicalizeDraft(std::string_view draft_json, const DraftContext& context,
                           CanonicalRecord* out);

  // The same in two steps, so that the work that does not need the chain head can run on the
  // caller's thread (docs/API.md): PrepareDraft does everything CanonicalizeDraft does —
  // parsing, NFC, every field rule and bound — with seq 1 and prev b3:0 standing in
  // (`context.seq` and `context.prev` are ignored); CompleteDraft then splices in the real seq
  // and prev, checks the record bound again and hashes. The result is byte for byte
  // CanonicalizeDraft's, errors included. CompleteDraft is static: no parser needed.
  // `attrs`: as VerifySealed's (a draft read on the fast path; one the fast path gives up on is
  // filled whole): Attrs::kChain is what the engine's tasks carry to their writer thread. A
  // prepared record that locates its attrs in its bytes (attrs_bytes > 0, record.attrs empty)
  // gives records that do too (so does Resplice). `draft_json` must not point into *prepared.
  Status PrepareDraft(std::string_view draft_json, const DraftContext& context,
                      CanonicalRecord* prepared, Attrs attrs = Attrs::kCopy);
  static Status CompleteDraft(const CanonicalRecord& prepared, uint64_t seq, std::string_view prev,
                              const Limits& limits, CanonicalRecord* out);
  // CompleteDraft without the hash (out->digest is left as it was), for a writer that hashes a
  // batch's records together (Blake3Prefix): `prev` may stand in for the real one if it has
  // its length, since prev is the record's last field — the real one is written over it at
  // out->bytes.size() - 2 - prev.size() (and into out->record.prev) before the record is hashed.
  // The prepared record's fields are moved, not copied, into out->record (prepared->record is
  // left moved-from, prepared->bytes as it was), so on success *prepared is spent (its seq is
  // set to 0: splicing it again stops on a check); on failure it is left as it was. `prev` must
  // not point into *prepared.
  static Status SpliceDraft(CanonicalRecord* prepared, uint64_t seq, std::string_view prev,
                            const Limits& limits, CanonicalRecord* out);
  // Splices another seq and prev into a record SpliceDraft or CompleteDraft made, in place,
  // and hashes it: the same bytes, fields, digest and errors as CompleteDraft of its prepared
  // record with these. For a record whose seq changed after it was spliced (a record before it
  // in its stream was refused). `prev` must not point into *record.
  static Status Resplice(CanonicalRecord* record, uint64_t seq, std::string_view prev,
                         const Limits& limits);
  // PrepareDraft reads a draft as hosts write it (compact ASCII JSON, keys in any order) in one
  // pass, without the parser, NFC or escaping, and takes the full path for anything else; the
  // result is the same byte for byte. On by default; off for tests and benchmarks that compare
  // the two. drafts_read_fast() counts the drafts it read.
  void UseDraftFastPath(bool on) { draft_fast_path_ = on; }
  uint64_t drafts_read_fast() const { return drafts_read_fast_; }
  // After PrepareDraft succeeded: false only for a draft read on the fast path none of whose
  // attrs string values could be an IP address literal (2..45 bytes of hex digits, dots and
  // colons), so that privacy.ip_mode need not scan its attrs again.
  bool attrs_may_hold_address() const { return attrs_may_hold_address_; }

  // Serializes a typed record: equivalent to Canonicalize() of its JSON text. Strings are
  // NFC-normalized and checked; record.attrs must be JSON object text (canonicalized here).
  Status Encode(const Record& record, CanonicalRecord* out);

 private:
  class Impl;
  // VerifySealed without the hash: every other check, `*stored` set to the self_hash the text
  // carries. `*hash_pending` true (the common, already canonical case): out->digest is still
  // to compute and compare; else the status is the whole verdict.
  Status VerifySealedExceptHash(std::string_view sealed, CanonicalRecord* out, Digest* stored,
                                bool* hash_pending, Attrs attrs = Attrs::kCopy);
  // ReadCanonical's walk of `out->bytes` in place (no copy of them); Attrs::kLocate and
  // kChain set out->attrs_at/attrs_bytes instead of copying the attrs text.
  bool ReadCanonicalInPlace(CanonicalRecord* out, Attrs attrs) const;

  Limits limits_;
  std::unique_ptr<Impl> impl_;
  bool draft_fast_path_ = true;
  uint64_t drafts_read_fast_ = 0;
  bool attrs_may_hold_address_ = true;
};

// Checks a writer_id or stream name as the record law wants it (docs/FORMAT.md §1): valid UTF-8,
// already NFC, 1..128 (writer_id) or 1..64 (stream) bytes, no control characters. Every layer
// checks a name with this before it keys anything by it, so that two spellings of one name
// (NFD and NFC) can never be two chains. Utf8 or Schema, naming `kind`.
enum class NameKind { kWriterId, kStream };
Status CheckName(std::string_view name, NameKind kind);

// The sealed text: canonical bytes with `,"self_hash":"b3:<hex>"` inserted before the final `}`.
// An empty string for a record that holds no canonical bytes (never filled by a successful
// Canonicalize/Encode/CompleteDraft): no record text is empty, so callers can tell.
std::string Seal(const CanonicalRecord& record);
void AppendSealed(std::string_view canonical_bytes, const Digest& digest, std::string* out);

// Writes `s` as a canonical JSON string (quotes included) to `out`. REQUIRES: s is valid,
// NFC-normalized UTF-8. Escapes: \" \\ \b \t \n \f \r, other C0 as \u00xx (lowercase hex).
void AppendJsonString(std::string_view s, std::string* out);

}  // namespace ron

#endif  // ENGINE_CORE_CANONICAL_H_
