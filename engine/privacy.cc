#include "engine/privacy.h"

#include <arpa/inet.h>

#include <cstring>

#include "engine/core/canonical_rules.h"
#include "engine/core/limits.h"
#include "wal/files.h"

namespace ron {
namespace {

constexpr size_t kMaxSaltBytes = limits::kMaxSaltBytes;

// 4 (IPv4) or 6 (IPv6) if `s` is exactly an address literal, else 0. Fills `bytes` (16).
int AddressKind(std::string_view s, unsigned char* bytes) {
  // The draft reader's filter too (Canonicalizer::attrs_may_hold_address): one definition.
  if (!internal::MayBeAddressLiteral(s)) return 0;
  char text[internal::kMaxAddressLiteralBytes + 1];
  std::memcpy(text, s.data(), s.size());
  text[s.size()] = '\0';
  if (inet_pton(AF_INET, text, bytes) == 1) return 4;
  if (inet_pton(AF_INET6, text, bytes) == 1) return 6;
  return 0;
}

}  // namespace

Result<IpPolicy> IpPolicy::FromConfig(const AuditConfig::Privacy& privacy) {
  IpPolicy policy;
  policy.mode_ = privacy.ip_mode;
  if (policy.mode_ != IpMode::kHash) return policy;
  // Through the file layer: a FIFO is refused rather than waited for, and a huge file is never
  // read whole.
  std::string salt;
  const Status read =
      wal::ReadSmallFile(privacy.hash_salt_path, kMaxSaltBytes, &salt, wal::Links::kFollow);
  if (!read.ok()) return Status(read.code(), "privacy.hash_salt_path: " + read.message());
  if (salt.empty()) {
    return Status(Code::kSchema, "privacy.hash_salt_path: the salt must hold 1 B..1 MiB");
  }
  policy.salt_ = Blake3(salt);
  return policy;
}

template <typename F>
void IpPolicy::ForEachStringValue(std::string_view json, F on_value) {
  // Canonical text (our own writer's): strings are the only tokens that can hold brackets,
  // commas or colons, and they are skipped whole. in_object[d]: the container at depth d.
  bool in_object[2 * 16] = {};
  int depth = -1;
  bool next_is_key = false;
  for (size_t i = 0; i < json.size(); ++i) {
    switch (json[i]) {
      case '{':
        in_object[++depth] = true;
        next_is_key = true;
        break;
      case '[':
        in_object[++depth] = false;
        next_is_key = false;
        break;
      case '}':
      case ']':
        --depth;
        break;
      case ',':
        next_is_key = depth >= 0 && in_object[depth];
        break;
      case ':':
        next_is_key = false;
        break;
      case '"': {
        // The closing quote: the next one not escaped (not after an odd run of backslashes),
        // found with memchr rather than byte by byte (attrs strings are mostly long text).
        size_t end = i + 1;
        for (;;) {
          const void* quote = std::memchr(json.data() + end, '"', json.size() - end);
          if (quote == nullptr) {
            end = json.size();
            break;
          }
          end = static_cast<size_t>(static_cast<const char*>(quote) - json.data());
          size_t backslashes = 0;
          while (end - backslashes > i + 1 && json[end - 1 - backslashes] == '\\') ++backslashes;
          if (backslashes % 2 == 0) break;
          ++end;
        }
        if (!next_is_key && !on_value(i + 1, end)) return;
        i = end;
        break;
      }
      default:
        break;  // numbers, true, false, null
    }
    if (depth >= static_cast<int>(std::size(in_object)) - 1) return;  // deeper than the law
  }
}

std::string IpPolicy::Replace(std::string_view address, bool v6) const {
  unsigned char bytes[16];
  switch (mode_) {
    case IpMode::kDrop:
      return "null";
    case IpMode::kPrefix: {
      (void)inet_pton(v6 ? AF_INET6 : AF_INET, std::string(address).c_str(), bytes);
      if (v6) {
        std::memset(bytes + 8, 0, 8);
      } else {
        bytes[3] = 0;
      }
      char text[64];
      if (inet_ntop(v6 ? AF_INET6 : AF_INET, bytes, text, sizeof(text)) == nullptr) return "null";
      return "\"" + std::string(text) + (v6 ? "/64\"" : "/24\"");
    }
    case IpMode::kHash: {
      Blake3Hasher hasher;
      hasher.Update(salt_.data(), salt_.size());
      hasher.Update(address.data(), address.size());
      const std::string hex = ToHex(hasher.Finalize());
      return "\"iph:" + hex.substr(0, 32) + "\"";
    }
  }
  return "null";
}

size_t IpPolicy::Apply(std::string_view attrs, std::string* out) const {
  size_t rewritten = 0, copied = 0;
  unsigned char bytes[16];
  ForEachStringValue(attrs, [&](size_t begin, size_t end) {
    const int kind = AddressKind(attrs.substr(begin, end - begin), bytes);
    if (kind == 0) return true;
    if (rewritten++ == 0) out->clear();
    out->append(attrs, copied, begin - 1 - copied);  // up to the opening quote
    out->append(Replace(attrs.substr(begin, end - begin), kind == 6));
    copied = end + 1;  // after the closing quote
    return true;
  });
  if (rewritten > 0) out->append(attrs, copied, std::string_view::npos);
  return rewritten;
}

bool IpPolicy::HasAddress(std::string_view attrs) const {
  bool found = false;
  unsigned char bytes[16];
  ForEachStringValue(attrs, [&](size_t begin, size_t end) {
    found = AddressKind(attrs.substr(begin, end - begin), bytes) != 0;
    return !found;
  });
  return found;
}

}  // namespace ron
