// `ronctl audit prove | prove-consistency | check-proof`: receipts (contracts in docs/CLI.md).
#ifndef TOOLS_PROOF_CLI_H_
#define TOOLS_PROOF_CLI_H_

#include <string_view>

namespace ron::tools {

bool IsProofCommand(std::string_view command);
// argv[0] is "audit", argv[1] the command. Returns the process exit code.
int ProofMain(int argc, char** argv);

}  // namespace ron::tools

#endif  // TOOLS_PROOF_CLI_H_
