// The fast path of the canonical form: Canonicalizer::ReadCanonical and the readers' checks
// (CanonicalReader, canonical_reader.h).
#include "engine/core/canonical_reader.h"

#include <string>
#include <string_view>

#include "engine/core/canonical.h"

namespace ron {

using internal::CanonicalReader;

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
