// `ronctl audit ...`: the record-law commands (exact contracts in docs/CLI.md).
#ifndef TOOLS_AUDIT_CLI_H_
#define TOOLS_AUDIT_CLI_H_

namespace ron::tools {

// argv[0] is "audit". Reads stdin, writes stdout/stderr, returns the process exit code.
int AuditMain(int argc, char** argv);

}  // namespace ron::tools

#endif  // TOOLS_AUDIT_CLI_H_
