// Arbitrary bytes as a batch of messages for Blake3Batch. Property checked on every input: each
// message's batched digest equals the one-message Blake3() of the same bytes, whatever the mix
// of lengths (0..4096 and longer), their order and the batch size.
//
// Layout of an input: byte 0 picks how many messages the batch holds (1..64) and, with its top
// bit, whether final blocks are compressed in lanes (where the CPU can); each message then
// takes two bytes of length (little endian, mod 9000, so some pass the batched limit of
// Blake3Batch::kMaxBatchedChunks chunks) and its content is read cyclically from the rest of
// the input (or is all zeros when nothing is left), so short inputs still make long messages.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/hash.h"
#include "fuzz/fuzz_messages.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static ron::Blake3Batch batch;  // reused across inputs, as a reader reuses it
  const size_t count = 1 + data[0] % 64;
  batch.UseFinalBlockLanes((data[0] & 0x80) != 0);  // final blocks in lanes (AVX-512F) or not
  size_t at = 1;
  std::vector<size_t> lengths;
  for (size_t i = 0; i < count; ++i) {
    size_t length = 0;
    if (at + 1 < size) length = (data[at] | size_t{data[at + 1]} << 8) % 9000;
    at += 2;
    lengths.push_back(length);
  }
  const std::string_view pool =
      at < size ? std::string_view(reinterpret_cast<const char*>(data) + at, size - at)
                : std::string_view();
  const std::vector<std::string> messages = ron::fuzz::MessagesFromPool(lengths, pool);
  std::vector<std::string_view> views(messages.begin(), messages.end());
  std::vector<ron::Digest> out(views.size());
  batch.Hash(views.data(), views.size(), out.data());
  for (size_t i = 0; i < views.size(); ++i) {
    if (out[i] != ron::Blake3(views[i])) std::abort();
  }
  return 0;
}
