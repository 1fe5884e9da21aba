// An auditor's host: opens no engine; verifies a WAL directory (and its signed export, when
// given) through the public API, and prints the verdict.
//
//   verify_wal WAL_DIR [EXPORT_DIR TRUSTED_KEYS]      exit 0: verified; 1: a failure; 2: usage
#include <cstdio>

#include <ron_audit/ron_audit.h>

int main(int argc, char** argv) {
  if (argc != 2 && argc != 4) {
    return std::fprintf(stderr, "usage: verify_wal WAL_DIR [EXPORT_DIR TRUSTED_KEYS]\n"), 2;
  }
  ron::ExportVerifyOptions options;
  options.wal_dir = argv[1];
  ron::TrustedKeys keys;
  if (argc == 4) {
    auto loaded = ron::TrustedKeys::Load(argv[3]);
    if (!loaded.ok()) return std::fprintf(stderr, "%s\n", loaded.status().ToString().c_str()), 2;
    keys = loaded.value();
    options.export_dir = argv[2];
    options.keys = &keys;
  }
  ron::ExportVerifyReport report;
  const ron::Status ran = ron::VerifyExports(options, &report);
  if (!ran.ok()) return std::fprintf(stderr, "%s\n", ran.ToString().c_str()), 1;
  if (!report.failure.ok()) {
    std::printf("err %s %s file %s seq %llu\n", report.reason.c_str(),
                report.failure.ToString().c_str(), report.file.c_str(),
                static_cast<unsigned long long>(report.seq));
    return 1;
  }
  std::printf("ok %llu records, %llu streams, %llu checkpoints\n",
              static_cast<unsigned long long>(report.records),
              static_cast<unsigned long long>(report.streams),
              static_cast<unsigned long long>(report.checkpoints));
  return 0;
}
