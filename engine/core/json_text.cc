// The writer side of the canonical form: JSON string escaping, sealing, name checks, and the
// record bounds' validation.
#include <string>
#include <string_view>

#include "engine/core/canonical.h"
#include "engine/core/canonical_rules.h"
#include "engine/core/check.h"
#include "engine/core/text_scan.h"

namespace ron {

using internal::IsValidName;

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
  out->reserve(out->size() + s.size() + 2);
  out->push_back('"');
  const char* run = s.data();  // bytes not yet written, all of them plain
  const char* const end = s.data() + s.size();
  for (;;) {
    const char* at = internal::FindEscape(run, end);
    out->append(run, static_cast<size_t>(at - run));
    if (at == end) break;
    run = at + 1;
    const auto c = static_cast<unsigned char>(*at);
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
