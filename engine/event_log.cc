#include "engine/event_log.h"

#include <ctime>

namespace ron {
namespace {

// RFC 3339 UTC with milliseconds: 2026-11-22T07:31:00.123Z.
std::string Rfc3339Now() {
  const auto now = std::chrono::system_clock::now();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch());
  const time_t secs = static_cast<time_t>(ms.count() / 1000);
  struct tm tm {};
  gmtime_r(&secs, &tm);
  char buf[40];
  const size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf + n, sizeof(buf) - n, ".%03dZ", static_cast<int>(ms.count() % 1000));
  return buf;
}

// The docs/OBSERVABILITY.md reason of a refused record.
const char* RejectReason(Code code) {
  switch (code) {
    case Code::kAttrsTooLarge:
    case Code::kRecordTooLarge:
      return "bounds_exceeded";
    case Code::kHashMismatch:
    case Code::kPrevMismatch:
      return "tamper";
    case Code::kConflict:  // another record at a stored seq: a race or a diverged replica
      return "conflict";
    case Code::kFloat:
      return "float";
    case Code::kUtf8:
      return "utf8";
    case Code::kSeqGap:
      return "seq_gap";
    case Code::kBusy:
      return "busy";
    case Code::kIo:
    case Code::kFrozen:
    case Code::kClosed:
      return "io";
    default:
      return "schema";
  }
}

}  // namespace

EventLog::EventLog(std::function<void(std::string_view)> sink, std::string service,
                   std::string writer_id, EngineMetrics* metrics)
    : sink_(std::move(sink)),
      service_(std::move(service)),
      writer_id_(std::move(writer_id)),
      metrics_(metrics) {}

void EventLog::Log(const char* level, const char* event, const LogFields& f) {
  if (!sink_) return;
  std::string line = "{\"ts\":\"" + Rfc3339Now() + "\",\"level\":\"" + level + "\",\"service\":";
  AppendJsonString(service_, &line);
  line += ",\"event\":\"" + std::string(event) + "\",\"writer_id\":";
  AppendJsonString(f.writer_id.empty() ? writer_id_ : f.writer_id, &line);
  if (!f.stream.empty()) {
    line += ",\"stream\":";
    AppendJsonString(f.stream, &line);
  }
  if (f.seq != 0) line += ",\"seq\":" + std::to_string(f.seq);
  if (f.self_hash != nullptr) line += ",\"self_hash\":\"" + HashText(*f.self_hash) + "\"";
  if (!f.reason.empty()) line += ",\"reason\":\"" + std::string(f.reason) + "\"";
  if (!f.msg.empty()) {
    line += ",\"msg\":";
    AppendJsonString(f.msg, &line);
  }
  line += "}";
  // The host's callback: it may neither throw into the engine (a worker would terminate the
  // process) nor wait for it (see t_in_log_callback). A throw is swallowed and counted.
  ++t_in_log_callback;
  try {
    sink_(line);
  } catch (...) {
    metrics_->log_callback_errors++;
  }
  --t_in_log_callback;
}

void EventLog::Log(const char* level, const char* event, const std::string& msg) {
  Log(level, event, LogFields{.msg = msg});
}

void EventLog::CountReject(const Status& status, LogFields fields) {
  metrics_->rejected++;
  if (status.code() == Code::kAttrsTooLarge || status.code() == Code::kRecordTooLarge) {
    metrics_->drop_bounds++;
  }
  if (!sink_) return;
  const int64_t second = static_cast<int64_t>(NowMs() / 1000);
  int64_t seen = log_second_.load(std::memory_order_relaxed);
  if (seen != second && log_second_.compare_exchange_strong(seen, second)) {
    log_in_second_ = 0;
    if (const uint64_t n = log_suppressed_.exchange(0); n > 0) {
      Log("warn", "audit.log.suppressed",
          std::to_string(n) + " audit.append.reject lines suppressed in the last second(s)");
    }
  }
  if (log_in_second_.fetch_add(1) >= kRejectLogsPerSecond) {
    log_suppressed_++;
    return;
  }
  fields.reason = RejectReason(status.code());
  const std::string msg = std::string(CodeName(status.code())) + ": " + status.message();
  fields.msg = msg;
  Log("warn", "audit.append.reject", fields);
}

}  // namespace ron
