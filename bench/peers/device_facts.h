// The facts of the disk under a directory that a durable-write benchmark's numbers depend on:
// the filesystem and its mount options (from /proc/self/mountinfo, matched by st_dev), free
// space, and the block device's queue settings from /sys (model, rotational, scheduler, volatile
// write cache, FUA). Devices without a block device behind them (overlay, tmpfs, NFS, FUSE) are
// reported as such; loop devices name their backing file; device-mapper and md devices name the
// devices under them. Read-only; never fails (missing facts are left out).
#ifndef BENCH_PEERS_DEVICE_FACTS_H_
#define BENCH_PEERS_DEVICE_FACTS_H_

#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace ron::bench {

// The facts as "key: value" pairs, in the order worth reading.
using Facts = std::vector<std::pair<std::string, std::string>>;

namespace device_facts_detail {

inline std::string ReadLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) return "";
  while (!line.empty() && (line.back() == ' ' || line.back() == '\n')) line.pop_back();
  return line;
}

inline std::string FsName(int64_t magic) {
  switch (static_cast<uint64_t>(magic) & 0xffffffffu) {
    case 0xEF53:
      return "ext2/3/4";
    case 0x58465342:
      return "xfs";
    case 0x9123683E:
      return "btrfs";
    case 0x01021994:
      return "tmpfs";
    case 0x794C7630:
      return "overlayfs";
    case 0x2FC12FC1:
      return "zfs";
    case 0xF2F52010:
      return "f2fs";
    case 0x6969:
      return "nfs";
    case 0x65735546:
      return "fuse";
    case 0x858458F6:
      return "ramfs";
    default: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "magic 0x%llx", static_cast<unsigned long long>(magic));
      return buf;
    }
  }
}

inline std::string Gib(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f GiB", static_cast<double>(bytes) / (1ull << 30));
  return buf;
}

// The /proc/self/mountinfo line of the mount that holds `path` (device `dev`): among the lines
// of that device, the one with the longest mount point that prefixes the path.
struct Mount {
  std::string point, fstype, source, options;
};
inline Mount FindMount(const std::string& path, dev_t dev) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  Mount best;
  char want[32];
  std::snprintf(want, sizeof want, "%u:%u", major(dev), minor(dev));
  while (std::getline(in, line)) {
    // id parent maj:min root point options [optional...] - fstype source superoptions
    std::istringstream fields(line);
    std::string id, parent, majmin, root, point, options, word;
    fields >> id >> parent >> majmin >> root >> point >> options;
    while (fields >> word && word != "-") {
    }
    Mount m;
    m.point = point;
    std::string super;
    fields >> m.fstype >> m.source >> super;
    m.options = options + (super.empty() ? "" : " (super: " + super + ")");
    const bool prefix = path.compare(0, point.size(), point) == 0 &&
                        (point == "/" || path.size() == point.size() || path[point.size()] == '/');
    if (majmin == want && prefix && point.size() >= best.point.size()) best = m;
  }
  return best;
}

// The whole-disk name in /sys/block for the block device `dev` ("" when there is none).
inline std::string DiskOf(dev_t dev) {
  namespace fs = std::filesystem;
  char link[64];
  std::snprintf(link, sizeof link, "/sys/dev/block/%u:%u", major(dev), minor(dev));
  std::error_code ec;
  fs::path real = fs::canonical(link, ec);
  if (ec) return "";
  if (fs::exists(real / "partition", ec)) real = real.parent_path();
  return real.filename().string();
}

inline void AddQueueFacts(const std::string& disk, const std::string& prefix, Facts* facts) {
  namespace fs = std::filesystem;
  const std::string sys = "/sys/block/" + disk;
  std::string kind;
  std::error_code ec;
  const fs::path driver = fs::read_symlink(sys + "/device/driver", ec);
  if (!ec) kind = driver.filename().string();
  std::string model = ReadLine(sys + "/device/model");
  if (model.empty() && !ReadLine(sys + "/device/vendor").empty()) {
    model = "vendor " + ReadLine(sys + "/device/vendor");
  } else if (!model.empty()) {
    model = "model " + model;
  }
  if (disk.rfind("loop", 0) == 0)
    kind = "loop, backing file " + ReadLine(sys + "/loop/backing_file");
  if (disk.rfind("dm-", 0) == 0) kind = "device-mapper " + ReadLine(sys + "/dm/name");
  facts->emplace_back(prefix + "block device", "/dev/" + disk +
                                                   (model.empty() ? "" : ", " + model) +
                                                   (kind.empty() ? "" : " (" + kind + ")"));
  const std::string rot = ReadLine(sys + "/queue/rotational");
  if (!rot.empty()) {
    facts->emplace_back(prefix + "rotational",
                        rot + (rot == "1" ? " (virtual disks often claim 1)" : " (SSD/NVMe)"));
  }
  const std::pair<const char*, const char*> queue[] = {
      {"scheduler", "scheduler"},
      {"write_cache", "write cache"},
      {"fua", "FUA"},
      {"logical_block_size", "logical block"},
      {"physical_block_size", "physical block"},
      {"nr_requests", "queue depth"},
  };
  for (const auto& [file, label] : queue) {
    const std::string v = ReadLine(sys + "/queue/" + file);
    if (!v.empty()) facts->emplace_back(prefix + label, v);
  }
  // Stacked devices (dm, md): the devices underneath, one level deep.
  if (!prefix.empty()) return;
  std::vector<std::string> under;
  for (const auto& e : fs::directory_iterator(sys + "/slaves", ec)) {
    std::error_code ec2;
    const fs::path real = fs::canonical(e.path(), ec2);
    under.push_back(!ec2 && fs::exists(real / "partition", ec2)
                        ? real.parent_path().filename().string()
                        : e.path().filename().string());
  }
  for (const std::string& u : under) AddQueueFacts(u, "under " + u + ": ", facts);
}

}  // namespace device_facts_detail

// The whole disk under `dir` ("" when there is none: tmpfs, overlay, network).
inline std::string DiskOfDir(const std::string& dir) {
  struct stat st {};
  return stat(dir.c_str(), &st) == 0 ? device_facts_detail::DiskOf(st.st_dev) : "";
}

// Bytes the disk has written since boot, all its users together (/sys/block/DISK/stat: the
// seventh field counts 512-byte sectors, whatever the logical block size). 0 if unknown.
inline uint64_t DiskBytesWritten(const std::string& disk) {
  if (disk.empty()) return 0;
  std::ifstream in("/sys/block/" + disk + "/stat");
  uint64_t field[7] = {};
  for (uint64_t& f : field) {
    if (!(in >> f)) return 0;
  }
  return field[6] * 512;
}

inline Facts DeviceFacts(const std::string& dir) {
  namespace d = device_facts_detail;
  namespace fs = std::filesystem;
  Facts facts;
  std::error_code ec;
  const std::string path = fs::canonical(dir, ec).string();
  facts.emplace_back("directory", ec ? dir : path);
  struct statfs sf {};
  if (statfs(dir.c_str(), &sf) == 0) {
    facts.emplace_back("filesystem", d::FsName(static_cast<int64_t>(sf.f_type)));
    const uint64_t bsize = static_cast<uint64_t>(sf.f_bsize);
    facts.emplace_back("space", d::Gib(static_cast<uint64_t>(sf.f_bavail) * bsize) + " free of " +
                                    d::Gib(static_cast<uint64_t>(sf.f_blocks) * bsize));
  }
  struct stat st {};
  if (stat(dir.c_str(), &st) != 0) return facts;
  const d::Mount m = d::FindMount(ec ? dir : path, st.st_dev);
  if (!m.point.empty()) {
    facts.emplace_back("mount", m.source + " on " + m.point + " type " + m.fstype);
    facts.emplace_back("mount options", m.options);
  }
  const std::string disk = d::DiskOf(st.st_dev);
  if (disk.empty()) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "none (st_dev %u:%u: overlay, tmpfs, network or FUSE)",
                  major(st.st_dev), minor(st.st_dev));
    facts.emplace_back("block device", buf);
  } else {
    d::AddQueueFacts(disk, "", &facts);
  }
  return facts;
}

// The 1, 5 and 15 minute load averages: a loaded machine makes any durable-write figure suspect.
inline std::string LoadAverage() {
  FILE* f = std::fopen("/proc/loadavg", "r");
  if (f == nullptr) return "?";
  char buf[64] = {0};
  const bool got = std::fgets(buf, sizeof buf, f) != nullptr;
  std::fclose(f);
  std::string text = got ? buf : "?";
  // "0.52 0.58 0.59 1/467 12345": the first three fields.
  size_t end = 0;
  for (int field = 0; field < 3 && end != std::string::npos; ++field) {
    end = text.find(' ', end == 0 ? 0 : end + 1);
  }
  return text.substr(0, end);
}

}  // namespace ron::bench

#endif  // BENCH_PEERS_DEVICE_FACTS_H_
