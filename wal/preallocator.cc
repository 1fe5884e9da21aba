#include "wal/preallocator.h"

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <vector>

namespace ron::wal {
namespace {

constexpr size_t kChunkBytes = 64 * 1024;
// Zero-filling competes with the WAL for the disk: every fdatasync of a commit flushes the zeros
// written since the last one. Unthrottled, buffered zero-fill of a 128 MiB segment let dirty-page
// writeback push the WAL's ack p95 from 1.5 ms to 20 ms on the project VM; O_DIRECT writes of
// 256 KiB at <= 512 MB/s still left one producer's acknowledgements a p99 of 2.4-2.7 ms on a ~650
// MB/s disk, against 0.47 ms with writes of 64 KiB at <= 128 MB/s (docs/PERFORMANCE_LOG.md). Only
// streams of small commits are zero-filled (WalOptions::zero_fill_max_write_bytes), whose rate
// this keeps ahead of while they write up to ~48 MB/s (a successor of twice the zone, in the
// three quarters of it left); a faster one appends past its zone until the successor is ready.
constexpr double kMaxBytesPerSecond = 128.0 * 1024 * 1024;

// Creates `path` and writes `bytes` zeros, durably. Removes the file on failure.
bool ZeroFill(const std::string& path, uint64_t bytes, const std::atomic<bool>& stop,
              std::atomic<uint64_t>* written) {
  int fd = open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_DIRECT, 0600);
  if (fd < 0 && errno == EINVAL) {  // a file system without O_DIRECT
    fd = open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
  }
  if (fd < 0) return false;
  void* raw = nullptr;
  if (posix_memalign(&raw, 4096, kChunkBytes) != 0) {
    close(fd);
    unlink(path.c_str());
    return false;
  }
  std::unique_ptr<char, void (*)(void*)> zeros(static_cast<char*>(raw), &free);
  std::memset(zeros.get(), 0, kChunkBytes);
  const auto start = std::chrono::steady_clock::now();
  bool ok = true;
  for (uint64_t done = 0; ok && done < bytes && !stop;) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kChunkBytes, bytes - done));
    const ssize_t w = pwrite(fd, zeros.get(), n, static_cast<off_t>(done));
    if (w < 0 && errno == EINTR) continue;
    ok = w > 0;
    done += ok ? static_cast<uint64_t>(w) : 0;
    if (ok) written->fetch_add(static_cast<uint64_t>(w), std::memory_order_relaxed);
    const auto due =
        start + std::chrono::duration<double>(static_cast<double>(done) / kMaxBytesPerSecond);
    std::this_thread::sleep_until(
        std::chrono::time_point_cast<std::chrono::steady_clock::duration>(due));
  }
  ok = ok && !stop && fdatasync(fd) == 0;
  close(fd);
  if (!ok) unlink(path.c_str());
  return ok;
}

}  // namespace

Preallocator::Preallocator(std::atomic<uint64_t>* zero_filled)
    : zero_filled_(zero_filled), thread_([this] { Run(); }) {}

Preallocator::~Preallocator() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  stopping_ = true;  // abandons a zero-fill in progress
  cv_.notify_all();
  thread_.join();
  for (const std::string& path : ready_) unlink(path.c_str());
}

void Preallocator::Request(const std::string& path, uint64_t bytes) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (queue_.size() >= kMaxQueued || ready_.count(path) != 0) return;
    queue_.push_back(Job{path, bytes});
  }
  cv_.notify_one();
}

bool Preallocator::Take(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  return ready_.erase(path) == 1;
}

void Preallocator::Discard(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = queue_.begin(); it != queue_.end(); ++it) {
    if (it->path == path) {
      queue_.erase(it);
      return;
    }
  }
  if (ready_.erase(path) == 1) {
    unlink(path.c_str());
  } else {
    discard_.insert(path);  // being zero-filled right now
  }
}

bool Preallocator::IsReady(const std::string& path) const {
  std::lock_guard<std::mutex> lock(mu_);
  return ready_.count(path) == 1;
}

size_t Preallocator::outstanding() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size() + ready_.size() + (filling_ ? 1 : 0);
}

uint64_t Preallocator::prepared() const {
  std::lock_guard<std::mutex> lock(mu_);
  return prepared_;
}

uint64_t Preallocator::failed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failed_;
}

void Preallocator::Run() {
  pthread_setname_np(pthread_self(), "ron-prealloc");  // for top -H, perf and gdb; best effort
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
      filling_ = true;
    }
    // No lock held across the I/O.
    const bool ok = ZeroFill(job.path, job.bytes, stopping_, zero_filled_);
    std::lock_guard<std::mutex> lock(mu_);
    filling_ = false;
    const bool unwanted = discard_.erase(job.path) == 1;
    if (ok && (stop_ || unwanted)) {
      unlink(job.path.c_str());
    } else if (ok) {
      ready_.insert(job.path);
      ++prepared_;
    } else {
      ++failed_;
    }
  }
}

}  // namespace ron::wal
