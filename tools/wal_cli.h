// `ronctl audit append | range | inspect | verify`: the WAL commands (contracts in docs/CLI.md).
#ifndef TOOLS_WAL_CLI_H_
#define TOOLS_WAL_CLI_H_

#include <string_view>

namespace ron::tools {

bool IsWalCommand(std::string_view command);
// argv[0] is "audit", argv[1] the command. Returns the process exit code.
int WalMain(int argc, char** argv);

}  // namespace ron::tools

#endif  // TOOLS_WAL_CLI_H_
