// The audit record (docs/FORMAT.md §1, version 1) and its size bounds.
//
// A Record holds the typed, NFC-normalized fields of one record without its self_hash. `attrs`
// is kept as its canonical JSON text (an object), because attrs is free-form and is only ever
// hashed, stored and shown — never interpreted by the engine.
//
// Thread-safety: plain values.
#ifndef RON_AUDIT_RECORD_H_
#define RON_AUDIT_RECORD_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "ron_audit/export.h"
#include "ron_audit/status.h"

namespace ron {

// Record major version written and accepted (another major → Schema).
inline constexpr uint64_t kRecordVersion = 1;
// Input text longer than this is RecordTooLarge before parsing (a DoS guard).
inline constexpr size_t kMaxInputBytes = 65536;
// attrs is at depth 1; no container may be deeper than this.
inline constexpr int kMaxAttrsDepth = 8;
// Field length limits in bytes of NFC UTF-8.
inline constexpr size_t kMaxWriterIdBytes = 128;
inline constexpr size_t kMaxStreamBytes = 64;
inline constexpr size_t kMaxKindBytes = 64;
inline constexpr size_t kMaxReasonBytes = 64;

// Size bounds of a record. Defaults are the law; a deployment may only make them stricter
// (docs/CONFIG.md: max_attrs_bytes ≥ 256, max_record_bytes ≥ max_attrs_bytes + 512).
struct RON_AUDIT_EXPORT Limits {
  static constexpr size_t kDefaultMaxAttrsBytes = 1024;
  static constexpr size_t kDefaultMaxRecordBytes = 4096;
  static constexpr size_t kMinAttrsBytes = 256;
  static constexpr size_t kRecordOverAttrsBytes = 512;

  size_t max_attrs_bytes = kDefaultMaxAttrsBytes;    // canonical attrs object, bytes
  size_t max_record_bytes = kDefaultMaxRecordBytes;  // canonical record without self_hash, bytes

  // Ok, or Schema with a message naming the offending bound.
  Status Validate() const;
};

struct Actor {
  std::optional<bool> anon;
  std::optional<std::string> cap_id;
  std::optional<std::string> key_fpr;
  std::optional<std::string> passport_id;
  bool operator==(const Actor&) const = default;
};

struct Subject {
  std::optional<std::string> content_id;
  std::optional<std::string> ledger_txid;
  std::optional<std::string> name;
  bool operator==(const Subject&) const = default;
};

struct Record {
  uint64_t v = kRecordVersion;
  uint64_t ts_ms = 0;
  std::string writer_id;
  uint64_t seq = 0;
  std::string stream;
  std::string kind;
  Actor actor;
  Subject subject;
  std::string reason;
  std::string attrs = "{}";  // canonical JSON object text
  std::string prev = "b3:0";
  bool operator==(const Record&) const = default;  // field by field
};

}  // namespace ron

#endif  // RON_AUDIT_RECORD_H_
