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
//               OfferSealedMany of 256 then Wait on the last ticket (every ticket is checked afterwards); batch 1 =
//               AppendSealed
//   ron-audit Emit           the drafts that produce those very records (same writer_id, stream
//               and ts_ms, fresh WAL): batch 256 = one EmitMany of 256 then Wait on the last;
//               batch 1 = Emit, then Wait
// Grid: writers 1 and 2 (one stream each; the two streams sit on different engine workers),
// batch 1 and 256. Then the per-record acknowledgement rows: 4 and 64 producer threads, each
// writing one record and waiting until it is durable, over the same two streams.
//
// usage: peers [--dir DIR] [--seconds S] [--records N] [--keep] [--json PATH|-]
//              [--systems device,device-append,sqlite,rocksdb,ron-sealed,ron-emit]
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
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bench/bench_util.h"
#include "bench/peers/device_facts.h"
#include "ron_audit/engine.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

constexpr char kWriterId[] = "bench-peers@rig";
constexpr uint64_t kTsMs = 1763800000000;  // fixed, so that Emit reproduces the sealed records
constexpr int kStreams = 2;                // writer w (and ack producer p) writes stream w (p % 2)

struct Options {
  std::string dir = "build/bench-data/peers";
  double seconds = 2;
  size_t records = 100000;  // per writer (= per stream) and cell; also the pool per stream
  bool keep = false;
  std::string json;
  std::set<std::string> systems{"device",  "device-append", "sqlite",
                                "rocksdb", "ron-sealed",    "ron-emit"};
  bool grid = true, ack = true;
  std::vector<int> producers{4, 64};
  bool sqlite_mutex = false;
  bool preallocate = true;  // ron-audit: EngineOptions::preallocate_segments
  std::string command;
};

// The records of one stream: pool[i] is the sealed record at seq i + 1.
struct Pool {
  std::string stream;
  std::string draft;  // the draft Emit turns into those records
  std::vector<std::string> sealed;
  std::vector<uint64_t> prefix_bytes;  // prefix_bytes[i] = bytes of sealed[0, i)
  const std::string& Body(uint64_t seq) const { return sealed[(seq - 1) % sealed.size()]; }
};

ron::Deadline After(double seconds) {
  return Clock::now() +
         std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "peers: %s\n", what.c_str());
  std::exit(1);
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

// ---- The systems under test -------------------------------------------------------------------

// One system, opened fresh in its own directory for one cell. Threads call Batch / One
// concurrently, each with its own index (writer or producer). Errors are returned as text.
class Target {
 public:
  virtual ~Target() = default;
  // Records [from, from + n) of pools[w] (seqs from + 1 …), durable, as one commit.
  virtual std::string Batch(int w, size_t from, size_t n) = 0;
  // One record of stream s at `seq` (its body: Pool::Body), durable. `thread` is the producer.
  virtual std::string One(int thread, int s, uint64_t seq) = 0;
  // After the timed part: `count[s]` records of stream s were acknowledged; do they all hold?
  virtual std::string Check(const std::vector<uint64_t>& count) = 0;
  virtual std::string Close() { return ""; }
};

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

// pwrite(v) + fdatasync: one file per writer for the grid; for the ack rows one shared file, each
// producer claiming its range with an atomic offset. `zero_fill` bytes of each file are written
// and fsync'd before the timed part (0: the file grows with every write).
class DeviceTarget : public Target {
 public:
  DeviceTarget(const std::string& dir, const std::vector<Pool>* pools, int files,
               uint64_t zero_fill)
      : pools_(pools), zero_fill_(zero_fill), off_(static_cast<size_t>(files)) {
    const std::vector<char> zeros(1 << 20, 0);
    for (int i = 0; i < files; ++i) {
      const std::string path = dir + "/device-" + std::to_string(i) + ".bin";
      const int fd = open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
      if (fd < 0) Die(Errno("open " + path));
      fds_.push_back(fd);
      for (uint64_t at = 0; at < zero_fill;) {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(zeros.size(), zero_fill - at));
        const ssize_t got = pwrite(fd, zeros.data(), n, static_cast<off_t>(at));
        if (got <= 0) Die(Errno("zero-fill " + path));
        at += static_cast<uint64_t>(got);
      }
      if (fsync(fd) != 0) Die(Errno("fsync " + path));
    }
    for (auto& o : off_) o = 0;
  }
  ~DeviceTarget() override {
    for (int fd : fds_) close(fd);
  }
  std::string Batch(int w, size_t from, size_t n) override {
    const Pool& pool = (*pools_)[static_cast<size_t>(w)];
    const size_t idx = static_cast<size_t>(w);
    std::vector<iovec> iov(n);
    for (size_t i = 0; i < n; ++i) {
      iov[i] = {const_cast<char*>(pool.sealed[from + i].data()), pool.sealed[from + i].size()};
    }
    const uint64_t bytes = pool.prefix_bytes[from + n] - pool.prefix_bytes[from];
    const uint64_t off = off_[idx].fetch_add(bytes);
    if (std::string e = WriteV(fds_[idx], iov, off); !e.empty()) return e;
    return fdatasync(fds_[idx]) == 0 ? "" : Errno("fdatasync");
  }
  std::string One(int, int s, uint64_t seq) override {
    const std::string& body = (*pools_)[static_cast<size_t>(s)].Body(seq);
    std::vector<iovec> iov{{const_cast<char*>(body.data()), body.size()}};
    const uint64_t off = off_[0].fetch_add(body.size());
    if (std::string e = WriteV(fds_[0], iov, off); !e.empty()) return e;
    return fdatasync(fds_[0]) == 0 ? "" : Errno("fdatasync");
  }
  std::string Check(const std::vector<uint64_t>&) override {
    for (size_t i = 0; i < fds_.size(); ++i) {
      struct stat st {};
      if (fstat(fds_[i], &st) != 0) return Errno("fstat");
      if (static_cast<uint64_t>(st.st_size) != std::max(off_[i].load(), zero_fill_))
        return "device file size differs";
    }
    return "";
  }

 private:
  static std::string WriteV(int fd, std::vector<iovec> iov, uint64_t off) {
    size_t at = 0;
    while (at < iov.size()) {
      const int cnt = static_cast<int>(std::min<size_t>(iov.size() - at, IOV_MAX));
      const ssize_t got = pwritev(fd, iov.data() + at, cnt, static_cast<off_t>(off));
      if (got < 0) {
        if (errno == EINTR) continue;
        return Errno("pwritev");
      }
      off += static_cast<uint64_t>(got);
      for (size_t left = static_cast<size_t>(got); left > 0 && at < iov.size();) {
        if (left >= iov[at].iov_len) {
          left -= iov[at].iov_len;
          ++at;
        } else {
          iov[at].iov_base = static_cast<char*>(iov[at].iov_base) + left;
          iov[at].iov_len -= left;
          left = 0;
        }
      }
      while (at < iov.size() && iov[at].iov_len == 0) ++at;
    }
    return "";
  }
  const std::vector<Pool>* pools_;
  uint64_t zero_fill_;
  std::vector<int> fds_;
  std::vector<std::atomic<uint64_t>> off_;
};

// SQLite: one database file shared by every thread, each with its own connection.
class SqliteTarget : public Target {
 public:
  SqliteTarget(const std::string& dir, const std::vector<Pool>* pools, int threads, bool mutex)
      : pools_(pools), path_(dir + "/peers.db"), serialize_(mutex) {
    sqlite3* db = Open();
    Exec(db, "PRAGMA journal_mode=WAL", "wal");
    Exec(db,
         "CREATE TABLE records(stream TEXT NOT NULL, seq INTEGER NOT NULL, body BLOB NOT NULL, "
         "PRIMARY KEY(stream, seq))",
         nullptr);
    sqlite3_close(db);
    for (int i = 0; i < threads; ++i) {
      Conn c;
      c.db = Open();
      sqlite3_busy_timeout(c.db, 60000);
      Exec(c.db, "PRAGMA synchronous=FULL", nullptr);
      c.begin = Prepare(c.db, "BEGIN IMMEDIATE");
      c.insert = Prepare(c.db, "INSERT INTO records(stream, seq, body) VALUES(?1, ?2, ?3)");
      c.commit = Prepare(c.db, "COMMIT");
      c.rollback = Prepare(c.db, "ROLLBACK");
      conns_.push_back(c);
    }
  }
  ~SqliteTarget() override { (void)Close(); }
  std::string Batch(int w, size_t from, size_t n) override {
    const Pool& pool = (*pools_)[static_cast<size_t>(w)];
    return Txn(conns_[static_cast<size_t>(w)], pool.stream, from + 1, n,
               [&](size_t i) -> const std::string& { return pool.sealed[from + i]; });
  }
  std::string One(int thread, int s, uint64_t seq) override {
    const Pool& pool = (*pools_)[static_cast<size_t>(s)];
    return Txn(conns_[static_cast<size_t>(thread)], pool.stream, seq, 1,
               [&](size_t) -> const std::string& { return pool.Body(seq); });
  }
  std::string Check(const std::vector<uint64_t>& count) override {
    sqlite3_stmt* q = Prepare(conns_[0].db, "SELECT count(*) FROM records WHERE stream = ?1");
    std::string err;
    for (size_t s = 0; s < count.size() && err.empty(); ++s) {
      const std::string& stream = (*pools_)[s].stream;
      sqlite3_bind_text(q, 1, stream.data(), static_cast<int>(stream.size()), SQLITE_STATIC);
      if (sqlite3_step(q) != SQLITE_ROW ||
          static_cast<uint64_t>(sqlite3_column_int64(q, 0)) != count[s]) {
        err = "sqlite holds another number of rows for " + stream;
      }
      sqlite3_reset(q);
    }
    sqlite3_finalize(q);
    return err;
  }
  std::string Close() override {
    for (Conn& c : conns_) {
      for (sqlite3_stmt* st : {c.begin, c.insert, c.commit, c.rollback}) sqlite3_finalize(st);
      if (sqlite3_close(c.db) != SQLITE_OK) return "sqlite3_close failed";
    }
    conns_.clear();
    return "";
  }

 private:
  struct Conn {
    sqlite3* db = nullptr;
    sqlite3_stmt *begin = nullptr, *insert = nullptr, *commit = nullptr, *rollback = nullptr;
  };
  sqlite3* Open() {
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(path_.c_str(), &db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        nullptr) != SQLITE_OK) {
      Die("sqlite open " + path_ + ": " + sqlite3_errmsg(db));
    }
    return db;
  }
  static void Exec(sqlite3* db, const char* sql, const char* want) {
    sqlite3_stmt* st = Prepare(db, sql);
    const int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) Die(std::string(sql) + ": " + sqlite3_errmsg(db));
    if (want != nullptr) {
      const auto* got = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
      if (rc != SQLITE_ROW || got == nullptr || std::strcmp(got, want) != 0) {
        Die(std::string(sql) + " answered " + (got ? got : "nothing"));
      }
    }
    sqlite3_finalize(st);
  }
  static sqlite3_stmt* Prepare(sqlite3* db, const char* sql) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) != SQLITE_OK) {
      Die(std::string("sqlite prepare ") + sql + ": " + sqlite3_errmsg(db));
    }
    return st;
  }
  template <typename BodyOf>
  std::string Txn(Conn& c, const std::string& stream, uint64_t first_seq, size_t n,
                  const BodyOf& body) {
    std::unique_lock<std::mutex> lock(mu_, std::defer_lock);
    if (serialize_) lock.lock();
    const auto step = [&](sqlite3_stmt* st) {
      const int rc = sqlite3_step(st);
      sqlite3_reset(st);
      return rc;
    };
    if (step(c.begin) != SQLITE_DONE) return std::string("BEGIN: ") + sqlite3_errmsg(c.db);
    for (size_t i = 0; i < n; ++i) {
      const std::string& b = body(i);
      sqlite3_bind_text(c.insert, 1, stream.data(), static_cast<int>(stream.size()), SQLITE_STATIC);
      sqlite3_bind_int64(c.insert, 2, static_cast<sqlite3_int64>(first_seq + i));
      sqlite3_bind_blob(c.insert, 3, b.data(), static_cast<int>(b.size()), SQLITE_STATIC);
      if (step(c.insert) != SQLITE_DONE) {
        std::string e = std::string("INSERT: ") + sqlite3_errmsg(c.db);
        step(c.rollback);
        return e;
      }
    }
    if (step(c.commit) != SQLITE_DONE) {
      std::string e = std::string("COMMIT: ") + sqlite3_errmsg(c.db);
      step(c.rollback);
      return e;
    }
    return "";
  }
  const std::vector<Pool>* pools_;
  std::string path_;
  bool serialize_;
  std::mutex mu_;
  std::vector<Conn> conns_;
};

// RocksDB: one DB; the key is stream, a NUL and the big-endian seq.
class RocksTarget : public Target {
 public:
  RocksTarget(const std::string& dir, const std::vector<Pool>* pools) : pools_(pools) {
    rocksdb::Options o;
    o.create_if_missing = true;
    rocksdb::DB* db = nullptr;
    const rocksdb::Status s = rocksdb::DB::Open(o, dir + "/rocksdb", &db);
    if (!s.ok()) Die("rocksdb open: " + s.ToString());
    db_.reset(db);
    sync_.sync = true;
  }
  ~RocksTarget() override { (void)Close(); }
  static std::string Key(const std::string& stream, uint64_t seq) {
    std::string k = stream;
    k.push_back('\0');
    for (int shift = 56; shift >= 0; shift -= 8) k.push_back(static_cast<char>(seq >> shift));
    return k;
  }
  std::string Batch(int w, size_t from, size_t n) override {
    const Pool& pool = (*pools_)[static_cast<size_t>(w)];
    rocksdb::WriteBatch batch;
    for (size_t i = 0; i < n; ++i) batch.Put(Key(pool.stream, from + i + 1), pool.sealed[from + i]);
    const rocksdb::Status s = db_->Write(sync_, &batch);
    return s.ok() ? "" : "rocksdb write: " + s.ToString();
  }
  std::string One(int, int s, uint64_t seq) override {
    const Pool& pool = (*pools_)[static_cast<size_t>(s)];
    const rocksdb::Status st = db_->Put(sync_, Key(pool.stream, seq), pool.Body(seq));
    return st.ok() ? "" : "rocksdb put: " + st.ToString();
  }
  std::string Check(const std::vector<uint64_t>& count) override {
    for (size_t s = 0; s < count.size(); ++s) {
      const Pool& pool = (*pools_)[s];
      std::string value;
      if (count[s] > 0 &&
          (!db_->Get(rocksdb::ReadOptions(), Key(pool.stream, count[s]), &value).ok() ||
           value != pool.Body(count[s]))) {
        return "rocksdb lacks the last record of " + pool.stream;
      }
      if (!db_->Get(rocksdb::ReadOptions(), Key(pool.stream, count[s] + 1), &value).IsNotFound()) {
        return "rocksdb holds more records of " + pool.stream;
      }
    }
    return "";
  }
  std::string Close() override {
    if (db_ == nullptr) return "";
    const rocksdb::Status s = db_->Close();
    db_.reset();
    return s.ok() ? "" : "rocksdb close: " + s.ToString();
  }

 private:
  const std::vector<Pool>* pools_;
  std::unique_ptr<rocksdb::DB> db_;
  rocksdb::WriteOptions sync_;
};

// ron-audit, sink=wal, fsync=always: AppendSealed of the pool's records, or Emit of their drafts.
class RonTarget : public Target {
 public:
  RonTarget(const std::string& dir, const std::vector<Pool>* pools, int workers, bool emit,
            int threads, bool preallocate)
      : pools_(pools), emit_(emit), tickets_(static_cast<size_t>(threads)) {
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
      auto r = kept.back().Wait(After(60));
      return r.ok() ? "" : "Wait: " + r.status().ToString();
    }
    auto t = engine_->Emit(pool.stream, pool.draft);  // batch 1 (the queue is empty: no Busy)
    if (!t.ok()) return "Emit: " + t.status().ToString();
    kept.push_back(t.value());
    auto r = t.value().Wait(After(60));
    return r.ok() ? "" : "Wait: " + r.status().ToString();
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
    const double syncs = Metric(text, "wal_fsync_total");
    return syncs > 0 ? Metric(text, "wal_records_written_total") / syncs : 0;
  }
  // Where the writer threads' time went (the engine's audit_batch_seconds): the mean of each
  // phase per batch, in µs, and records per batch; zeros when no batch was counted.
  struct Phases {
    double stage_us = 0, commit_us = 0, complete_us = 0, records = 0;
  };
  Phases BatchPhases() const {
    const std::string text = engine_->MetricsText();
    Phases p;
    const double batches = Metric(text, "audit_batch_seconds_count", "phase=\"commit\"");
    if (batches <= 0) return p;
    const auto mean_us = [&](const char* phase) {
      const std::string label = std::string("phase=\"") + phase + "\"";
      return Metric(text, "audit_batch_seconds_sum", label) / batches * 1e6;
    };
    p.stage_us = mean_us("stage");
    p.commit_us = mean_us("commit");
    p.complete_us = mean_us("complete");
    p.records = Metric(text, "audit_batch_records_total") / batches;
    return p;
  }

 private:
  const std::vector<Pool>* pools_;
  bool emit_;
  std::unique_ptr<ron::Engine> engine_;
  std::vector<std::vector<ron::Ticket>> tickets_;
  std::atomic<uint64_t> busy_{0};

  // The value of the first series `name` of a MetricsText() page whose labels hold `label`
  // (any, when empty).
  static double Metric(const std::string& text, std::string_view name,
                       std::string_view label = {}) {
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
      if (line.compare(0, name.size(), name) != 0 || line.size() <= name.size()) continue;
      if (line[name.size()] != ' ' && line[name.size()] != '{') continue;
      const std::string_view series = std::string_view(line).substr(0, line.rfind(' '));
      if (!label.empty() && series.find(label) == std::string_view::npos) continue;
      return std::atof(line.substr(line.rfind(' ') + 1).c_str());
    }
    return 0;
  }
};

// ---- Cells ------------------------------------------------------------------------------------

struct Cell {
  std::string group;   // "writers=1 batch=256", "producers=64 (ack)"
  std::string system;  // display name
  std::string key;     // device | device-append | sqlite | rocksdb | ron-sealed | ron-emit
  int writers = 0, batch = 0, producers = 0;
  uint64_t records = 0, bytes = 0, busy = 0;
  uint64_t disk_bytes = 0;  // what the disk wrote from the target's open to its close (0: unknown)
  double seconds = 0, p50_us = 0, p99_us = 0;
  double per_sync = 0;  // records per durable flush, where known (device, ron-audit)
  RonTarget::Phases phases;  // ron-audit: its writer threads' time per batch
  std::string error;
  double per_s() const { return seconds > 0 ? static_cast<double>(records) / seconds : 0; }
  double mb_s() const { return seconds > 0 ? static_cast<double>(bytes) / 1e6 / seconds : 0; }
  // Bytes the disk wrote per record byte acknowledged (0: unknown).
  double write_amp() const {
    return bytes > 0 ? static_cast<double>(disk_bytes) / static_cast<double>(bytes) : 0;
  }
};

const char* DisplayName(const std::string& key) {
  if (key == "device") return "device limit";
  if (key == "device-append") return "device append";
  if (key == "sqlite") return "SQLite";
  if (key == "rocksdb") return "RocksDB";
  if (key == "ron-sealed") return "ron-audit AppendSealed";
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
                                     threads, opt.preallocate);
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
      while (i < n && Clock::now() < end) {
        const size_t k = std::min(static_cast<size_t>(cell->batch), n - i);
        const auto t0 = Clock::now();
        if (std::string e = target->Batch(w, i, k); !e.empty()) return fail(e);
        mine->push_back(Us(t0));
        i += k;
      }
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

// ---- Output -----------------------------------------------------------------------------------

struct Ratios {
  std::optional<double> device, best_peer;
};

Ratios RatiosOf(const std::vector<Cell>& cells, const Cell& c) {
  Ratios r;
  double device = 0, best = 0;
  for (const Cell& o : cells) {
    if (o.group != c.group || !o.error.empty()) continue;
    if (o.key == "device") device = o.per_s();
    if (o.key == "sqlite" || o.key == "rocksdb") best = std::max(best, o.per_s());
  }
  if (!c.error.empty()) return r;
  if (device > 0) r.device = c.per_s() / device;
  if (best > 0) r.best_peer = c.per_s() / best;
  return r;
}

std::string Ratio(const std::optional<double>& r) {
  if (!r) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2fx", *r);
  return buf;
}

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string JsonNumber(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

void WriteJson(const Options& opt, const ron::bench::Facts& facts, const std::vector<Pool>& pools,
               const std::vector<Cell>& cells) {
  std::string j = "{\n  \"command\": " + JsonString(opt.command) + ",\n  \"device\": {";
  for (size_t i = 0; i < facts.size(); ++i) {
    j += (i ? ", " : "") + JsonString(facts[i].first) + ": " + JsonString(facts[i].second);
  }
  const double avg = static_cast<double>(pools[0].prefix_bytes.back()) /
                     static_cast<double>(pools[0].sealed.size());
  j += "},\n  \"record_bytes_avg\": " + JsonNumber(avg) +
       ",\n  \"records_per_writer\": " + std::to_string(opt.records) +
       ",\n  \"seconds_per_cell\": " + JsonNumber(opt.seconds) + ",\n  \"streams\": [" +
       JsonString(pools[0].stream) + ", " + JsonString(pools[1].stream) +
       "],\n  \"engine_io_backend\": " + JsonString(g_io_backend) + ",\n  \"rows\": [\n";
  for (size_t i = 0; i < cells.size(); ++i) {
    const Cell& c = cells[i];
    const Ratios r = RatiosOf(cells, c);
    j += "    {\"group\": " + JsonString(c.group) + ", \"system\": " + JsonString(c.key) +
         ", \"writers\": " + std::to_string(c.writers) + ", \"batch\": " + std::to_string(c.batch) +
         ", \"producers\": " + std::to_string(c.producers) +
         ", \"records\": " + std::to_string(c.records) + ", \"seconds\": " + JsonNumber(c.seconds) +
         ", \"records_per_s\": " + JsonNumber(c.per_s()) +
         ", \"mb_per_s\": " + JsonNumber(c.mb_s()) + ", \"p50_us\": " + JsonNumber(c.p50_us) +
         ", \"p99_us\": " + JsonNumber(c.p99_us) +
         ", \"records_per_sync\": " + (c.per_sync > 0 ? JsonNumber(c.per_sync) : "null") +
         ", \"disk_bytes_written\": " + (c.disk_bytes > 0 ? std::to_string(c.disk_bytes) : "null") +
         ", \"disk_bytes_per_record_byte\": " +
         (c.write_amp() > 0 ? JsonNumber(c.write_amp()) : "null") +
         (c.phases.records > 0
              ? ", \"records_per_batch\": " + JsonNumber(c.phases.records) +
                    ", \"batch_stage_us\": " + JsonNumber(c.phases.stage_us) +
                    ", \"batch_commit_us\": " + JsonNumber(c.phases.commit_us) +
                    ", \"batch_complete_us\": " + JsonNumber(c.phases.complete_us)
              : std::string()) +
         ", \"vs_device\": " + (r.device ? JsonNumber(*r.device) : "null") +
         ", \"vs_best_peer\": " + (r.best_peer ? JsonNumber(*r.best_peer) : "null") +
         ", \"error\": " + (c.error.empty() ? "null" : JsonString(c.error)) + "}" +
         (i + 1 < cells.size() ? ",\n" : "\n");
  }
  j += "  ]\n}\n";
  if (opt.json == "-") {
    std::fputs(j.c_str(), stdout);
    return;
  }
  FILE* f = std::fopen(opt.json.c_str(), "w");
  if (f == nullptr || std::fputs(j.c_str(), f) < 0 || std::fclose(f) != 0) {
    Die("cannot write " + opt.json);
  }
}

void PrintTable(const std::vector<Cell>& cells) {
  std::printf("%-20s %-22s %8s %9s %7s %8s %8s %8s %7s %9s %12s\n", "group", "system",
              "records", "records/s", "MB/s", "p50 µs", "p99 µs", "rec/sync", "disk/B", "vs device",
              "vs best peer");
  std::string last_group;
  for (const Cell& c : cells) {
    if (!last_group.empty() && c.group != last_group) std::printf("\n");
    last_group = c.group;
    const Ratios r = RatiosOf(cells, c);
    if (!c.error.empty()) {
      std::printf("%-20s %-22s FAILED: %s\n", c.group.c_str(), c.system.c_str(), c.error.c_str());
      continue;
    }
    char per_sync[16] = "-";
    if (c.per_sync > 0) std::snprintf(per_sync, sizeof per_sync, "%.1f", c.per_sync);
    char amp[16] = "-";
    if (c.write_amp() > 0) std::snprintf(amp, sizeof amp, "%.2f", c.write_amp());
    std::printf("%-20s %-22s %8llu %9.0f %7.1f %8.0f %8.0f %8s %7s %9s %12s\n", c.group.c_str(),
                c.system.c_str(), static_cast<unsigned long long>(c.records), c.per_s(), c.mb_s(),
                c.p50_us, c.p99_us, per_sync, amp, Ratio(r.device).c_str(),
                Ratio(r.best_peer).c_str());
  }
}

// The 1, 5 and 15 minute load averages: a loaded machine makes any durable-write figure suspect.
std::string LoadAverage() {
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

void Usage() {
  std::fprintf(stderr,
               "usage: peers [--dir DIR] [--seconds S] [--records N] [--keep] [--json PATH|-]\n"
               "             [--systems device,device-append,sqlite,rocksdb,ron-sealed,ron-emit]\n"
               "             [--only grid|ack] [--producers 4,64] [--sqlite-mutex]\n"
               "             [--preallocate on|off]\n"
               "Each cell runs until every writer wrote N records (default 100000 per writer)\n"
               "or S seconds passed (default 2), whichever comes first.\n");
}

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

Options ParseArgs(int argc, char** argv) {
  Options opt;
  opt.command = argv[0];
  for (int i = 1; i < argc; ++i) opt.command += std::string(" ") + argv[i];
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        Usage();
        Die(a + " needs a value");
      }
      return argv[++i];
    };
    if (a == "--dir") {
      opt.dir = value();
    } else if (a == "--seconds") {
      opt.seconds = std::atof(value().c_str());
    } else if (a == "--records") {
      opt.records = std::strtoull(value().c_str(), nullptr, 10);
    } else if (a == "--keep") {
      opt.keep = true;
    } else if (a == "--json") {
      opt.json = value();
    } else if (a == "--sqlite-mutex") {
      opt.sqlite_mutex = true;
    } else if (a == "--preallocate") {
      const std::string v = value();
      if (v != "on" && v != "off") Die("--preallocate takes on or off");
      opt.preallocate = v == "on";
    } else if (a == "--systems") {
      opt.systems.clear();
      for (const std::string& s : Split(value())) {
        if (Options().systems.count(s) == 0) Die("unknown system " + s);
        opt.systems.insert(s);
      }
    } else if (a == "--only") {
      const std::string v = value();
      if (v != "grid" && v != "ack") Die("--only takes grid or ack");
      opt.grid = v == "grid";
      opt.ack = v == "ack";
    } else if (a == "--producers") {
      opt.producers.clear();
      for (const std::string& s : Split(value())) opt.producers.push_back(std::atoi(s.c_str()));
    } else if (a == "-h" || a == "--help") {
      Usage();
      std::exit(0);
    } else {
      Usage();
      Die("unknown argument " + a);
    }
  }
  if (opt.seconds <= 0 || opt.records == 0) Die("--seconds and --records must be positive");
  for (int p : opt.producers) {
    if (p < 1 || p > 1024) Die("--producers: 1..1024 threads");
  }
  return opt;
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
  const char* order[] = {"device", "device-append", "sqlite", "rocksdb", "ron-sealed", "ron-emit"};
  if (opt.grid) {
    for (int writers : {1, 2}) {
      for (int batch : {1, 256}) {
        for (const char* key : order) {
          if (opt.systems.count(key) == 0) continue;
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
        if (opt.systems.count(key) == 0 || std::strcmp(key, "ron-sealed") == 0) continue;
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
      "rec/sync: records per durable flush (device: per fdatasync; ron-audit: its WAL "
      "counters).\n"
      "disk/B: bytes the disk wrote (/sys/block/DISK/stat, from the target's open to its close,\n"
      "synced) per record byte: logs, metadata, preallocation, compaction. Whole-disk counters:\n"
      "other writers on that disk count too.\n\n");
  PrintTable(cells);
  std::printf("\nron-audit over the device limit and the best peer (records/s, same group):\n");
  int failed = 0;
  uint64_t busy = 0;
  for (const Cell& c : cells) {
    failed += c.error.empty() ? 0 : 1;
    busy += c.busy;
    if (c.key != "ron-sealed" && c.key != "ron-emit") continue;
    const Ratios r = RatiosOf(cells, c);
    char amp[16] = "-";
    if (c.write_amp() > 0) std::snprintf(amp, sizeof amp, "%.2f", c.write_amp());
    std::printf("summary: %-22s %-22s vs device %-7s vs best peer %-7s disk/B %s\n",
                c.system.c_str(), c.group.c_str(), Ratio(r.device).c_str(),
                Ratio(r.best_peer).c_str(), amp);
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
  if (!opt.json.empty()) WriteJson(opt, facts, pools, cells);
  if (failed > 0) {
    std::fprintf(stderr, "peers: %d cell(s) failed\n", failed);
    return 1;
  }
  return 0;
}
