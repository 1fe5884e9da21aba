// The peer rig's record pools and the systems it measures besides ron-audit (the device limit,
// SQLite, RocksDB), each behind the Target interface RunCell drives (bench/peers/peers.cc).
#ifndef BENCH_PEERS_TARGETS_H_
#define BENCH_PEERS_TARGETS_H_

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace ron::bench {

// The records of one stream: pool[i] is the sealed record at seq i + 1.
struct Pool {
  std::string stream;
  std::string draft;  // the draft Emit turns into those records
  std::vector<std::string> sealed;
  std::vector<uint64_t> prefix_bytes;  // prefix_bytes[i] = bytes of sealed[0, i)
  const std::string& Body(uint64_t seq) const { return sealed[(seq - 1) % sealed.size()]; }
};

[[noreturn]] inline void Die(const std::string& what) {
  std::fprintf(stderr, "peers: %s\n", what.c_str());
  std::exit(1);
}

// ---- The systems under test -------------------------------------------------------------------

// One system, opened fresh in its own directory for one cell. Threads call Batch / One
// concurrently, each with its own index (writer or producer). Errors are returned as text.
class Target {
 public:
  virtual ~Target() = default;
  // Records [from, from + n) of pools[w] (seqs from + 1 …), durable, as one commit. A target
  // that keeps depth() > 1 batches of a writer in flight returns once its oldest batch is
  // durable, if it has depth() of them, and Drain(w) once all are.
  virtual std::string Batch(int w, size_t from, size_t n) = 0;
  virtual size_t depth() const { return 1; }
  virtual std::string Drain(int /*w*/) { return ""; }
  // One record of stream s at `seq` (its body: Pool::Body), durable. `thread` is the producer.
  virtual std::string One(int thread, int s, uint64_t seq) = 0;
  // After the timed part: `count[s]` records of stream s were acknowledged; do they all hold?
  virtual std::string Check(const std::vector<uint64_t>& count) = 0;
  virtual std::string Close() { return ""; }
};

inline std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

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

}  // namespace ron::bench

#endif  // BENCH_PEERS_TARGETS_H_
