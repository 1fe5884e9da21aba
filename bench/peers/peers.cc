// peers: ron-audit's durable write throughput against SQLite, RocksDB and the raw device limit,
// in one run, on one disk (docs/BENCH_RIG.md; make bench-peers, make bench-rig DIR=...).
//
// Every write is durable before it is counted: fdatasync / synchronous=FULL / sync=true /
// fsync=always. The records are ~1 KiB sealed ron-audit records generated up front (an engine in
// RAM, then Read); every system stores exactly those bytes, keyed by (stream, seq):
//   device      the device limit: pwritev of the batch's records + fdatasync, written in order
//               into one file per writer that was zero-filled (and fsync'd) beforehand, so that
//               each fdatasync flushes data only, as a log that preallocates its files does
//   device-append  the same into a file that grows with every batch: each fdatasync also makes
//               the new size durable (filesystem metadata); a reference, not the limit
//   sqlite      system libsqlite3, journal_mode=WAL, synchronous=FULL, one shared database file,
//               one connection per writer thread (busy_timeout), BEGIN IMMEDIATE … COMMIT per
//               batch, table records(stream TEXT, seq INTEGER, body BLOB, PRIMARY KEY(stream,seq))
//   rocksdb     one DB (default options), one WriteBatch per batch, WriteOptions.sync = true
//   ron-audit AppendSealed   sink=wal, fsync=always, workers = writers; batch 256 = one
//               OfferSealedMany of 256 then Wait on the last ticket (every ticket is checked
//               afterwards); batch 1 = AppendSealed
//   ron-audit Emit           the drafts that produce those very records (same writer_id, stream
//               and ts_ms, fresh WAL): batch 256 = one EmitMany of 256 then Wait on the last;
//               batch 1 = Emit, then Wait
//   ron-audit pipelined      AppendSealed as an importer drives it (ronctl audit append
//               --sealed): each writer keeps kPipelineDepth batches of 256 in flight
//               (OfferSealedMany of the next before the Wait on the oldest); a batch counts once
//               durable, and its latency runs from its offer. Batch 256 only: no peer's API can
//               do this on one thread, so the row says what the engine gives an importer, not a
//               like for like
// Grid: writers 1 and 2 (one stream each; the two streams sit on different engine workers),
// batch 1 and 256. Then the per-record acknowledgement rows: 4 and 64 producer threads, each
// writing one record and waiting until it is durable, over the same two streams.
//
// usage: peers [--dir DIR] [--seconds S] [--records N] [--keep] [--json PATH|-]
//              [--systems device,device-append,sqlite,rocksdb,ron-sealed,ron-emit,ron-pipelined]
//              [--only grid|ack] [--producers 4,64] [--sqlite-mutex] [--preallocate on|off]
#include <fcntl.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/version.h>
#include <rocksdb/write_batch.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "bench/bench_util.h"
#include "bench/peers/device_facts.h"
#include "bench/peers/options.h"
#include "bench/peers/report.h"
#include "bench/peers/targets.h"
#include "ron_audit/engine.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;
using ron::bench::Cell;
using ron::bench::DeviceTarget;
using ron::bench::DiskPerByte;
using ron::bench::Die;
using ron::bench::LoadAverage;
using ron::bench::Options;
using ron::bench::ParseArgs;
using ron::bench::PrintTable;
using ron::bench::Pool;
using ron::bench::Ratio;
using ron::bench::Ratios;
using ron::bench::RatiosOf;
using ron::bench::RocksTarget;
using ron::bench::SqliteTarget;
using ron::bench::Target;
using ron::bench::WriteJson;

constexpr char kWriterId[] = "bench-peers@rig";
constexpr uint64_t kTsMs = 1763800000000;  // fixed, so that Emit reproduces the sealed records
constexpr int kStreams = 2;                // writer w (and ack producer p) writes stream w (p % 2)

ron::Deadline After(double seconds) {
  return Clock::now() +
         std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

// ---- Setup: streams on distinct workers, and the record pools ---------------------------------

// Two stream names whose owners differ in an engine of two workers. The owner of (writer_id,
// stream) is a stable hash the API does not expose, so this asks the engine itself: a RAM
// engine with log_appends logs audit.append.ok from the owning writer thread, and the log
// callback notes that thread's id per stream. Candidates "peers-0", "peers-1", … are tried until
// two threads are seen (a 2-worker hash puts each candidate on either worker at even odds).
std::pair<std::string, std::string> DistinctWorkerStreams(const std::string& draft) {
  std::mutex mu;
  std::map<std::string, std::thread::id> owner;
  ron::EngineOptions o;
  o.writer_id = kWriterId;
  o.config.workers = 2;
  o.log_appends = true;
  o.log = [&](std::string_view line) {
    if (line.find("\"audit.append.ok\"") == std::string_view::npos) return;
    const std::string_view key = "\"stream\":\"";
    const size_t at = line.find(key);
    if (at == std::string_view::npos) return;
    const size_t from = at + key.size();
    const size_t to = line.find('"', from);
    std::lock_guard<std::mutex> lock(mu);
    owner[std::string(line.substr(from, to - from))] = std::this_thread::get_id();
  };
  auto engine = ron::Engine::Open(o);
  if (!engine.ok()) Die("probe engine: " + engine.status().ToString());
  std::string first;
  for (int k = 0; k < 64; ++k) {
    const std::string name = "peers-" + std::to_string(k);
    auto t = engine.value()->Emit(name, draft);
    if (!t.ok() || !t.value().Wait(After(10)).ok()) Die("probe emit failed");
    std::lock_guard<std::mutex> lock(mu);
    if (owner.count(name) == 0) Die("probe: no audit.append.ok line for " + name);
    if (first.empty()) {
      first = name;
    } else if (owner[name] != owner[first]) {
      (void)engine.value()->Close(After(10));
      return {first, name};
    }
  }
  Die("probe: 64 candidate streams all landed on one worker");
}

// Seals `n` records per stream by emitting the drafts into a RAM engine, then reads them back.
std::vector<Pool> MakePools(const std::vector<std::string>& streams, const std::string& draft,
                            size_t n) {
  ron::EngineOptions o;
  o.writer_id = kWriterId;
  o.config.workers = static_cast<uint32_t>(streams.size());
  o.config.queue_depth = 8192;
  o.ram_records_per_stream = n;
  auto opened = ron::Engine::Open(o);
  if (!opened.ok()) Die("pool engine: " + opened.status().ToString());
  ron::Engine& engine = *opened.value();
  std::vector<Pool> pools(streams.size());
  std::vector<std::thread> threads;
  for (size_t s = 0; s < streams.size(); ++s) {
    threads.emplace_back([&, s] {
      Pool& pool = pools[s];
      pool.stream = streams[s];
      pool.draft = draft;
      for (size_t done = 0; done < n;) {
        const size_t chunk = std::min<size_t>(4096, n - done);
        std::vector<ron::Ticket> tickets;
        for (size_t i = 0; i < chunk; ++i) {
          auto t = engine.Emit(pool.stream, draft);
          if (!t.ok()) Die("pool emit: " + t.status().ToString());
          tickets.push_back(t.value());
        }
        for (const auto& t : tickets) {
          if (auto r = t.Wait(After(60)); !r.ok()) Die("pool emit: " + r.status().ToString());
        }
        done += chunk;
      }
      pool.sealed.reserve(n);
      while (pool.sealed.size() < n) {
        auto got =
            engine.Read(kWriterId, pool.stream, pool.sealed.size() + 1,
                        std::min(n - pool.sealed.size(), ron::Engine::kMaxReadRecords), After(60));
        if (!got.ok() || got.value().empty()) Die("pool read failed");
        for (auto& r : got.value()) pool.sealed.push_back(std::move(r));
      }
      pool.prefix_bytes.assign(1, 0);
      for (const auto& r : pool.sealed)
        pool.prefix_bytes.push_back(pool.prefix_bytes.back() + r.size());
    });
  }
  for (auto& t : threads) t.join();
  (void)engine.Close(After(30));
  return pools;
}

// ---- The systems under test: the peers (bench/peers/targets.h), and ron-audit ----------------

// Batches of 256 a writer of the "ron-pipelined" rows keeps in flight.
constexpr size_t kPipelineDepth = 4;

// ron-audit, sink=wal, fsync=always: AppendSealed of the pool's records, or Emit of their drafts;
// `depth` batches of a writer in flight (Target::depth).
class RonTarget : public Target {
 public:
  RonTarget(const std::string& dir, const std::vector<Pool>* pools, int workers, bool emit,
            size_t depth, int threads, bool preallocate)
      : pools_(pools),
        emit_(emit),
        depth_(depth),
        tickets_(static_cast<size_t>(threads)),
        in_flight_(static_cast<size_t>(threads)) {
    ron::EngineOptions o;
    o.writer_id = kWriterId;
    o.config.sink = ron::SinkKind::kWal;
    o.config.amnesia = false;
    o.config.workers = static_cast<uint32_t>(workers);
    o.config.queue_depth = 4096;
    o.config.wal.dir = dir;
    o.config.wal.fsync = ron::FsyncPolicy::kAlways;
    o.preallocate_segments = preallocate;
    auto opened = ron::Engine::Open(o);
    if (!opened.ok()) Die("engine open: " + opened.status().ToString());
    engine_ = std::move(opened).value();
  }
  ~RonTarget() override { (void)Close(); }
  std::string io_backend() const { return engine_->io_backend(); }
  std::string Batch(int w, size_t from, size_t n) override {
    const Pool& pool = (*pools_)[static_cast<size_t>(w)];
    if (n == 1 && !emit_) {
      auto r = engine_->AppendSealed(pool.sealed[from], After(60));
      if (!r.ok()) return "AppendSealed: " + r.status().ToString();
      return r.value().outcome == ron::AppendOutcome::kAppended ? "" : "AppendSealed: Duplicate";
    }
    std::vector<ron::Ticket>& kept = tickets_[static_cast<size_t>(w)];
    if (n > 1) {  // the bulk paths: OfferSealedMany (hashes checked side by side), EmitMany
      std::vector<std::string_view> views;
      if (emit_) {
        views.assign(n, pool.draft);
      } else {
        views.assign(pool.sealed.begin() + static_cast<long>(from),
                     pool.sealed.begin() + static_cast<long>(from + n));
      }
      std::vector<ron::Result<ron::Ticket>> results;
      for (size_t at = 0; at < n;) {
        results.clear();
        const auto rest = std::span(views).subspan(at);
        (void)(emit_ ? engine_->EmitMany(pool.stream, rest, &results)
                     : engine_->OfferSealedMany(rest, &results));
        for (auto& t : results) {
          if (t.ok()) {
            kept.push_back(t.value());
            ++at;
            continue;
          }
          if (t.code() != ron::Code::kBusy) return t.status().ToString();
          busy_++;  // the owner's queue is full: wait for what was offered before, then retry
          if (!kept.empty()) (void)kept.back().Wait(After(60));
        }
      }
      // A batch is durable once its last ticket is (a thread's offers apply in order).
      std::deque<size_t>& in_flight = in_flight_[static_cast<size_t>(w)];
      in_flight.push_back(kept.size() - 1);
      if (in_flight.size() < depth_) return "";
      const size_t oldest = in_flight.front();
      in_flight.pop_front();
      return WaitFor(kept[oldest]);
    }
    auto t = engine_->Emit(pool.stream, pool.draft);  // batch 1 (the queue is empty: no Busy)
    if (!t.ok()) return "Emit: " + t.status().ToString();
    kept.push_back(t.value());
    auto r = t.value().Wait(After(60));
    return r.ok() ? "" : "Wait: " + r.status().ToString();
  }
  size_t depth() const override { return depth_; }
  std::string Drain(int w) override {
    std::deque<size_t>& in_flight = in_flight_[static_cast<size_t>(w)];
    if (in_flight.empty()) return "";
    const size_t last = in_flight.back();
    in_flight.clear();
    return WaitFor(tickets_[static_cast<size_t>(w)][last]);
  }
  std::string One(int, int s, uint64_t) override {
    const Pool& pool = (*pools_)[static_cast<size_t>(s)];
    auto t = engine_->Emit(pool.stream, pool.draft);
    if (!t.ok()) return "Emit: " + t.status().ToString();
    auto r = t.value().Wait(After(60));
    return r.ok() ? "" : "Wait: " + r.status().ToString();
  }
  std::string Check(const std::vector<uint64_t>& count) override {
    for (const auto& kept : tickets_) {
      for (const ron::Ticket& t : kept) {
        if (!t.done()) return "a ticket is not done after the last one of its thread";
        auto r = t.Wait(After(0));
        if (!r.ok()) return "a ticket failed: " + r.status().ToString();
        if (t.outcome() != ron::AppendOutcome::kAppended) return "a ticket answered Duplicate";
      }
    }
    for (size_t s = 0; s < count.size(); ++s) {
      const Pool& pool = (*pools_)[s];
      const ron::StreamInfo info = engine_->State(kWriterId, pool.stream);
      if (info.head_seq != count[s]) {
        return "head of " + pool.stream + " is " + std::to_string(info.head_seq) + ", expected " +
               std::to_string(count[s]);
      }
      // The fairness premise: what the engine stored is byte for byte the records the peers
      // stored (the first 64 and the last, where the pool holds them).
      const size_t head = std::min<uint64_t>(count[s], 64);
      auto got = engine_->Read(kWriterId, pool.stream, 1, head, After(60));
      if (!got.ok()) return "Read: " + got.status().ToString();
      for (size_t i = 0; i < got.value().size(); ++i) {
        if (got.value()[i] != pool.sealed[i]) return "stored record differs from the pool's";
      }
      if (count[s] > 0 && count[s] <= pool.sealed.size()) {
        auto last = engine_->Read(kWriterId, pool.stream, count[s], 1, After(60));
        if (!last.ok() || last.value().size() != 1 || last.value()[0] != pool.sealed[count[s] - 1])
          return "last stored record differs from the pool's";
      }
    }
    return "";
  }
  std::string Close() override {
    if (engine_ == nullptr) return "";
    const ron::Status s = engine_->Close(After(60));
    engine_.reset();
    return s.ok() ? "" : "engine close: " + s.ToString();
  }
  uint64_t busy() const { return busy_; }
  // Records per durable flush, from the engine's own counters (0 if it has none).
  double RecordsPerSync() const {
    const std::string text = engine_->MetricsText();
    const double syncs = ron::bench::MetricValue(text, "wal_fsync_total");
    return syncs > 0 ? ron::bench::MetricValue(text, "wal_records_written_total") / syncs : 0;
  }
  // Where the writer threads' time went (the engine's audit_batch_seconds).
  ron::bench::BatchPhases BatchPhases() const {
    return ron::bench::BatchPhasesOf(engine_->MetricsText());
  }

 private:
  static std::string WaitFor(const ron::Ticket& t) {
    auto r = t.Wait(After(60));
    return r.ok() ? "" : "Wait: " + r.status().ToString();
  }

  const std::vector<Pool>* pools_;
  bool emit_;
  size_t depth_;
  std::unique_ptr<ron::Engine> engine_;
  std::vector<std::vector<ron::Ticket>> tickets_;
  // Per writer, the batches offered and not yet known durable: their last tickets' indexes.
  std::vector<std::deque<size_t>> in_flight_;
  std::atomic<uint64_t> busy_{0};

};

const char* DisplayName(const std::string& key) {
  if (key == "device") return "device limit";
  if (key == "device-append") return "device append";
  if (key == "sqlite") return "SQLite";
  if (key == "rocksdb") return "RocksDB";
  if (key == "ron-sealed") return "ron-audit AppendSealed";
  if (key == "ron-pipelined") return "ron-audit pipelined";
  return "ron-audit Emit";
}

// Starts `threads` threads at once; each runs body(i, end) and returns its latencies (µs).
template <typename Body>
double RunThreads(int threads, double seconds, std::vector<double>* lat_us, const Body& body) {
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  Clock::time_point end;
  std::mutex mu;
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; ++i) {
    pool.emplace_back([&, i] {
      ready++;
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      std::vector<double> mine;
      body(i, end, &mine);
      std::lock_guard<std::mutex> lock(mu);
      lat_us->insert(lat_us->end(), mine.begin(), mine.end());
    });
  }
  while (ready.load() < threads) std::this_thread::yield();
  const auto start = Clock::now();
  end = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  go.store(true, std::memory_order_release);
  for (auto& t : pool) t.join();
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double Us(Clock::time_point t0) {
  return std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
}

std::unique_ptr<Target> MakeTarget(const std::string& key, const std::string& dir,
                                   const std::vector<Pool>* pools, int writers, int threads,
                                   bool ack, const Options& opt) {
  if (key == "device" || key == "device-append") {
    // Zero-filled ahead: room for everything the cell could write (ack rows: both pools, into
    // one shared file; their bodies wrap around the pools, so the largest record bounds them).
    uint64_t fill = 0;
    if (key == "device") {
      if (ack) {
        size_t largest = 0;
        for (const Pool& p : *pools) {
          for (const auto& r : p.sealed) largest = std::max(largest, r.size());
        }
        fill = kStreams * (*pools)[0].sealed.size() * largest;
      } else {
        for (int w = 0; w < writers; ++w) {
          fill = std::max(fill, (*pools)[static_cast<size_t>(w)].prefix_bytes.back());
        }
      }
    }
    return std::make_unique<DeviceTarget>(dir, pools, ack ? 1 : writers, fill);
  }
  if (key == "sqlite") return std::make_unique<SqliteTarget>(dir, pools, threads, opt.sqlite_mutex);
  if (key == "rocksdb") return std::make_unique<RocksTarget>(dir, pools);
  // The ack rows spread their producers over both streams: two workers, one per stream.
  return std::make_unique<RonTarget>(dir, pools, ack ? kStreams : writers, key == "ron-emit",
                                     key == "ron-pipelined" ? kPipelineDepth : 1, threads,
                                     opt.preallocate);
}

// Writes back everything dirty on the file system of `dir`.
void SyncFs(const std::string& dir) {
  if (const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); fd >= 0) {
    (void)syncfs(fd);
    close(fd);
  }
}

std::string g_io_backend;  // the engine's WAL backend, as the first ron-audit cell reports it

void RunCell(const Options& opt, const std::vector<Pool>& pools, Cell* cell) {
  const bool ack = cell->producers > 0;
  const std::string slug =
      (ack ? "p" + std::to_string(cell->producers)
           : "w" + std::to_string(cell->writers) + "-b" + std::to_string(cell->batch)) +
      "-" + cell->key;
  const std::string dir = opt.dir + "/" + slug;
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir);
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace);
  SyncFs(opt.dir);  // the previous cell's writeback (and its deletion) settles first
  std::fprintf(stderr, "peers: %-20s %-22s ", cell->group.c_str(), cell->system.c_str());
  std::fflush(stderr);
  const int threads = ack ? cell->producers : cell->writers;
  auto target = MakeTarget(cell->key, dir, &pools, cell->writers, threads, ack, opt);
  // Counted from here (the device rows' zero-fill is behind us) to the target's close, synced.
  const std::string disk = ron::bench::DiskOfDir(opt.dir);
  const uint64_t disk_before = ron::bench::DiskBytesWritten(disk);
  if (auto* ron_target = dynamic_cast<RonTarget*>(target.get()); ron_target && g_io_backend.empty())
    g_io_backend = ron_target->io_backend();
  std::mutex err_mu;
  std::string error;
  const auto fail = [&](const std::string& e) {
    std::lock_guard<std::mutex> lock(err_mu);
    if (error.empty()) error = e;
  };
  std::vector<uint64_t> count(kStreams, 0);
  std::vector<double> lat;
  if (!ack) {
    std::vector<uint64_t> bytes(static_cast<size_t>(cell->writers), 0);
    const auto writer = [&](int w, Clock::time_point end, std::vector<double>* mine) {
      const Pool& pool = pools[static_cast<size_t>(w)];
      const size_t n = pool.sealed.size();
      size_t i = 0;
      // When each batch in flight was offered. Once depth() of them are, Batch returns when the
      // oldest is durable (its latency ends there); every batch is durable before the thread
      // ends, so the cell's time covers all it counts.
      std::deque<Clock::time_point> offered;
      while (i < n && Clock::now() < end) {
        const size_t k = std::min(static_cast<size_t>(cell->batch), n - i);
        offered.push_back(Clock::now());
        if (std::string e = target->Batch(w, i, k); !e.empty()) return fail(e);
        if (offered.size() >= target->depth()) {
          mine->push_back(Us(offered.front()));
          offered.pop_front();
        }
        i += k;
      }
      if (std::string e = target->Drain(w); !e.empty()) return fail(e);
      for (const Clock::time_point t0 : offered) mine->push_back(Us(t0));
      count[static_cast<size_t>(w)] = i;
      bytes[static_cast<size_t>(w)] = pool.prefix_bytes[i];
    };
    cell->seconds = RunThreads(cell->writers, opt.seconds, &lat, writer);
    for (int w = 0; w < cell->writers; ++w) {
      cell->records += count[static_cast<size_t>(w)];
      cell->bytes += bytes[static_cast<size_t>(w)];
    }
    count.resize(static_cast<size_t>(cell->writers));
  } else {
    // Producers take seqs of their stream in turn; all of them stop at the time cap or once
    // both pools' worth of records were issued.
    const uint64_t cap = static_cast<uint64_t>(kStreams) * pools[0].sealed.size();
    std::atomic<uint64_t> issued{0}, total_bytes{0};
    std::vector<std::atomic<uint64_t>> seq(kStreams), acked(kStreams);
    for (int s = 0; s < kStreams; ++s) {
      seq[static_cast<size_t>(s)] = 0;
      acked[static_cast<size_t>(s)] = 0;
    }
    const auto producer = [&](int p, Clock::time_point end, std::vector<double>* mine) {
      const size_t s = static_cast<size_t>(p % kStreams);
      while (Clock::now() < end && issued.fetch_add(1) < cap) {
        const uint64_t q = seq[s].fetch_add(1) + 1;
        const auto t0 = Clock::now();
        if (std::string e = target->One(p, static_cast<int>(s), q); !e.empty()) return fail(e);
        mine->push_back(Us(t0));
        acked[s]++;
        total_bytes += pools[s].Body(q).size();
      }
    };
    cell->seconds = RunThreads(cell->producers, opt.seconds, &lat, producer);
    for (int s = 0; s < kStreams; ++s) {
      count[static_cast<size_t>(s)] = acked[static_cast<size_t>(s)].load();
      cell->records += count[static_cast<size_t>(s)];
    }
    cell->bytes = total_bytes.load();
  }
  cell->p50_us = ron::bench::Percentile(&lat, 0.50);
  cell->p99_us = ron::bench::Percentile(&lat, 0.99);
  if (error.empty()) error = target->Check(count);
  if (cell->key.rfind("device", 0) == 0 && !lat.empty()) {
    cell->per_sync = static_cast<double>(cell->records) / static_cast<double>(lat.size());
  }
  if (auto* ron_target = dynamic_cast<RonTarget*>(target.get())) {
    cell->busy = ron_target->busy();
    cell->per_sync = ron_target->RecordsPerSync();
    cell->phases = ron_target->BatchPhases();
  }
  if (std::string e = target->Close(); error.empty()) error = e;
  target.reset();
  SyncFs(opt.dir);
  const uint64_t disk_after = ron::bench::DiskBytesWritten(disk);
  if (disk_before > 0 && disk_after >= disk_before) cell->disk_bytes = disk_after - disk_before;
  cell->error = error;
  if (!opt.keep) fs::remove_all(dir, ec);
  if (error.empty()) {
    std::fprintf(stderr, "%9.0f records/s  p50 %8.0f µs  p99 %8.0f µs\n", cell->per_s(),
                 cell->p50_us, cell->p99_us);
  } else {
    std::fprintf(stderr, "FAILED: %s\n", error.c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = ParseArgs(argc, argv);
  std::error_code ec;
  fs::create_directories(opt.dir, ec);
  if (ec || access(opt.dir.c_str(), W_OK) != 0) Die(opt.dir + " is not a writable directory");

  std::printf("peers: durable write throughput, ron-audit against its peers, on one disk\n");
  std::printf("command: %s\n", opt.command.c_str());
  const ron::bench::Facts facts = ron::bench::DeviceFacts(opt.dir);
  for (const auto& [k, v] : facts) std::printf("  %-16s %s\n", (k + ":").c_str(), v.c_str());
  std::printf("load average at start: %s (%u CPUs)\n", LoadAverage().c_str(),
              std::thread::hardware_concurrency());
  std::fflush(stdout);

  const std::string draft =
      "{\"ts_ms\":" + std::to_string(kTsMs) + "," + ron::bench::Draft1KiB().substr(1);
  const auto [a, b] = DistinctWorkerStreams(draft);
  const auto t0 = Clock::now();
  const std::vector<Pool> pools = MakePools({a, b}, draft, opt.records);
  const double avg = static_cast<double>(pools[0].prefix_bytes.back()) /
                     static_cast<double>(pools[0].sealed.size());
  std::printf(
      "records: sealed ron-audit records of %.0f bytes on average, %zu per stream (sealed in "
      "%.1f s); writer_id %s, streams \"%s\" and \"%s\" (owned by different engine workers)\n",
      avg, opt.records, std::chrono::duration<double>(Clock::now() - t0).count(), kWriterId,
      a.c_str(), b.c_str());
  std::printf(
      "cells: each until %zu records per writer or %.1f s, whichever first; fresh directory "
      "each\n",
      opt.records, opt.seconds);
  std::printf(
      "peers: SQLite %s (WAL, synchronous=FULL, one shared file, a connection per thread%s); "
      "RocksDB %d.%d.%d (default options, sync=true)\n\n",
      sqlite3_libversion(), opt.sqlite_mutex ? ", writers serialized by a mutex" : ", busy_timeout",
      ROCKSDB_MAJOR, ROCKSDB_MINOR, ROCKSDB_PATCH);
  std::fflush(stdout);

  std::vector<Cell> cells;
  const char* order[] = {"device",     "device-append", "sqlite",       "rocksdb",
                         "ron-sealed", "ron-emit",      "ron-pipelined"};
  if (opt.grid) {
    for (int writers : {1, 2}) {
      for (int batch : {1, 256}) {
        for (const char* key : order) {
          if (opt.systems.count(key) == 0) continue;
          if (batch == 1 && std::strcmp(key, "ron-pipelined") == 0) continue;
          Cell c;
          c.group = "writers=" + std::to_string(writers) + " batch=" + std::to_string(batch);
          c.key = key;
          c.system = DisplayName(key);
          c.writers = writers;
          c.batch = batch;
          RunCell(opt, pools, &c);
          cells.push_back(c);
        }
      }
    }
  }
  if (opt.ack) {
    for (int producers : opt.producers) {
      for (const char* key : order) {
        if (opt.systems.count(key) == 0 || std::strcmp(key, "ron-sealed") == 0 ||
            std::strcmp(key, "ron-pipelined") == 0) {
          continue;
        }
        Cell c;
        c.group = "producers=" + std::to_string(producers) + " ack";
        c.key = key;
        c.system = DisplayName(key);
        c.producers = producers;
        c.writers = kStreams;
        c.batch = 1;
        RunCell(opt, pools, &c);
        cells.push_back(c);
      }
    }
  }

  std::printf(
      "records/s and MB/s: acknowledged-durable records (record bytes only); p50/p99: commit\n"
      "latency of one batch (batch rows) or of one record (ack rows); vs device: records/s over\n"
      "the device limit's in the same group; vs best peer: over the better of SQLite and RocksDB\n"
      "in the same group. device limit: pwritev + fdatasync into a zero-filled file per writer;\n"
      "device append: into a growing file. In the ack rows each producer writes and fdatasyncs on\n"
      "its own (one shared file, no group commit): a naive baseline there, not a ceiling.\n"
      "ron-audit pipelined: AppendSealed with %zu batches in flight per writer (as an importer\n"
      "drives it); the others wait for each batch before the next, as their APIs do.\n"
      "rec/sync: records per durable flush (device: per fdatasync; ron-audit: its WAL "
      "counters).\n"
      "disk/B: bytes the disk wrote (/sys/block/DISK/stat, from the target's open to its close,\n"
      "synced) per record byte: logs, metadata, preallocation, compaction. Whole-disk counters:\n"
      "other writers on that disk count too.\n\n",
      kPipelineDepth);
  PrintTable(cells);
  std::printf("\nron-audit over the device limit and the best peer (records/s, same group):\n");
  int failed = 0;
  uint64_t busy = 0;
  for (const Cell& c : cells) {
    failed += c.error.empty() ? 0 : 1;
    busy += c.busy;
    if (c.key.rfind("ron-", 0) != 0) continue;
    const Ratios r = RatiosOf(cells, c);
    std::printf("summary: %-22s %-22s vs device %-7s vs best peer %-7s disk/B %s\n",
                c.system.c_str(), c.group.c_str(), Ratio(r.device).c_str(),
                Ratio(r.best_peer).c_str(), DiskPerByte(c).c_str());
  }
  std::printf("\nron-audit's writer threads per batch (means, from the engine's "
              "audit_batch_seconds):\n");
  for (const Cell& c : cells) {
    if (c.phases.records <= 0) continue;
    std::printf("phases: %-22s %-22s %6.1f records: stage %7.1f µs  commit %7.1f µs  "
                "complete %6.1f µs\n",
                c.system.c_str(), c.group.c_str(), c.phases.records, c.phases.stage_us,
                c.phases.commit_us, c.phases.complete_us);
  }
  std::printf("load average at the end: %s\n", LoadAverage().c_str());
  std::printf("engine: sink=wal fsync=always, segments %s, WAL io backend %s%s\n",
              opt.preallocate ? "zero-filled ahead" : "not preallocated",
              g_io_backend.empty() ? "(not run)" : g_io_backend.c_str(),
              busy ? (", " + std::to_string(busy) + " Busy answers retried").c_str() : "");
  if (!opt.json.empty()) WriteJson(opt, facts, pools, cells, g_io_backend);
  if (failed > 0) {
    std::fprintf(stderr, "peers: %d cell(s) failed\n", failed);
    return 1;
  }
  return 0;
}
