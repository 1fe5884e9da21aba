#include "ron_audit/status.h"

#include <array>

namespace ron {
namespace {

constexpr std::array<std::string_view, 14> kNames = {
    "Ok",           "Schema",       "Float",  "Utf8",     "AttrsTooLarge", "RecordTooLarge",
    "HashMismatch", "PrevMismatch", "SeqGap", "Conflict", "Busy",          "Frozen",
    "Io",           "Closed",
};
static_assert(kNames.size() == static_cast<size_t>(Code::kClosed) + 1,
              "every Code needs a stable name");

}  // namespace

std::string_view CodeName(Code code) {
  const auto index = static_cast<size_t>(code);
  return index < kNames.size() ? kNames[index] : std::string_view("Unknown");
}

bool ParseCodeName(std::string_view name, Code* code) {
  for (size_t i = 0; i < kNames.size(); ++i) {
    if (kNames[i] == name) {
      *code = static_cast<Code>(i);
      return true;
    }
  }
  return false;
}

std::string Status::ToString() const {
  std::string out(CodeName(code_));
  if (!message_.empty()) {
    out += ": ";
    out += message_;
  }
  return out;
}

}  // namespace ron
