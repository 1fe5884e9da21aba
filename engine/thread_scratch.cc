#include "engine/thread_scratch.h"

namespace ron {

Canonicalizer& ThreadCanonicalizer(const Limits& limits) {
  thread_local std::unique_ptr<Canonicalizer> canonicalizer;
  thread_local Limits built_for;
  if (canonicalizer == nullptr || built_for.max_attrs_bytes != limits.max_attrs_bytes ||
      built_for.max_record_bytes != limits.max_record_bytes) {
    canonicalizer = std::make_unique<Canonicalizer>(limits);
    built_for = limits;
  }
  return *canonicalizer;
}

// g++ 12 takes the moves of Result<Ticket> (a variant) when *results grows for a Status
// that is never read uninitialized (a known false positive of -Wmaybe-uninitialized).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
bool BatchScratch::PushRun(std::vector<Result<Ticket>>* results, size_t* taken,
                           const std::function<void(PushResult, const Task&)>& refused) {
  if (run.empty()) return true;
  size_t pushed = 0;
  const PushResult result = run_owner->TryPushMany(run.data(), run.size(), &pushed);
  for (size_t k = 0; k < pushed; ++k) results->push_back(Ticket(run_tickets[k]));
  *taken += pushed;
  const bool all = pushed == run.size();
  if (!all) {
    refused(result, run[pushed]);
    ++*taken;
  }
  run.clear();
  run_tickets.clear();
  return all;
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

ScratchLease::ScratchLease() {
  thread_local BatchScratch scratch;
  if (scratch.in_use) {
    own_ = std::make_unique<BatchScratch>();
    scratch_ = own_.get();
  } else {
    scratch_ = &scratch;
  }
  scratch_->in_use = true;
}

}  // namespace ron
