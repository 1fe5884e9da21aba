#include "tools/verify_report.h"

#include "segment/segment_format.h"

namespace ron::tools {

std::string VerifyCounts(const ExportVerifyReport& report) {
  return std::to_string(report.records) + " records, " + std::to_string(report.streams) +
         " streams, " + std::to_string(report.checkpoints) + " checkpoints, " +
         std::to_string(report.manifests) + " manifests";
}

std::string VerifyFailureLine(const ExportVerifyReport& report) {
  return "err " + std::string(CodeName(report.failure.code())) + " file " + report.file +
         " offset " + std::to_string(report.offset) + " stream " +
         segment::PrintedStreamName(report.writer_id, report.stream) + " seq " +
         std::to_string(report.seq) + " reason " + report.reason + "\n";
}

}  // namespace ron::tools
