#include "engine/core/hash.h"

#include <blake3.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <span>
#include <string_view>

#include "engine/core/check.h"
#include "engine/core/hash_lanes.h"

// Two functions internal to the BLAKE3 C sources (declared in their blake3_impl.h, which is C
// only): checked against version 1.3.1 below. Another version must be re-checked by hand (the
// signatures and the flags) and the tests of tests/engine/core/hash_batch_test.cc and
// hash_prefix_test.cc run before this line is changed.
static_assert(std::string_view(BLAKE3_VERSION_STRING) == "1.3.1",
              "Blake3Batch and Blake3Prefix call BLAKE3 internals checked only against 1.3.1");
extern "C" {
void blake3_compress_in_place(uint32_t cv[8], const uint8_t block[64], uint8_t block_len,
                              uint64_t counter, uint8_t flags);
void blake3_hash_many(const uint8_t* const* inputs, size_t num_inputs, size_t blocks,
                      const uint32_t key[8], uint64_t counter, bool increment_counter,
                      uint8_t flags, uint8_t flags_start, uint8_t flags_end, uint8_t* out);
size_t blake3_simd_degree(void);
}

namespace ron {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

// Lowercase hex digit values; -1 for everything else (uppercase is not canonical).
constexpr std::array<int8_t, 256> kHexValues = [] {
  std::array<int8_t, 256> table{};
  table.fill(-1);
  for (int c = '0'; c <= '9'; ++c) table[static_cast<size_t>(c)] = static_cast<int8_t>(c - '0');
  for (int c = 'a'; c <= 'f'; ++c)
    table[static_cast<size_t>(c)] = static_cast<int8_t>(c - 'a' + 10);
  return table;
}();

[[maybe_unused]] int HexValue(char c) { return kHexValues[static_cast<unsigned char>(c)]; }

}  // namespace

// The BLAKE3 C sources detect the CPU's features on first use and store them in a global
// without synchronization: harmless, but a data race when two threads hash first at once. One
// hash while the program loads (one thread) settles it before any thread of ours exists.
[[maybe_unused]] const bool kCpuFeaturesDetected = [] {
  blake3_hasher hasher;
  blake3_hasher_init(&hasher);
  uint8_t out[BLAKE3_OUT_LEN];
  blake3_hasher_finalize(&hasher, out, sizeof(out));
  return true;
}();

static_assert(sizeof(blake3_hasher) <= 1920, "grow Blake3Hasher::state_");
static_assert(BLAKE3_OUT_LEN == kDigestBytes);

Blake3Hasher::Blake3Hasher() { blake3_hasher_init(reinterpret_cast<blake3_hasher*>(state_)); }

void Blake3Hasher::Update(const void* data, size_t size) {
  blake3_hasher_update(reinterpret_cast<blake3_hasher*>(state_), data, size);
}

Digest Blake3Hasher::Finalize() const {
  Digest out;
  blake3_hasher_finalize(reinterpret_cast<const blake3_hasher*>(state_), out.data(), out.size());
  return out;
}

namespace {
Digest Blake3OneChunk(const uint8_t* data, size_t size);
}  // namespace

Digest Blake3(const uint8_t* data, size_t size) {
  if (size <= BLAKE3_CHUNK_LEN) return Blake3OneChunk(data, size);
  Blake3Hasher hasher;
  hasher.Update(data, size);
  return hasher.Finalize();
}

Digest Blake3(std::string_view data) {
  return Blake3(reinterpret_cast<const uint8_t*>(data.data()), data.size());
}

namespace {

// The BLAKE3 specification's constants (§2.1 and Table 3 of the BLAKE3 paper).
constexpr size_t kBlockBytes = 64;
constexpr size_t kChunkBytes = 1024;
constexpr size_t kBlocksPerChunk = kChunkBytes / kBlockBytes;
constexpr uint8_t kChunkStart = 1 << 0;
constexpr uint8_t kChunkEnd = 1 << 1;
constexpr uint8_t kParent = 1 << 2;
constexpr uint8_t kRoot = 1 << 3;
using internal::kBlake3Iv;
static_assert(BLAKE3_BLOCK_LEN == kBlockBytes && BLAKE3_CHUNK_LEN == kChunkBytes);

using Cv = std::array<uint32_t, 8>;

// Chaining values are eight little-endian words (a copy on little-endian machines: byte by
// byte, StoreCv alone was 4 % of a verify's instructions).
Cv LoadCv(const uint8_t* bytes) {
  Cv cv;
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(cv.data(), bytes, sizeof(cv));
  } else {
    for (size_t i = 0; i < 8; ++i) {
      cv[i] = uint32_t{bytes[4 * i]} | uint32_t{bytes[4 * i + 1]} << 8 |
              uint32_t{bytes[4 * i + 2]} << 16 | uint32_t{bytes[4 * i + 3]} << 24;
    }
  }
  return cv;
}

void StoreCv(const Cv& cv, uint8_t* bytes) {
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(bytes, cv.data(), sizeof(cv));
  } else {
    for (size_t i = 0; i < 8; ++i) {
      for (size_t b = 0; b < 4; ++b) bytes[4 * i + b] = static_cast<uint8_t>(cv[i] >> (8 * b));
    }
  }
}

// Chunks of a message: the last holds 1..1024 bytes (the empty message has one empty chunk).
size_t ChunkCount(size_t size) { return size == 0 ? 1 : (size + kChunkBytes - 1) / kChunkBytes; }

// Whole blocks of the last chunk (`bytes` long) before its final block.
size_t BlocksBeforeFinal(size_t bytes) {
  return bytes == 0 ? 0 : (bytes + kBlockBytes - 1) / kBlockBytes - 1;
}

// BLAKE3's key for hashing (the IV): the chaining value every chunk and parent node starts from.
Cv Key() {
  Cv cv;
  std::memcpy(cv.data(), kBlake3Iv, sizeof(kBlake3Iv));
  return cv;
}

// The tree over `n` chunk chaining values: the left subtree holds the largest power of two of
// chunks below n, as the BLAKE3 hasher builds it.
Cv JoinTree(const Cv* cvs, size_t n, bool root) {
  if (n == 1) return cvs[0];
  size_t left = 1;
  while (left * 2 <= n - 1) left *= 2;
  const Cv l = JoinTree(cvs, left, false);
  const Cv r = JoinTree(cvs + left, n - left, false);
  uint8_t block[kBlockBytes];
  StoreCv(l, block);
  StoreCv(r, block + 32);
  Cv cv = Key();
  blake3_compress_in_place(cv.data(), block, kBlockBytes, 0,
                           static_cast<uint8_t>(kParent | (root ? kRoot : 0)));
  return cv;
}

// Compresses a chunk (`bytes` long, 0..1024: the empty chunk of the empty message is one empty
// block) into `cv` from its block `from` on (`cv` holds the chaining value after the blocks
// before it; the key when from is 0): whole blocks, the first with CHUNK_START, then the final
// block (1..64 bytes, zero-padded) with CHUNK_END, and ROOT when `root` (the message's only
// chunk: cv is then the digest, the root output's first 32 bytes).
void CompressChunkFrom(Cv* cv, const uint8_t* chunk, size_t bytes, size_t from, uint64_t counter,
                       bool root) {
  const size_t blocks = bytes == 0 ? 1 : (bytes + kBlockBytes - 1) / kBlockBytes;
  for (size_t b = from; b + 1 < blocks; ++b) {
    blake3_compress_in_place(cv->data(), chunk + b * kBlockBytes, kBlockBytes, counter,
                             b == 0 ? kChunkStart : 0);
  }
  const size_t final_bytes = bytes - (blocks - 1) * kBlockBytes;
  uint8_t block[kBlockBytes] = {};
  if (final_bytes > 0) std::memcpy(block, chunk + (blocks - 1) * kBlockBytes, final_bytes);
  blake3_compress_in_place(cv->data(), block, static_cast<uint8_t>(final_bytes), counter,
                           static_cast<uint8_t>(kChunkEnd | (root ? kRoot : 0) |
                                                (blocks == 1 ? kChunkStart : 0)));
}

// A message of one chunk (at most 1024 bytes), hashed as the one-message hasher would, without
// its state, its buffer and its extendable-output finalization: most of the cost of a Merkle
// leaf (33 bytes) or node (65).
Digest Blake3OneChunk(const uint8_t* data, size_t size) {
  Cv cv = Key();
  CompressChunkFrom(&cv, data, size, 0, 0, /*root=*/true);
  Digest out;
  StoreCv(cv, out.data());
  return out;
}

// blake3_hash_many's inputs for one call, padded where that pays and where it keeps BLAKE3's
// code in bounds. On a CPU whose widest BLAKE3 code is AVX2 it hashes eight inputs at a time
// and the rest four, two, then one at a time: leftovers of 2..7 cost as much as a whole pass of
// eight or more (a batch of 256 records of 949..1006 bytes, two block counts: 12-30 ns a
// record more than one count), and BLAKE3 1.3.1's 4- and 2-way AVX2 code loads 16 bytes past
// each input's last block (bytes it never uses, but past the end of a message that ends on a
// page the process cannot read). So leftovers of two or more are padded with copies of the
// first input, whose chaining values are computed and dropped; its one-at-a-time code reads
// within the block. Other SIMD widths are left as they are (docs in hash.h).
void PadLanes(std::vector<const uint8_t*>* inputs) {
  constexpr size_t kAvx2Lanes = 8;
  static const bool avx2_widest = blake3_simd_degree() == kAvx2Lanes;
  const size_t rest = inputs->size() % kAvx2Lanes;
  if (!avx2_widest || rest < 2) return;
  const uint8_t* const first = inputs->front();
  inputs->resize(inputs->size() + kAvx2Lanes - rest, first);
}

}  // namespace

namespace internal {

void ChunkJobs::Grow() { jobs_.resize(std::max<size_t>(64, 2 * jobs_.size())); }

void ChunkJobs::Run(Cv* cvs, size_t stride) {
  // One blake3_hash_many call per (blocks, chunk_end, chunk): it takes one counter and one
  // block count for all its inputs. A counting sort on that key (in message order within a
  // key) puts each call's jobs next to each other.
  constexpr size_t kKeys = kBlocksPerChunk * 2 * kMaxChunk;
  const auto key = [](const Job& job) {
    return ((job.blocks - 1) * 2 + (job.chunk_end ? 1 : 0)) * kMaxChunk + job.chunk;
  };
  const std::span<const Job> jobs(jobs_.data(), count_);
  std::array<uint32_t, kKeys + 1> next{};
  for (const Job& job : jobs) ++next[key(job) + 1];
  for (size_t k = 1; k <= kKeys; ++k) next[k] += next[k - 1];
  sorted_.resize(jobs.size());
  for (const Job& job : jobs) sorted_[next[key(job)]++] = job;
  for (size_t begin = 0; begin < sorted_.size();) {
    size_t end = begin + 1;
    const Job& first = sorted_[begin];
    while (end < sorted_.size() && sorted_[end].blocks == first.blocks &&
           sorted_[end].chunk_end == first.chunk_end && sorted_[end].chunk == first.chunk) {
      ++end;
    }
    inputs_.resize(end - begin);
    for (size_t j = begin; j < end; ++j) inputs_[j - begin] = sorted_[j].input;
    PadLanes(&inputs_);
    cvs_out_.resize(inputs_.size() * 32);
    blake3_hash_many(inputs_.data(), inputs_.size(), first.blocks, kBlake3Iv, first.chunk,
                     /*increment_counter=*/false, /*flags=*/0, kChunkStart,
                     first.chunk_end ? kChunkEnd : 0, cvs_out_.data());
    for (size_t j = begin; j < end; ++j) {
      cvs[sorted_[j].message * stride + sorted_[j].chunk] =
          LoadCv(cvs_out_.data() + (j - begin) * 32);
    }
    begin = end;
  }
}

}  // namespace internal

void Blake3Batch::Hash(const std::string_view* messages, size_t count, Digest* out) {
  jobs_.Clear();
  chunk_cvs_.resize(count * kMaxBatchedChunks);
  for (size_t i = 0; i < count; ++i) {
    const auto* data = reinterpret_cast<const uint8_t*>(messages[i].data());
    const size_t size = messages[i].size();
    const size_t chunks = ChunkCount(size);
    if (chunks > kMaxBatchedChunks) continue;  // the one-message hasher, below
    for (size_t c = 0; c + 1 < chunks; ++c) {
      jobs_.Add(i, c, kBlocksPerChunk, true, data + c * kChunkBytes);
    }
    const size_t last = chunks - 1;
    const size_t blocks = BlocksBeforeFinal(size - last * kChunkBytes);
    if (blocks > 0) {
      jobs_.Add(i, last, blocks, false, data + last * kChunkBytes);
    } else {
      chunk_cvs_[i * kMaxBatchedChunks + last] = Key();
    }
  }
  jobs_.Run(chunk_cvs_.data(), kMaxBatchedChunks);
  parents_.clear();
  parent_of_.clear();
  // Each message's final block: with AVX-512 or AVX2, 16 messages' at once (CompressInLanes),
  // else one compression each. Then its chunk chaining values are joined (`Join`).
  internal::CompressLanes& lanes = lanes_;
  size_t lane_message[internal::CompressLanes::kLanes];
  size_t used = 0;
  const auto join = [&](size_t i, size_t chunks) {
    const Cv* cvs = &chunk_cvs_[i * kMaxBatchedChunks];
    if (chunks == 2) {  // its root is one parent node: hashed below, with the others in lanes
      parents_.resize(parents_.size() + kBlockBytes);
      StoreCv(cvs[0], parents_.data() + parents_.size() - kBlockBytes);
      StoreCv(cvs[1], parents_.data() + parents_.size() - 32);
      parent_of_.push_back(i);
      return;
    }
    StoreCv(JoinTree(cvs, chunks, /*root=*/true), out[i].data());
  };
  const auto flush_lanes = [&] {
    // Each final block is the block_len bytes that end its lane's tail, then the tail's zeros.
    // Copied from the tails now, not as each was written: a 64-byte load that straddles the
    // stores just made waits for them to reach the cache (a failed store-to-load forwarding,
    // ~1 % of a verify), while all but the last were stored lanes ago.
    for (size_t k = 0; k < used; ++k) {
      std::memcpy(lanes.blocks[k], tails_[k].bytes + kBlockBytes - lanes.block_len[k],
                  kBlockBytes);
    }
    internal::CompressInLanes(&lanes);
    for (size_t k = 0; k < used; ++k) {
      const size_t i = lane_message[k];
      const size_t last = lanes.counter_low[k];
      Cv cv;
      for (size_t w = 0; w < 8; ++w) cv[w] = lanes.cv[w][k];
      if (last == 0) {  // a one-chunk message: its lane's output is the digest
        StoreCv(cv, out[i].data());
        continue;
      }
      chunk_cvs_[i * kMaxBatchedChunks + last] = cv;
      join(i, last + 1);
    }
    used = 0;
  };
  for (size_t i = 0; i < count; ++i) {
    const auto* data = reinterpret_cast<const uint8_t*>(messages[i].data());
    const size_t size = messages[i].size();
    const size_t chunks = ChunkCount(size);
    if (chunks > kMaxBatchedChunks) {
      out[i] = Blake3(data, size);
      continue;
    }
    const size_t last = chunks - 1;
    const size_t last_bytes = size - last * kChunkBytes;
    const size_t blocks = BlocksBeforeFinal(last_bytes);
    const size_t final_bytes = last_bytes - blocks * kBlockBytes;  // 1..64, 0 only if empty
    const uint8_t* final_block = data + last * kChunkBytes + blocks * kBlockBytes;
    Cv& cv = chunk_cvs_[i * kMaxBatchedChunks + last];
    const uint8_t flags = static_cast<uint8_t>(kChunkEnd | (blocks == 0 ? kChunkStart : 0) |
                                               (chunks == 1 ? kRoot : 0));
    if (final_lanes_) {
      // The final block holds the message's last final_bytes, then zeros: the tail keeps the
      // 64 bytes that end the message (a shorter message ends there), then 64 zeros, and
      // flush_lanes reads the block from where those bytes begin. A copy of fixed size:
      // memcpy and memset of lengths that vary from record to record mispredicted their size
      // classes (15 ns a record of sizes mixed over 949..1006 bytes).
      uint8_t* tail = tails_[used].bytes;
      if (size >= kBlockBytes) {
        std::memcpy(tail, data + size - kBlockBytes, kBlockBytes);
      } else if (size > 0) {
        std::memcpy(tail + kBlockBytes - size, data, size);
      }
      for (size_t w = 0; w < 8; ++w) lanes.cv[w][used] = cv[w];
      lanes.counter_low[used] = static_cast<uint32_t>(last);
      lanes.counter_high[used] = 0;
      lanes.block_len[used] = static_cast<uint32_t>(final_bytes);
      lanes.flags[used] = flags;
      lane_message[used] = i;
      if (++used == internal::CompressLanes::kLanes) flush_lanes();
      continue;
    }
    uint8_t block[kBlockBytes] = {};
    if (final_bytes > 0) std::memcpy(block, final_block, final_bytes);
    blake3_compress_in_place(cv.data(), block, static_cast<uint8_t>(final_bytes), last, flags);
    join(i, chunks);
  }
  if (used > 0) flush_lanes();
  // The roots of two-chunk messages (records just over 1 KiB, the common size): one block
  // each, PARENT | ROOT from the key, so blake3_hash_many takes them all at once.
  if (!parent_of_.empty()) {
    // A block of slack after the last: BLAKE3's AVX-512 code reads up to 48 bytes past an
    // input's last block (hash.h).
    parents_.resize(parents_.size() + kBlockBytes);
    inputs_.clear();
    for (size_t k = 0; k < parent_of_.size(); ++k) inputs_.push_back(&parents_[k * kBlockBytes]);
    PadLanes(&inputs_);
    cvs_out_.resize(inputs_.size() * 32);
    blake3_hash_many(inputs_.data(), inputs_.size(), 1, kBlake3Iv, 0, /*increment_counter=*/false,
                     static_cast<uint8_t>(kParent | kRoot), 0, 0, cvs_out_.data());
    for (size_t k = 0; k < parent_of_.size(); ++k) {
      std::memcpy(out[parent_of_[k]].data(), cvs_out_.data() + k * 32, kDigestBytes);
    }
  }
}

void Blake3Prefix::Start(const std::string_view* messages, const size_t* tails, size_t count) {
  constexpr size_t kMax = internal::ChunkJobs::kMaxChunk;
  jobs_.Clear();
  states_.resize(count);
  cvs_.resize(count * kMax);
  for (size_t i = 0; i < count; ++i) {
    const auto* data = reinterpret_cast<const uint8_t*>(messages[i].data());
    const size_t size = messages[i].size();
    const size_t chunks = ChunkCount(size);
    State& state = states_[i];
    state = {size, 0, chunks <= kMax};
    if (!state.batched) continue;
    // Whole blocks before the tail's block, and never the final block (Finish's, with
    // CHUNK_END and maybe ROOT): the last chunk's start plus its blocks before the final one.
    const size_t last = chunks - 1;
    const size_t final_at = last * kChunkBytes + BlocksBeforeFinal(size - last * kChunkBytes) *
                                                     kBlockBytes;
    state.done = std::min(std::min(tails[i], size) / kBlockBytes * kBlockBytes, final_at);
    const size_t whole = state.done / kChunkBytes;  // chunks done whole (none is the last)
    for (size_t c = 0; c < whole; ++c) {
      jobs_.Add(i, c, kBlocksPerChunk, true, data + c * kChunkBytes);
    }
    const size_t blocks = (state.done % kChunkBytes) / kBlockBytes;
    if (blocks > 0) {
      jobs_.Add(i, whole, blocks, false, data + whole * kChunkBytes);
    } else {
      cvs_[i * kMax + whole] = Key();
    }
  }
  jobs_.Run(cvs_.data(), kMax);
}

Digest Blake3Prefix::Finish(size_t i, std::string_view message) const {
  constexpr size_t kMax = internal::ChunkJobs::kMaxChunk;
  const State& state = states_[i];
  RON_CHECK(message.size() == state.size);
  if (!state.batched) return Blake3(message);
  const auto* data = reinterpret_cast<const uint8_t*>(message.data());
  const size_t chunks = ChunkCount(state.size);
  Cv cvs[kMax];
  const size_t resume = state.done / kChunkBytes;  // the chunk Start stopped in
  std::copy_n(&cvs_[i * kMax], resume + 1, cvs);
  for (size_t c = resume; c < chunks; ++c) {
    if (c > resume) cvs[c] = Key();
    const size_t bytes = std::min(kChunkBytes, state.size - c * kChunkBytes);
    const size_t from = c == resume ? (state.done % kChunkBytes) / kBlockBytes : 0;
    CompressChunkFrom(&cvs[c], data + c * kChunkBytes, bytes, from, c, /*root=*/chunks == 1);
  }
  Digest out;
  StoreCv(JoinTree(cvs, chunks, /*root=*/true), out.data());
  return out;
}

std::string ToHex(const Digest& digest) {
  std::string out(2 * kDigestBytes, '\0');
  for (size_t i = 0; i < kDigestBytes; ++i) {
    out[2 * i] = kHexDigits[digest[i] >> 4];
    out[2 * i + 1] = kHexDigits[digest[i] & 0xF];
  }
  return out;
}

#if defined(__SSE2__)
namespace {

// The 64 hex digits of a digest, 16 a vector (v[0] the first), the high digit of each byte
// first. A nibble n becomes '0' + n, plus 'a' - '0' - 10 above 9.
struct HexDigitVectors {
  __m128i v[4];
};
HexDigitVectors HexDigits(const Digest& digest) {
  const __m128i low_nibble = _mm_set1_epi8(0x0F), nine = _mm_set1_epi8(9);
  const __m128i zero = _mm_set1_epi8('0'), letters = _mm_set1_epi8('a' - '0' - 10);
  const auto digits = [&](__m128i nibbles) {
    const __m128i above_nine = _mm_cmpgt_epi8(nibbles, nine);
    return _mm_add_epi8(_mm_add_epi8(nibbles, zero), _mm_and_si128(above_nine, letters));
  };
  HexDigitVectors out;
  for (size_t half = 0; half < 2; ++half) {
    const __m128i bytes =
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(digest.data() + 16 * half));
    const __m128i high = _mm_and_si128(_mm_srli_epi16(bytes, 4), low_nibble);
    const __m128i low = _mm_and_si128(bytes, low_nibble);
    out.v[2 * half] = digits(_mm_unpacklo_epi8(high, low));
    out.v[2 * half + 1] = digits(_mm_unpackhi_epi8(high, low));
  }
  return out;
}

}  // namespace
#endif

void FormatHashText(const Digest& digest, char* out) {
  std::memcpy(out, "b3:", 3);
#if defined(__SSE2__)
  // 16 bytes → 32 digits a step (every record's prev is formatted once: byte by byte it was
  // 4 % of an import's instructions).
  const HexDigitVectors digits = HexDigits(digest);
  for (size_t k = 0; k < 4; ++k) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 3 + 16 * k), digits.v[k]);
  }
#else
  for (size_t i = 0; i < kDigestBytes; ++i) {
    out[3 + 2 * i] = kHexDigits[digest[i] >> 4];
    out[3 + 2 * i + 1] = kHexDigits[digest[i] & 0xF];
  }
#endif
}

bool IsHashTextOf(std::string_view text, const Digest& digest) {
  if (text.size() != kHashTextBytes || text.substr(0, 3) != "b3:") return false;
#if defined(__SSE2__)
  // The digits compared where they are computed: written out and read back, each 16-byte load
  // straddled two of the stores (they start 3 bytes in) and waited for them to reach the cache
  // (~1 % of a verify).
  const HexDigitVectors digits = HexDigits(digest);
  __m128i same = _mm_set1_epi8(-1);
  for (size_t k = 0; k < 4; ++k) {
    const __m128i got = _mm_loadu_si128(reinterpret_cast<const __m128i*>(text.data() + 3 + 16 * k));
    same = _mm_and_si128(same, _mm_cmpeq_epi8(got, digits.v[k]));
  }
  return _mm_movemask_epi8(same) == 0xFFFF;
#else
  char expected[kHashTextBytes];
  FormatHashText(digest, expected);
  return text == std::string_view(expected, kHashTextBytes);
#endif
}

std::string HashText(const Digest& digest) {
  std::string out(kHashTextBytes, '\0');
  FormatHashText(digest, out.data());
  return out;
}

#if defined(__SSE2__)
namespace {

// 16 characters as lowercase hex: each byte less '0' and less 'a', and whether it is a digit
// 0-9 or a letter a-f (all ones in that byte, else zero).
struct Hex16 {
  __m128i digit, letter, is_digit, is_letter;
  __m128i is_hex() const { return _mm_or_si128(is_digit, is_letter); }
};

Hex16 ClassifyHex16(const char* in) {
  const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in));
  Hex16 h;
  h.digit = _mm_sub_epi8(c, _mm_set1_epi8('0'));
  h.letter = _mm_sub_epi8(c, _mm_set1_epi8('a'));
  // Unsigned x <= k iff min(x, k) == x.
  h.is_digit = _mm_cmpeq_epi8(_mm_min_epu8(h.digit, _mm_set1_epi8(9)), h.digit);
  h.is_letter = _mm_cmpeq_epi8(_mm_min_epu8(h.letter, _mm_set1_epi8(5)), h.letter);
  return h;
}

// 16 lowercase hex digits → 8 bytes, 16 digits at a time (every reader parses each record's
// prev this way: scalar, it was 5 % of a verify). False if any is not [0-9a-f].
bool DecodeHex16(const char* in, uint8_t* out) {
  const Hex16 h = ClassifyHex16(in);
  if (_mm_movemask_epi8(h.is_hex()) != 0xFFFF) return false;
  const __m128i value =
      _mm_or_si128(_mm_and_si128(h.is_digit, h.digit),
                   _mm_and_si128(h.is_letter, _mm_add_epi8(h.letter, _mm_set1_epi8(10))));
  // In each little-endian 16-bit lane the even digit (high nibble) is the low byte.
  const __m128i high = _mm_and_si128(value, _mm_set1_epi16(0x00FF));
  const __m128i low = _mm_srli_epi16(value, 8);
  const __m128i bytes = _mm_or_si128(_mm_slli_epi16(high, 4), low);  // each lane <= 0xFF
  _mm_storel_epi64(reinterpret_cast<__m128i*>(out), _mm_packus_epi16(bytes, bytes));
  return true;
}

}  // namespace
#endif

bool ParseHashText(std::string_view text, Digest* digest) {
  if (text.size() != kHashTextBytes || text.substr(0, 3) != "b3:") return false;
#if defined(__SSE2__)
  static_assert(kDigestBytes == 32);
  const char* hex = text.data() + 3;
  return DecodeHex16(hex, digest->data()) && DecodeHex16(hex + 16, digest->data() + 8) &&
         DecodeHex16(hex + 32, digest->data() + 16) && DecodeHex16(hex + 48, digest->data() + 24);
#else
  int bad = 0;  // accumulate instead of branching per digit
  for (size_t i = 0; i < kDigestBytes; ++i) {
    const int hi = HexValue(text[3 + 2 * i]);
    const int lo = HexValue(text[3 + 2 * i + 1]);
    bad |= hi | lo;
    (*digest)[i] = static_cast<uint8_t>((hi & 0xF) << 4 | (lo & 0xF));
  }
  return bad >= 0;
#endif
}

bool IsValidPrev(std::string_view text) {
  if (text == kGenesisPrev) return true;
#if defined(__SSE2__)
  // Checked, not decoded (every reader's walk checks each record's prev): 64 digits, four
  // loads, one verdict; ParseHashText's decoding was 2 % of a verify's instructions.
  if (text.size() != kHashTextBytes || text.substr(0, 3) != "b3:") return false;
  __m128i all = _mm_set1_epi8(-1);
  for (size_t at = 3; at < kHashTextBytes; at += 16) {
    all = _mm_and_si128(all, ClassifyHex16(text.data() + at).is_hex());
  }
  return _mm_movemask_epi8(all) == 0xFFFF;
#else
  Digest ignored;
  return ParseHashText(text, &ignored);
#endif
}

}  // namespace ron
