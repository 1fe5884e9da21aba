// append_hot: the engine's emit path (make bench). 1 KiB records.
//   RAM profile, one worker, one producer: emits/s (each emit then waited to its seal), the
//   latency of the Emit call itself (p50/p99: what a host's hot path pays) and of emit → sealed.
//   WAL profile, fsync=always, 1/2/4 producer threads over 4 streams, 2 workers: durable
//   records/s and emit → durable p50/p99.
// Baseline in the same run: canonicalize + hash of the same record on one thread.
//
// usage: append_hot [--seconds S] [--dir DIR]
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
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
#include "ron_audit/engine.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

struct Run {
  double per_s = 0, emit_p50_us = 0, emit_p99_us = 0, done_p50_ms = 0, done_p99_ms = 0;
  uint64_t busy = 0;
};

// `producers` threads emit for `seconds`, keeping at most `window` tickets in flight each.
Run Drive(ron::Engine* engine, int producers, int streams, double seconds, size_t window) {
  const std::string draft = ron::bench::Draft1KiB();
  std::mutex mu;
  std::vector<double> emit_us, done_ms;
  std::atomic<uint64_t> records{0}, busy{0};
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  std::vector<std::thread> threads;
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      std::vector<double> my_emit, my_done;
      std::deque<std::pair<Clock::time_point, ron::Ticket>> inflight;
      const auto settle = [&] {
        auto& [t0, ticket] = inflight.front();
        if (ticket.Wait(Clock::now() + std::chrono::seconds(30)).ok()) {
          my_done.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
          records++;
        }
        inflight.pop_front();
      };
      for (uint64_t i = 0; Clock::now() < end; ++i) {
        const std::string stream = "s" + std::to_string((p + i) % static_cast<uint64_t>(streams));
        const auto t0 = Clock::now();
        auto t = engine->Emit(stream, draft);
        my_emit.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
        if (!t.ok()) {
          busy++;
          if (!inflight.empty()) settle();
          continue;
        }
        inflight.emplace_back(t0, t.value());
        if (inflight.size() >= window) settle();
      }
      while (!inflight.empty()) settle();
      std::lock_guard<std::mutex> lock(mu);
      emit_us.insert(emit_us.end(), my_emit.begin(), my_emit.end());
      done_ms.insert(done_ms.end(), my_done.begin(), my_done.end());
    });
  }
  const auto start = Clock::now();
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  Run r;
  r.per_s = static_cast<double>(records) / elapsed;
  r.emit_p50_us = ron::bench::Percentile(&emit_us, 0.5);
  r.emit_p99_us = ron::bench::Percentile(&emit_us, 0.99);
  r.done_p50_ms = ron::bench::Percentile(&done_ms, 0.5);
  r.done_p99_ms = ron::bench::Percentile(&done_ms, 0.99);
  r.busy = busy;
  return r;
}

void Print(const char* label, const Run& r, double baseline) {
  std::printf("| %s | %.0f | %.2fx | %.2f / %.2f | %.3f / %.3f | %llu |\n", label, r.per_s,
              r.per_s / baseline, r.emit_p50_us, r.emit_p99_us, r.done_p50_ms, r.done_p99_ms,
              static_cast<unsigned long long>(r.busy));
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 2;
  std::string dir = "build/bench-data/append_hot";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--seconds") == 0) seconds = std::atof(argv[i + 1]);
    if (std::strcmp(argv[i], "--dir") == 0) dir = argv[i + 1];
  }
  // Baseline: canonicalize + hash of the same record, as the owner does per record.
  ron::Canonicalizer c;
  ron::CanonicalRecord rec;
  const std::string draft = ron::bench::Draft1KiB();
  uint64_t n = 0;
  const auto t0 = Clock::now();
  while (Clock::now() - t0 < std::chrono::duration<double>(seconds / 2)) {
    const ron::Canonicalizer::DraftContext ctx{"bench@hot", "s0", n + 1, "b3:0", 1};
    (void)c.CanonicalizeDraft(draft, ctx, &rec);
    ++n;
  }
  const double baseline =
      static_cast<double>(n) / std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("baseline: canonicalize + hash on one thread: %.0f records/s\n\n", baseline);
  std::printf(
      "| configuration | records/s | vs baseline | Emit call p50 / p99 µs | emit → done p50 / p99 "
      "ms | Busy |\n");
  std::printf("| --- | --- | --- | --- | --- | --- |\n");

  ron::EngineOptions ram;
  ram.writer_id = "bench@hot";
  ram.config.workers = 1;
  ram.config.queue_depth = 8192;
  for (bool in_emit : {true, false}) {
    ram.canonicalize_in_emit = in_emit;
    const std::string where = in_emit ? "canonicalized in Emit" : "canonicalized by the owner";
    for (int producers : {1, 2}) {
      auto engine = ron::Engine::Open(ram).value();
      const std::string label = "RAM, 1 worker, " + std::to_string(producers) + " producer(s), " +
                                where + " (window 1024)";
      Print(label.c_str(), Drive(engine.get(), producers, producers, seconds, 1024), baseline);
    }
  }
  ram.canonicalize_in_emit = true;
  for (int producers : {1, 2, 4}) {
    fs::remove_all(dir);
    fs::create_directories(dir);
    fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace);
    ron::EngineOptions wal = ram;
    wal.config.sink = ron::SinkKind::kWal;
    wal.config.amnesia = false;
    wal.config.workers = 2;
    wal.config.wal.dir = dir;
    wal.config.wal.fsync = ron::FsyncPolicy::kAlways;
    for (bool in_emit : {true, false}) {
      fs::remove_all(dir);
      fs::create_directories(dir);
      fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace);
      wal.canonicalize_in_emit = in_emit;
      auto engine = ron::Engine::Open(wal).value();
      const std::string label = "WAL fsync=always, 2 workers, 4 streams, " +
                                std::to_string(producers) + " producer(s), " +
                                (in_emit ? "in Emit" : "by the owner") + " (window 1024 each)";
      Print(label.c_str(), Drive(engine.get(), producers, 4, seconds, 1024), baseline);
      (void)engine->Close(Clock::now() + std::chrono::seconds(30));
    }
  }
  fs::remove_all(dir);
  return 0;
}
