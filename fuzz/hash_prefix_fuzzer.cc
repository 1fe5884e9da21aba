// Arbitrary bytes as a group of messages for Blake3Prefix. Property checked on every input: a
// message started up to its tail, then rewritten from its tail on, finishes to the one-message
// Blake3() of the rewritten bytes, whatever the mix of lengths (0..9000: some pass the batched
// limit), tails and group size.
//
// Layout of an input: byte 0 picks how many messages the group holds (1..64); each message
// then takes two bytes of length (little endian, mod 9000) and two of tail (mod length + 2, so
// a tail may sit past the end); its content is read cyclically from the rest of the input (or
// is all zeros when nothing is left), and its rewritten tail is that content XOR 0x5A.
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
  static ron::Blake3Prefix prefix;  // reused across inputs, as a writer thread reuses it
  const size_t count = 1 + data[0] % 64;
  size_t at = 1;
  std::vector<size_t> lengths, tails;
  const auto u16 = [&](size_t i) {
    return i + 1 < size ? (data[i] | size_t{data[i + 1]} << 8) : size_t{0};
  };
  for (size_t i = 0; i < count; ++i) {
    lengths.push_back(u16(at) % 9000);
    tails.push_back(u16(at + 2) % (lengths.back() + 2));
    at += 4;
  }
  const std::string_view pool =
      at < size ? std::string_view(reinterpret_cast<const char*>(data) + at, size - at)
                : std::string_view();
  const std::vector<std::string> messages = ron::fuzz::MessagesFromPool(lengths, pool);
  std::vector<std::string_view> views(messages.begin(), messages.end());
  prefix.Start(views.data(), tails.data(), views.size());
  for (size_t i = 0; i < messages.size(); ++i) {
    std::string done = messages[i];
    for (size_t k = tails[i]; k < done.size(); ++k) done[k] = static_cast<char>(done[k] ^ 0x5A);
    if (prefix.Finish(i, done) != ron::Blake3(done)) std::abort();
  }
  return 0;
}
