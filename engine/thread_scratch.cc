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
