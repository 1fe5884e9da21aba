// ron_hosts: the main job of `make run`. One engine (Macronode: WAL with fsync=always, or
// Micronode: RAM) fed by three example hosts at once:
//   gateway  emits GetServed / QuotaReject (docs/examples/gateway.jsonl)
//   locks    emits the lock service's events (docs/examples/locks.jsonl)
//   ledger   seals its own transfers and appends them with AppendSealed, retrying one in five
//            as a flaky network would: every retry must come back Duplicate, never a second copy
// It prints a live progress line, then a summary, and writes the metrics to METRICS.
//
// usage: ron_hosts --profile macronode|micronode --wal DIR --metrics FILE --examples DIR
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/core/canonical.h"
#include "ron_audit/engine.h"

namespace {

using Clock = std::chrono::steady_clock;

std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

struct Stats {
  std::atomic<uint64_t> done{0}, busy{0}, duplicates{0}, errors{0};
  std::mutex mu;
  std::vector<double> ack_ms;
  void Ack(double ms) {
    std::lock_guard<std::mutex> lock(mu);
    ack_ms.push_back(ms);
  }
};

// An emitting host: sends its drafts, keeping up to `window` in flight, retrying Busy.
void EmitHost(ron::Engine* engine, const std::string& stream,
              const std::vector<std::string>& drafts, Stats* stats) {
  std::vector<std::pair<Clock::time_point, ron::Ticket>> inflight;
  const auto settle = [&] {
    for (auto& [t0, ticket] : inflight) {
      if (ticket.Wait(Clock::now() + std::chrono::seconds(60)).ok()) {
        stats->Ack(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        stats->done++;
      } else {
        stats->errors++;
      }
    }
    inflight.clear();
  };
  for (const std::string& draft : drafts) {
    for (;;) {
      const auto t0 = Clock::now();
      auto t = engine->Emit(stream, draft);
      if (t.ok()) {
        inflight.emplace_back(t0, t.value());
        break;
      }
      stats->busy++;
      settle();  // back off: wait for what is in flight, then retry
    }
    if (inflight.size() >= 256) settle();
  }
  settle();
}

// The ledger: its own writer, sealing each transfer itself (seq/prev from its head), appending
// with AppendSealed and retrying some — a retry of a sealed record is always a Duplicate.
void LedgerHost(ron::Engine* engine, const std::vector<std::string>& drafts, Stats* stats) {
  const std::string writer = "svc-ledger@demo", stream = "ledger";
  const ron::StreamInfo head = engine->State(writer, stream);
  uint64_t seq = head.head_seq;
  std::string prev = head.head;
  ron::Canonicalizer canonicalizer;
  ron::CanonicalRecord record;
  for (size_t i = 0; i < drafts.size(); ++i) {
    const ron::Canonicalizer::DraftContext ctx{writer, stream, seq + 1, prev, 1763800000000 + i};
    if (!canonicalizer.CanonicalizeDraft(drafts[i], ctx, &record).ok()) {
      stats->errors++;
      continue;
    }
    const std::string sealed = ron::Seal(record);
    const int attempts = i % 5 == 0 ? 2 : 1;  // one transfer in five is sent twice
    for (int a = 0; a < attempts; ++a) {
      const auto t0 = Clock::now();
      auto r = engine->AppendSealed(sealed, Clock::now() + std::chrono::seconds(60));
      if (!r.ok()) {
        if (r.code() == ron::Code::kBusy) {
          stats->busy++;
          --a;
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
          continue;
        }
        stats->errors++;
        break;
      }
      if (r.value().outcome == ron::AppendOutcome::kDuplicate) {
        stats->duplicates++;
        if (r.value().receipt.seq != seq + 1) stats->errors++;  // must be the original position
        continue;
      }
      stats->Ack(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      stats->done++;
    }
    seq = record.record.seq;
    prev = ron::HashText(record.digest);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string profile = "macronode", wal_dir = "data/wal", metrics = "data/metrics.prom",
              examples = "docs/examples", export_dir, signer_key, key_id;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--profile")
      profile = argv[i + 1];
    else if (flag == "--wal")
      wal_dir = argv[i + 1];
    else if (flag == "--metrics")
      metrics = argv[i + 1];
    else if (flag == "--examples")
      examples = argv[i + 1];
    else if (flag == "--export")
      export_dir = argv[i + 1];
    else if (flag == "--signer-key")
      signer_key = argv[i + 1];
    else if (flag == "--key-id")
      key_id = argv[i + 1];
  }
  ron::EngineOptions options;
  options.writer_id = "svc-hosts@demo";
  options.config.workers = 2;
  options.config.queue_depth = 2048;
  if (profile == "macronode") {
    options.config.sink = ron::SinkKind::kWal;
    options.config.amnesia = false;
    options.config.wal.dir = wal_dir;
    options.config.wal.fsync = ron::FsyncPolicy::kAlways;
    if (!export_dir.empty()) {  // checkpoints: every 1000 records and at Close, signed
      options.config.sink = ron::SinkKind::kWalExport;
      options.config.export_.dir = export_dir;
      options.config.export_.checkpoint_every = 1000;
      options.config.export_.alg = "none";
      if (!signer_key.empty()) {
        auto signer = ron::Ed25519Signer::FromKeyFile(signer_key);
        if (!signer.ok()) {
          std::fprintf(stderr, "ron_hosts: %s\n", signer.status().ToString().c_str());
          return 1;
        }
        options.config.export_.alg = "ed25519";
        options.config.export_.signer_key_id = key_id;
        options.signer = std::move(signer).value();
      }
    }
  }
  options.log = [](std::string_view line) {  // warnings and errors only (the summary says the rest)
    if (line.find(R"("level":"info")") != std::string_view::npos) return;
    std::fprintf(stderr, "%.*s\n", static_cast<int>(line.size()), line.data());
  };
  auto opened = ron::Engine::Open(options);
  if (!opened.ok()) {
    std::fprintf(stderr, "ron_hosts: %s\n", opened.status().ToString().c_str());
    return 1;
  }
  ron::Engine& engine = *opened.value();
  const auto gateway = ReadLines(examples + "/gateway.jsonl");
  const auto locks = ReadLines(examples + "/locks.jsonl");
  const auto ledger = ReadLines(examples + "/ledger.jsonl");
  const uint64_t total = gateway.size() + locks.size() + ledger.size();
  Stats stats;
  const auto start = Clock::now();
  double gateway_s = 0, locks_s = 0, ledger_s = 0;
  const auto timed = [&](double* out, auto&& fn) {
    return std::thread([&, out, fn] {
      const auto t0 = Clock::now();
      fn();
      *out = std::chrono::duration<double>(Clock::now() - t0).count();
    });
  };
  std::thread t1 = timed(&gateway_s, [&] { EmitHost(&engine, "gateway", gateway, &stats); });
  std::thread t2 = timed(&locks_s, [&] { EmitHost(&engine, "locks", locks, &stats); });
  std::thread t3 = timed(&ledger_s, [&] { LedgerHost(&engine, ledger, &stats); });
  std::atomic<bool> finished{false};
  std::thread progress([&] {
    const bool tty = isatty(STDOUT_FILENO);
    while (!finished) {
      if (tty) {
        std::printf("\r   %llu / %llu records durable, %llu busy retries",
                    static_cast<unsigned long long>(stats.done.load()),
                    static_cast<unsigned long long>(total),
                    static_cast<unsigned long long>(stats.busy.load()));
        std::fflush(stdout);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (tty) std::printf("\r%60s\r", "");
  });
  t1.join();
  t2.join();
  t3.join();
  finished = true;
  progress.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::sort(stats.ack_ms.begin(), stats.ack_ms.end());
  const double p99 = stats.ack_ms.empty() ? 0 : stats.ack_ms[stats.ack_ms.size() * 99 / 100];
  std::printf(
      "   %s profile: %llu records in %.2f s = %.0f records/s, ack p99 %.2f ms, %llu busy "
      "retries, %llu retried transfers answered Duplicate, %llu errors\n",
      profile.c_str(), static_cast<unsigned long long>(stats.done.load()), seconds,
      static_cast<double>(stats.done.load()) / seconds, p99,
      static_cast<unsigned long long>(stats.busy.load()),
      static_cast<unsigned long long>(stats.duplicates.load()),
      static_cast<unsigned long long>(stats.errors.load()));
  std::printf(
      "   per host: gateway %zu records in %.2f s, locks %zu in %.2f s (group commit), ledger "
      "%zu in %.2f s (one sealed record per durable round trip)\n",
      gateway.size(), gateway_s, locks.size(), locks_s, ledger.size(), ledger_s);
  for (const auto& [writer, stream] :
       std::vector<std::pair<std::string, std::string>>{{"svc-hosts@demo", "gateway"},
                                                        {"svc-hosts@demo", "locks"},
                                                        {"svc-ledger@demo", "ledger"}}) {
    const ron::StreamInfo info = engine.State(writer, stream);
    std::printf("   head %s/%s: seq %llu %s\n", writer.c_str(), stream.c_str(),
                static_cast<unsigned long long>(info.head_seq), info.head.c_str());
  }
  // The page a scraper sees while the engine runs (audit_ready 1); the checkpoint count is read
  // after Close, which cuts the last checkpoint of every stream.
  const std::string running = engine.MetricsText();
  const ron::Status closed = engine.Close(Clock::now() + std::chrono::seconds(30));
  const std::string text = engine.MetricsText();
  if (!export_dir.empty()) {  // Close cut a checkpoint of every stream with new records
    const std::string key = "audit_export_checkpoints_total{service=\"ron-audit\"} ";
    const size_t at = text.find(key);
    std::printf(
        "   checkpoints signed by %s and written to %s: %s",
        key_id.empty() ? "nobody (unsigned)" : key_id.c_str(), export_dir.c_str(),
        at == std::string::npos
            ? "?\n"
            : text.substr(at + key.size(), text.find('\n', at) - at - key.size() + 1).c_str());
  }
  if (FILE* f = std::fopen(metrics.c_str(), "w")) {
    std::fwrite(running.data(), 1, running.size(), f);
    std::fclose(f);
  }
  if (!closed.ok()) {
    std::fprintf(stderr, "ron_hosts: %s\n", closed.ToString().c_str());
    return 1;
  }
  return stats.errors == 0 ? 0 : 1;
}
