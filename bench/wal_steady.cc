// wal_steady: the WAL's steady-state rig (make bench). 1 KiB records, fsync=always, 1/2/4
// streams, group commit; reports records/s, MB/s, acknowledgement latency p50/p95/p99 and
// fdatasync p95/p99, and, measured in the same run on the same disk:
//   (a) the device limit: plain pwrite + fdatasync of the same bytes in 256 KiB blocks to a
//       pre-zeroed file,
//   (b) the pwritev backend,
//   (c) one fdatasync per record,
// plus the same rig at fsync=never. Prints a Markdown table (for docs/PERFORMANCE_LOG.md).
//
// Model: one producer thread per stream generates drafts (at full speed, or paced at a target
// rate) into a bounded queue; the owner thread (as an engine writer will) drains what arrived,
// canonicalizes and hashes each record, stages it, commits the batch and "acknowledges" it.
// Ack latency = commit end − the draft's arrival.
//
// Last, the time recovery (Wal::Open) takes on a ~1 GiB WAL, against reading the same files.
//
// usage: wal_steady [--dir DIR] [--seconds S] [--recovery-mib N] [--paced-only]
// Environment knobs for experiments: NO_PREALLOC=1 turns segment preallocation off (to measure
// what it buys); ROTATE_MIB=N sets the segment size.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_util.h"
#include "engine/core/canonical.h"
#include "wal/wal.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

struct Config {
  std::string label;
  int streams = 1;
  ron::IoBackend backend = ron::IoBackend::kIoUring;
  ron::WriteMode mode = ron::WriteMode::kBuffered;
  ron::FsyncPolicy fsync = ron::FsyncPolicy::kAlways;
  size_t max_batch = 1024;  // records per stream per commit
  double rate_per_s = 0;    // total offered load; 0 = as fast as possible
};

struct Result {
  double records_per_s = 0;
  double mb_per_s = 0;
  double ack_p50_ms = 0, ack_p95_ms = 0, ack_p99_ms = 0;
  double fsync_p95_ms = 0, fsync_p99_ms = 0;
  double batch_records = 0;
};

class Queue {
 public:
  explicit Queue(size_t capacity) : capacity_(capacity) {}
  void Push(Clock::time_point t) {
    std::unique_lock<std::mutex> lock(mu_);
    not_full_.wait(lock, [&] { return items_.size() < capacity_ || closed_; });
    items_.push_back(t);
  }
  // Takes up to `max` arrivals; waits briefly when empty. Returns false once closed and empty.
  bool PopAll(size_t max, std::vector<Clock::time_point>* out) {
    std::unique_lock<std::mutex> lock(mu_);
    if (items_.empty()) {
      if (closed_) return false;
      lock.unlock();
      std::this_thread::yield();
      return true;
    }
    const size_t n = std::min(max, items_.size());
    out->insert(out->end(), items_.begin(), items_.begin() + static_cast<long>(n));
    items_.erase(items_.begin(), items_.begin() + static_cast<long>(n));
    not_full_.notify_all();
    return true;
  }
  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    not_full_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable not_full_;
  std::deque<Clock::time_point> items_;
  size_t capacity_;
  bool closed_ = false;
};

Result RunWal(const Config& c, const std::string& dir, double seconds) {
  fs::remove_all(dir);
  ron::wal::WalOptions options;
  options.dir = dir;
  options.backend = c.backend;
  options.write_mode = c.mode;
  options.fsync = c.fsync;
  options.preallocate = std::getenv("NO_PREALLOC") == nullptr;
  if (const char* r = std::getenv("ROTATE_MIB"))
    options.rotate_bytes = std::strtoull(r, nullptr, 10) << 20;
  auto opened = ron::wal::Wal::Open(options);
  if (!opened.ok()) {
    std::fprintf(stderr, "wal_steady: %s\n", opened.status().ToString().c_str());
    std::exit(1);
  }
  ron::wal::Wal& wal = *opened.value();
  std::vector<ron::wal::StreamWal*> streams;
  std::vector<std::unique_ptr<Queue>> queues;
  for (int i = 0; i < c.streams; ++i) {
    streams.push_back(wal.GetStream("bench@rig", "s" + std::to_string(i)).value());
    queues.push_back(std::make_unique<Queue>(4 * c.max_batch));
  }
  // Give the preallocator a head start, as a long-running engine has.
  for (int i = 0; i < 200 && wal.segments_prepared() < static_cast<uint64_t>(c.streams); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::atomic<bool> stop{false};
  std::vector<std::thread> producers;
  for (int i = 0; i < c.streams; ++i) {
    producers.emplace_back([&, i] {
      const double per_stream = c.rate_per_s / c.streams;
      const auto begin = Clock::now();
      uint64_t produced = 0;
      while (!stop) {
        if (per_stream <= 0) {
          queues[static_cast<size_t>(i)]->Push(Clock::now());
          continue;
        }
        // Paced: release the arrivals that are due, then sleep (no spinning: the rig has as
        // few cores as the machines it models).
        const auto now = Clock::now();
        const auto due =
            static_cast<uint64_t>(std::chrono::duration<double>(now - begin).count() * per_stream);
        for (; produced < due && !stop; ++produced) queues[static_cast<size_t>(i)]->Push(now);
        std::this_thread::sleep_for(std::chrono::microseconds(100));
      }
    });
  }
  ron::Canonicalizer canonicalizer;
  ron::CanonicalRecord record;
  const std::string draft = ron::bench::Draft1KiB();
  std::vector<double> ack_ms, fsync_ms;
  std::vector<std::vector<Clock::time_point>> arrivals(static_cast<size_t>(c.streams));
  uint64_t records = 0, bytes = 0, commits = 0;
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration<double>(seconds);
  while (Clock::now() < end) {
    size_t staged = 0;
    for (int i = 0; i < c.streams; ++i) {
      auto& got = arrivals[static_cast<size_t>(i)];
      got.clear();
      queues[static_cast<size_t>(i)]->PopAll(c.max_batch, &got);
      ron::wal::StreamWal* s = streams[static_cast<size_t>(i)];
      for (size_t k = 0; k < got.size(); ++k) {
        const std::string prev = s->HeadText();
        const ron::Canonicalizer::DraftContext ctx{"bench@rig", s->stream(), s->head_seq() + 1,
                                                   prev, 1763800000000};
        if (!canonicalizer.CanonicalizeDraft(draft, ctx, &record).ok() ||
            !wal.Stage(s, record).ok()) {
          std::fprintf(stderr, "wal_steady: stage failed\n");
          std::exit(1);
        }
        bytes += record.bytes.size();
      }
      staged += got.size();
    }
    if (staged == 0) continue;
    if (!wal.Commit().ok()) {
      std::fprintf(stderr, "wal_steady: commit failed\n");
      std::exit(1);
    }
    const auto acked = Clock::now();
    ++commits;
    records += staged;
    if (c.fsync == ron::FsyncPolicy::kAlways)
      fsync_ms.push_back(wal.last_fsync_seconds() * 1e3);
    for (const auto& got : arrivals) {
      for (const auto& t : got)
        ack_ms.push_back(std::chrono::duration<double, std::milli>(acked - t).count());
    }
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  stop = true;
  for (auto& q : queues) q->Close();
  for (auto& t : producers) t.join();
  (void)wal.Close();
  Result r;
  r.records_per_s = static_cast<double>(records) / elapsed;
  r.mb_per_s = static_cast<double>(bytes) / 1e6 / elapsed;
  r.ack_p50_ms = ron::bench::Percentile(&ack_ms, 0.50);
  r.ack_p95_ms = ron::bench::Percentile(&ack_ms, 0.95);
  r.ack_p99_ms = ron::bench::Percentile(&ack_ms, 0.99);
  r.fsync_p95_ms = ron::bench::Percentile(&fsync_ms, 0.95);
  r.fsync_p99_ms = ron::bench::Percentile(&fsync_ms, 0.99);
  r.batch_records = commits ? static_cast<double>(records) / static_cast<double>(commits) : 0;
  fs::remove_all(dir);
  return r;
}

// (a) The device limit: 256 KiB pwrite + fdatasync into a pre-zeroed file.
Result RunRawDevice(const std::string& dir, double seconds, size_t record_bytes) {
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string path = dir + "/raw.bin";
  const size_t block = 256 * 1024;
  const uint64_t file_bytes = 512ull << 20;
  const int fd = open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
  std::vector<char> buf(block, 'r');
  std::vector<char> zeros(1 << 20, 0);
  for (uint64_t off = 0; off < file_bytes; off += zeros.size()) {
    if (pwrite(fd, zeros.data(), zeros.size(), static_cast<off_t>(off)) < 0) std::exit(1);
  }
  fdatasync(fd);
  std::vector<double> fsync_ms;
  uint64_t bytes = 0, off = 0;
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration<double>(seconds);
  while (Clock::now() < end) {
    if (pwrite(fd, buf.data(), block, static_cast<off_t>(off)) < 0) std::exit(1);
    const auto t = Clock::now();
    fdatasync(fd);
    fsync_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t).count());
    bytes += block;
    off = (off + block) % file_bytes;
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  close(fd);
  fs::remove_all(dir);
  Result r;
  r.mb_per_s = static_cast<double>(bytes) / 1e6 / elapsed;
  r.records_per_s = static_cast<double>(bytes) / static_cast<double>(record_bytes) / elapsed;
  r.fsync_p95_ms = ron::bench::Percentile(&fsync_ms, 0.95);
  r.fsync_p99_ms = ron::bench::Percentile(&fsync_ms, 0.99);
  return r;
}

// Recovery of a WAL of about `mib` MiB (one stream, 128 MiB segments) against a plain read of
// the same files.
void RunRecovery(const std::string& dir, uint64_t mib) {
  fs::remove_all(dir);
  ron::wal::WalOptions options;
  options.dir = dir;
  options.fsync = ron::FsyncPolicy::kNever;
  options.preallocate = false;
  {
    auto wal = ron::wal::Wal::Open(options);
    ron::wal::StreamWal* s = wal.value()->GetStream("bench@rig", "big").value();
    ron::Canonicalizer canonicalizer;
    ron::CanonicalRecord record;
    const std::string draft = ron::bench::Draft1KiB();
    while (wal.value()->counters().bytes_written < (mib << 20)) {
      for (int i = 0; i < 1024; ++i) {
        const std::string prev = s->HeadText();
        const ron::Canonicalizer::DraftContext ctx{"bench@rig", "big", s->head_seq() + 1, prev, 1};
        if (!canonicalizer.CanonicalizeDraft(draft, ctx, &record).ok() ||
            !wal.value()->Stage(s, record).ok()) {
          std::exit(1);
        }
      }
      if (!wal.value()->Commit().ok()) std::exit(1);
    }
    (void)wal.value()->Sync();
  }  // no Close: the newest segment stays open, as after a crash
  std::system("sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null");
  auto t = Clock::now();
  uint64_t bytes = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    const int fd = open(entry.path().c_str(), O_RDONLY | O_CLOEXEC);
    std::vector<char> buf(1 << 20);
    for (ssize_t n; (n = read(fd, buf.data(), buf.size())) > 0;) bytes += static_cast<uint64_t>(n);
    close(fd);
  }
  const double read_s = std::chrono::duration<double>(Clock::now() - t).count();
  std::system("sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null");
  t = Clock::now();
  auto reopened = ron::wal::Wal::Open(options);
  const double open_s = std::chrono::duration<double>(Clock::now() - t).count();
  const uint64_t head = reopened.value()->GetStream("bench@rig", "big").value()->head_seq();
  std::printf(
      "\nrecovery of %.0f MiB (%llu records, cold cache): Wal::Open %.2f s (%.0f MB/s); "
      "plain read of the same files %.2f s (%.0f MB/s); ratio %.2f\n",
      static_cast<double>(bytes) / (1 << 20), static_cast<unsigned long long>(head), open_s,
      static_cast<double>(bytes) / 1e6 / open_s, read_s, static_cast<double>(bytes) / 1e6 / read_s,
      open_s / read_s);
  reopened = ron::Status();
  fs::remove_all(dir);
}

void Row(const std::string& label, const Result& r, double device_rate, double never_rate) {
  std::printf(
      "| %s | %.0f | %.0f | %.2fx | %s | %.2f / %.2f / %.2f | %.2f / %.2f | %.0f |\n",
      label.c_str(), r.records_per_s, r.mb_per_s, r.records_per_s / device_rate,
      never_rate > 0 ? (std::to_string(r.records_per_s / never_rate).substr(0, 4) + "x").c_str()
                     : "—",
      r.ack_p50_ms, r.ack_p95_ms, r.ack_p99_ms, r.fsync_p95_ms, r.fsync_p99_ms, r.batch_records);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = "build/bench-data";
  double seconds = 2.0;
  uint64_t recovery_mib = 1024;
  bool paced_only = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--paced-only") == 0) paced_only = true;
  }
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--recovery-mib") == 0)
      recovery_mib = std::strtoull(argv[i + 1], nullptr, 10);
    if (std::strcmp(argv[i], "--dir") == 0) dir = argv[i + 1];
    if (std::strcmp(argv[i], "--seconds") == 0) seconds = std::atof(argv[i + 1]);
  }
  fs::create_directories(dir);
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace);
  // Frame size of the rig's record: canonical JSON + 53 bytes of framing.
  const size_t frame_bytes = 1024 + 53;
  const Result device = RunRawDevice(dir + "/raw", seconds, frame_bytes);
  std::printf(
      "device limit (a): %.0f MB/s = %.0f frames/s of %zu bytes; fdatasync p95 %.2f ms, p99 %.2f "
      "ms\n\n",
      device.mb_per_s, device.records_per_s, frame_bytes, device.fsync_p95_ms, device.fsync_p99_ms);
  std::printf(
      "| configuration | records/s | MB/s | vs (a) | vs never | ack p50 / p95 / p99 ms | fdatasync "
      "p95 / p99 ms | records per commit |\n");
  std::printf("| --- | --- | --- | --- | --- | --- | --- | --- |\n");
  using ron::FsyncPolicy;
  using ron::IoBackend;
  using ron::WriteMode;
  if (paced_only) {  // the latency rows alone, at a fixed offered load
    for (double rate : {40000.0, 80000.0}) {
      for (WriteMode mode : {WriteMode::kBuffered, WriteMode::kDirect}) {
        Config c{"", 1, IoBackend::kIoUring, mode};
        c.rate_per_s = rate;
        Row(std::string("1 stream, io_uring ") +
                (mode == WriteMode::kDirect ? "O_DIRECT" : "buffered") + ", paced at " +
                std::to_string(static_cast<int>(rate)) + "/s",
            RunWal(c, dir + "/wal", seconds), device.records_per_s, 0);
      }
    }
    return 0;
  }
  for (int streams : {1, 2, 4}) {
    Config never{"", streams, IoBackend::kIoUring, WriteMode::kBuffered, FsyncPolicy::kNever};
    const Result n = RunWal(never, dir + "/wal", seconds);
    Row(std::to_string(streams) + " stream(s), fsync=never", n, device.records_per_s, 0);
    const std::pair<const char*, Config> configs[] = {
        {"io_uring buffered + linked fdatasync",
         {"", streams, IoBackend::kIoUring, WriteMode::kBuffered}},
        {"io_uring O_DIRECT + RWF_DSYNC",
         {"", streams, IoBackend::kIoUring, WriteMode::kDirect}},
        {"(b) pwritev buffered + fdatasync",
         {"", streams, IoBackend::kPwritev, WriteMode::kBuffered}},
    };
    for (const auto& [label, config] : configs) {
      const Result r = RunWal(config, dir + "/wal", seconds);
      Row(std::to_string(streams) + " stream(s), " + label, r, device.records_per_s,
          n.records_per_s);
      if (streams == 1 && std::string(label).find("buffered + linked") != std::string::npos) {
        Config half = config;
        half.rate_per_s = r.records_per_s / 2;
        Row("1 stream, io_uring buffered, paced at half the max rate",
            RunWal(half, dir + "/wal", seconds), device.records_per_s, 0);
        Config direct_half = half;
        direct_half.mode = WriteMode::kDirect;
        Row("1 stream, io_uring O_DIRECT, paced at half the max rate",
            RunWal(direct_half, dir + "/wal", seconds), device.records_per_s, 0);
      }
    }
  }
  Config one{"", 1, IoBackend::kIoUring, WriteMode::kBuffered};
  one.max_batch = 1;
  Row("(c) 1 stream, one fdatasync per record", RunWal(one, dir + "/wal", seconds),
      device.records_per_s, 0);
  RunRecovery(dir + "/recovery", recovery_mib);
  return 0;
}
