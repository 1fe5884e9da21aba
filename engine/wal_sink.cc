#include "engine/wal_sink.h"

namespace ron {

Result<std::unique_ptr<WalSink>> WalSink::Open(wal::WalOptions options, CheckpointCutter* cutter,
                                               EventLog* log, EngineMetrics* metrics,
                                               bool first_open) {
  if (cutter != nullptr) {
    options.on_durable = [cutter](const wal::StreamWal& s, uint64_t seq, const Digest& hash,
                                  uint64_t segment_no, uint64_t offset) {
      cutter->OnDurable(s, seq, hash, segment_no, offset);
    };
  }
  auto opened = wal::Wal::Open(options);
  if (!opened.ok()) return opened.status();
  std::unique_ptr<WalSink> sink(new WalSink());
  sink->wal_ = std::move(opened).value();
  // A WAL that disagrees with its export is not run on: Attach fails only when the export
  // cannot be listed at all (streams it disagrees with are frozen instead).
  if (cutter != nullptr) RON_RETURN_IF_ERROR(cutter->Attach(sink->wal_.get(), first_open));
  if (!sink->wal_->backend_note().empty()) {
    log->Log("warn", "wal.io_backend_fallback", sink->wal_->backend_note());
  }
  if (sink->wal_->journal_records_applied() > 0) {
    log->Log("info", "wal.journal.applied",
             std::to_string(sink->wal_->journal_records_applied()) +
                 " records taken from commit journals into their segments (the WAL was not "
                 "closed)");
  }
  if (!first_open) return sink;
  for (const wal::StreamWal* s : sink->wal_->streams()) {
    const wal::StreamReport* recovered = sink->wal_->recovery_report(s);
    if (recovered == nullptr || !recovered->frozen) continue;
    // Verification on read (recovery) found the evidence changed: hash_mismatch covers every
    // corruption the scanner and the chain check name.
    const bool prev = s->failure().code() == Code::kPrevMismatch;
    (prev ? metrics->verify_prev : metrics->verify_hash)++;
    log->Log("error", "audit.verify.fail",
             {.writer_id = s->writer_id(),
              .stream = s->stream(),
              .reason = prev ? "prev_mismatch" : "hash_mismatch",
              .msg = s->failure().message()});
  }
  return sink;
}

bool WalSink::Holds(const std::string& writer, const std::string& stream) const {
  return wal_->FindStream(writer, stream) != nullptr;
}

Result<SinkStream*> WalSink::GetStream(const std::string& writer, const std::string& stream) {
  auto got = wal_->GetStream(writer, stream);
  if (!got.ok()) return got.status();
  std::unique_ptr<Ref>& ref = refs_[got.value()];
  if (ref == nullptr) ref = std::make_unique<Ref>(got.value());
  return static_cast<SinkStream*>(ref.get());
}

Status WalSink::Stage(SinkStream* stream, const CanonicalRecord& record) {
  return wal_->Stage(static_cast<Ref*>(stream)->stream(), record);
}

Status WalSink::StoredDigest(SinkStream* stream, uint64_t seq, Digest* digest) {
  return wal_->StoredDigest(static_cast<Ref*>(stream)->stream(), seq, digest);
}

void WalSink::PublishHeads(const PublishHead& publish) {
  char head[kHashTextBytes];
  for (const wal::StreamWal* s : wal_->TakeChangedStreams()) {
    publish(s->writer_id(), s->stream(), s->head_seq(),
            HeadText(s->head_seq(), s->head_hash(), head), s->state());
  }
}

}  // namespace ron
