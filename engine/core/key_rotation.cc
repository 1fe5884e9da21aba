#include "engine/core/key_rotation.h"

#include <simdjson.h>

#include "engine/core/canonical.h"

namespace ron {

std::string KeyRotatedDraft(std::string_view old_key_id, std::string_view new_key_id) {
  std::string draft = "{\"kind\":\"" + std::string(kKeyRotatedKind) +
                      "\",\"actor\":{},\"subject\":{},\"reason\":\"" +
                      std::string(kKeyRotationReason) + "\",\"attrs\":{\"new_key_id\":";
  AppendJsonString(new_key_id, &draft);
  draft += ",\"old_key_id\":";
  AppendJsonString(old_key_id, &draft);
  draft += "}}";
  return draft;
}

bool ParseKeyRotated(const Record& record, std::string* old_key_id, std::string* new_key_id) {
  if (record.kind != kKeyRotatedKind) return false;
  simdjson::dom::parser parser;
  simdjson::dom::object attrs;
  if (parser.parse(record.attrs).get_object().get(attrs) != simdjson::SUCCESS) return false;
  std::string_view old_id, new_id;
  if (attrs["new_key_id"].get_string().get(new_id) != simdjson::SUCCESS || new_id.empty() ||
      attrs["old_key_id"].get_string().get(old_id) != simdjson::SUCCESS) {
    return false;
  }
  *old_key_id = std::string(old_id);
  *new_key_id = std::string(new_id);
  return true;
}

bool MayBeKeyRotated(std::string_view canonical_json) {
  // Canonical key order puts kind right after stream and before actor, and what comes before
  // it is bounded: v, ts_ms (at most 20 digits), seq (20), writer_id and stream (at most 128
  // and 64 bytes, each byte at most two once escaped: only '"' and '\\' are, control
  // characters are refused). The search stops where the key can no longer start (the verifier
  // asks this of every record: searching the whole record was 6 % of its time).
  constexpr std::string_view kKey = ",\"kind\":\"KeyRotated\",\"actor\":";
  constexpr size_t kKeyWithin =
      std::string_view("{\"v\":1,\"ts_ms\":").size() + 20 +
      std::string_view(",\"writer_id\":\"\"").size() + 2 * kMaxWriterIdBytes +
      std::string_view(",\"seq\":").size() + 20 + std::string_view(",\"stream\":\"\"").size() +
      2 * kMaxStreamBytes;
  return canonical_json.substr(0, kKeyWithin + kKey.size()).find(kKey) != std::string_view::npos;
}

}  // namespace ron
