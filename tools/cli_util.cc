#include "tools/cli_util.h"

#include <charconv>

namespace ron::tools {

bool ParseUint64(std::string_view text, uint64_t* value) {
  if (text.empty()) return false;
  const auto result = std::from_chars(text.data(), text.data() + text.size(), *value);
  return result.ec == std::errc() && result.ptr == text.data() + text.size();
}

int UsageError(std::string_view command, std::string_view message) {
  std::fprintf(stderr, "ronctl %.*s: %.*s (see --help)\n", static_cast<int>(command.size()),
               command.data(), static_cast<int>(message.size()), message.data());
  return kExitUsage;
}

void Write(FILE* out, std::string_view s) { std::fwrite(s.data(), 1, s.size(), out); }

}  // namespace ron::tools
