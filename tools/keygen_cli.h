// `ronctl keygen --key-id ID --out FILE`: a fresh Ed25519 checkpoint-signing key (contract in
// docs/CLI.md; file formats in ron_audit/signer.h).
#ifndef TOOLS_KEYGEN_CLI_H_
#define TOOLS_KEYGEN_CLI_H_

namespace ron::tools {

// argv[0] is "keygen". Returns the process exit code.
int KeygenMain(int argc, char** argv);

}  // namespace ron::tools

#endif  // TOOLS_KEYGEN_CLI_H_
