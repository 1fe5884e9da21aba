// IP addresses in records (they must be dropped, coarsened or salted-hashed: docs/CONFIG.md
// privacy.ip_mode). The record law leaves attrs free-form, so the policy looks at values, not
// key names: every attrs string that is exactly an IPv4 or IPv6 address literal (what
// inet_pton accepts: "203.0.113.7", "2001:db8::1"), at any depth, is rewritten before the
// record is sealed:
//
//   drop    the value becomes null                        "client_ip":null
//   prefix  its network: /24 for IPv4, /64 for IPv6       "client_ip":"203.0.113.0/24"
//   hash    "iph:" + 32 hex digits of BLAKE3(BLAKE3(salt file) ‖ address text), a salted
//           pseudonym (the salt file is privacy.hash_salt_path, 0600; never logged)
//
// Keys, other values and strings that merely contain an address ("from 203.0.113.7", a
// network "203.0.113.0/24") are left alone. A sealed record (AppendSealed) cannot be changed
// without breaking its hash, so one that still carries an address literal is refused instead.
//
// Thread-safety: an IpPolicy is immutable after FromConfig; Apply and HasAddress are const and
// may run on any thread.
#ifndef ENGINE_PRIVACY_H_
#define ENGINE_PRIVACY_H_

#include <string>
#include <string_view>

#include "ron_audit/config.h"
#include "engine/core/hash.h"
#include "ron_audit/status.h"

namespace ron {

class IpPolicy {
 public:
  IpPolicy() = default;  // drop
  // Reads the salt for ip_mode = hash (REQUIRES: the config validated).
  static Result<IpPolicy> FromConfig(const AuditConfig::Privacy& privacy);

  IpMode mode() const { return mode_; }

  // `attrs` is canonical attrs text. Returns how many address literals were rewritten; when
  // more than 0, *out holds the rewritten attrs, canonical too (same keys, same order).
  size_t Apply(std::string_view attrs, std::string* out) const;

  // True if canonical attrs text holds an address literal as a string value.
  bool HasAddress(std::string_view attrs) const;

 private:
  // The replacement token (JSON text) for an address literal.
  std::string Replace(std::string_view address, bool v6) const;
  // Calls on_value(begin, end) with the bytes between the quotes of every string *value* of
  // canonical JSON text, in order; stops when it returns false.
  template <typename F>
  static void ForEachStringValue(std::string_view json, F on_value);

  IpMode mode_ = IpMode::kDrop;
  Digest salt_{};
};

}  // namespace ron

#endif  // ENGINE_PRIVACY_H_
