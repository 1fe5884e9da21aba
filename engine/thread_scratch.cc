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

std::string& ThreadReusedRecord() {
  thread_local std::string reused;
  return reused;
}

void KeepReused(std::string* returned, std::string* kept) {
  if (kept->empty() && kept->capacity() < returned->capacity() &&
      returned->capacity() <= limits::kReusedRecordBytes) {
    returned->clear();
    kept->swap(*returned);
  }
  *returned = std::string();
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
  leftovers.resize(run.size());  // empty: the last run's were cleared
  const PushResult result =
      run_owner->TryPushMany(run.data(), run.size(), &pushed, leftovers.data());
  for (size_t k = 0; k < pushed && reused.size() < limits::kReusedRecordBuffers; ++k) {
    std::string& buffer = leftovers[k].bytes;
    if (buffer.capacity() <= std::string().capacity() ||
        buffer.capacity() > limits::kReusedRecordBytes) {
      continue;
    }
    buffer.clear();
    reused.push_back(std::move(buffer));
  }
  leftovers.clear();  // frees the rest, and releases the tickets
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
