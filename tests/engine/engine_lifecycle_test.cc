// An engine's life: Close (intake stops, threads join, files are released, calls racing it),
// work left at the deadline, a RAM → WAL reload, writer threads pinned to CPUs, and the RAM
// profile's promise of zero files. The parameterized suite is instantiated here for both sinks.
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>

#include "engine/core/canonical.h"
#include "engine/testing_hooks.h"
#include "ron_audit/engine.h"
#include "tests/engine/engine_test_util.h"
#include "tests/test_util.h"
#include "wal/journal.h"
#include "wal/reader.h"

namespace ron::engine_test {
namespace {

using std::chrono::seconds;

TEST_P(EngineTest, CloseStopsIntakeJoinsThreadsAndReleasesFiles) {
  const size_t threads_before = CountEntries("/proc/self/task");
  const size_t fds_before = CountEntries("/proc/self/fd");
  {
    auto engine = Open(Options(2));
    std::vector<Ticket> tickets;
    for (int i = 0; i < 200; ++i)
      tickets.push_back(engine->Emit("s" + std::to_string(i % 5), Draft(i)).value());
    ASSERT_TRUE(engine->Close(In(seconds(10))).ok());
    for (const Ticket& t : tickets)
      EXPECT_TRUE(t.Wait(In(seconds(1))).ok());  // drained, not dropped
    EXPECT_EQ(engine->Emit("s0", Draft(1)).code(), Code::kClosed);
    EXPECT_EQ(engine->AppendSealed("{}", In(seconds(1))).code(), Code::kClosed);
    EXPECT_EQ(engine->Flush(In(seconds(1))).code(), Code::kClosed);
  }
  // A thread just joined can stay listed for a moment (pthread_join returns once the kernel
  // clears the thread's tid, before its task is removed; longer on a loaded machine, and one
  // joined by the test before may be listed in threads_before): wait, bounded, for the listing
  // to come back down. A thread Close failed to join stays listed and fails this.
  for (int i = 0; i < 500 && CountEntries("/proc/self/task") > threads_before; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_LE(CountEntries("/proc/self/task"), threads_before);
  EXPECT_EQ(CountEntries("/proc/self/fd"), fds_before);
}

// The writer threads carry names an operator's top -H, perf or gdb shows (docs/OBSERVABILITY.md).
TEST_P(EngineTest, WriterThreadsAreNamed) {
  const auto names = [] {  // thread id → name
    std::map<std::string, std::string> out;
    for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
      std::ifstream comm(task.path() / "comm");
      std::string name;
      if (std::getline(comm, name)) out[task.path().filename()] = name;
    }
    return out;
  };
  const auto before = names();
  auto engine = Open(Options(2));
  std::multiset<std::string> started;  // the names of the threads Open started
  // A thread a writer starts (the WAL's preallocator) carries its name until it names itself:
  // wait, bounded, for the names to settle; a thread misnamed for good still fails.
  for (int i = 0; i < 500; ++i) {
    started.clear();
    for (const auto& [tid, name] : names()) {
      if (before.count(tid) == 0) started.insert(name);
    }
    if (started.count("ron-writer-0") == 1 && started.count("ron-writer-1") == 1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(started.count("ron-writer-0"), 1u);
  EXPECT_EQ(started.count("ron-writer-1"), 1u);
  ASSERT_TRUE(engine->Close(In(seconds(10))).ok());
}

// docs/CONFIG.md "switch sink=ram → wal at reload: new workers started; old drain; chain
// preserved", as a host does it with the public API: drain the RAM engine, read its rings,
// open the WAL engine, replay them with AppendSealed (same seqs and hashes), go on emitting.
TEST(EngineReloadTest, SwitchingRamToWalPreservesTheChain) {
  testing::TempDir tmp;
  const std::string wal_dir = tmp.path() + "/wal";
  ASSERT_EQ(mkdir(wal_dir.c_str(), 0700), 0);
  EngineOptions ram;
  ram.writer_id = "svc-reload@node";
  std::vector<std::string> rings;
  {
    auto engine = Engine::Open(ram);
    ASSERT_TRUE(engine.ok());
    std::vector<Ticket> tickets;
    for (int i = 0; i < 100; ++i) tickets.push_back(engine.value()->Emit("s", Draft(i)).value());
    ASSERT_TRUE(engine.value()->Flush(In(seconds(10))).ok());  // old workers drain
    auto held = engine.value()->Read("svc-reload@node", "s", 1, 1000, In(seconds(10)));
    ASSERT_TRUE(held.ok()) << held.status().ToString();  // the ring still holds seq 1
    rings = held.value();
    ASSERT_TRUE(engine.value()->Close(In(seconds(10))).ok());
  }
  ASSERT_EQ(rings.size(), 100u);
  EngineOptions wal = ram;
  wal.config.sink = SinkKind::kWal;
  wal.config.amnesia = false;
  wal.config.wal.dir = wal_dir;
  wal.config.wal.fsync = FsyncPolicy::kAlways;
  auto engine = Engine::Open(wal);  // new workers
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  for (const std::string& sealed : rings) {
    const auto a = engine.value()->AppendSealed(sealed, In(seconds(10)));
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    EXPECT_EQ(a.value().outcome, AppendOutcome::kAppended);
  }
  auto next = engine.value()->Emit("s", Draft(100));
  ASSERT_TRUE(next.ok());
  const auto r = next.value().Wait(In(seconds(10)));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().seq, 101u);
  ASSERT_TRUE(engine.value()->Close(In(seconds(10))).ok());
  // One chain from seq 1, the RAM era's records byte for byte, and it verifies.
  const std::vector<std::string> stored = StoredIn(wal_dir, "svc-reload@node", "s");
  ASSERT_EQ(stored.size(), 101u);
  EXPECT_EQ(std::vector<std::string>(stored.begin(), stored.begin() + 100), rings);
}

// With journal_min_streams, commits of many streams go through each writer thread's commit
// journal. A copy of the directory taken while the engine runs is what a crash leaves; with the
// segments' unsynced blocks lost as well (a power loss), an engine with another thread count
// finds every acknowledged record, removes the journals it applied, and Close removes its own.
TEST(EngineJournalTest, AnotherEngineAppliesTheJournalsACrashLeft) {
  testing::TempDir tmp;
  const std::string wal_dir = tmp.path() + "/wal", copy = tmp.path() + "/copy";
  EngineOptions o = WalEngineOptions(wal_dir, 2, 1024);
  // Every commit through the journal (even of one stream), so that everything after the segment
  // headers is what only the journal made durable, and may be lost below.
  o.journal_min_streams = 1;
  constexpr int kStreams = 8, kRounds = 20;
  const auto journals = [](const std::string& dir) {
    std::vector<std::string> paths;
    EXPECT_TRUE(wal::ListJournals(dir, &paths).ok());
    return paths;
  };
  {
    auto engine = Engine::Open(o);
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    for (int round = 0; round < kRounds; ++round) {
      std::vector<Ticket> tickets;
      for (int i = 0; i < kStreams; ++i) {
        tickets.push_back(engine.value()->Emit("s" + std::to_string(i), Draft(round)).value());
      }
      for (Ticket& t : tickets) ASSERT_TRUE(t.Wait(In(seconds(10))).ok());
    }
    fs::copy(wal_dir, copy, fs::copy_options::recursive);
    ASSERT_TRUE(engine.value()->Close(In(seconds(10))).ok());
  }
  EXPECT_TRUE(journals(wal_dir).empty()) << "Close removes the journals";
  const std::vector<std::string> left = journals(copy);
  for (const std::string& path : left) EXPECT_EQ(chmod(path.c_str(), 0600), 0);
  if (!left.empty()) {  // where the journal runs (ext4, xfs, btrfs on Linux >= 5.17)
    EXPECT_EQ(left.size(), 2u) << "one per writer thread";
    for (int i = 0; i < kStreams; ++i) {
      const std::string dir = wal::StreamDir(copy, o.writer_id, "s" + std::to_string(i));
      for (const auto& entry : fs::directory_iterator(dir)) fs::resize_file(entry.path(), 4096);
    }
  }
  o.config.wal.dir = copy;
  o.config.workers = 3;
  {
    auto engine = Engine::Open(o);
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    const std::vector<std::string> now = journals(copy);
    for (const std::string& path : left) {
      EXPECT_EQ(std::count(now.begin(), now.end(), path), 0) << path << " applied and removed";
    }
    EXPECT_EQ(testing::MetricValue(engine.value()->MetricsText(),
                                   "wal_journal_records_applied_total"),
              left.empty() ? 0.0 : double{kStreams * kRounds});
    for (int i = 0; i < kStreams; ++i) {
      const StreamInfo state = engine.value()->State(o.writer_id, "s" + std::to_string(i));
      EXPECT_EQ(state.head_seq, uint64_t{kRounds}) << i;
      EXPECT_EQ(state.state, StreamState::kOk) << i;
    }
    ASSERT_TRUE(engine.value()->Close(In(seconds(10))).ok());
  }
  EXPECT_TRUE(journals(copy).empty());
  for (int i = 0; i < kStreams; ++i) {
    const std::string stream = "s" + std::to_string(i);
    EXPECT_EQ(StoredIn(copy, o.writer_id, stream), StoredIn(wal_dir, o.writer_id, stream));
  }
}

// A journaled commit holds a stream's frames back from its segment (journal_hold_bytes) until
// there are more of them; Read still finds every acknowledged record at once: it has the owner
// write them out when the files are short of the head.
TEST(EngineJournalTest, ReadFindsAcknowledgedRecordsTheWriterHoldsBack) {
  testing::TempDir tmp;
  EngineOptions o = WalEngineOptions(tmp.path() + "/wal", 1, 1024);
  o.journal_min_streams = 2;
  constexpr int kStreams = 16, kRounds = 40;
  auto engine = Engine::Open(o);
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  int held = 0;  // records a reader of the files did not find yet when Read was called
  for (int round = 0; round < kRounds; ++round) {
    std::vector<Ticket> tickets;
    for (int i = 0; i < kStreams; ++i) {
      tickets.push_back(engine.value()->Emit("s" + std::to_string(i), Draft(round)).value());
    }
    for (int i = 0; i < kStreams; ++i) {
      const auto r = tickets[i].Wait(In(seconds(10)));
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      const std::string stream = "s" + std::to_string(i);
      held += StoredIn(o.config.wal.dir, o.writer_id, stream).size() < r.value().seq ? 1 : 0;
      const auto read = engine.value()->Read(o.writer_id, stream, r.value().seq, 10, In(seconds(10)));
      ASSERT_TRUE(read.ok()) << read.status().ToString();
      ASSERT_EQ(read.value().size(), 1u) << stream << " seq " << r.value().seq;
      EXPECT_NE(read.value()[0].find("\"seq\":" + std::to_string(r.value().seq) + ","),
                std::string::npos);
    }
  }
  // Where the journal runs, records were held when read (an idle writer writes them out after
  // 10 ms, so not necessarily all of them).
  if (testing::SyncfsExpected(tmp.path())) {
    EXPECT_GT(held, 0) << "nothing was held: Read's request to the owner went untested";
  }
  ASSERT_TRUE(engine.value()->Close(In(seconds(10))).ok());
  for (int i = 0; i < kStreams; ++i) {
    EXPECT_EQ(StoredIn(o.config.wal.dir, o.writer_id, "s" + std::to_string(i)).size(),
              size_t{kRounds});
  }
}

// Calls racing Close get Ok or Closed, never a wait for a thread that has stopped (Flush, Read
// and Checkpoint queue control tasks, which a stopping worker refuses at once rather than
// leaving them to answer Busy at their deadline).
TEST_P(EngineTest, CallsRacingCloseGetClosedNotBusy) {
  auto engine = Open(Options(2));
  ASSERT_TRUE(engine->Emit("race", Draft(1)).value().Wait(In(seconds(10))).ok());
  std::atomic<bool> go{false};
  std::vector<std::thread> callers;
  std::atomic<int> closed{0}, other{0};
  for (int k = 0; k < 2; ++k) {
    callers.emplace_back([&, k] {
      while (!go) std::this_thread::yield();
      for (;;) {
        const Status s =
            k == 0 ? engine->Flush(In(seconds(5)))
                   : engine->Read("svc-test@inst-1", "race", 1, 1, In(seconds(5))).status();
        if (s.ok()) continue;
        (s.code() == Code::kClosed ? closed : other)++;
        EXPECT_EQ(s.code(), Code::kClosed) << s.ToString();
        return;
      }
    });
  }
  go = true;
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(engine->Close(In(seconds(10))).ok());
  for (auto& t : callers) t.join();
  EXPECT_EQ(closed, 2);
  EXPECT_EQ(other, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - started, seconds(4));  // nobody waited 5 s
}

TEST_P(EngineTest, WorkLeftAtTheDeadlineFailsWithClosedAndIsCounted) {
  EngineOptions o = Options(1, 100000);
  // The owner canonicalizes (a slower owner, a faster Emit) and WAL writes take 20 ms: the
  // queue cannot drain before Close, even under sanitizers.
  o.canonicalize_in_emit = false;
  SlowWrites slow;
  auto engine = Open(o, GetParam() == SinkKind::kWal ? &slow : nullptr);
  std::vector<Ticket> tickets;
  for (int i = 0; i < 20000; ++i) {
    auto t = engine->Emit("s", Draft(i));
    if (t.ok()) tickets.push_back(t.value());
  }
  // Close is not Ok when it dropped records: the host must not read it as "all stored".
  const Status closing = engine->Close(std::chrono::steady_clock::now());  // no time to drain
  EXPECT_EQ(closing.code(), Code::kClosed) << closing.ToString();
  int closed = 0, ok = 0;
  for (const Ticket& t : tickets) {
    const auto r = t.Wait(In(seconds(5)));
    closed += r.code() == Code::kClosed;
    ok += r.ok();
  }
  EXPECT_EQ(closed + ok, static_cast<int>(tickets.size()));
  EXPECT_GT(closed, 0);
  const std::string metrics = engine->MetricsText();
  EXPECT_EQ(testing::MetricValue(metrics, "tasks_aborted_total",
                                 "kind=\"audit_worker\""),
            static_cast<double>(closed))
      << metrics;
  EXPECT_EQ(testing::MetricValue(metrics, "audit_drop_total",
                                 "reason=\"shutdown\""),
            static_cast<double>(closed));
}

INSTANTIATE_TEST_SUITE_P(Sinks, EngineTest, ::testing::Values(SinkKind::kRam, SinkKind::kWal),
                         [](const auto& info) {
                           return info.param == SinkKind::kRam ? "ram" : "wal";
                         });

// The CPUs each thread of this process may run on, by thread id.
std::map<pid_t, std::set<int>> ThreadAffinities() {
  std::map<pid_t, std::set<int>> out;
  for (const auto& e : fs::directory_iterator("/proc/self/task")) {
    const pid_t tid = static_cast<pid_t>(std::stol(e.path().filename().string()));
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(tid, sizeof(set), &set) != 0) continue;
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
      if (CPU_ISSET(cpu, &set)) out[tid].insert(cpu);
    }
  }
  return out;
}

// Writer threads pin to the configured CPUs, one each in turn; a CPU that is not online is
// refused by the configuration check rather than silently ignored.
TEST(EnginePinTest, WritersRunOnTheirConfiguredCpus) {
  if (sysconf(_SC_NPROCESSORS_ONLN) < 2) GTEST_SKIP() << "needs two online CPUs";
  const auto before = ThreadAffinities();
  EngineOptions o;
  o.writer_id = "svc-pin@node";
  o.config.workers = 2;
  o.config.pin_cpus = {1, 0};
  auto engine = Engine::Open(o);
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  std::multiset<int> pinned;
  for (const auto& [tid, cpus] : ThreadAffinities()) {
    if (before.count(tid) == 0 && cpus.size() == 1) pinned.insert(*cpus.begin());
  }
  EXPECT_EQ(pinned, (std::multiset<int>{0, 1}));
  ASSERT_TRUE(engine.value()->Close(In(seconds(10))).ok());
  o.config.pin_cpus = {4096 - 1};
  EXPECT_EQ(Engine::Open(o).code(), Code::kSchema);
}

// Installs a seccomp filter on the calling (single-threaded) process that kills it with

// SIGSYS on any system call that could create, change or remove a name in a file system, or
// open a file for writing: mkdir*, mknod*, link*, symlink*, unlink*, rename*, creat,
// truncate, and open/openat with O_CREAT, O_TRUNC, O_WRONLY or O_RDWR (openat2 always).
bool ForbidFileWrites() {
  constexpr uint32_t kKill = SECCOMP_RET_KILL_PROCESS;
  constexpr uint32_t kWriteFlags = O_CREAT | O_TRUNC | O_WRONLY | O_RDWR;
  std::vector<sock_filter> f = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, static_cast<uint32_t>(offsetof(seccomp_data, arch))),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, kKill),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, static_cast<uint32_t>(offsetof(seccomp_data, nr))),
  };
  for (const long nr : {SYS_mkdir, SYS_mkdirat, SYS_mknod, SYS_mknodat, SYS_link, SYS_linkat,
                        SYS_symlink, SYS_symlinkat, SYS_unlink, SYS_unlinkat, SYS_rename,
                        SYS_renameat, SYS_renameat2, SYS_creat, SYS_truncate, SYS_openat2}) {
    f.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(nr), 0, 1));
    f.push_back(BPF_STMT(BPF_RET | BPF_K, kKill));
  }
  // open(path, flags) and openat(dirfd, path, flags): the flags' low 32 bits.
  const auto flags_at = [&](long nr, int arg) {
    f.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(nr), 0, 4));
    const auto offset = static_cast<uint32_t>(offsetof(seccomp_data, args) +
                                              sizeof(uint64_t) * static_cast<size_t>(arg));
    f.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offset));
    f.push_back(BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, kWriteFlags, 0, 1));
    f.push_back(BPF_STMT(BPF_RET | BPF_K, kKill));
    f.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  };
  flags_at(SYS_open, 1);
  flags_at(SYS_openat, 2);
  f.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  sock_fprog prog{static_cast<unsigned short>(f.size()), f.data()};
  return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
         prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0;
}

// Micronode's promise: zero on-disk artifacts. The engine runs in a child process
// whose kernel filter kills it on the first attempt to create or write any file anywhere;
// the WAL path is configured, elsewhere, and must not appear either.
TEST(EngineAmnesiaTest, RamProfileNeverCreatesAFile) {
  testing::TempDir tmp, elsewhere;
  EngineOptions o;
  o.writer_id = "svc-micro@node";
  o.config.wal.dir = elsewhere.path() + "/should-not-exist";  // configured, but the sink is ram
  std::fflush(nullptr);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (chdir(tmp.path().c_str()) != 0 || !ForbidFileWrites()) _exit(3);
    auto engine = Engine::Open(o);
    if (!engine.ok()) _exit(4);
    for (int i = 0; i < 500; ++i) {
      if (!engine.value()->Emit("s", Draft(i)).ok()) _exit(5);
    }
    if (!engine.value()->Flush(In(seconds(10))).ok()) _exit(6);
    if (engine.value()->State("svc-micro@node", "s").head_seq != 500u) _exit(7);
    if (!engine.value()->Read("svc-micro@node", "s", 1, 500, In(seconds(10))).ok()) _exit(8);
    if (!engine.value()->Close(In(seconds(10))).ok()) _exit(9);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_FALSE(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS)
      << "the RAM profile tried to create or write a file";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  EXPECT_EQ(CountEntries(tmp.path()), 0u);
  EXPECT_EQ(CountEntries(elsewhere.path()), 0u);  // not even the WAL dir
  // The filter is real: the same child writing a file dies with SIGSYS.
  const pid_t writer = fork();
  ASSERT_GE(writer, 0);
  if (writer == 0) {
    if (!ForbidFileWrites()) _exit(3);
    const int fd = open((tmp.path() + "/x").c_str(), O_CREAT | O_WRONLY, 0600);
    _exit(fd >= 0 ? 0 : 1);
  }
  ASSERT_EQ(waitpid(writer, &status, 0), writer);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS) << "status " << status;
  // And the configuration refuses a WAL sink under amnesia.
  o.config.sink = SinkKind::kWal;
  EXPECT_EQ(Engine::Open(o).code(), Code::kSchema);
}

}  // namespace
}  // namespace ron::engine_test
