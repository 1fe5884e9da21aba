#include "wal/preallocator.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

namespace ron::wal {
namespace {

constexpr size_t kChunkBytes = 1 << 20;

// Creates `path` and writes `bytes` zeros, durably. Removes the file on failure.
bool ZeroFill(const std::string& path, uint64_t bytes) {
  const int fd = open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  static const std::vector<char> zeros(kChunkBytes, 0);
  bool ok = true;
  for (uint64_t done = 0; ok && done < bytes;) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kChunkBytes, bytes - done));
    const ssize_t w = pwrite(fd, zeros.data(), n, static_cast<off_t>(done));
    if (w < 0 && errno == EINTR) continue;
    ok = w > 0;
    done += ok ? static_cast<uint64_t>(w) : 0;
  }
  ok = ok && fdatasync(fd) == 0;
  close(fd);
  if (!ok) unlink(path.c_str());
  return ok;
}

}  // namespace

Preallocator::Preallocator() : thread_([this] { Run(); }) {}

Preallocator::~Preallocator() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
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

uint64_t Preallocator::prepared() const {
  std::lock_guard<std::mutex> lock(mu_);
  return prepared_;
}

uint64_t Preallocator::failed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failed_;
}

void Preallocator::Run() {
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    const bool ok = ZeroFill(job.path, job.bytes);  // no lock held across the I/O
    std::lock_guard<std::mutex> lock(mu_);
    if (ok && stop_) {
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
