// kill -9 drill: `ronctl audit append --fsync always --ack` is SIGKILLed at random moments, 40
// times, cycling through io_uring/pwritev × buffered/direct. After every kill, every acknowledged
// record (every "<seq> <self_hash>" line the child printed) must be in the WAL with the same
// hash, and the next run must resume the chain from the head.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <thread>

#include "tests/test_util.h"
#include "wal/reader.h"
#include "wal/wal.h"

namespace ron {
namespace {

constexpr int kIterations = 40;
constexpr char kWriter[] = "w@crash";
constexpr char kStream[] = "orders";

struct Child {
  pid_t pid = -1;
  int stdin_fd = -1;
  int stdout_fd = -1;
};

Child Spawn(const std::vector<std::string>& argv) {
  int in[2], out[2];
  EXPECT_EQ(pipe2(in, O_CLOEXEC), 0);
  EXPECT_EQ(pipe2(out, O_CLOEXEC), 0);
  Child child;
  child.pid = fork();
  if (child.pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    const int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  child.stdin_fd = in[1];
  child.stdout_fd = out[0];
  return child;
}

// Parses complete "<seq> <hash>" lines out of `buffer` into `acked`, keeping a partial tail.
void TakeAcks(std::string* buffer, std::map<uint64_t, std::string>* acked) {
  size_t start = 0;
  for (size_t nl; (nl = buffer->find('\n', start)) != std::string::npos; start = nl + 1) {
    const std::string line = buffer->substr(start, nl - start);
    const size_t space = line.find(' ');
    ASSERT_NE(space, std::string::npos) << line;
    (*acked)[std::stoull(line.substr(0, space))] = line.substr(space + 1);
  }
  buffer->erase(0, start);
}

// seq → self_hash of every record in the stream, checked by frame checksum and seq order.
// `direct`: the run used O_DIRECT. Any earlier run may have too (and this one been killed before
// its recovery cut what that left), so zeros where lost O_DIRECT writes should be are read as
// recovery reads them whatever the mode (segment::ScanOptions::lost_write_window_bytes).
std::map<uint64_t, std::string> Stored(const std::string& root, bool direct, uint64_t* head) {
  const uint64_t window = wal::kMaxWritesInFlight * wal::WalOptions().direct_batch_bytes;
  std::map<uint64_t, std::string> stored;
  wal::StreamReport report;
  const Status s = wal::ScanStream(
      wal::StreamDir(root, kWriter, kStream), kWriter, kStream, Limits(),
      wal::VerifyLevel::kChecksums, &report,
      [&](const wal::RecordView& r) {
        stored[r.seq] = HashText(r.self_hash);
        return true;
      },
      direct ? window : 0, window);
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_FALSE(report.frozen) << report.problem.ToString();
  *head = report.head_seq;
  return stored;
}

TEST(CrashTest, KillNineNeverLosesAnAcknowledgedRecord) {
  signal(SIGPIPE, SIG_IGN);
  testing::TempDir dir;
  const std::string root = dir.path() + "/wal";
  std::mt19937 rng(20261122);
  std::map<uint64_t, std::string> acked;
  uint64_t head = 0;
  int kills_with_acks = 0;
  for (int iter = 0; iter < kIterations; ++iter) {
    // Every combination of backend and write mode, in turn.
    const std::string backend = iter % 2 == 0 ? "io_uring" : "pwritev";
    const std::string mode = iter % 4 < 2 ? "buffered" : "direct";
    Child child = Spawn({testing::RonctlPath(), "audit", "append", "--dir", root, "--stream",
                         kStream, "--writer-id", kWriter, "--fsync", "always", "--ack",
                         "--io-backend", backend, "--write-mode", mode});
    std::atomic<bool> stop{false};
    std::thread feeder([&, fd = child.stdin_fd] {
      const std::string draft =
          R"({"kind":"TransferPosted","actor":{"cap_id":"cap:ledger"},"subject":{"ledger_txid":"tx"},"reason":"ok","attrs":{"amount_minor":125000,"memo":")" +
          std::string(600, 'm') + "\"}}\n";
      std::string block;
      for (int i = 0; i < 64; ++i) block += draft;
      while (!stop) {
        if (write(fd, block.data(), block.size()) < 0) break;  // EPIPE once the child is dead
      }
      close(fd);
    });
    // Most kills land a random moment after the first acknowledgement (mid-stream); every
    // fifth lands at a random moment from the start (during recovery or the first batch).
    const bool early = iter % 5 == 4;
    const auto delay = std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 40)(rng));
    const auto started = std::chrono::steady_clock::now();
    auto deadline = early ? started + delay : started + std::chrono::seconds(10);
    std::string buffer;
    char buf[65536];
    const size_t acked_before = acked.size();
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{child.stdout_fd, POLLIN, 0};
      if (poll(&p, 1, 1) > 0) {
        const ssize_t n = read(child.stdout_fd, buf, sizeof(buf));
        if (n <= 0) break;
        buffer.append(buf, static_cast<size_t>(n));
        TakeAcks(&buffer, &acked);
        if (!early && acked.size() > acked_before && deadline - started > std::chrono::seconds(5)) {
          deadline = std::chrono::steady_clock::now() + delay;
        }
      }
    }
    kill(child.pid, SIGKILL);
    int status = 0;
    waitpid(child.pid, &status, 0);
    stop = true;
    feeder.join();
    // Lines already in the pipe were printed before the kill: they are promises too.
    for (ssize_t n; (n = read(child.stdout_fd, buf, sizeof(buf))) > 0;) {
      buffer.append(buf, static_cast<size_t>(n));
    }
    TakeAcks(&buffer, &acked);
    close(child.stdout_fd);
    if (acked.size() > acked_before) ++kills_with_acks;
    // The run resumed the chain where the previous one stopped.
    if (acked.size() > acked_before) {
      auto first_new = acked.begin();
      std::advance(first_new, static_cast<long>(acked_before));
      EXPECT_LE(first_new->first, head + 1) << "iteration " << iter;
    }
    // A killed process's io_uring is torn down after it is reaped: O_DIRECT writes it had in
    // flight (never acknowledged) can still land for a few milliseconds. Read the stream once
    // it has stopped changing, as the next run's recovery (which starts later) will.
    auto stored = Stored(root, mode == "direct", &head);
    for (int settle = 0; settle < 100; ++settle) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      uint64_t again_head = 0;
      auto again = Stored(root, mode == "direct", &again_head);
      if (again_head == head && again == stored) break;
      stored = std::move(again);
      head = again_head;
    }
    for (const auto& [seq, hash] : acked) {
      const auto it = stored.find(seq);
      ASSERT_NE(it, stored.end()) << "acknowledged seq " << seq << " lost after kill " << iter;
      ASSERT_EQ(it->second, hash) << "seq " << seq << " changed after kill " << iter;
    }
    ASSERT_EQ(stored.size(), head);  // contiguous 1..head
  }
  EXPECT_GE(kills_with_acks, kIterations * 3 / 4);  // the kills really landed mid-stream
  // Appending continues from the head, and the whole chain verifies (hashes, links).
  const auto r =
      testing::RunCommand({testing::RonctlPath(), "audit", "append", "--dir", root, "--stream",
                           kStream, "--writer-id", kWriter, "--ack"},
                          R"({"kind":"Final","actor":{},"subject":{},"reason":"ok","attrs":{}})"
                          "\n");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.substr(0, r.out.find(' ')), std::to_string(head + 1));
  const auto verify =
      testing::RunCommand({testing::RonctlPath(), "audit", "verify", "--dir", root}, "");
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  EXPECT_EQ(verify.out, "ok " + std::to_string(head + 1) + " records, 1 streams\n");
}

}  // namespace
}  // namespace ron
