// The lines `ronctl audit verify --export-dir` and `ronctl audit backup` print from the
// forensic verifier's report (docs/CLI.md), written in one place.
#ifndef TOOLS_VERIFY_REPORT_H_
#define TOOLS_VERIFY_REPORT_H_

#include <string>

#include "ron_audit/verify.h"

namespace ron::tools {

// "<records> records, <streams> streams, <checkpoints> checkpoints, <manifests> manifests"
std::string VerifyCounts(const ExportVerifyReport& report);

// "err <Code> file <path> offset <n> stream <w>/<s> seq <n> reason <reason>\n" for the report's
// failure (REQUIRES: !report.failure.ok()).
std::string VerifyFailureLine(const ExportVerifyReport& report);

}  // namespace ron::tools

#endif  // TOOLS_VERIFY_REPORT_H_
