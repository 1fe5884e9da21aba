// emit_bound: the durable Emit path against its bound, and what it allocates (make bench).
//   Baseline (same run, one thread): BLAKE3 of the canonical bytes of the record Emit seals —
//   the per-stream bound, since record n+1 holds the hash of record n.
//   Device limit, one writer (after the one-stream run, same disk): pwrite + fdatasync of as
//   many bytes as that run's writer thread wrote a commit (its records per batch times the bytes
//   it wrote a record), one thread, appending to files of rotate_bytes as the WAL does for
//   commits this large. One stream has one writer thread and one file: this is its disk's share,
//   whatever the CPU does.
//   Emit, WAL fsync=always, one producer per stream keeping `window` tickets in flight:
//   1 stream (1 writer thread), then 2 streams on 2 writer threads (names chosen so that
//   OwnerIndex puts them on different threads). Records/s, ratio to the bound, 2 vs 1.
//   Allocations and bytes per record (operator new of this process, every thread: the caller's
//   canonicalizing, the queue, the owner's hashing and framing, the WAL), for Emit and for
//   OfferSealed of the same records, and OfferSealedMany of them 256 a call (an import: each
//   call's last ticket waited before the next). Context switches and CPU time per record
//   (getrusage of the process, every thread, user + system): the wake-ups between producer,
//   writer thread and io_uring that a record costs, and a figure that a disk slower or faster
//   from one minute to the next moves far less than records/s. Then, per path, where the
//   writer threads' time went (the engine's audit_batch_seconds, per record).
// Run it as is (glibc malloc) and under LD_PRELOAD=libmimalloc.so.2 to compare allocators in
// one run (make bench does both).
//
// usage: emit_bound [--records N] [--dir DIR] [--fsync always|never] [--max-batch N]
//   --fsync never: the same paths without the disk's sync, for CPU figures a slower or faster
//   disk does not move (records/s are then not durable rates; the bound is the same).
//   --max-batch N: the engine's max_batch_records (default: the engine's, 1024). A
//   producer keeps 4096 records in flight, so a writer's batches grow to about 2048 at most.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <new>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_util.h"
#include "engine/core/canonical.h"
#include "engine/core/hash.h"
#include "engine/engine_internal.h"
#include "ron_audit/engine.h"

namespace {

std::atomic<uint64_t> g_allocs{0}, g_bytes{0};

}  // namespace

// Every C++ allocation of the process is counted (the library allocates only through new).
// Never inlined: g++ would otherwise pair the inlined free() with `new` and warn.
[[gnu::noinline]] void* operator new(size_t size) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  g_bytes.fetch_add(size, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
[[gnu::noinline]] void* operator new[](size_t size) { return operator new(size); }
[[gnu::noinline]] void* operator new(size_t size, std::align_val_t align) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  g_bytes.fetch_add(size, std::memory_order_relaxed);
  const size_t a = static_cast<size_t>(align);
  if (void* p = std::aligned_alloc(a, (size + a - 1) / a * a)) return p;
  throw std::bad_alloc();
}
[[gnu::noinline]] void* operator new[](size_t size, std::align_val_t align) { return operator new(size, align); }
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete[](void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, size_t) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete[](void* p, size_t) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, size_t, std::align_val_t) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete[](void* p, size_t, std::align_val_t) noexcept { std::free(p); }

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;
constexpr char kWriter[] = "bench@emit";

struct Run {
  double per_s = 0;
  double allocs = 0, bytes = 0;  // per record
  double switches = 0;           // context switches per record, every thread of the process
  double cpu_us = 0;             // CPU time per record (µs), every thread, user + system
};

// Context switches of the whole process so far (every thread, those ended included; the
// voluntary ones are the waits: a writer sleeping for work or for its fdatasync, a producer
// for its ticket, io_uring's workers).
uint64_t ContextSwitches() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<uint64_t>(u.ru_nvcsw + u.ru_nivcsw);
}

// CPU time of the whole process so far (every thread, user + system), in seconds.
double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  const auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(u.ru_utime) + seconds(u.ru_stime);
}

// What a Run measures from its start: Finish gives the per-record figures of `n` records.
struct Meter {
  uint64_t allocs0 = g_allocs.load(), bytes0 = g_bytes.load();
  uint64_t switches0 = ContextSwitches();
  double cpu0 = CpuSeconds();
  Clock::time_point start = Clock::now();
  Run Finish(double n) const {
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    return Run{n / elapsed, static_cast<double>(g_allocs.load() - allocs0) / n,
               static_cast<double>(g_bytes.load() - bytes0) / n,
               static_cast<double>(ContextSwitches() - switches0) / n,
               (CpuSeconds() - cpu0) / n * 1e6};
  }
};

void FreshDir(const std::string& dir) {
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace);
}

ron::FsyncPolicy g_fsync = ron::FsyncPolicy::kAlways;
size_t g_max_batch = ron::EngineOptions().max_batch_records;

// Records/s of the device limit for one writer (above): commits of `batch_records` records of
// `record_bytes` each (both > 0), for about two seconds; 0 if a write or sync failed.
double DeviceOneWriter(const std::string& dir, double record_bytes, double batch_records) {
  const size_t commit = static_cast<size_t>(record_bytes * batch_records);
  const uint64_t file_bytes = ron::AuditConfig::Wal{}.rotate_bytes;
  const std::string data(commit, 'x');
  const std::string path = dir + "/device.bin";
  int fd = -1;
  uint64_t at = file_bytes, commits = 0;
  bool failed = false;
  const auto t0 = Clock::now();
  while (!failed && Clock::now() - t0 < std::chrono::seconds(2)) {
    if (at + commit > file_bytes) {  // the next "segment": a new file, as the WAL rotates
      if (fd >= 0) close(fd);
      fd = open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
      at = 0;
    }
    failed = fd < 0 ||
             pwrite(fd, data.data(), commit, static_cast<off_t>(at)) !=
                 static_cast<ssize_t>(commit) ||
             fdatasync(fd) != 0;
    at += commit;
    ++commits;
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
  if (fd >= 0) close(fd);
  std::error_code ignored;
  fs::remove(path, ignored);
  return failed ? 0 : static_cast<double>(commits) * batch_records / elapsed;
}

ron::EngineOptions WalOptions(const std::string& dir, uint32_t workers) {
  ron::EngineOptions o;
  o.writer_id = kWriter;
  o.config.sink = ron::SinkKind::kWal;
  o.config.amnesia = false;
  o.config.workers = workers;
  o.config.queue_depth = 8192;
  o.config.wal.dir = dir;
  o.config.wal.fsync = g_fsync;
  o.max_batch_records = g_max_batch;
  return o;
}

// One producer thread per stream; each offers its `records` (drafts, or the sealed lines of
// `sealed[stream]`) keeping at most `window` in flight.
Run Drive(ron::Engine* engine, const std::vector<std::string>& streams, uint64_t records,
          const std::vector<std::vector<std::string>>* sealed) {
  constexpr size_t kWindow = 4096;
  const std::string draft = ron::bench::Draft1KiB();
  std::atomic<uint64_t> failed{0};
  const Meter meter;
  std::vector<std::thread> threads;
  for (size_t s = 0; s < streams.size(); ++s) {
    threads.emplace_back([&, s] {
      std::deque<ron::Ticket> inflight;
      const auto settle = [&] {
        if (!inflight.front().Wait(Clock::now() + std::chrono::seconds(60)).ok()) failed++;
        inflight.pop_front();
      };
      for (uint64_t i = 0; i < records; ++i) {
        for (;;) {
          auto t = sealed != nullptr ? engine->OfferSealed((*sealed)[s][i])
                                     : engine->Emit(streams[s], draft);
          if (t.ok()) {
            inflight.push_back(t.value());
            break;
          }
          if (t.code() != ron::Code::kBusy || inflight.empty()) {
            failed++;
            break;
          }
          settle();
        }
        if (inflight.size() >= kWindow) settle();
      }
      while (!inflight.empty()) settle();
    });
  }
  for (auto& t : threads) t.join();
  const Run run = meter.Finish(static_cast<double>(records * streams.size()));
  if (failed > 0) std::fprintf(stderr, "emit_bound: %llu records failed\n",
                               static_cast<unsigned long long>(failed.load()));
  return run;
}

// An import on the calling thread: OfferSealedMany of 256 records a call, the call's last
// ticket waited before the next (every ticket checked), as `ronctl audit append --sealed` and
// bench/peers' bulk rows do.
Run DriveMany(ron::Engine* engine, const std::vector<std::string>& sealed) {
  constexpr size_t kBatch = 256;
  const std::vector<std::string_view> views(sealed.begin(), sealed.end());
  uint64_t failed = 0;
  const Meter meter;
  std::vector<ron::Result<ron::Ticket>> results;
  for (size_t at = 0; at < views.size();) {
    results.clear();
    const size_t n = std::min(kBatch, views.size() - at);
    const size_t taken = engine->OfferSealedMany(std::span(views).subspan(at, n), &results);
    for (auto it = results.rbegin(); it != results.rend(); ++it) {  // the last queued one
      if (it->ok()) {
        (void)it->value().Wait(Clock::now() + std::chrono::seconds(60));
        break;
      }
    }
    size_t queued = 0;  // every queued ticket is done once the last one is (one stream)
    for (const auto& r : results) {
      if (!r.ok()) continue;
      ++queued;
      if (!r.value().Wait(Clock::now()).ok()) ++failed;
    }
    if (!results.empty() && !results.back().ok() && results.back().code() == ron::Code::kBusy) {
      at += queued;  // the queue was full: the rest is offered again
      continue;
    }
    failed += taken - queued;  // refused
    at += std::max<size_t>(taken, 1);
  }
  const Run run = meter.Finish(static_cast<double>(views.size()));
  if (failed > 0) {
    std::fprintf(stderr, "emit_bound: %llu sealed records failed\n",
                 static_cast<unsigned long long>(failed));
  }
  return run;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t records = 200000;
  std::string dir = "build/bench-data/emit_bound";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--records") == 0) records = std::strtoull(argv[i + 1], nullptr, 10);
    if (std::strcmp(argv[i], "--dir") == 0) dir = argv[i + 1];
    if (std::strcmp(argv[i], "--max-batch") == 0) {
      g_max_batch = std::strtoull(argv[i + 1], nullptr, 10);
      if (g_max_batch == 0) {
        std::fprintf(stderr, "emit_bound: --max-batch takes a number of records, at least 1\n");
        return 2;
      }
    }
    if (std::strcmp(argv[i], "--fsync") == 0) {
      if (std::strcmp(argv[i + 1], "never") == 0) {
        g_fsync = ron::FsyncPolicy::kNever;
      } else if (std::strcmp(argv[i + 1], "always") != 0) {
        std::fprintf(stderr, "emit_bound: --fsync takes always or never\n");
        return 2;
      }
    }
  }
  const char* preload = std::getenv("LD_PRELOAD");
  std::printf("allocator: %s\n",
              preload != nullptr && std::strstr(preload, "mimalloc") ? "mimalloc (LD_PRELOAD)"
                                                                      : "glibc malloc");

  // Two stream names that OwnerIndex puts on different writer threads of two.
  std::vector<std::string> two;
  for (int i = 0; two.size() < 2; ++i) {
    const std::string name = "s" + std::to_string(i);
    if (ron::OwnerIndex(kWriter, name, 2) == two.size()) two.push_back(name);
  }

  // The bound: one BLAKE3 of a sealed record's canonical bytes, one thread.
  ron::Canonicalizer c;
  ron::CanonicalRecord rec;
  const ron::Canonicalizer::DraftContext ctx{kWriter, "s0", 123456, "b3:0", 1763800000000};
  if (!c.CanonicalizeDraft(ron::bench::Draft1KiB(), ctx, &rec).ok()) return 1;
  uint64_t n = 0;
  ron::Digest sink{};
  const auto t0 = Clock::now();
  while (Clock::now() - t0 < std::chrono::seconds(1)) {
    for (int k = 0; k < 1000; ++k, ++n) sink[0] ^= ron::Blake3(rec.bytes)[0];
  }
  const double bound = static_cast<double>(n) /
                       std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("bound: BLAKE3 of the %zu canonical bytes, one thread: %.0f records/s%s\n\n",
              rec.bytes.size(), bound, sink[0] == 0x5a ? " " : "");

  std::printf("| path (WAL, fsync=%s, %llu records per stream, max_batch_records %zu) | "
              "records/s | vs bound | allocations / record | bytes / record | "
              "context switches / record | CPU µs / record |\n"
              "| --- | --- | --- | --- | --- | --- | --- |\n",
              g_fsync == ron::FsyncPolicy::kNever ? "never" : "always",
              static_cast<unsigned long long>(records), g_max_batch);
  // The writer threads' side of each path, printed after the main table.
  struct WriterSide {
    std::string label;
    ron::bench::BatchPhases phases;
  };
  std::vector<WriterSide> writers;
  const auto print = [&](const char* label, const Run& r, const char* extra,
                         const ron::Engine& engine) {
    std::printf("| %s | %.0f | %.2fx%s | %.1f | %.0f | %.3f | %.2f |\n", label, r.per_s,
                r.per_s / bound, extra, r.allocs, r.bytes, r.switches, r.cpu_us);
    std::fflush(stdout);
    writers.push_back({label, ron::bench::BatchPhasesOf(engine.MetricsText())});
  };
  FreshDir(dir);
  Run one;
  double written_per_record = 0;  // bytes the one-stream run's writer wrote a record
  {
    auto engine = ron::Engine::Open(WalOptions(dir, 1)).value();
    one = Drive(engine.get(), {two[0]}, records, nullptr);
    print("Emit, 1 stream, 1 writer thread", one, "", *engine);
    written_per_record = ron::bench::MetricValue(engine->MetricsText(), "wal_written_bytes_total") /
                         static_cast<double>(records);
    (void)engine->Close(Clock::now() + std::chrono::seconds(60));
  }
  // Its disk's share: the device limit for one writer at the commits it made (durable only).
  const double batch_records = writers.front().phases.records;  // the one-stream run's
  double device = 0;
  if (g_fsync == ron::FsyncPolicy::kAlways && written_per_record > 0 && batch_records > 0) {
    device = DeviceOneWriter(dir, written_per_record, batch_records);
  }
  // The sealed records just written, to offer them again into a fresh WAL.
  std::vector<std::vector<std::string>> sealed(2);
  {
    auto engine = ron::Engine::Open(WalOptions(dir, 1)).value();
    for (uint64_t from = 1; from <= records;) {
      auto got = engine->Read(kWriter, two[0], from, 65536, Clock::now() + std::chrono::seconds(60));
      if (!got.ok() || got.value().empty()) break;
      for (auto& line : got.value()) sealed[0].push_back(std::move(line));
      from = sealed[0].size() + 1;
    }
    (void)engine->Close(Clock::now() + std::chrono::seconds(60));
  }
  FreshDir(dir);
  {
    auto engine = ron::Engine::Open(WalOptions(dir, 2)).value();
    const Run r = Drive(engine.get(), two, records, nullptr);
    char extra[64];
    std::snprintf(extra, sizeof(extra), " (%.2fx 1 stream)", r.per_s / one.per_s);
    print("Emit, 2 streams, 2 writer threads", r, extra, *engine);
    (void)engine->Close(Clock::now() + std::chrono::seconds(60));
  }
  FreshDir(dir);
  if (sealed[0].size() == records) {
    auto engine = ron::Engine::Open(WalOptions(dir, 1)).value();
    print("OfferSealed of those records, 1 stream", Drive(engine.get(), {two[0]}, records, &sealed),
          "", *engine);
    (void)engine->Close(Clock::now() + std::chrono::seconds(60));
    FreshDir(dir);
    engine = ron::Engine::Open(WalOptions(dir, 1)).value();
    print("OfferSealedMany of those records, 256 a call, 1 stream",
          DriveMany(engine.get(), sealed[0]), "", *engine);
    (void)engine->Close(Clock::now() + std::chrono::seconds(60));
  } else {
    std::fprintf(stderr, "emit_bound: read back %zu records, not %llu\n", sealed[0].size(),
                 static_cast<unsigned long long>(records));
    return 1;
  }
  if (device > 0) {
    std::printf("\ndevice limit, one writer (pwrite + fdatasync of %.0f records of %.0f bytes a "
                "commit, as the one-stream run's writer committed): %.0f records/s; Emit, 1 "
                "stream: %.2fx it; the bound: %.2fx it\n",
                batch_records, written_per_record, device, one.per_s / device,
                bound / device);
  }
  std::printf("\n| path: the writer threads' time per record (µs) | records / batch | stage | "
              "commit | complete |\n| --- | --- | --- | --- | --- |\n");
  for (const WriterSide& w : writers) {
    const double per = w.phases.records > 0 ? 1 / w.phases.records : 0;
    std::printf("| %s | %.0f | %.2f | %.2f | %.2f |\n", w.label.c_str(), w.phases.records,
                w.phases.stage_us * per, w.phases.commit_us * per, w.phases.complete_us * per);
  }
  fs::remove_all(dir);
  return 0;
}
