#include "tools/config_cli.h"

#include <algorithm>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "ron_audit/config.h"
#include "tools/cli_util.h"

extern char** environ;

namespace ron::tools {
namespace {

constexpr char kHelp[] =
    "usage: ronctl config check FILE [--audit-* flags]\n"
    "       ronctl config check --audit-config FILE [--audit-* flags]\n"
    "\n"
    "Loads FILE (TOML), then RON_AUDIT_* environment variables, then --audit-* flags (later\n"
    "wins), validates the result fail-closed and prints the effective configuration, one\n"
    "'key = value  # origin' line per key (origin: default, file, env or flag).\n"
    "On the first violation prints 'config: <key>: <why>' on stderr and exits 1.\n";

}  // namespace

int ConfigMain(int argc, char** argv) {
  if (argc < 2 || std::string_view(argv[1]) == "--help" || std::string_view(argv[1]) == "-h") {
    Write(argc < 2 ? stderr : stdout, kHelp);
    return argc < 2 ? kExitUsage : kExitOk;
  }
  if (std::string_view(argv[1]) != "check") {
    return UsageError("config", "unknown command '" + std::string(argv[1]) + "'");
  }
  ConfigSources sources;
  bool want_value = false;  // the previous argument was a flag whose value comes next
  for (int i = 2; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      Write(stdout, kHelp);
      return kExitOk;
    }
    if (want_value) {
      sources.flags.emplace_back(arg);
      want_value = false;
    } else if (arg.rfind("--audit-", 0) == 0) {
      sources.flags.emplace_back(arg);
      // --audit-amnesia alone means true (--audit-amnesia=false to turn it off).
      want_value = arg.find('=') == std::string_view::npos && arg != "--audit-amnesia";
    } else if (sources.file.empty()) {
      sources.file = std::string(arg);
    } else {
      return UsageError("config check", "unexpected argument '" + std::string(arg) + "'");
    }
  }
  const bool named = std::any_of(sources.flags.begin(), sources.flags.end(), [](const auto& f) {
    return f == "--audit-config" || f.rfind("--audit-config=", 0) == 0;
  });
  if (sources.file.empty() && !named) return UsageError("config check", "FILE is required");
  for (char** e = environ; *e != nullptr; ++e) sources.env.emplace_back(*e);
  ConfigOrigins origins;
  const auto loaded = LoadConfig(sources, &origins);
  if (!loaded.ok()) {
    std::fprintf(stderr, "config: %s\n", loaded.status().message().c_str());
    return kExitFailed;
  }
  Write(stdout, DescribeConfig(loaded.value(), origins));
  return kExitOk;
}

}  // namespace ron::tools
