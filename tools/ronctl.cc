// ronctl: the command-line tool of ron-audit (forensic verification, canonicalization, Merkle
// roots). Every command has --help; errors are one line on stderr; exit codes are
// 0 ok, 1 failed, 2 usage.
#include <cstdio>
#include <string>
#include <string_view>

#include "tools/audit_cli.h"
#include "tools/cli_util.h"
#include "tools/config_cli.h"
#include "tools/keygen_cli.h"

namespace {

constexpr char kHelp[] =
    "usage: ronctl <group> <command> [options]\n"
    "\n"
    "groups:\n"
    "  audit    records and WAL: canon, merkle, verify-chain, append, range, inspect, verify,\n"
    "           prove, prove-consistency, check-proof, backup, salvage, journal\n"
    "  config   check a configuration: config check FILE\n"
    "  keygen   a new Ed25519 checkpoint-signing key: keygen --key-id ID --out FILE\n"
    "\n"
    "Run 'ronctl audit --help', 'ronctl config --help' or 'ronctl keygen --help' for details.\n";

}  // namespace

int main(int argc, char** argv) {
  static char stdout_buffer[1 << 16];
  std::setvbuf(stdout, stdout_buffer, _IOFBF, sizeof(stdout_buffer));
  if (argc < 2) {
    std::fputs(kHelp, stderr);
    return ron::tools::kExitUsage;
  }
  const std::string_view group = argv[1];
  if (group == "--help" || group == "-h" || group == "help") {
    std::fputs(kHelp, stdout);
    return ron::tools::kExitOk;
  }
  if (group == "audit") return ron::tools::AuditMain(argc - 1, argv + 1);
  if (group == "config") return ron::tools::ConfigMain(argc - 1, argv + 1);
  if (group == "keygen") return ron::tools::KeygenMain(argc - 1, argv + 1);
  return ron::tools::UsageError("", "unknown group '" + std::string(group) + "'");
}
