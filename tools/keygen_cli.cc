#include "tools/keygen_cli.h"

#include <cstdio>
#include <map>
#include <string>
#include <string_view>

#include "ron_audit/signer.h"
#include "tools/cli_util.h"

namespace ron::tools {
namespace {

constexpr char kHelp[] =
    "usage: ronctl keygen --key-id ID --out FILE\n"
    "\n"
    "Generates a fresh Ed25519 checkpoint-signing key. Writes the secret key file FILE\n"
    "(mode 0600; an existing FILE is never overwritten) and prints one line on stdout,\n"
    "'<ID> ed25519 <base64 public key>', to add to verifiers' trusted-keys files.\n"
    "ID is 1..64 characters of [A-Za-z0-9._:@-].\n"
    "Exit 0 ok; 1 on failure ('error: <Code>: <message>' on stderr); 2 on a usage error.\n";

}  // namespace

int KeygenMain(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      Write(stdout, kHelp);
      return kExitOk;
    }
  }
  std::map<std::string, std::string> flags;
  std::string error;
  if (!ParseFlags(argc, argv, 1, {"key-id", "out"}, {}, &flags, &error)) {
    return UsageError("keygen", error);
  }
  if (flags.count("key-id") == 0) return UsageError("keygen", "--key-id is required");
  if (flags.count("out") == 0) return UsageError("keygen", "--out is required");
  std::string public_key_line;
  const Status status = WriteKeyFile(flags.at("out"), flags.at("key-id"), &public_key_line);
  if (!status.ok()) {
    std::fprintf(stderr, "error: %s\n", status.ToString().c_str());
    return kExitFailed;
  }
  Write(stdout, public_key_line + "\n");
  return kExitOk;
}

}  // namespace ron::tools
