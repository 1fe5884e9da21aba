// The engine's configuration (every key, default and rule: docs/CONFIG.md), read
// from a TOML file < environment (RON_AUDIT_*) < flags (--audit-*), each value remembering where
// it came from, and validated fail-closed (every message names its key).
//
// Sizes accept B, KB/MB/GB (10^3), KiB/MiB/GiB (2^10) or a plain number of bytes; durations accept
// ms, s, m, h or a plain number of milliseconds.
//
// Thread-safety: values; LoadConfig is reentrant.
#ifndef RON_AUDIT_CONFIG_H_
#define RON_AUDIT_CONFIG_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ron_audit/export.h"
#include "ron_audit/status.h"
#include "ron_audit/types.h"

namespace ron {

enum class SinkKind { kRam, kWal, kExport, kWalExport };
enum class ShedPolicy { kDrop, kBlock };
enum class IpMode { kDrop, kPrefix, kHash };
enum class DiskFullAction { kSuspend, kFail };

struct AuditConfig {
  std::string profile = "dev";  // "dev" or "prod": prod refuses test-only settings
  SinkKind sink = SinkKind::kRam;
  uint32_t queue_depth = 1024;
  uint32_t workers = 1;
  uint64_t max_attrs_bytes = 1024;
  uint64_t max_record_bytes = 4096;
  ShedPolicy shed_policy = ShedPolicy::kDrop;
  bool amnesia = true;
  std::vector<int> pin_cpus;  // empty: pin when workers < online CPUs

  struct Privacy {
    IpMode ip_mode = IpMode::kDrop;
    std::string hash_salt_path;
  } privacy;

  struct Wal {
    std::string dir;
    uint64_t rotate_bytes = 128ull << 20;
    FsyncPolicy fsync = FsyncPolicy::kAlways;  // durable by default; weaker is a choice
    uint64_t space_left_bytes = 1ull << 30;  // warn below this much free space
    DiskFullAction disk_full_action = DiskFullAction::kSuspend;
  } wal;

  struct Export {
    std::string dir;
    uint64_t checkpoint_every = 50000;
    uint64_t export_every_ms = 15 * 60 * 1000;
    std::string signer_key_id;
    std::string alg = "ed25519";
  } export_;

  std::map<std::string, uint32_t, std::less<>> stream_queue_depth;  // streams.<name>.queue_depth

  bool UsesWal() const { return sink == SinkKind::kWal || sink == SinkKind::kWalExport; }
  bool UsesExport() const { return sink == SinkKind::kExport || sink == SinkKind::kWalExport; }
};

// Where the settings come from. `env` is the process environment as NAME=VALUE strings (only
// RON_AUDIT_* entries are read); `flags` are --audit-* arguments ("--audit-workers", "2", or the
// bare boolean "--audit-amnesia").
struct ConfigSources {
  std::string file;  // TOML file; empty for none
  std::vector<std::string> env;
  std::vector<std::string> flags;
};

// key → where its effective value came from: "default", "file <path>", "env RON_AUDIT_…",
// "flag --audit-…".
using ConfigOrigins = std::map<std::string, std::string>;

// Reads and merges the sources (unknown keys, variables and flags are errors), then validates.
// `--audit-config PATH` among the flags names the TOML file (read first: file < env < flags).
// Errors are Schema with a message that names the key.
RON_AUDIT_EXPORT Result<AuditConfig> LoadConfig(const ConfigSources& sources, ConfigOrigins* origins = nullptr);

// The rules of docs/CONFIG.md, fail-closed. Checks directories and files on disk where the
// rules require it.
RON_AUDIT_EXPORT Status ValidateConfig(const AuditConfig& config);

// The effective configuration, one "key = value  # origin" line per key, in schema order.
RON_AUDIT_EXPORT std::string DescribeConfig(const AuditConfig& config, const ConfigOrigins& origins);

// Unit parsers (exposed for tests and tools). False on anything malformed or overflowing.
RON_AUDIT_EXPORT bool ParseSize(std::string_view text, uint64_t* bytes);
RON_AUDIT_EXPORT bool ParseDurationMs(std::string_view text, uint64_t* ms);

}  // namespace ron

#endif  // RON_AUDIT_CONFIG_H_
