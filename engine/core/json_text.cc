// The writer side of the canonical form: JSON string escaping, sealing, name checks, and the
// record bounds' validation.
#include <string>
#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "engine/core/canonical.h"
#include "engine/core/canonical_rules.h"
#include "engine/core/check.h"

namespace ron {

using internal::IsValidName;
using internal::NeedsEscape;

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

}  // namespace ron
