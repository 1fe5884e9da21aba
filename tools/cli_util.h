// Small helpers shared by ronctl commands: option parsing and output.
#ifndef TOOLS_CLI_UTIL_H_
#define TOOLS_CLI_UTIL_H_

#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "ron_audit/status.h"

namespace ron::tools {

// Exit codes of every ronctl command.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;  // some input was invalid or verification failed
inline constexpr int kExitUsage = 2;   // bad command line

// Parses a decimal unsigned integer (no sign, no spaces). False on anything else or overflow.
bool ParseUint64(std::string_view text, uint64_t* value);

// The number given as --name, if it is, into *value: false if it is given but is not a
// number from lo to hi (then *value is left as it was).
bool NumberFlag(const std::map<std::string, std::string>& flags, const std::string& name,
                uint64_t lo, uint64_t hi, uint64_t* value);

// Parses "--name value" options and bare "--flag"s from argv[first..argc). Known names are
// given without the dashes. Returns false and sets *error on anything else.
bool ParseFlags(int argc, char** argv, int first, const std::vector<std::string>& with_value,
                const std::vector<std::string>& bare, std::map<std::string, std::string>* out,
                std::string* error);

// Reports a usage error on stderr as one line and returns kExitUsage.
int UsageError(std::string_view command, std::string_view message);

// Reports a failure: "err <Code> <message>" on stdout, "ronctl <command>: <status>" on
// stderr; returns kExitFailed.
int FailWith(std::string_view command, const Status& status);

// Writes `s` to `out` in full.
void Write(FILE* out, std::string_view s);

}  // namespace ron::tools

#endif  // TOOLS_CLI_UTIL_H_
