// The engine's metrics page: Prometheus text of the golden metrics of docs/OBSERVABILITY.md
// (every one labelled with service), the diagnostic ones, and the WAL's own.
#ifndef ENGINE_METRICS_PAGE_H_
#define ENGINE_METRICS_PAGE_H_

#include <memory>
#include <string>
#include <vector>

#include "checkpoint/builder.h"
#include "engine/engine_internal.h"
#include "engine/worker.h"

namespace ron {

struct MetricsPageInputs {
  const std::string& service;
  const EngineMetrics& metrics;
  const std::vector<std::unique_ptr<Worker>>& workers;
  const CheckpointBuilder* builder;  // null without an export sink
  bool accepting;                    // audit_ready: open, and no worker suspended
};

std::string RenderMetricsPage(const MetricsPageInputs& in);

}  // namespace ron

#endif  // ENGINE_METRICS_PAGE_H_
