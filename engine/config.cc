#include "ron_audit/config.h"

#include <sys/stat.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <charconv>
#include <cstring>
#include <sstream>

#include "segment/segment_format.h"
#include "wal/files.h"
#include "wal/wal.h"
#include "engine/core/limits.h"

namespace ron {
namespace {

Status Bad(std::string_view key, const std::string& why) {
  return Status(Code::kSchema, std::string(key) + ": " + why);
}

bool ParseUint(std::string_view text, uint64_t* value) {
  if (text.empty()) return false;
  const auto r = std::from_chars(text.data(), text.data() + text.size(), *value);
  return r.ec == std::errc() && r.ptr == text.data() + text.size();
}

// Splits "128MiB" into 128 and "MiB".
bool SplitNumber(std::string_view text, uint64_t* number, std::string_view* unit) {
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  *unit = text.substr(digits);
  return ParseUint(text.substr(0, digits), number);
}

bool Multiply(uint64_t a, uint64_t b, uint64_t* out) { return !__builtin_mul_overflow(a, b, out); }

template <typename Enum>
bool ParseEnum(std::string_view text, std::initializer_list<std::pair<const char*, Enum>> names,
               Enum* out) {
  for (const auto& [name, value] : names) {
    if (text == name) {
      *out = value;
      return true;
    }
  }
  return false;
}

const std::initializer_list<std::pair<const char*, SinkKind>> kSinks = {
    {"ram", SinkKind::kRam},
    {"wal", SinkKind::kWal},
    {"export", SinkKind::kExport},
    {"wal+export", SinkKind::kWalExport}};
const std::initializer_list<std::pair<const char*, ShedPolicy>> kShed = {
    {"drop", ShedPolicy::kDrop}, {"block", ShedPolicy::kBlock}};
const std::initializer_list<std::pair<const char*, IpMode>> kIpModes = {
    {"drop", IpMode::kDrop}, {"prefix", IpMode::kPrefix}, {"hash", IpMode::kHash}};
const std::initializer_list<std::pair<const char*, DiskFullAction>> kDiskFull = {
    {"suspend", DiskFullAction::kSuspend}, {"fail", DiskFullAction::kFail}};
const std::initializer_list<std::pair<const char*, FsyncPolicy>> kFsync = {
    {"always", FsyncPolicy::kAlways},
    {"on_checkpoint", FsyncPolicy::kOnCheckpoint},
    {"never", FsyncPolicy::kNever}};

template <typename Enum>
std::string NameOf(std::initializer_list<std::pair<const char*, Enum>> names, Enum value) {
  for (const auto& [name, v] : names) {
    if (v == value) return name;
  }
  return "?";
}

// ---- The schema: one row per key --------------------------------------------------------------

using Setter = Status (*)(AuditConfig*, std::string_view key, std::string_view value);
using Getter = std::string (*)(const AuditConfig&);

struct KeySpec {
  const char* key;
  const char* env;
  const char* flag;  // nullptr: no flag
  Setter set;
  Getter get;
};

template <typename T>
Status SetUint(T* field, std::string_view key, std::string_view value) {
  uint64_t v = 0;
  if (!ParseUint(value, &v) || v > std::numeric_limits<T>::max()) {
    return Bad(key, "expected a non-negative integer, got '" + std::string(value) + "'");
  }
  *field = static_cast<T>(v);
  return Status::Ok();
}

Status SetSize(uint64_t* field, std::string_view key, std::string_view value) {
  if (!ParseSize(value, field))
    return Bad(key, "expected a size like 4KiB or 128MiB, got '" + std::string(value) + "'");
  return Status::Ok();
}

template <typename Enum>
Status SetEnum(Enum* field, std::initializer_list<std::pair<const char*, Enum>> names,
               std::string_view key, std::string_view value) {
  if (ParseEnum(value, names, field)) return Status::Ok();
  std::string allowed;
  for (const auto& [name, v] : names) allowed += (allowed.empty() ? "" : ", ") + std::string(name);
  return Bad(key, "expected one of " + allowed + ", got '" + std::string(value) + "'");
}

Status SetBool(bool* field, std::string_view key, std::string_view value) {
  if (value == "true" || value == "1")
    *field = true;
  else if (value == "false" || value == "0")
    *field = false;
  else
    return Bad(key, "expected true or false, got '" + std::string(value) + "'");
  return Status::Ok();
}

// A TOML basic string: quotes, backslashes and control bytes escaped, so that a path or a
// stream name can neither end the value early nor start another line of the description.
std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (byte < 0x20 || byte == 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof(escaped), "\\u%04X", byte);
      out += escaped;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

const KeySpec kKeys[] = {
    {"profile", "RON_AUDIT_PROFILE", "--audit-profile",
     [](AuditConfig* c, std::string_view k, std::string_view v) {
       if (v != "dev" && v != "prod")
         return Bad(k, "expected dev or prod, got '" + std::string(v) + "'");
       c->profile = std::string(v);
       return Status::Ok();
     },
     [](const AuditConfig& c) { return Quote(c.profile); }},
    {"sink", "RON_AUDIT_SINK", "--audit-sink",
     [](AuditConfig* c, std::string_view k, std::string_view v) {
       return SetEnum(&c->sink, kSinks, k, v);
     },
     [](const AuditConfig& c) { return Quote(NameOf(kSinks, c.sink)); }},
    {"queue_depth", "RON_AUDIT_QUEUE_DEPTH", "--audit-queue-depth",
     [](AuditConfig* c, std::string_view k, std::string_view v) {
       return SetUint(&c->queue_depth, k, v);
     },
     [](const AuditConfig& c) { return std::to_string(c.queue_depth); }},
    {"workers", "RON_AUDIT_WORKERS", "--audit-workers",
     [](AuditConfig* c, std::string_view k, std::string_view v) {
       return SetUint(&c->workers, k, v);
     },
     [](const AuditConfig& c) { return std::to_string(c.workers); }},
    {"max_attrs_bytes", "RON_AUDIT_MAX_ATTRS_BYTES", "--audit-max-attrs",
     [](AuditConfig* c, std::string_view k, std::string_view v) {
       return SetSize(&c->max_attrs_bytes, k, v);
     },
     [](const AuditConfig& c) { return std::to_string(c.max_attrs_bytes); }},
    {"max_record_bytes", "RON_AUDIT_MAX_RECORD_BYTES", "--audit-max-record",
     [](AuditConfig* c, std::string_view k, std::string_view v) {
       return SetSize(&c->max_record_bytes, k, v);
     },
     [](const AuditConfig& c) { return std::to_string(c.max_record_bytes); }},
    {"shed_policy", "RON_AUDIT_SHED_POLICY", "--audit-shed",
     [](AuditConfig* c, std::string_view k, std::string_view v) {
       return SetEnum(&c->shed_policy, kShed, k, v);
     },
     [](const AuditConfig& c) { return Quote(NameOf(kShed, c.shed_policy)); }},
    {"amnesia", "RON_AUDIT_AMNESIA", "--audit-amnesia",
     [](AuditConfig* c, std::string_view k, std::string_view v) {
       return SetBool(&c->amnesia, k, v);
     },
     [](const AuditConfig& c) { return std::string(c.amnesia ? "true" : "false"); }},
    {"pin_cpus", "RON_AUDIT_PIN_CPUS", "--audit-pin-cpus",
     [](AuditConfig* c, std::string_view k, std::string_view v) {
       c->pin_cpus.clear();
       std::stringstream ss{std::string(v)};
       for (std::string item; std::getline(ss, item, ',');) {
         uint64_t cpu = 0;
         if (!ParseUint(item, &cpu) || cpu > 4095)
           return Bad(k, "expected a list of CPU numbers like 0,1");
         c->pin_cpus.push_back(static_cast<int>(cpu));
       }
       return Status::Ok();
     },
     [](const AuditConfig& c) {
       std::string s = "[";
       for (size_t i = 0; i < c.pin_cpus.size(); ++i)
         s += (i ? ", " : "") + std::to_string(c.pin_cpus[i]);
       return s + "]";
     }},
    {"privacy.ip_mode", "RON_AUDIT_PRIVACY_IP_MODE", "--audit-privacy-ip",
     [](AuditConfig* c, std::string_view k, std::string_view v) {
       return SetEnum(&c->privacy.ip_mode, kIpModes, k, v);
     },
     [](const AuditConfig& c) { return Quote(NameOf(kIpModes, c.privacy.ip_mode)); }},
    {"privacy.hash_salt_path", "RON_AUDIT_PRIVACY_HASH_SALT_PATH", "--audit-privacy-hash-salt",
     [](AuditConfig* c, std::string_view, std::string_view v) {
       c->privacy.hash_salt_path = std::string(v);
       return Status::Ok();
     },
     [](const AuditConfig& c) { return Quote(c.privacy.hash_salt_path); }},
    {"wal.dir", "RON_AUDIT_WAL_DIR", "--audit-wal-dir",
     [](AuditConfig* c, std::string_view, std::string_view v) {
       c->wal.dir = std::string(v);
       return Status::Ok();
     },
     [](const AuditConfig& c) { return Quote(c.wal.dir); }},
    {"wal.rotate_bytes", "RON_AUDIT_WAL_ROTATE_BYTES", "--audit-wal-rotate",
     [](AuditConfig* c, std::string_view k, std::string_view v) {
       return SetSize(&c->wal.rotate_bytes, k, v);
     },
     [](const AuditConfig& c) { return std::to_string(c.wal.rotate_bytes); }},
    {"wal.fsync", "RON_AUDIT_WAL_FSYNC", "--audit-wal-fsync",
     [](AuditConfig* c, std::string_view k, std::string_view v) {
       return SetEnum(&c->wal.fsync, kFsync, k, v);
     },
     [](const AuditConfig& c) { return Quote(NameOf(kFsync, c.wal.fsync)); }},
    {"wal.space_left", "RON_AUDIT_WAL_SPACE_LEFT", "--audit-wal-space-left",
     [](AuditConfig* c, std::string_view k, std::string_view v) {
       return SetSize(&c->wal.space_left_bytes, k, v);
     },
     [](const AuditConfig& c) { return std::to_string(c.wal.space_left_bytes); }},
    {"wal.disk_full_action", "RON_AUDIT_WAL_DISK_FULL_ACTION", "--audit-wal-disk-full-action",
     [](AuditConfig* c, std::string_view k, std::string_view v) {
       return SetEnum(&c->wal.disk_full_action, kDiskFull, k, v);
     },
     [](const AuditConfig& c) { return Quote(NameOf(kDiskFull, c.wal.disk_full_action)); }},
    {"export.dir", "RON_AUDIT_EXPORT_DIR", "--audit-export-dir",
     [](AuditConfig* c, std::string_view, std::string_view v) {
       c->export_.dir = std::string(v);
       return Status::Ok();
     },
     [](const AuditConfig& c) { return Quote(c.export_.dir); }},
    {"export.checkpoint_every", "RON_AUDIT_CHECKPOINT_EVERY", "--audit-checkpoint-every",
     [](AuditConfig* c, std::string_view k, std::string_view v) {
       return SetUint(&c->export_.checkpoint_every, k, v);
     },
     [](const AuditConfig& c) { return std::to_string(c.export_.checkpoint_every); }},
    {"export.export_every", "RON_AUDIT_EXPORT_EVERY", "--audit-export-every",
     [](AuditConfig* c, std::string_view k, std::string_view v) {
       if (!ParseDurationMs(v, &c->export_.export_every_ms)) {
         return Bad(k, "expected a duration like 15m, 30s or 500ms, got '" + std::string(v) + "'");
       }
       return Status::Ok();
     },
     [](const AuditConfig& c) { return Quote(std::to_string(c.export_.export_every_ms) + "ms"); }},
    {"export.signer_key_id", "RON_AUDIT_CHECKPOINT_SIGNER_KEY_ID", "--audit-checkpoint-signer",
     [](AuditConfig* c, std::string_view, std::string_view v) {
       c->export_.signer_key_id = std::string(v);
       return Status::Ok();
     },
     [](const AuditConfig& c) { return Quote(c.export_.signer_key_id); }},
    {"export.alg", "RON_AUDIT_CHECKPOINT_ALG", "--audit-checkpoint-alg",
     [](AuditConfig* c, std::string_view, std::string_view v) {
       c->export_.alg = std::string(v);
       return Status::Ok();
     },
     [](const AuditConfig& c) { return Quote(c.export_.alg); }},
};

const KeySpec* FindKey(std::string_view key) {
  for (const KeySpec& spec : kKeys) {
    if (spec.key == key) return &spec;
  }
  return nullptr;
}

// TOML scalars as the text the setters parse.
bool NodeText(const toml::node& node, std::string* out) {
  if (const auto* s = node.as_string())
    *out = s->get();
  else if (const auto* i = node.as_integer()) {
    if (i->get() < 0) return false;
    *out = std::to_string(i->get());
  } else if (const auto* b = node.as_boolean())
    *out = b->get() ? "true" : "false";
  else if (const auto* a = node.as_array()) {
    out->clear();
    for (const toml::node& item : *a) {
      std::string text;
      if (!item.is_integer() || !NodeText(item, &text)) return false;
      *out += (out->empty() ? "" : ",") + text;
    }
  } else {
    return false;
  }
  return true;
}

constexpr size_t kMaxConfigFileBytes = limits::kMaxConfigFileBytes;

Status ApplyFile(const std::string& path, AuditConfig* config, ConfigOrigins* origins) {
  // Read through the file layer: a FIFO or device named as the config file is refused instead
  // of blocking the open forever.
  std::string text;
  RON_RETURN_IF_ERROR(wal::ReadSmallFile(path, kMaxConfigFileBytes, &text, wal::Links::kFollow));
  toml::table root;
  try {
    root = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    return Status(Code::kSchema, path + ":" + std::to_string(where.line) + ":" +
                                     std::to_string(where.column) + ": " +
                                     std::string(e.description()));
  }
  const std::string origin = "file " + path;
  for (const auto& [name, node] : root) {
    const std::string top(name.str());
    if (top == "streams") {
      const toml::table* streams = node.as_table();
      if (streams == nullptr)
        return Bad("streams", "expected a table of [streams.\"name\"] sections");
      for (const auto& [stream, section] : *streams) {
        const std::string prefix = "streams." + std::string(stream.str());
        const toml::table* t = section.as_table();
        if (t == nullptr) return Bad(prefix, "expected a table");
        for (const auto& [k, v] : *t) {
          const std::string key = prefix + "." + std::string(k.str());
          if (k.str() != "queue_depth") return Bad(key, "unknown key");
          std::string text;
          uint32_t depth = 0;
          if (!NodeText(v, &text)) return Bad(key, "expected an integer");
          RON_RETURN_IF_ERROR(SetUint(&depth, key, text));
          config->stream_queue_depth[std::string(stream.str())] = depth;
          (*origins)[key] = origin;
        }
      }
      continue;
    }
    std::vector<std::pair<std::string, const toml::node*>> entries;
    if (const toml::table* section = node.as_table()) {
      for (const auto& [k, v] : *section)
        entries.emplace_back(top + "." + std::string(k.str()), &v);
    } else {
      entries.emplace_back(top, &node);
    }
    for (const auto& [key, value] : entries) {
      const KeySpec* spec = FindKey(key);
      if (spec == nullptr) return Bad(key, "unknown key in " + path);
      std::string text;
      if (!NodeText(*value, &text)) return Bad(key, "unsupported value type in " + path);
      RON_RETURN_IF_ERROR(spec->set(config, key, text));
      (*origins)[key] = origin;
    }
  }
  return Status::Ok();
}

Status ApplyEnv(const std::vector<std::string>& env, AuditConfig* config, ConfigOrigins* origins) {
  for (const std::string& entry : env) {
    if (entry.rfind("RON_AUDIT_", 0) != 0) continue;
    const size_t eq = entry.find('=');
    const std::string name = entry.substr(0, eq);
    const std::string value = eq == std::string::npos ? "" : entry.substr(eq + 1);
    const KeySpec* spec = nullptr;
    for (const KeySpec& s : kKeys) {
      if (name == s.env) spec = &s;
    }
    if (spec == nullptr) return Bad(name, "unknown RON_AUDIT_ environment variable");
    RON_RETURN_IF_ERROR(spec->set(config, spec->key, value));
    (*origins)[spec->key] = "env " + name;
  }
  return Status::Ok();
}

Status ApplyFlags(const std::vector<std::string>& flags, AuditConfig* config,
                  ConfigOrigins* origins) {
  for (size_t i = 0; i < flags.size(); ++i) {
    std::string flag = flags[i];
    std::string value;
    bool has_value = false;
    if (const size_t eq = flag.find('='); eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
      has_value = true;
    }
    const KeySpec* spec = nullptr;
    for (const KeySpec& s : kKeys) {
      if (s.flag != nullptr && flag == s.flag) spec = &s;
    }
    if (spec == nullptr) return Bad(flag, "unknown flag");
    if (!has_value) {
      if (std::string_view(spec->key) == "amnesia") {
        value = "true";  // a bare boolean flag
      } else if (i + 1 < flags.size()) {
        value = flags[++i];
      } else {
        return Bad(flag, "needs a value");
      }
    }
    RON_RETURN_IF_ERROR(spec->set(config, spec->key, value));
    (*origins)[spec->key] = "flag " + flag;
  }
  return Status::Ok();
}

// A directory the engine writes: must exist, be ours, 0700 and writable.
Status CheckDir(std::string_view key, const std::string& dir) {
  if (dir.empty()) return Bad(key, "must be set for this sink");
  const Status s = wal::EnsurePrivateDir(dir, /*create=*/false);
  if (!s.ok()) return Bad(key, s.message());
  if (access(dir.c_str(), W_OK) != 0) return Bad(key, dir + " is not writable");
  return Status::Ok();
}

}  // namespace

bool ParseSize(std::string_view text, uint64_t* bytes) {
  uint64_t n = 0;
  std::string_view unit;
  if (!SplitNumber(text, &n, &unit)) return false;
  static const std::pair<const char*, uint64_t> kUnits[] = {{"", 1},
                                                            {"B", 1},
                                                            {"KB", 1000},
                                                            {"MB", 1000 * 1000},
                                                            {"GB", 1000000000},
                                                            {"KiB", 1 << 10},
                                                            {"MiB", 1 << 20},
                                                            {"GiB", 1ull << 30}};
  for (const auto& [name, scale] : kUnits) {
    if (unit == name) return Multiply(n, scale, bytes);
  }
  return false;
}

bool ParseDurationMs(std::string_view text, uint64_t* ms) {
  uint64_t n = 0;
  std::string_view unit;
  if (!SplitNumber(text, &n, &unit)) return false;
  static const std::pair<const char*, uint64_t> kUnits[] = {
      {"", 1}, {"ms", 1}, {"s", 1000}, {"m", 60 * 1000}, {"h", 3600 * 1000}};
  for (const auto& [name, scale] : kUnits) {
    if (unit == name) return Multiply(n, scale, ms);
  }
  return false;
}

Result<AuditConfig> LoadConfig(const ConfigSources& sources, ConfigOrigins* origins) {
  AuditConfig config;
  ConfigOrigins local;
  ConfigOrigins& where = origins != nullptr ? *origins : local;
  where.clear();
  for (const KeySpec& spec : kKeys) where[spec.key] = "default";
  // --audit-config PATH (docs/CONFIG.md) names the file; it is read first, whatever its position.
  std::string file = sources.file;
  std::vector<std::string> flags;
  for (size_t i = 0; i < sources.flags.size(); ++i) {
    const std::string& flag = sources.flags[i];
    if (flag == "--audit-config" || flag.rfind("--audit-config=", 0) == 0) {
      std::string path = flag.size() > 14 ? flag.substr(15) : "";
      if (flag.size() == 14 && i + 1 < sources.flags.size()) path = sources.flags[++i];
      if (path.empty()) return Bad("--audit-config", "needs a path");
      if (!sources.file.empty() && path != sources.file) {
        return Bad("--audit-config", "names " + path + " but the file is " + sources.file);
      }
      file = path;
      continue;
    }
    flags.push_back(flag);
  }
  if (!file.empty()) RON_RETURN_IF_ERROR(ApplyFile(file, &config, &where));
  RON_RETURN_IF_ERROR(ApplyEnv(sources.env, &config, &where));
  RON_RETURN_IF_ERROR(ApplyFlags(flags, &config, &where));
  RON_RETURN_IF_ERROR(ValidateConfig(config));
  return config;
}

Status ValidateConfig(const AuditConfig& c) {
  const bool prod = c.profile == "prod";
  if (c.amnesia && c.UsesWal()) {
    return Bad("sink", "amnesia=true allows only ram or export sinks (no disk writes), got " +
                           NameOf(kSinks, c.sink));
  }
  if (c.sink == SinkKind::kExport) {
    // Checkpoints are cut from records as they become durable in the WAL; an export without
    // one would have nothing to cut from (Engine::Open refuses it too).
    return Bad("sink", c.amnesia ? "export without a WAL is not supported by this engine; amnesia "
                                   "allows only ram here"
                                 : "export without a WAL is not supported; use \"wal+export\"");
  }
  if (c.max_attrs_bytes < Limits::kMinAttrsBytes)
    return Bad("max_attrs_bytes", "must be at least 256B");
  if (c.max_record_bytes < c.max_attrs_bytes + Limits::kRecordOverAttrsBytes) {
    return Bad("max_record_bytes", "must be at least max_attrs_bytes + 512B");
  }
  if (c.max_attrs_bytes > Limits::kDefaultMaxAttrsBytes) {
    return Bad("max_attrs_bytes", "may only be made stricter than 1KiB (docs/FORMAT.md §1)");
  }
  if (c.max_record_bytes > Limits::kDefaultMaxRecordBytes) {
    return Bad("max_record_bytes", "may only be made stricter than 4KiB (docs/FORMAT.md §1)");
  }
  if (c.queue_depth == 0) return Bad("queue_depth", "must be greater than 0");
  if (c.workers < 1 || c.workers > 8) return Bad("workers", "must be in 1..8");
  for (const auto& [stream, depth] : c.stream_queue_depth) {
    if (depth == 0) return Bad("streams." + stream + ".queue_depth", "must be greater than 0");
  }
  // A pin to a CPU this machine does not have would be ignored by the kernel; say so instead.
  const long online = sysconf(_SC_NPROCESSORS_ONLN);
  for (const int cpu : c.pin_cpus) {
    if (cpu < 0 || (online > 0 && cpu >= online)) {
      return Bad("pin_cpus", "CPU " + std::to_string(cpu) + " is not online (0.." +
                                 std::to_string(online - 1) + ")");
    }
  }
  if (prod && c.shed_policy == ShedPolicy::kBlock) {
    return Bad("shed_policy", "block is for tests only and is refused with profile=prod");
  }
  if (c.privacy.ip_mode == IpMode::kHash) {
    const std::string& path = c.privacy.hash_salt_path;
    struct stat st {};
    if (path.empty()) return Bad("privacy.hash_salt_path", "is required when privacy.ip_mode=hash");
    if (stat(path.c_str(), &st) != 0)
      return Bad("privacy.hash_salt_path", path + " does not exist");
    if (st.st_size == 0) return Bad("privacy.hash_salt_path", path + " is empty");
    if ((st.st_mode & 0777) != 0600)
      return Bad("privacy.hash_salt_path", path + " must have mode 0600");
  }
  // Every bound is checked whatever the sink: a value out of range is wrong even where the
  // current sink ignores it, and would surface only when the sink changes.
  if (c.wal.rotate_bytes < wal::WalOptions::kMinRotateBytes) {
    return Bad("wal.rotate_bytes", "must be at least 8MiB");
  }
  if (c.wal.rotate_bytes > segment::kMaxSegmentBytes) {
    return Bad("wal.rotate_bytes", "must be at most 1GiB");
  }
  if (prod && c.wal.fsync == FsyncPolicy::kNever) {
    return Bad("wal.fsync", "never is for tests only and is refused with profile=prod");
  }
  if (c.export_.checkpoint_every < 1000)
    return Bad("export.checkpoint_every", "must be at least 1000");
  // A zero period would cut on every batch; a huge one would overflow the clock.
  if (c.export_.export_every_ms < 1000 || c.export_.export_every_ms > 7ull * 24 * 3600 * 1000)
    return Bad("export.export_every", "must be in 1s..7d");
  if (c.export_.alg.empty())
    return Bad("export.alg", "must not be empty (use \"none\" for unsigned)");
  if (c.UsesWal()) RON_RETURN_IF_ERROR(CheckDir("wal.dir", c.wal.dir));
  if (c.UsesExport()) {
    RON_RETURN_IF_ERROR(CheckDir("export.dir", c.export_.dir));
    // Each directory has its own writer lock and its own layout: one directory cannot be both.
    struct stat wal_st {}, export_st {};
    if (stat(c.wal.dir.c_str(), &wal_st) == 0 && stat(c.export_.dir.c_str(), &export_st) == 0 &&
        wal_st.st_dev == export_st.st_dev && wal_st.st_ino == export_st.st_ino) {
      return Bad("export.dir", "must not be wal.dir (" + c.wal.dir + ")");
    }
    // Unsigned checkpoints prove nothing to an auditor: a test-only choice.
    if (prod && c.export_.alg == "none") {
      return Bad("export.alg", "none (unsigned checkpoints) is for tests only and is refused with "
                               "profile=prod");
    }
    if (c.export_.alg != "none" && c.export_.signer_key_id.empty()) {
      return Bad("export.signer_key_id",
                 "is required for signed checkpoints (alg " + c.export_.alg + ")");
    }
  }
  return Status::Ok();
}

std::string DescribeConfig(const AuditConfig& config, const ConfigOrigins& origins) {
  std::string out;
  for (const KeySpec& spec : kKeys) {
    const auto it = origins.find(spec.key);
    out += std::string(spec.key) + " = " + spec.get(config) + "  # " +
           (it == origins.end() ? "default" : it->second) + "\n";
  }
  for (const auto& [stream, depth] : config.stream_queue_depth) {
    const std::string key = "streams." + stream + ".queue_depth";
    const auto it = origins.find(key);
    const std::string printed = "streams." + Quote(stream) + ".queue_depth";
    out += printed + " = " + std::to_string(depth) + "  # " +
           (it == origins.end() ? "file" : it->second) + "\n";
  }
  return out;
}

}  // namespace ron
