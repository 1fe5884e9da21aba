#include "tools/cli_util.h"

#include <charconv>

namespace ron::tools {

bool ParseUint64(std::string_view text, uint64_t* value) {
  if (text.empty()) return false;
  const auto result = std::from_chars(text.data(), text.data() + text.size(), *value);
  return result.ec == std::errc() && result.ptr == text.data() + text.size();
}

bool NumberFlag(const std::map<std::string, std::string>& flags, const std::string& name,
                uint64_t lo, uint64_t hi, uint64_t* value) {
  const auto it = flags.find(name);
  if (it == flags.end()) return true;
  uint64_t n = 0;
  if (!ParseUint64(it->second, &n) || n < lo || n > hi) return false;
  *value = n;
  return true;
}

bool ParseFlags(int argc, char** argv, int first, const std::vector<std::string>& with_value,
                const std::vector<std::string>& bare, std::map<std::string, std::string>* out,
                std::string* error) {
  const auto known = [](const std::vector<std::string>& names, const std::string& name) {
    for (const std::string& n : names) {
      if (n == name) return true;
    }
    return false;
  };
  for (int i = first; i < argc; ++i) {
    const std::string arg = argv[i];
    const std::string name = arg.rfind("--", 0) == 0 ? arg.substr(2) : "";
    if (known(bare, name)) {
      (*out)[name] = "1";
    } else if (known(with_value, name)) {
      if (i + 1 >= argc) {
        *error = arg + " needs a value";
        return false;
      }
      (*out)[name] = argv[++i];
    } else {
      *error = "unknown argument '" + arg + "'";
      return false;
    }
  }
  return true;
}

int UsageError(std::string_view command, std::string_view message) {
  std::fprintf(stderr, "ronctl %.*s: %.*s (see --help)\n", static_cast<int>(command.size()),
               command.data(), static_cast<int>(message.size()), message.data());
  return kExitUsage;
}

int FailWith(std::string_view command, const Status& status) {
  std::printf("err %s %s\n", std::string(CodeName(status.code())).c_str(),
              status.message().c_str());
  std::fprintf(stderr, "ronctl %.*s: %s\n", static_cast<int>(command.size()), command.data(),
               status.ToString().c_str());
  return kExitFailed;
}

void Write(FILE* out, std::string_view s) { std::fwrite(s.data(), 1, s.size(), out); }

}  // namespace ron::tools
