// Hooks for tests and chaos drills only; never part of the installed API.
#ifndef ENGINE_TESTING_HOOKS_H_
#define ENGINE_TESTING_HOOKS_H_

#include <memory>

#include "ron_audit/engine.h"
#include "wal/io.h"

namespace ron {

struct EngineAccess {
  // Engine::Open whose WALs pass every write and fsync through `faults` (not owned; must
  // outlive the engine and be thread-safe).
  static Result<std::unique_ptr<Engine>> OpenWithFaults(const EngineOptions& options,
                                                        wal::FaultInjector* faults);
};

}  // namespace ron

#endif  // ENGINE_TESTING_HOOKS_H_
