#include "checkpoint/builder.h"

#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "engine/core/check.h"
#include "segment/segment_format.h"
#include "wal/files.h"
#include "engine/core/limits.h"

namespace ron {

namespace {

using Clock = std::chrono::steady_clock;

uint64_t WallMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

}  // namespace

// ---- StreamAccumulator --------------------------------------------------------------------

void StreamAccumulator::Add(uint64_t seq, const Digest& self_hash, uint64_t segment_no,
                            uint64_t offset) {
  const Digest leaf = RecordLeafHash(self_hash);
  tree_.Push(leaf);
  if (seq == exported_ && tree_.Root() != exported_root_) diverged_ = true;
  if (seq <= exported_ || diverged_) return;
  if (range_.size() == 0) range_first_ = seq;
  range_.Push(leaf);
  head_ = self_hash;
  if (!part_open_ || segment_no != part_segment_) {
    ClosePart();
    part_open_ = true;
    part_segment_ = segment_no;
    part_ = ManifestSegment{segment::SegmentFileName(segment_no), offset, 0, seq, seq, {}};
    part_tree_ = MerkleFrontier();
  }
  part_tree_.Push(leaf);
  part_.count++;
  part_.last_seq = seq;
}

void StreamAccumulator::ClosePart() {
  if (!part_open_) return;
  part_.root = part_tree_.Root();
  parts_.push_back(std::move(part_));
  part_open_ = false;
}

CheckpointCut StreamAccumulator::Cut() {
  RON_CHECK(range_.size() > 0);
  ClosePart();
  CheckpointCut cut;
  cut.writer_id = writer_id_;
  cut.stream = stream_;
  cut.first_seq = range_first_;
  cut.last_seq = range_first_ + range_.size() - 1;
  cut.root = range_.Root();
  cut.head = head_;
  cut.tree_size = tree_.size();
  cut.tree_root = tree_.Root();
  cut.segments = std::move(parts_);
  parts_.clear();
  range_ = MerkleFrontier();
  exported_ = cut.last_seq;
  return cut;
}

// ---- Export tail --------------------------------------------------------------------------

Status ReadExportTail(const std::string& export_dir, const std::string& writer_id,
                      const std::string& stream, ExportTail* tail) {
  *tail = ExportTail();
  const std::string dir = ExportStreamDir(export_dir, writer_id, stream);
  struct stat st {};
  if (lstat(dir.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::Ok();  // nothing exported yet
    return Status(Code::kIo, "cannot stat " + dir + ": " + std::strerror(errno));
  }
  if (!S_ISDIR(st.st_mode)) return Status(Code::kIo, dir + " is not a directory");
  std::vector<std::string> names;
  RON_RETURN_IF_ERROR(wal::ListDir(dir, &names));
  uint64_t newest = 0;
  for (const std::string& name : names) {
    uint64_t last = 0;
    if (ParseManifestFileName(name, &last)) newest = std::max(newest, last);
  }
  if (newest == 0) return Status::Ok();
  const std::string path = dir + "/" + ManifestFileName(newest);
  std::string text;
  RON_RETURN_IF_ERROR(wal::ReadSmallFile(path, kMaxManifestBytes, &text));
  Manifest m;
  const Status parsed = ParseManifest(text, &m);
  if (!parsed.ok()) return Status(parsed.code(), path + ": " + parsed.message());
  if (m.checkpoints.empty() || m.checkpoints.back().last_seq != newest) {
    return Status(Code::kSchema,
                  path + ": its last checkpoint does not end at " + std::to_string(newest));
  }
  tail->last_seq = newest;
  tail->last_checkpoint_id = m.checkpoints.back().Id();
  tail->last_key_id = m.checkpoints.back().signer_key_id;
  tail->last_tree_root = m.checkpoints.back().tree_root;
  return Status::Ok();
}

// ---- CheckpointBuilder --------------------------------------------------------------------

CheckpointBuilder::CheckpointBuilder(BuilderOptions options)
    : options_(std::move(options)),
      signer_(options_.signer),
      previous_signer_(options_.previous_signer) {}

CheckpointBuilder::~CheckpointBuilder() { (void)Stop(Clock::now()); }

void CheckpointBuilder::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (started_) return;
  started_ = true;
  thread_ = std::thread([this] { Run(); });
}

bool CheckpointBuilder::Offer(CheckpointCut* cut) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || queue_.size() >= options_.queue_capacity) return false;
    queue_.push_back(Item{std::move(*cut), nullptr, false});
  }
  cv_.notify_one();
  return true;
}

void CheckpointBuilder::OfferAtClose(CheckpointCut cut) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(Item{std::move(cut), nullptr, false});
  }
  cv_.notify_one();
}

void CheckpointBuilder::Rotate(std::shared_ptr<Signer> next) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(Item{std::nullopt, std::move(next), true});
  }
  cv_.notify_one();
}

Status CheckpointBuilder::Stop(Clock::time_point deadline) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!started_) return Status::Ok();
    stopping_ = true;
    deadline_ = deadline;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> lock(mu_);
  if (!queue_.empty()) {
    const size_t left = queue_.size();
    failures_ += left;
    queue_.clear();
    return Status(Code::kClosed,
                  std::to_string(left) + " export batch(es) not written by the deadline");
  }
  return HealthLocked();
}

bool CheckpointBuilder::WaitIdle(Clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  return idle_cv_.wait_until(lock, deadline, [&] { return queue_.empty() && !busy_; });
}

uint64_t CheckpointBuilder::checkpoints_total() const {
  std::lock_guard<std::mutex> lock(mu_);
  return checkpoints_;
}
uint64_t CheckpointBuilder::export_failures_total() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failures_;
}
uint64_t CheckpointBuilder::refused_total() const {
  std::lock_guard<std::mutex> lock(mu_);
  return refused_;
}
bool CheckpointBuilder::healthy() const {
  std::lock_guard<std::mutex> lock(mu_);
  return healthy_;
}
Status CheckpointBuilder::Health() const {
  std::lock_guard<std::mutex> lock(mu_);
  return HealthLocked();
}
Status CheckpointBuilder::HealthLocked() const {
  if (healthy_) return Status::Ok();
  return Status(Code::kIo, "the last export attempt failed: " + last_failure_.message(),
                last_failure_.sys_errno());
}
void CheckpointBuilder::RenderHistogram(std::string* out, const std::string& labels) const {
  std::lock_guard<std::mutex> lock(mu_);
  batch_seconds_.Render("export_batch_seconds",
                        "Checkpoint + manifest latency (sign, write, fsync) per export batch.",
                        out, labels);
}

void CheckpointBuilder::Log(const char* level, const char* event, const std::string& stream,
                            const std::string& msg) const {
  if (options_.log) options_.log(level, event, stream, msg);
}

// The queue position of the first item that may go now: a rotation only at the front (it
// applies to everything queued after it); a cut only if it is its stream's oldest queued cut
// and that stream is not backing off. *wake: when a stream that is backing off may go again.
std::optional<size_t> CheckpointBuilder::PickLocked(Clock::time_point now,
                                                    Clock::time_point* wake) const {
  std::set<std::pair<std::string, std::string>> seen;
  for (size_t i = 0; i < queue_.size(); ++i) {
    const Item& item = queue_[i];
    if (item.is_rotate) {
      if (i == 0) return i;
      break;
    }
    const auto key = std::make_pair(item.cut->writer_id, item.cut->stream);
    if (!seen.insert(key).second) continue;  // an older cut of this stream goes first
    const auto r = retry_.find(key);
    if (r != retry_.end() && r->second.next > now) {
      *wake = std::min(*wake, r->second.next);
      continue;
    }
    return i;
  }
  return std::nullopt;
}

void CheckpointBuilder::Run() {
  pthread_setname_np(pthread_self(), "ron-checkpoint");  // for top -H, perf and gdb; best effort
  for (;;) {
    Item item;
    size_t index = 0;
    {
      std::unique_lock<std::mutex> lock(mu_);
      for (;;) {
        if (queue_.empty()) {
          if (stopping_) break;
          cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
          continue;
        }
        const auto now = Clock::now();
        if (stopping_ && now >= deadline_) break;
        auto wake = Clock::time_point::max();
        if (const auto pick = PickLocked(now, &wake)) {
          index = *pick;
          break;
        }
        // Every stream with work is backing off: one failing stream (a bad directory, a full
        // disk under its export dir) never holds up the others, and nobody spins — while
        // stopping neither.
        cv_.wait_until(lock, stopping_ ? std::min(wake, deadline_) : wake);
      }
      if (queue_.empty() || (stopping_ && Clock::now() >= deadline_)) break;
      item = queue_[index];  // stays queued until written
      busy_ = true;
    }
    bool done = true;
    std::pair<std::string, std::string> key;
    if (item.is_rotate) {
      previous_signer_ = signer_;
      signer_ = item.rotate_to;
      Log("info", "audit.key.rotated", "",
          "checkpoints are now signed by " + (signer_ ? signer_->key_id() : std::string("none")));
    } else {
      key = {item.cut->writer_id, item.cut->stream};
      const auto started = Clock::now();
      const Status s = Export(*item.cut, signer_, previous_signer_);
      std::string error;  // logged after the lock is released (the host's sink may block)
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (s.ok()) {
          batch_seconds_.Observe(std::chrono::duration<double>(Clock::now() - started).count());
          checkpoints_++;
          retry_.erase(key);
        } else if (s.code() == Code::kConflict) {
          // Signing it would contradict a checkpoint already issued: refuse, never retry.
          refused_++;
          retry_.erase(key);
          error = s.message() + " (refused, not retried)";
        } else {
          failures_++;
          last_failure_ = s;
          Retry& r = retry_[key];
          r.backoff = r.backoff.count() == 0 ? limits::kExportBackoffFirst
                                             : std::min<std::chrono::milliseconds>(
                                                   r.backoff * 2, limits::kExportBackoffMax);
          r.next = Clock::now() + r.backoff;
          done = false;
          error = s.ToString() + " (retrying in " + std::to_string(r.backoff.count()) + " ms)";
        }
        healthy_ = retry_.empty();
      }
      if (!error.empty()) Log("error", "audit.export.error", item.cut->stream, error);
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (done) queue_.erase(queue_.begin() + static_cast<std::ptrdiff_t>(index));
    busy_ = false;
    if (queue_.empty()) idle_cv_.notify_all();
  }
  std::lock_guard<std::mutex> lock(mu_);
  busy_ = false;
  idle_cv_.notify_all();
}

Status CheckpointBuilder::AdoptExisting(const std::string& path, const CheckpointCut& cut,
                                        Checkpoint* checkpoint) {
  std::string text;
  RON_RETURN_IF_ERROR(wal::ReadSmallFile(path, kMaxManifestBytes, &text));
  Manifest m;
  const Status parsed = ParseManifest(text, &m);
  if (!parsed.ok()) return Status(Code::kConflict, path + " exists and does not parse");
  if (m.checkpoints.empty()) return Status(Code::kConflict, path + " exists and is empty");
  const Checkpoint& c = m.checkpoints.back();
  if (c.writer_id != cut.writer_id || c.stream != cut.stream ||
      c.first_seq != cut.first_seq || c.last_seq != cut.last_seq || c.root != cut.root ||
      c.head != cut.head || c.tree_root != cut.tree_root ||
      c.prev_checkpoint != checkpoint->prev_checkpoint) {
    return Status(Code::kConflict, path + " exists with another checkpoint; refusing to replace it");
  }
  *checkpoint = c;
  return Status::Ok();
}

Status CheckpointBuilder::Export(const CheckpointCut& cut, std::shared_ptr<Signer> signer,
                                 std::shared_ptr<Signer> previous) {
  const auto key = std::make_pair(cut.writer_id, cut.stream);
  StreamState& st = streams_[key];
  if (!st.loaded) {
    ExportTail tail;
    RON_RETURN_IF_ERROR(ReadExportTail(options_.export_dir, cut.writer_id, cut.stream, &tail));
    st = StreamState{true, tail.last_seq, tail.last_checkpoint_id, tail.last_key_id};
  }
  if (cut.first_seq != st.last_seq + 1 || cut.tree_size != cut.last_seq) {
    return Status(Code::kConflict, "range [" + std::to_string(cut.first_seq) + "," +
                                       std::to_string(cut.last_seq) +
                                       "] does not follow the last checkpoint (seq " +
                                       std::to_string(st.last_seq) + ")");
  }
  Checkpoint c;
  c.writer_id = cut.writer_id;
  c.stream = cut.stream;
  c.first_seq = cut.first_seq;
  c.last_seq = cut.last_seq;
  c.root = cut.root;
  c.head = cut.head;
  c.tree_size = cut.tree_size;
  c.tree_root = cut.tree_root;
  c.prev_checkpoint = st.last_id;
  c.created_ts_ms = WallMs();
  if (signer != nullptr) {
    c.signer_key_id = signer->key_id();
    c.alg = signer->alg();
  }
  const std::string body = c.SignedBody();
  if (signer != nullptr) {
    auto sig = signer->Sign(body);
    if (!sig.ok()) return sig.status();
    c.sig = Base64Encode(sig.value());
  }
  // The first checkpoint of a stream under a new key carries the previous key's signature too
  // (docs/RUNBOOK.md §6): the stream's last checkpoint was signed by `previous`, this one is not.
  // Decided from what the export holds, so it also holds across a restart with a new key.
  const bool cosign = previous != nullptr && previous != signer &&
                      !st.last_key_id.empty() && st.last_key_id == previous->key_id() &&
                      (signer == nullptr || signer->key_id() != st.last_key_id);
  if (cosign) {
    auto sig = previous->Sign(body);
    if (!sig.ok()) return sig.status();
    c.cosigs.push_back({previous->key_id(), previous->alg(), Base64Encode(sig.value())});
  }
  Manifest m;
  m.stream = cut.stream;
  m.writer_id = cut.writer_id;
  m.segments = cut.segments;
  m.checkpoints.push_back(c);
  m.created_ts_ms = c.created_ts_ms;
  const std::string writer_dir =
      options_.export_dir + "/" + segment::EscapePathComponent(cut.writer_id);
  RON_RETURN_IF_ERROR(wal::EnsurePrivateDir(writer_dir, true));
  const std::string dir = ExportStreamDir(options_.export_dir, cut.writer_id, cut.stream);
  RON_RETURN_IF_ERROR(wal::EnsurePrivateDir(dir, true));
  const std::string path = dir + "/" + ManifestFileName(c.last_seq);
  const Status written = wal::WriteFileAtomic(path, m.Json(), wal::Replace::kNever);
  if (written.code() == Code::kConflict) {
    // A manifest for this range exists already: an earlier attempt renamed it into place and
    // then failed (its directory fsync). Adopt it if it is this very checkpoint; never
    // replace signed evidence with another signature over it.
    RON_RETURN_IF_ERROR(AdoptExisting(path, cut, &c));
    RON_RETURN_IF_ERROR(wal::FsyncDir(dir));
  } else {
    RON_RETURN_IF_ERROR(written);
  }
  st.last_seq = c.last_seq;
  st.last_id = c.Id();
  st.last_key_id = c.signer_key_id;
  Log("info", "audit.checkpoint.created", cut.stream,
      "range [" + std::to_string(c.first_seq) + "," + std::to_string(c.last_seq) + "] root " +
          HashText(c.root) + " signer_key_id " +
          (c.signer_key_id.empty() ? "none" : c.signer_key_id));
  return Status::Ok();
}

}  // namespace ron
