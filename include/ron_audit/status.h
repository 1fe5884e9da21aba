// Status and Result<T>: the error currency of the whole engine.
//
// No exceptions cross the engine's API. Every fallible function returns a [[nodiscard]] Status
// or Result<T>. The codes are stable names (docs/FORMAT.md §1 lists which error comes first);
// CLI output, metrics labels and tests all print them with CodeName().
//
// Thread-safety: values; copy freely.
#ifndef RON_AUDIT_STATUS_H_
#define RON_AUDIT_STATUS_H_

#include <cerrno>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "ron_audit/export.h"

namespace ron {

// The stable error codes, plus kOk. Never renumber or rename: the names are an
// interface (ronctl output, metrics labels).
enum class Code : uint8_t {
  kOk = 0,
  kSchema,          // malformed JSON, wrong type, unknown/missing/duplicate key, field rule
  kFloat,           // a number with a fraction or exponent anywhere
  kUtf8,            // invalid UTF-8 or a lone surrogate escape
  kAttrsTooLarge,   // canonical attrs longer than Limits::max_attrs_bytes
  kRecordTooLarge,  // input > 64 KiB, or canonical record longer than Limits::max_record_bytes
  kHashMismatch,    // stored self_hash differs from the recomputed one
  kPrevMismatch,    // prev does not equal the previous record's self_hash
  kSeqGap,          // seq is not previous seq + 1
  kConflict,        // same seq, different record
  kBusy,            // bounded queue full; shed
  kFrozen,          // stream frozen after corruption (fail closed)
  kIo,              // I/O failure (fatal for the stream)
  kClosed,          // engine closed / shutting down
};

// Stable name of a code ("Schema", "HashMismatch", ...); "Ok" for kOk.
RON_AUDIT_EXPORT std::string_view CodeName(Code code);

// Parses a stable name back into a code. Returns false when the name is unknown.
RON_AUDIT_EXPORT bool ParseCodeName(std::string_view name, Code* code);

class [[nodiscard]] RON_AUDIT_EXPORT Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  // An error caused by a failed system call: `sys_errno` is its errno (kept, so that callers
  // decide on the cause, never on the message text).
  Status(Code code, std::string message, int sys_errno)
      : code_(code), sys_errno_(sys_errno), message_(std::move(message)) {}
  explicit Status(Code code) : code_(code) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  // Human detail for logs and CLI stderr. Never contains record bodies, keys or secrets.
  const std::string& message() const { return message_; }
  // The errno of the system call that failed, or 0 when the error has another cause.
  int sys_errno() const { return sys_errno_; }
  // True for an error caused by a full disk or an exhausted quota (ENOSPC, EDQUOT), wherever
  // it happened: a WAL write or fsync, a directory fsync, an atomic file write.
  bool IsDiskFull() const { return sys_errno_ == ENOSPC || sys_errno_ == EDQUOT; }
  // "Code" or "Code: message".
  std::string ToString() const;

  // Explicitly discards a status the caller has decided not to act on.
  void IgnoreError() const {}

 private:
  Code code_ = Code::kOk;
  int sys_errno_ = 0;
  std::string message_;
};

// Either a value or a non-ok Status. REQUIRES for value(): ok().
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : data_(std::move(status)) {}  // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(data_); }
  const T& value() const& { return std::get<T>(data_); }
  T& value() & { return std::get<T>(data_); }
  T&& value() && { return std::get<T>(std::move(data_)); }
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(data_); }
  Code code() const { return ok() ? Code::kOk : std::get<Status>(data_).code(); }

 private:
  std::variant<T, Status> data_;
};

}  // namespace ron

// Returns early from the enclosing function when `expr` yields a non-ok Status.
#define RON_RETURN_IF_ERROR(expr)                      \
  do {                                                 \
    ::ron::Status ron_status_tmp_ = (expr);            \
    if (!ron_status_tmp_.ok()) return ron_status_tmp_; \
  } while (0)

#endif  // RON_AUDIT_STATUS_H_
