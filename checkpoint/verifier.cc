#include "checkpoint/verifier.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <system_error>
#include <thread>

#include "checkpoint/merkle.h"
#include "engine/core/canonical.h"
#include "engine/core/key_rotation.h"
#include "segment/segment_format.h"
#include "wal/files.h"
#include "wal/reader.h"

namespace ron {

namespace {

// Records the first failure only.
void Fail(ExportVerifyReport* r, Code code, std::string reason, std::string message,
          const std::string& writer_id, const std::string& stream, std::string file,
          uint64_t offset, uint64_t seq) {
  if (!r->failure.ok()) return;
  r->failure = Status(code, std::move(message));
  r->reason = std::move(reason);
  r->writer_id = writer_id;
  r->stream = stream;
  r->file = std::move(file);
  r->offset = offset;
  r->seq = seq;
}

std::string ReasonOf(Code code) {
  switch (code) {
    case Code::kHashMismatch:
      return "hash_mismatch";
    case Code::kPrevMismatch:
      return "prev_mismatch";
    case Code::kSeqGap:
      return "seq_gap";
    default: {
      std::string name(CodeName(code));
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      return name;
    }
  }
}

std::string BaseName(const std::string& path) { return path.substr(path.rfind('/') + 1); }

}  // namespace

std::string CheckSignatures(const Checkpoint& c, const TrustedKeys& keys,
                            const std::string& previous_key_id) {
  if (c.alg == kAlgNone) return "unsigned";
  const std::string body = c.SignedBody();
  std::string sig;
  if (!Base64Decode(c.sig, &sig)) return "bad_signature";
  switch (keys.Verify(c.signer_key_id, c.alg, body, sig)) {
    case SigCheck::kValid:
      break;
    case SigCheck::kUnknownKey:
      return "untrusted_key";
    default:
      return "bad_signature";
  }
  bool cross_signed = false;
  for (const Cosignature& co : c.cosigs) {
    if (!keys.Knows(co.signer_key_id)) continue;  // a witness we do not know: ignored
    std::string cosig;
    if (!Base64Decode(co.sig, &cosig) ||
        keys.Verify(co.signer_key_id, co.alg, body, cosig) != SigCheck::kValid) {
      return "bad_cosignature";
    }
    cross_signed = cross_signed || co.signer_key_id == previous_key_id;
  }
  if (!previous_key_id.empty() && previous_key_id != c.signer_key_id &&
      keys.Knows(previous_key_id) && !cross_signed) {
    return "missing_cross_signature";
  }
  return "";
}

void LoadStreamManifests(const ExportVerifyOptions& options, const std::string& writer_id,
                         const std::string& stream, std::vector<LoadedManifest>* manifests,
                         ExportVerifyReport* report) {
  manifests->clear();
  const std::string dir = ExportStreamDir(options.export_dir, writer_id, stream);
  if (access(dir.c_str(), F_OK) != 0) return;
  std::vector<std::string> names;
  const Status listed = wal::ListDir(dir, &names);
  if (!listed.ok()) {
    Fail(report, Code::kIo, "unreadable", listed.message(), writer_id, stream, dir, 0, 0);
    return;
  }
  std::vector<std::pair<uint64_t, std::string>> files;
  for (const std::string& name : names) {
    uint64_t last = 0;
    if (ParseManifestFileName(name, &last)) {
      files.emplace_back(last, name);
    } else {
      report->notes.push_back("ignored " + dir + "/" + segment::EscapePathComponent(name) + " (not a manifest name)");
    }
  }
  std::sort(files.begin(), files.end());
  uint64_t next = 1;
  std::string prev_id = "b3:0", prev_key;
  for (const auto& [last, name] : files) {
    LoadedManifest lm;
    lm.path = dir + "/" + name;
    std::string text;
    Status s = wal::ReadSmallFile(lm.path, kMaxManifestBytes, &text);
    if (s.ok()) s = ParseManifest(text, &lm.manifest);
    if (!s.ok()) {
      Fail(report, s.code(), "bad_manifest", s.message(), writer_id, stream, lm.path, 0, next);
      return;
    }
    const Manifest& m = lm.manifest;
    report->manifests++;
    const auto fail = [&](Code code, const char* reason, const std::string& msg, uint64_t seq) {
      Fail(report, code, reason, msg, writer_id, stream, lm.path, 0, seq);
    };
    if (m.writer_id != writer_id || m.stream != stream) {
      return fail(Code::kConflict, "stream_mismatch",
                  "manifest of " + segment::PrintedStreamName(m.writer_id, m.stream) + " filed under this stream", next);
    }
    if (m.checkpoints.empty() || m.checkpoints.back().last_seq != last) {
      return fail(Code::kSchema, "bad_manifest", "its last checkpoint does not end at its name",
                  next);
    }
    // The manifest itself is not signed: every field it has beyond its checkpoints must be
    // derivable from them or from the WAL, so that no byte of it can change unnoticed.
    if (m.created_ts_ms != m.checkpoints.back().created_ts_ms) {
      return fail(Code::kConflict, "bad_manifest",
                  "created_ts_ms differs from its last checkpoint's", next);
    }
    // Segments: contiguous, exactly covering the checkpoints' ranges.
    uint64_t seg_next = m.checkpoints.front().first_seq;
    for (const ManifestSegment& seg : m.segments) {
      if (seg.first_seq != seg_next) {
        return fail(Code::kSeqGap, "manifest_gap",
                    "segment parts are not contiguous at seq " + std::to_string(seg_next),
                    seg_next);
      }
      seg_next = seg.last_seq + 1;
    }
    if (seg_next != last + 1) {
      return fail(Code::kSeqGap, "manifest_gap",
                  "segment parts do not cover the checkpoints (end at " +
                      std::to_string(seg_next - 1) + ", checkpoints at " + std::to_string(last) +
                      ")",
                  seg_next);
    }
    for (const Checkpoint& c : m.checkpoints) {
      report->checkpoints++;
      if (c.writer_id != writer_id || c.stream != stream) {
        return fail(Code::kConflict, "stream_mismatch",
                    "checkpoint of " + segment::PrintedStreamName(c.writer_id, c.stream) + " in this stream's manifest",
                    c.first_seq);
      }
      if (c.first_seq != next) {
        const bool overlap = c.first_seq < next;
        return fail(overlap ? Code::kConflict : Code::kSeqGap,
                    overlap ? "manifest_overlap" : "manifest_gap",
                    "checkpoint range starts at seq " + std::to_string(c.first_seq) +
                        ", expected " + std::to_string(next),
                    next);
      }
      if (c.prev_checkpoint != prev_id) {
        return fail(Code::kConflict, "checkpoint_chain",
                    "prev_checkpoint " + c.prev_checkpoint + " is not " + prev_id, c.first_seq);
      }
      if (options.keys != nullptr) {
        const std::string why = CheckSignatures(c, *options.keys, prev_key);
        if (!why.empty()) {
          return fail(Code::kConflict, why.c_str(),
                      "checkpoint [" + std::to_string(c.first_seq) + "," +
                          std::to_string(c.last_seq) + "] signed by '" + c.signer_key_id +
                          "': " + why,
                      c.first_seq);
        }
      }
      next = c.last_seq + 1;
      prev_id = c.Id();
      prev_key = c.signer_key_id;
    }
    manifests->push_back(std::move(lm));
  }
}

namespace {

struct Rotation {
  uint64_t seq = 0;
  std::string old_key, new_key;
};

// Notes a KeyRotated record (engine/core/key_rotation.h). The scan verified the record (bytes,
// hash, link) before this; it is parsed as a record, so only its own kind and top-level attrs
// count, never look-alikes nested in attrs.
void NoteRotation(const wal::RecordView& r, const Limits& limits,
                  std::unique_ptr<Canonicalizer>* canonicalizer, std::vector<Rotation>* out) {
  if (!MayBeKeyRotated(r.json)) return;
  if (*canonicalizer == nullptr) *canonicalizer = std::make_unique<Canonicalizer>(limits);
  CanonicalRecord record;
  if (!(*canonicalizer)->Canonicalize(r.json, &record).ok()) return;
  Rotation rotation{r.seq, "", ""};
  if (ParseKeyRotated(record.record, &rotation.old_key, &rotation.new_key)) {
    out->push_back(std::move(rotation));
  }
}

// ScanStream with `judge` called on each record in file order. `on_helper` (a stream with a
// thread to spare): the scan runs on a helper thread and the judgements on this one, so the scan
// (frames, canonical bytes, self_hashes, links) and the Merkle trees (a leaf and node hashes per
// record) then overlap instead of adding up. Records pass in batches through a bounded queue.
// `on_scanned` sees each record on the helper (its bytes are valid only then); `judge` sees its
// seq, self_hash, file and offset on this thread (json empty), and false stops the scan soon
// after. `judged` counts the records judged, the one that stopped it included (what ScanStream
// counts when its callback stops it), and `json_bytes` their canonical bytes. A scan error after
// a stop is not reported (one thread would not have read that far). Without `on_helper`, or
// without a thread to be had, all of it runs here.
std::atomic<uint64_t> pipelined_scans{0};

Status ScanAndJudge(const std::string& dir, const std::string& writer_id,
                    const std::string& stream, const Limits& limits, bool on_helper,
                    wal::StreamReport* scan,
                    const std::function<void(const wal::RecordView&)>& on_scanned,
                    const std::function<bool(const wal::RecordView&)>& judge, uint64_t* judged,
                    uint64_t* json_bytes) {
  *judged = 0;
  *json_bytes = 0;
  const auto here = [&] {
    return wal::ScanStream(dir, writer_id, stream, limits, wal::VerifyLevel::kFull, scan,
                           [&](const wal::RecordView& r) {
                             on_scanned(r);
                             ++*judged;
                             *json_bytes += r.json.size();
                             return judge(r);
                           });
  };
  if (!on_helper) return here();
  struct Item {
    uint64_t seq;
    Digest self_hash;
    size_t file;  // in the batch's files
    uint64_t offset;
    size_t json_bytes;
  };
  struct Batch {
    std::vector<std::string> files;
    std::vector<Item> items;
  };
  constexpr size_t kBatchRecords = 1024, kBatchesInFlight = 4;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Batch> queue;
  bool done = false, stop = false;  // under mu
  Status scanned;
  std::exception_ptr thrown;  // by the helper: rethrown here after the join
  const auto produce = [&] {
    const wal::ReadBufferScope buffers;  // the helper's window
    Batch batch;
    const auto hand_off = [&] {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return stop || queue.size() < kBatchesInFlight; });
      if (stop) return false;
      queue.push_back(std::move(batch));
      batch = Batch();
      cv.notify_all();
      return true;
    };
    try {
      scanned = wal::ScanStream(
          dir, writer_id, stream, limits, wal::VerifyLevel::kFull, scan,
          [&](const wal::RecordView& r) {
            on_scanned(r);
            if (batch.files.empty() || batch.files.back() != *r.file) {
              batch.files.push_back(*r.file);
            }
            batch.items.push_back(
                {r.seq, r.self_hash, batch.files.size() - 1, r.offset, r.json.size()});
            return batch.items.size() < kBatchRecords || hand_off();
          });
      if (!batch.items.empty()) hand_off();
    } catch (...) {
      thrown = std::current_exception();
    }
    std::lock_guard lock(mu);
    done = true;
    cv.notify_all();
  };
  std::thread helper;
  try {
    helper = std::thread(produce);
    pipelined_scans.fetch_add(1, std::memory_order_relaxed);
  } catch (const std::system_error&) {
    return here();
  }
  bool stopped = false;
  // However this thread leaves (a judgement that stops the scan, or one that throws), the
  // helper is told to stop and joined first.
  class StopAndJoin {
   public:
    StopAndJoin(std::mutex* mu, std::condition_variable* cv, bool* stop, std::thread* helper)
        : mu_(mu), cv_(cv), stop_(stop), helper_(helper) {}
    ~StopAndJoin() { Finish(); }
    void Finish() {
      if (!helper_->joinable()) return;
      {
        std::lock_guard lock(*mu_);
        *stop_ = true;
        cv_->notify_all();
      }
      helper_->join();
    }

   private:
    std::mutex* mu_;
    std::condition_variable* cv_;
    bool* stop_;
    std::thread* helper_;
  };
  StopAndJoin joiner(&mu, &cv, &stop, &helper);
  while (!stopped) {
    Batch batch;
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return done || !queue.empty(); });
      if (queue.empty()) break;
      batch = std::move(queue.front());
      queue.pop_front();
      cv.notify_all();
    }
    for (const Item& item : batch.items) {
      ++*judged;
      *json_bytes += item.json_bytes;
      if (!judge(wal::RecordView{item.seq, {}, item.self_hash, &batch.files[item.file],
                                 item.offset})) {
        stopped = true;
        break;
      }
    }
  }
  joiner.Finish();  // stop (a no-op once the scan is done) and join
  if (thrown) std::rethrow_exception(thrown);
  return stopped ? Status::Ok() : scanned;
}

// Verifies one stream into its own report (counts, notes, tails and the first failure).
// `pipelined`: the WAL is scanned on a helper thread (ScanAndJudge).
void VerifyOneStream(const ExportVerifyOptions& options, bool exports, bool in_wal_stream,
                     const std::string& writer_id, const std::string& stream, bool pipelined,
                     ExportVerifyReport* report) {
  report->streams++;
  std::vector<LoadedManifest> manifests;
  if (exports) LoadStreamManifests(options, writer_id, stream, &manifests, report);
  if (!report->failure.ok()) return;
  std::vector<const Checkpoint*> cps;
  std::vector<const std::string*> cp_files;  // the manifest that holds each checkpoint
  std::vector<const ManifestSegment*> parts;
  std::vector<const std::string*> part_files;  // the manifest that lists each part
  for (const LoadedManifest& lm : manifests) {
    for (const Checkpoint& c : lm.manifest.checkpoints) {
      cps.push_back(&c);
      cp_files.push_back(&lm.path);
    }
    for (const ManifestSegment& p : lm.manifest.segments) {
      parts.push_back(&p);
      part_files.push_back(&lm.path);
    }
  }
  std::vector<Rotation> rotations;  // the stream's KeyRotated records
  std::unique_ptr<Canonicalizer> canonicalizer;  // made for the first look-alike
  if (!in_wal_stream && cps.empty()) {
    // An export directory without a manifest and without a WAL stream holds no evidence.
    report->streams = 0;
    report->notes.push_back("ignored " + ExportStreamDir(options.export_dir, writer_id, stream) +
                            " (no manifest, no WAL stream)");
    return;
  }
  if (!in_wal_stream) {
    Fail(report, Code::kSeqGap, "wal_missing",
         "the export covers records up to seq " + std::to_string(cps.back()->last_seq) +
             " but the WAL has no such stream",
         writer_id, stream, manifests.front().path, 0, 1);
    return;
  }
  MerkleFrontier tree, range, part;
  size_t ci = 0, pi = 0;
  bool failed = false;
  const auto fail = [&](Code code, const char* reason, const std::string& msg,
                        const wal::RecordView& r) {
    Fail(report, code, reason, msg, writer_id, stream, *r.file, r.offset, r.seq);
    failed = true;
    return false;
  };
  // A segment part that disagrees with the WAL is judged at the end of its checkpoint: the
  // segment list is outside the signature, so if the WAL still reproduces the signed checkpoint
  // the manifest's list is what is wrong, and the failure names the manifest (with the WAL's
  // place for the record in the message); if not, the checkpoint's failure names the WAL.
  struct PartFailure {
    Code code = Code::kOk;
    const char* reason = "";
    std::string message;
    const std::string* manifest = nullptr;
    uint64_t seq = 0;
    explicit operator bool() const { return manifest != nullptr; }
  } part_failure;
  const auto report_part_failure = [&] {
    Fail(report, part_failure.code, part_failure.reason, part_failure.message, writer_id, stream,
         *part_failure.manifest, 0, part_failure.seq);
    failed = true;
    return false;
  };
  // Each record in order: its leaf into the trees, the parts and checkpoints it ends checked.
  const auto judge = [&](const wal::RecordView& r) {
    if (ci >= cps.size()) return true;  // after the last checkpoint: the hash chain only
    const Digest leaf = RecordLeafHash(r.self_hash);
    tree.Push(leaf);
    if (!part_failure && pi < parts.size()) {
      const ManifestSegment& p = *parts[pi];
      // Every record of a part is in the part's file; the first at the part's offset.
      const auto part_fail = [&](Code code, const char* reason, const std::string& what) {
        part_failure = {code, reason,
                        what + " (the WAL has seq " + std::to_string(r.seq) + " in " +
                            *r.file + " at offset " + std::to_string(r.offset) + ")",
                        part_files[pi], r.seq};
      };
      if (BaseName(*r.file) != p.file || (r.seq == p.first_seq && r.offset != p.offset)) {
        part_fail(Code::kConflict, "segment_mismatch",
                  "the manifest places seq " + std::to_string(r.seq) + " at " + p.file +
                      " offset " + std::to_string(p.offset));
      }
      part.Push(leaf);
      if (!part_failure && r.seq == p.last_seq) {
        if (part.Root() != p.root) {
          part_fail(Code::kHashMismatch, "root_mismatch",
                    "segment part [" + std::to_string(p.first_seq) + "," +
                        std::to_string(p.last_seq) + "] root differs from the manifest");
        }
        part = MerkleFrontier();
        ++pi;
      }
    }
    const Checkpoint& c = *cps[ci];
    range.Push(leaf);
    if (r.seq == c.last_seq) {
      const std::string where = "checkpoint [" + std::to_string(c.first_seq) + "," +
                                std::to_string(c.last_seq) + "]";
      if (range.Root() != c.root) {
        return fail(Code::kHashMismatch, "root_mismatch", where + ": range root differs", r);
      }
      if (r.self_hash != c.head) {
        return fail(Code::kHashMismatch, "head_mismatch", where + ": head differs", r);
      }
      if (tree.Root() != c.tree_root) {
        return fail(Code::kHashMismatch, "root_mismatch", where + ": tree_root differs", r);
      }
      if (part_failure) return report_part_failure();
      range = MerkleFrontier();
      ++ci;
    }
    return true;
  };
  const auto note_rotation = [&](const wal::RecordView& r) {
    NoteRotation(r, options.limits, &canonicalizer, &rotations);
  };
  const std::string dir = wal::StreamDir(options.wal_dir, writer_id, stream);
  wal::StreamReport scan;
  uint64_t records = 0, bytes = 0;
  // Without checkpoints there is nothing to overlap: no helper.
  const Status scanned = ScanAndJudge(dir, writer_id, stream, options.limits,
                                      pipelined && !cps.empty(), &scan, note_rotation, judge,
                                      &records, &bytes);
  report->bytes += bytes;
  if (failed) {  // the first failure stands, whatever the scan met after it
    report->records += records;
    return;
  }
  if (!scanned.ok()) {
    Fail(report, scanned.code(), "unreadable", scanned.message(), writer_id, stream,
         wal::StreamDir(options.wal_dir, writer_id, stream), 0, 0);
    return;
  }
  report->records += records;
  if (part_failure && !scan.frozen) {
    report_part_failure();
    return;
  }
  if (scan.frozen) {
    Fail(report, scan.problem.code(), ReasonOf(scan.problem.code()), scan.problem.message(),
         writer_id, stream, scan.problem_file, scan.problem_offset, scan.problem_seq);
    return;
  }
  if (scan.torn_tail) {
    report->torn_tail = true;
    report->notes.push_back(segment::PrintedStreamName(writer_id, stream) + ": torn final write at offset " +
                            std::to_string(scan.torn_offset) +
                            " of the newest segment (never acknowledged)");
  }
  if (ci < cps.size()) {
    Fail(report, Code::kSeqGap, "wal_truncated",
         "checkpoints cover records up to seq " + std::to_string(cps.back()->last_seq) +
             " but the WAL ends at seq " + std::to_string(scan.head_seq),
         writer_id, stream, manifests.back().path, 0, scan.head_seq + 1);
    return;
  }
  // A change of signing key must be announced in the stream itself (docs/RUNBOOK.md §6): a
  // KeyRotated record naming both keys, after the start of the old key's last checkpoint (a
  // running engine may cut one more checkpoint before the record lands).
  for (size_t i = 1; i < cps.size(); ++i) {
    const std::string& old_key = cps[i - 1]->signer_key_id;
    const std::string& new_key = cps[i]->signer_key_id;
    if (old_key.empty() || new_key.empty() || old_key == new_key) continue;
    const bool announced = std::any_of(rotations.begin(), rotations.end(), [&](const Rotation& r) {
      return r.old_key == old_key && r.new_key == new_key && r.seq >= cps[i - 1]->first_seq;
    });
    if (!announced) {
      Fail(report, Code::kConflict, "unannounced_rotation",
           "checkpoint [" + std::to_string(cps[i]->first_seq) + "," +
               std::to_string(cps[i]->last_seq) + "] is signed by '" + new_key + "' after '" +
               old_key + "', but the stream has no KeyRotated record naming both",
           writer_id, stream, *cp_files[i], 0, cps[i]->first_seq);
      return;
    }
  }
  const uint64_t covered = cps.empty() ? 0 : cps.back()->last_seq;
  if (scan.head_seq > covered) {
    report->tails.push_back({writer_id, stream, covered + 1, scan.head_seq});
  }
}

}  // namespace

uint64_t PipelinedScansForTesting() { return pipelined_scans.load(); }

Status VerifyExports(const ExportVerifyOptions& options, ExportVerifyReport* report) {
  *report = ExportVerifyReport();
  std::vector<std::pair<std::string, std::string>> wal_streams;
  RON_RETURN_IF_ERROR(wal::ListStreams(options.wal_dir, &wal_streams));
  std::set<std::pair<std::string, std::string>> all(wal_streams.begin(), wal_streams.end());
  const bool exports = !options.export_dir.empty();
  if (exports) {
    if (access(options.export_dir.c_str(), R_OK | X_OK) != 0) {
      return Status(Code::kIo, "cannot read export dir " + options.export_dir);
    }
    std::vector<std::pair<std::string, std::string>> exported;
    RON_RETURN_IF_ERROR(ListExportStreams(options.export_dir, &exported));
    all.insert(exported.begin(), exported.end());
    if (options.keys == nullptr) {
      report->notes.push_back("signatures not checked (no --trusted-keys)");
    }
  }
  const std::set<std::pair<std::string, std::string>> in_wal(wal_streams.begin(),
                                                             wal_streams.end());
  // Streams are independent: verified on several threads, merged in stream order so that the
  // report is the one a single thread would write (counts up to and including the first
  // failing stream, its failure). Streams after a failure are skipped.
  const std::vector<std::pair<std::string, std::string>> keys(all.begin(), all.end());
  std::vector<ExportVerifyReport> per(keys.size());
  std::atomic<size_t> next{0}, first_failed{keys.size()};
  // With at least two threads per stream, each stream's scan gets a helper thread of its own.
  const size_t cores = std::max(1u, std::thread::hardware_concurrency());
  const size_t wanted = options.threads == 0 ? cores : static_cast<size_t>(options.threads);
  const bool pipelined = wanted >= 2 * keys.size();
  const auto work = [&] {
    const wal::ReadBufferScope buffer;  // one segment buffer for all this thread's streams
    for (size_t i; (i = next++) < keys.size();) {
      if (i > first_failed.load()) continue;
      VerifyOneStream(options, exports, in_wal.count(keys[i]) > 0, keys[i].first, keys[i].second,
                      pipelined, &per[i]);
      if (!per[i].failure.ok()) {
        size_t seen = first_failed.load();
        while (i < seen && !first_failed.compare_exchange_weak(seen, i)) {
        }
      }
    }
  };
  const size_t threads = std::min(keys.size(), wanted);
  std::vector<std::thread> helpers;
  for (size_t t = 1; t < threads; ++t) helpers.emplace_back(work);
  work();
  for (std::thread& t : helpers) t.join();
  for (ExportVerifyReport& r : per) {
    report->records += r.records;
    report->bytes += r.bytes;
    report->streams += r.streams;
    report->checkpoints += r.checkpoints;
    report->manifests += r.manifests;
    report->torn_tail = report->torn_tail || r.torn_tail;
    report->tails.insert(report->tails.end(), r.tails.begin(), r.tails.end());
    report->notes.insert(report->notes.end(), r.notes.begin(), r.notes.end());
    if (!r.failure.ok()) {
      report->failure = r.failure;
      report->reason = r.reason;
      report->writer_id = r.writer_id;
      report->stream = r.stream;
      report->file = r.file;
      report->offset = r.offset;
      report->seq = r.seq;
      break;
    }
  }
  return Status::Ok();
}

}  // namespace ron
