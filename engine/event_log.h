// The engine's JSON-lines log (docs/OBSERVABILITY.md): one line per event to the host's
// callback, never a record body; refused records are counted and logged at a bounded rate.
//
// Thread-safety: every method may be called from any thread.
#ifndef ENGINE_EVENT_LOG_H_
#define ENGINE_EVENT_LOG_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "engine/engine_internal.h"
#include "engine/core/limits.h"

namespace ron {

class EventLog {
 public:
  // `sink`: EngineOptions::log (may be empty: nothing is logged). `metrics` outlives this.
  EventLog(std::function<void(std::string_view)> sink, std::string service, std::string writer_id,
           EngineMetrics* metrics);

  void Log(const char* level, const char* event, const LogFields& fields);
  void Log(const char* level, const char* event, const std::string& msg);

  // A refused record: counted, and logged as audit.append.reject at most kRejectLogsPerSecond
  // times a second (a shed storm must not become a log storm).
  static constexpr uint32_t kRejectLogsPerSecond = limits::kRejectLogsPerSecond;
  void CountReject(const Status& status, LogFields fields);

 private:
  const std::function<void(std::string_view)> sink_;
  const std::string service_, writer_id_;
  EngineMetrics* const metrics_;
  std::atomic<int64_t> log_second_{0};
  std::atomic<uint32_t> log_in_second_{0};
  std::atomic<uint64_t> log_suppressed_{0};
};

}  // namespace ron

#endif  // ENGINE_EVENT_LOG_H_
