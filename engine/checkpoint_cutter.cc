#include "engine/checkpoint_cutter.h"

#include "checkpoint/checkpoint.h"
#include "segment/segment_format.h"
#include "wal/reader.h"

namespace ron {

StreamAccumulator& CheckpointCutter::Accumulator(const std::string& writer,
                                                 const std::string& stream) {
  auto it = acc_.find({writer, stream});
  if (it != acc_.end()) return it->second;
  it = acc_.emplace(std::make_pair(writer, stream), StreamAccumulator(writer, stream)).first;
  ExportTail tail;
  Status s;
  if (auto known = attach_tails_.find({writer, stream}); known != attach_tails_.end()) {
    tail = known->second;
  } else {
    s = ReadExportTail(options_.export_dir, writer, stream, &tail);
  }
  if (!s.ok()) {
    log_->Log("error", "audit.export.error",
              {.writer_id = writer, .stream = stream, .msg = s.ToString()});
  }
  it->second.SetExportedThrough(tail.last_seq, tail.last_tree_root);
  return it->second;
}

Status CheckpointCutter::Attach(wal::Wal* wal, bool report) {
  attach_tails_.clear();
  const Status checked = CheckAgainstExport(wal, report);
  if (checked.ok()) Restore(wal);
  attach_tails_.clear();
  return checked;
}

// A stream whose WAL is behind the newest checkpoint its export holds (rolled back to an older
// copy, a segment or the whole directory missing) opens frozen: appending would reissue seqs
// that signed checkpoints already cover. A WAL at or past the export is then held to the
// checkpoint's tree_root (Restore).
Status CheckpointCutter::CheckAgainstExport(wal::Wal* wal, bool report) {
  const std::string& dir = options_.export_dir;
  std::vector<std::pair<std::string, std::string>> exported;
  RON_RETURN_IF_ERROR(ListExportStreams(dir, &exported));
  for (const auto& [writer, stream] : exported) {
    if (OwnerIndex(writer, stream, options_.workers) != options_.index) continue;
    const wal::StreamWal* ws = wal->FindStream(writer, stream);
    if (ws != nullptr && ws->state() == StreamState::kFrozen) continue;  // said already
    ExportTail tail;
    std::string why;
    const Status read = ReadExportTail(dir, writer, stream, &tail);
    if (read.ok()) attach_tails_[{writer, stream}] = tail;  // for Restore's accumulators
    if (!read.ok()) {
      why = "export_unreadable: " + read.message();
    } else if (tail.last_seq == 0) {
      continue;
    } else if (ws == nullptr) {
      why = "wal_missing: the export holds a checkpoint through seq " +
            std::to_string(tail.last_seq) + " but the WAL has no such stream";
    } else if (ws->head_seq() < tail.last_seq) {
      why = "wal_behind_export: the WAL ends at seq " + std::to_string(ws->head_seq()) +
            " but the export holds a checkpoint through seq " + std::to_string(tail.last_seq);
    } else {
      continue;
    }
    RON_RETURN_IF_ERROR(wal->AddFrozenStream(writer, stream, Status(Code::kFrozen, why)));
    if (!report) continue;  // a reopen after a full disk says nothing twice
    metrics_->manifest_gap++;
    log_->Log("error", "audit.verify.fail",
              {.writer_id = writer,
               .stream = stream,
               .seq = tail.last_seq,
               .reason = "manifest_gap",
               .msg = "stream frozen: " + why});
  }
  return Status::Ok();
}

void CheckpointCutter::Restore(wal::Wal* wal) {
  acc_.clear();
  for (const wal::StreamWal* s : wal->streams()) {
    if (s->state() != StreamState::kOk) continue;
    StreamAccumulator& acc = Accumulator(s->writer_id(), s->stream());
    wal::StreamReport report;
    const Status scanned = wal::ScanStream(
        wal::StreamDir(options_.wal_dir, s->writer_id(), s->stream()), s->writer_id(),
        s->stream(), options_.limits, wal::VerifyLevel::kChecksums, &report,
        [&](const wal::RecordView& r) {
          uint64_t segment_no = 0;
          const std::string& file = *r.file;
          segment::ParseSegmentFileName(file.substr(file.rfind('/') + 1), &segment_no);
          acc.Add(r.seq, r.self_hash, segment_no, r.offset);
          return true;
        });
    // The stream's Merkle state must be whole, or its next checkpoints could never be cut (and
    // a short accumulator would drop every new record): a failed or short rescan freezes the
    // stream like any other damage.
    if (!scanned.ok() || report.frozen || acc.size() != s->head_seq()) {
      const std::string why = "export_rescan: " + (!scanned.ok()    ? scanned.ToString()
                                                   : report.frozen ? report.problem.ToString()
                                                                   : "the WAL changed while it was read");
      log_->Log("error", "audit.export.error",
                {.writer_id = s->writer_id(), .stream = s->stream(), .msg = why});
      wal->Freeze(wal->FindStream(s->writer_id(), s->stream()), Status(Code::kFrozen, why));
      continue;
    }
    if (acc.diverged()) {
      ReportDiverged(acc);
      wal->Freeze(wal->FindStream(s->writer_id(), s->stream()),
                  Status(Code::kFrozen,
                         "export_mismatch: the WAL does not reproduce the tree_root of the "
                         "export's checkpoint through seq " +
                             std::to_string(acc.exported_through())));
    }
  }
}

void CheckpointCutter::OnDurable(const wal::StreamWal& s, uint64_t seq, const Digest& hash,
                                 uint64_t segment_no, uint64_t offset) {
  StreamAccumulator& acc = Accumulator(s.writer_id(), s.stream());
  if (seq != acc.size() + 1) return;  // already known (a reopen replays nothing twice)
  const bool diverged = acc.diverged();
  acc.Add(seq, hash, segment_no, offset);
  if (!diverged && acc.diverged()) ReportDiverged(acc);
  if (acc.pending() >= options_.checkpoint_every) Cut(&acc);
}

// The stream's records no longer reproduce its last signed tree_root: never sign a checkpoint
// that contradicts it.
void CheckpointCutter::ReportDiverged(const StreamAccumulator& acc) {
  metrics_->verify_hash++;
  log_->Log("error", "audit.export.error",
            {.writer_id = acc.writer_id(),
             .stream = acc.stream(),
             .seq = acc.exported_through(),
             .reason = "hash_mismatch",
             .msg = "export_mismatch: the WAL does not reproduce the last checkpoint's "
                    "tree_root; the stream is frozen and further checkpoints of it are "
                    "refused"});
}

void CheckpointCutter::Cut(StreamAccumulator* acc) {
  if (acc->pending() == 0 || acc->diverged()) return;
  // Cuts wait here, in order, until the builder takes them (one batch of 1024 records can
  // complete two ranges of 1000). A stream with kMaxWaitingCuts waiting (the builder is stuck)
  // keeps accumulating instead, so memory stays bounded and ranges contiguous.
  size_t waiting = 0;
  for (const CheckpointCut& w : waiting_) {
    waiting += w.writer_id == acc->writer_id() && w.stream == acc->stream();
  }
  if (waiting >= kMaxWaitingCuts) return;
  waiting_.push_back(acc->Cut());
}

void CheckpointCutter::CutAll() {
  for (auto& [key, acc] : acc_) Cut(&acc);
}

void CheckpointCutter::OfferCuts(wal::Wal* wal, bool force, bool closed) {
  if (waiting_.empty()) return;
  // A manifest names each record's segment and offset: they must be where recovery keeps them,
  // so records durable only in the commit journal are synced into their segments first.
  if (!closed && (options_.fsync != FsyncPolicy::kAlways || wal->has_journaled_records())) {
    const Status synced = wal->Sync();
    if (!synced.ok()) return;  // the stream failed; the cut waits (and never lies)
  }
  while (!waiting_.empty()) {
    if (force) {
      builder_->OfferAtClose(std::move(waiting_.front()));
    } else if (!builder_->Offer(&waiting_.front())) {
      break;  // full: try again after the next batch
    }
    waiting_.pop_front();
  }
}

}  // namespace ron
