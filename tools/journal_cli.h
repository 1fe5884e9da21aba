// `ronctl audit journal`: the records a commit journal holds — one a crash left in a WAL, or
// one set aside for a frozen stream (docs/RUNBOOK.md section 9) — printed as sealed records,
// each verified (contract in docs/CLI.md).
#ifndef TOOLS_JOURNAL_CLI_H_
#define TOOLS_JOURNAL_CLI_H_

#include <string_view>

namespace ron::tools {

bool IsJournalCommand(std::string_view command);
int JournalMain(int argc, char** argv);

}  // namespace ron::tools

#endif  // TOOLS_JOURNAL_CLI_H_
