// `ronctl config check FILE [--audit-* flags]`: the effective configuration or the first violation.
#ifndef TOOLS_CONFIG_CLI_H_
#define TOOLS_CONFIG_CLI_H_

namespace ron::tools {

// argv[0] is "config". Returns the process exit code.
int ConfigMain(int argc, char** argv);

}  // namespace ron::tools

#endif  // TOOLS_CONFIG_CLI_H_
