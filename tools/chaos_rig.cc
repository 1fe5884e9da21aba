// ron_chaos: the engine rig the chaos drills (tools/chaos/*.sh) drive. One engine, P producer
// threads over N streams, offered at a fixed rate (or as fast as the engine takes them, or at a
// multiple of a capacity it measures first), with optional slow I/O injected into the WAL.
// Every record acknowledged (durable under fsync=always) is appended to --ack-file as
// "<stream> <seq> <self_hash>" before the next is offered, so a SIGKILL at any moment leaves a
// file that lists only records that must survive.
//
// stdout: one JSON status line every --report-ms
//   {"t_s":…,"offered":…,"acked":…,"busy":…,"errors":…,"rss_kb":…,"fds":…,"ready":true,
//    "queue":…,"last_error":"…"}
// and a final {"summary":true,…} line with the totals, RSS/fd figures, fsync p95 (from the
// wal_fsync_seconds histogram) and the engine's drop counters. Exit 0 unless the engine could
// not be opened or closed.
//
// usage: ron_chaos --wal DIR [--export DIR] [--ram] [--streams N] [--producers P]
//          [--rate R | --overload X] [--seconds S] [--queue-depth Q] [--fsync POLICY]
//          [--slow-io-ms MS] [--jitter-ms MS] [--rotate-bytes B] [--ack-file FILE]
//          [--report-ms MS] [--metrics FILE] [--disk-full-action suspend|fail]
//          [--writer-id W] [--window W] [--signer-key FILE] [--segment-fd-budget N]
//          [--write-mode buffered|direct] [--io-backend auto|io_uring|pwritev]
//          [--keep-written-pages 0|1] [--syncfs-min-streams N] [--journal-min-streams N]
//          [--journal-hold-bytes B] [--journal-max-bytes B]
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_util.h"
#include "engine/core/hash.h"
#include "ron_audit/engine.h"
#include "engine/testing_hooks.h"
#include "wal/files.h"
#include "wal/wal.h"

namespace {

using Clock = std::chrono::steady_clock;

// Where every open fd points (for a leak report).
std::string FdTargets() {
  std::string out;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] == '.') continue;
      char target[512] = {0};
      const std::string link = std::string("/proc/self/fd/") + e->d_name;
      if (readlink(link.c_str(), target, sizeof(target) - 1) > 0) {
        out += std::string(e->d_name) + "=" + target + " ";
      }
    }
    closedir(d);
  }
  return out;
}

uint64_t OpenFds() {
  uint64_t n = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (dirent* e = readdir(d)) n += e->d_name[0] != '.';
    closedir(d);
  }
  return n > 0 ? n - 1 : 0;  // the directory stream itself
}

// 20 ms ± 10 ms (configurable) before every WAL write and fsync.
class SlowIo : public ron::wal::FaultInjector {
 public:
  SlowIo(int ms, int jitter) : ms_(ms), jitter_(jitter) {}
  int OnWrite(int, size_t) override { return Sleep(); }
  int OnFsync(int) override { return Sleep(); }

 private:
  int Sleep() {
    int d = ms_;
    if (jitter_ > 0) {
      std::lock_guard<std::mutex> lock(mu_);
      d += std::uniform_int_distribution<int>(-jitter_, jitter_)(rng_);
    }
    if (d > 0) std::this_thread::sleep_for(std::chrono::milliseconds(d));
    return 0;
  }
  int ms_, jitter_;
  std::mutex mu_;
  std::mt19937 rng_{42};
};

// ~1 KiB once sealed. Built once: producers must be cheap enough to overload the engine.
const std::string& Draft() {
  static const std::string draft =
      R"({"kind":"ChaosProbe","actor":{"passport_id":"u:chaos"},"subject":{"name":"probe"},)"
      R"("reason":"ok","attrs":{"pad":")" +
      std::string(700, 'p') + R"("}})";
  return draft;
}

// p-quantile (seconds) of a Prometheus histogram in `text`; 0 when it has no observations.
double HistogramQuantile(const std::string& text, const std::string& name, double q) {
  std::vector<std::pair<double, double>> buckets;  // (le, cumulative count)
  size_t pos = 0;
  const std::string prefix = name + "_bucket{";
  while ((pos = text.find(prefix, pos)) != std::string::npos) {
    const size_t le = text.find("le=\"", pos);
    const size_t end = text.find('\n', pos);
    if (le == std::string::npos || end == std::string::npos) break;
    const std::string bound = text.substr(le + 4, text.find('"', le + 4) - le - 4);
    const double count = std::atof(text.substr(text.rfind(' ', end) + 1, end).c_str());
    buckets.emplace_back(bound == "+Inf" ? INFINITY : std::atof(bound.c_str()), count);
    pos = end;
  }
  if (buckets.empty() || buckets.back().second == 0) return 0;
  const double want = q * buckets.back().second;
  for (const auto& [le, count] : buckets) {
    if (count >= want) return le;
  }
  return buckets.back().first;
}

// The value of the sample line that starts with `line_prefix` (not a # HELP line).
uint64_t Sample(const std::string& text, const std::string& line_prefix) {
  const size_t at = text.find("\n" + line_prefix);
  if (at == std::string::npos) return 0;
  return std::strtoull(text.c_str() + at + 1 + line_prefix.size(), nullptr, 10);
}

std::string JsonEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;
    out += c;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> flags;
  for (int i = 1; i < argc; ++i) {
    std::string f = argv[i];
    if (f.rfind("--", 0) != 0) {
      std::fprintf(stderr, "ron_chaos: unexpected argument %s\n", f.c_str());
      return 2;
    }
    f = f.substr(2);
    if (f == "ram") {
      flags[f] = "1";
    } else if (i + 1 < argc) {
      flags[f] = argv[++i];
    } else {
      std::fprintf(stderr, "ron_chaos: --%s needs a value\n", f.c_str());
      return 2;
    }
  }
  const auto num = [&](const char* name, double fallback) {
    return flags.count(name) ? std::atof(flags[name].c_str()) : fallback;
  };
  const int streams = static_cast<int>(num("streams", 4));
  const int producers = static_cast<int>(num("producers", 2));
  const double seconds = num("seconds", 10);
  const int report_ms = static_cast<int>(num("report-ms", 1000));
  const size_t window = static_cast<size_t>(num("window", 256));

  ron::EngineOptions options;
  options.writer_id = flags.count("writer-id") ? flags["writer-id"] : "svc-chaos@rig";
  options.config.workers = 2;
  options.config.queue_depth = static_cast<uint32_t>(num("queue-depth", 1024));
  std::unique_ptr<SlowIo> slow;
  if (!flags.count("ram")) {
    options.config.sink = ron::SinkKind::kWal;
    options.config.amnesia = false;
    options.config.wal.dir = flags.count("wal") ? flags["wal"] : "data/chaos/wal";
    options.config.wal.fsync = ron::FsyncPolicy::kAlways;
    if (flags.count("fsync") &&
        !ron::wal::ParseFsyncPolicy(flags["fsync"], &options.config.wal.fsync)) {
      std::fprintf(stderr, "ron_chaos: bad --fsync\n");
      return 2;
    }
    if (flags.count("write-mode") &&
        !ron::wal::ParseWriteMode(flags["write-mode"], &options.write_mode)) {
      std::fprintf(stderr, "ron_chaos: bad --write-mode (buffered or direct)\n");
      return 2;
    }
    if (flags.count("io-backend") &&
        !ron::wal::ParseIoBackendKind(flags["io-backend"], &options.io_backend)) {
      std::fprintf(stderr, "ron_chaos: bad --io-backend (auto, io_uring or pwritev)\n");
      return 2;
    }
    options.keep_written_pages_cached = num("keep-written-pages", 0) != 0;
    options.syncfs_min_streams = static_cast<size_t>(num("syncfs-min-streams", 4));
    const auto journal_default = static_cast<double>(options.journal_min_streams);
    options.journal_min_streams = static_cast<size_t>(num("journal-min-streams", journal_default));
    options.journal_hold_bytes = static_cast<size_t>(
        num("journal-hold-bytes", static_cast<double>(options.journal_hold_bytes)));
    options.journal_max_bytes = static_cast<uint64_t>(
        num("journal-max-bytes", static_cast<double>(options.journal_max_bytes)));
    options.config.wal.rotate_bytes =
        static_cast<uint64_t>(num("rotate-bytes", static_cast<double>(8ull << 20)));
    options.config.wal.space_left_bytes = 1 << 20;
    // More segment files open than the limit allows: how the EMFILE paths are drilled.
    options.max_open_segment_fds = static_cast<size_t>(num("segment-fd-budget", 0));
    if (flags.count("disk-full-action")) {
      options.config.wal.disk_full_action = flags["disk-full-action"] == "fail"
                                                ? ron::DiskFullAction::kFail
                                                : ron::DiskFullAction::kSuspend;
    }
    if (flags.count("export")) {
      options.config.sink = ron::SinkKind::kWalExport;
      options.config.export_.dir = flags["export"];
      options.config.export_.checkpoint_every = 1000;
      options.config.export_.alg = "none";
      if (flags.count("signer-key")) {
        auto signer = ron::Ed25519Signer::FromKeyFile(flags["signer-key"]);
        if (!signer.ok()) {
          std::fprintf(stderr, "ron_chaos: %s\n", signer.status().ToString().c_str());
          return 2;
        }
        options.config.export_.alg = "ed25519";
        options.config.export_.signer_key_id = signer.value()->key_id();
        options.signer = std::move(signer).value();
      }
    }
    if (num("slow-io-ms", 0) > 0) {
      slow = std::make_unique<SlowIo>(static_cast<int>(num("slow-io-ms", 0)),
                                      static_cast<int>(num("jitter-ms", 0)));
    }
  }
  std::mutex log_mu;
  std::string last_log_error;
  options.log = [&](std::string_view line) {
    if (line.find(R"("level":"error")") == std::string_view::npos) return;
    std::lock_guard<std::mutex> lock(log_mu);
    last_log_error = std::string(line);
  };
  const uint64_t rss_start = ron::bench::RssKiB(), fds_start = OpenFds();
  auto opened = ron::EngineAccess::OpenWithFaults(options, slow.get());
  if (!opened.ok()) {
    std::printf("{\"summary\":true,\"open_error\":\"%s\"}\n",
                JsonEscape(opened.status().ToString()).c_str());
    return 1;
  }
  ron::Engine& engine = *opened.value();

  int ack_fd = -1;
  if (flags.count("ack-file")) {
    ack_fd = open(flags["ack-file"].c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  }
  std::atomic<uint64_t> offered{0}, acked{0}, busy{0}, errors{0};
  std::mutex err_mu;
  std::string last_error;
  const auto note_error = [&](const ron::Status& s) {
    errors++;
    std::lock_guard<std::mutex> lock(err_mu);
    last_error = s.ToString();
  };
  // Producers: paced (rate > 0: each offers rate/P per second on a fixed schedule) or closed
  // loop (at most `window` tickets in flight each).
  const auto run_producers = [&](double rate, double for_seconds, bool record) {
    std::vector<std::thread> threads;
    const auto end = Clock::now() + std::chrono::duration<double>(for_seconds);
    for (int p = 0; p < producers; ++p) {
      // end, rate and record by value: this function returns before the threads finish.
      threads.emplace_back([&, p, end, rate, record] {
        std::deque<std::pair<std::string, ron::Ticket>> inflight;
        std::string line;
        const auto settle = [&] {
          auto& [stream, ticket] = inflight.front();
          const auto r = ticket.Wait(Clock::now() + std::chrono::seconds(60));
          if (r.ok()) {
            acked++;
            if (record && ack_fd >= 0) {
              line = stream + " " + std::to_string(r.value().seq) + " " +
                     ron::HashText(r.value().self_hash) + "\n";
              if (write(ack_fd, line.data(), line.size()) < 0) std::perror("ack-file");
            }
          } else {
            note_error(r.status());
          }
          inflight.pop_front();
        };
        const double per_thread = rate / producers;
        auto next = Clock::now();
        for (uint64_t i = 0; Clock::now() < end; ++i) {
          if (per_thread > 0) {
            next += std::chrono::duration_cast<Clock::duration>(
                std::chrono::duration<double>(1.0 / per_thread));
            while (Clock::now() < next) {
              if (!inflight.empty() && inflight.front().second.done()) {
                settle();
              } else {
                std::this_thread::yield();
              }
            }
          }
          const std::string stream = "c" + std::to_string((p + i) % static_cast<uint64_t>(streams));
          auto t = engine.Emit(stream, Draft());
          if (record) offered++;
          if (!t.ok()) {
            if (t.code() == ron::Code::kBusy) {
              busy++;  // also during the capacity probe: the engine counts those too
            } else if (record) {
              note_error(t.status());
            }
            if (per_thread <= 0 && !inflight.empty()) settle();
            continue;
          }
          inflight.emplace_back(stream, t.value());
          while (inflight.size() >= window ||
                 (!inflight.empty() && inflight.front().second.done())) {
            settle();
          }
        }
        while (!inflight.empty()) settle();
      });
    }
    return threads;
  };

  double rate = num("rate", 0);
  double capacity = 0;
  if (flags.count("overload")) {  // measure capacity closed-loop first
    const uint64_t before = acked;
    const auto t0 = Clock::now();
    auto threads = run_producers(0, 2.0, false);
    for (auto& t : threads) t.join();
    capacity = static_cast<double>(acked - before) /
               std::chrono::duration<double>(Clock::now() - t0).count();
    acked = 0;
    rate = capacity * num("overload", 2);
  }
  uint64_t rss_max = 0;
  std::atomic<bool> done{false};
  const auto start = Clock::now();
  std::thread reporter([&] {
    while (!done) {
      std::this_thread::sleep_for(std::chrono::milliseconds(report_ms));
      std::string why;
      const bool ready = engine.Ready(&why);
      const uint64_t rss = ron::bench::RssKiB();
      rss_max = std::max(rss_max, rss);
      std::string err;
      {
        std::lock_guard<std::mutex> lock(err_mu);
        err = last_error;
      }
      // Tasks waiting in the writers' queues now (the engine's audit_worker_queue_depth).
      uint64_t queued = 0;
      const std::string page = engine.MetricsText();
      for (size_t at = page.find("\naudit_worker_queue_depth{"); at != std::string::npos;
           at = page.find("\naudit_worker_queue_depth{", at + 1)) {
        const size_t value = page.find("} ", at);
        if (value != std::string::npos) queued += std::strtoull(page.c_str() + value + 2, nullptr, 10);
      }
      std::printf(
          "{\"t_s\":%.1f,\"offered\":%llu,\"acked\":%llu,\"busy\":%llu,\"errors\":%llu,"
          "\"rss_kb\":%llu,\"fds\":%llu,\"ready\":%s,\"queue\":%llu,\"last_error\":\"%s\"}\n",
          std::chrono::duration<double>(Clock::now() - start).count(),
          static_cast<unsigned long long>(offered.load()),
          static_cast<unsigned long long>(acked.load()),
          static_cast<unsigned long long>(busy.load()),
          static_cast<unsigned long long>(errors.load()), static_cast<unsigned long long>(rss),
          static_cast<unsigned long long>(OpenFds()), ready ? "true" : "false",
          static_cast<unsigned long long>(queued), JsonEscape(err).c_str());
      std::fflush(stdout);
    }
  });
  auto threads = run_producers(rate, seconds, true);
  for (auto& t : threads) t.join();
  done = true;
  reporter.join();
  const std::string metrics = engine.MetricsText();
  const ron::Status closed = engine.Close(Clock::now() + std::chrono::seconds(60));
  if (flags.count("metrics")) {
    (void)ron::wal::WriteFileAtomic(flags["metrics"], metrics);  // 0600, like every file we write
  }
  if (ack_fd >= 0) close(ack_fd);
  opened.value().reset();
  slow.reset();
  std::string log_error;
  {
    std::lock_guard<std::mutex> lock(log_mu);
    log_error = last_log_error;
  }
  std::printf(
      "{\"summary\":true,\"capacity_per_s\":%.0f,\"rate_per_s\":%.0f,\"offered\":%llu,"
      "\"acked\":%llu,\"busy\":%llu,\"errors\":%llu,\"drop_backpressure\":%llu,"
      "\"busy_rejections\":%llu,\"torn_tails\":%llu,\"fsync_p95_ms\":%.1f,\"rss_kb_start\":%llu,"
      "\"rss_kb_max\":%llu,\"rss_kb_end\":%llu,\"fds_start\":%llu,\"fds_end\":%llu,"
      "\"close\":\"%s\",\"last_error\":\"%s\",\"fd_targets\":\"%s\"}\n",
      capacity, rate, static_cast<unsigned long long>(offered.load()),
      static_cast<unsigned long long>(acked.load()), static_cast<unsigned long long>(busy.load()),
      static_cast<unsigned long long>(errors.load()),
      static_cast<unsigned long long>(Sample(
          metrics, "audit_drop_total{service=\"ron-audit\",reason=\"audit_backpressure\"} ")),
      static_cast<unsigned long long>(
          Sample(metrics, "busy_rejections_total{service=\"ron-audit\",endpoint=\"emit\"} ")),
      static_cast<unsigned long long>(Sample(metrics, "wal_torn_tail_total{service=\"ron-audit\"} ")),
      1000 * HistogramQuantile(metrics, "wal_fsync_seconds", 0.95),
      static_cast<unsigned long long>(rss_start), static_cast<unsigned long long>(rss_max),
      static_cast<unsigned long long>(ron::bench::RssKiB()),
      static_cast<unsigned long long>(fds_start), static_cast<unsigned long long>(OpenFds()),
      JsonEscape(closed.ToString()).c_str(),
      JsonEscape(last_error.empty() ? log_error : last_error).c_str(),
      JsonEscape(OpenFds() != fds_start ? FdTargets() : "").c_str());
  return closed.ok() || closed.code() == ron::Code::kIo ? 0 : 1;
}
