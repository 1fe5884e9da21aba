#include "tools/keygen_cli.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
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
    "(mode 0600; an existing FILE is never overwritten; missing directories on its path are\n"
    "created with mode 0700, each named on stderr) and prints one line on stdout,\n"
    "'<ID> ed25519 <base64 public key>', to add to verifiers' trusted-keys files.\n"
    "ID is 1..64 characters of [A-Za-z0-9._:@-].\n"
    "Exit 0 ok; 1 on failure ('error: <Code>: <message>' on stderr); 2 on a usage error.\n";

// Creates the missing directories of `file`'s path, mode 0700, naming each on stderr. A key
// file's directory on a fresh host (/etc/ron-audit) usually does not exist yet.
bool MakeParentDirs(const std::string& file) {
  for (size_t slash = file.find('/', 1); slash != std::string::npos;
       slash = file.find('/', slash + 1)) {
    const std::string dir = file.substr(0, slash);
    struct stat st {};
    if (stat(dir.c_str(), &st) == 0) continue;
    if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
      std::fprintf(stderr, "error: Io: cannot create directory %s: %s\n", dir.c_str(),
                   std::strerror(errno));
      return false;
    }
    std::fprintf(stderr, "ronctl keygen: created directory %s (mode 0700)\n", dir.c_str());
  }
  return true;
}

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
  if (!MakeParentDirs(flags.at("out"))) return kExitFailed;
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
