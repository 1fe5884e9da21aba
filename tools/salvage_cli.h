// `ronctl audit backup | salvage`: copies of a WAL that keep what its export proves provable
// (contracts in docs/CLI.md, procedures in docs/RUNBOOK.md).
#ifndef TOOLS_SALVAGE_CLI_H_
#define TOOLS_SALVAGE_CLI_H_

#include <string_view>

namespace ron::tools {

bool IsSalvageCommand(std::string_view command);
int SalvageMain(int argc, char** argv);

}  // namespace ron::tools

#endif  // TOOLS_SALVAGE_CLI_H_
