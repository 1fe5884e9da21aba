// BLAKE3-256 digests and their "b3:<64 lowercase hex>" text form (docs/FORMAT.md §1).
//
// Thread-safety: all functions are pure and thread-safe.
#ifndef ENGINE_CORE_HASH_H_
#define ENGINE_CORE_HASH_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/hash_lanes.h"
#include "ron_audit/types.h"

namespace ron {

// "b3:" + 64 lowercase hex digits.
inline constexpr size_t kHashTextBytes = 3 + 2 * kDigestBytes;
static_assert(kHashTextBytes == 67);
// The genesis `prev`.
inline constexpr std::string_view kGenesisPrev = "b3:0";

// BLAKE3-256 of `data` (official C implementation, SIMD dispatched at run time).
Digest Blake3(std::string_view data);
Digest Blake3(const uint8_t* data, size_t size);

// Incremental BLAKE3 for hashing several pieces without concatenating them.
class Blake3Hasher {
 public:
  Blake3Hasher();
  void Update(const void* data, size_t size);
  Digest Finalize() const;

 private:
  alignas(8) unsigned char state_[1920];  // >= sizeof(blake3_hasher); checked in hash.cc
};

namespace internal {

// Whole blocks of messages' chunks, compressed in SIMD lanes: Add queues `blocks` whole blocks
// from `input`, chunk `chunk` of message `message` (its counter), CHUNK_START on the first and
// CHUNK_END on the last when `chunk_end` (the whole chunk); Run groups them by (blocks,
// chunk_end, chunk), one blake3_hash_many call per group, and stores each job's chaining value
// at cvs[message * stride + chunk]. For Blake3Batch and Blake3Prefix.
class ChunkJobs {
 public:
  using Cv = std::array<uint32_t, 8>;
  static constexpr size_t kMaxChunk = 8;  // chunk < kMaxChunk
  void Clear() { count_ = 0; }
  // Stored by index into room kept from call to call (push_back's call per job was ~1 % of a
  // verify: g++ did not inline it).
  void Add(size_t message, uint64_t chunk, size_t blocks, bool chunk_end, const uint8_t* input) {
    if (count_ == jobs_.size()) Grow();
    jobs_[count_++] = {message, chunk, blocks, chunk_end, input};
  }
  void Run(Cv* cvs, size_t stride);

 private:
  struct Job {
    size_t message;
    uint64_t chunk;
    size_t blocks;
    bool chunk_end;
    const uint8_t* input;
  };
  void Grow();
  std::vector<Job> jobs_;  // the first count_ are this call's
  size_t count_ = 0;
  std::vector<Job> sorted_;  // jobs_ in blake3_hash_many calls' order
  std::vector<const uint8_t*> inputs_;
  std::vector<uint8_t> cvs_out_;
};

}  // namespace internal

// BLAKE3-256 of many independent messages at once (records whose self_hash is being checked,
// not chained): Hash(messages, n, out) leaves out[i] == Blake3(messages[i]) for every i, bit
// for bit, but compresses the chunks of different messages side by side in SIMD lanes (16 at
// once with AVX-512, 8 with AVX2, 4 with SSE4.1/NEON) instead of one after another. A 1 KiB
// record is one chunk, which a single-message hash cannot split across lanes.
//
// How: each message is cut into BLAKE3's 1 KiB chunks. The whole chunks that are not the last
// are grouped by chunk index (their counter) and hashed 16 at a time (blake3_hash_many, all 16
// blocks, CHUNK_START..CHUNK_END). The last chunk's whole blocks before its final block are
// grouped by (block count, counter) the same way; its final block (1..64 bytes, zero-padded, or
// the empty block of the empty message) is compressed with CHUNK_END, and ROOT when it is the
// only chunk: 16 messages' final blocks at once with AVX-512F or AVX2 (hash_lanes.h, each lane
// with its own length, counter and flags), else one compression per message. The chunk chaining
// values are then joined into BLAKE3's tree (the left subtree holds the largest power of two
// of chunks below the count; PARENT nodes, ROOT at the top): the single root node of every
// two-chunk message in lanes again, deeper trees one compression per node. Messages longer
// than kMaxBatchedChunks chunks go to the one-message hasher, whose own SIMD already spans
// their chunks. tests/engine/core/hash_batch_test.cc holds this, with and without the final
// blocks in lanes, to Blake3() for every length 0..4096 (and b3sum as a third opinion), and
// fuzz/hash_batch_fuzzer.cc for random mixes.
//
// This uses functions internal to the BLAKE3 C sources (blake3_hash_many,
// blake3_compress_in_place and blake3_simd_degree of blake3_impl.h); hash.cc refuses to build
// against any BLAKE3 version but the one checked (BLAKE3_VERSION_STRING "1.3.1").
//
// Reads past a message: blake3_hash_many's assembly loads bytes after the last whole block it
// is given, which it never uses (so every digest is exact), but which must be readable: up to
// 16 in its 4- and 2-way AVX2 code, which Blake3Batch keeps it out of (it pads those calls to
// whole passes of eight), and up to 48 in its AVX-512 code. A message that ends on a page the
// process cannot read is safe on AVX2 and narrower CPUs (tests/engine/core/hash_batch_test.cc);
// with AVX-512, up to 48 bytes after a message must be readable. The callers' messages are
// records inside a WAL window or file (each followed by its frame's 40-byte trailer, then the
// next frame or the buffer's spare room) or heap strings (inside the allocator's mapped
// pages); Blake3Batch's own parent blocks keep a block of slack.
//
// Not thread-safe: one Blake3Batch per thread (it keeps its scratch between calls).
class Blake3Batch {
 public:
  static constexpr size_t kMaxBatchedChunks = internal::ChunkJobs::kMaxChunk;
  void Hash(const std::string_view* messages, size_t count, Digest* out);
  // Whether final blocks are compressed 16 at a time (AVX-512F or AVX2: on where the CPU has
  // either). Off: one compression per message. For tests and benchmarks, which compare the two.
  void UseFinalBlockLanes(bool on) { final_lanes_ = on && internal::CanCompressInLanes(); }
  bool final_block_lanes() const { return final_lanes_; }

 private:
  internal::ChunkJobs jobs_;
  std::vector<const uint8_t*> inputs_;
  std::vector<uint8_t> cvs_out_;
  std::vector<std::array<uint32_t, 8>> chunk_cvs_;  // per message, kMaxBatchedChunks slots
  std::vector<uint8_t> parents_;                     // root blocks of two-chunk messages
  std::vector<size_t> parent_of_;                    // ... and whose they are
  bool final_lanes_ = internal::CanCompressInLanes();
  internal::CompressLanes lanes_{};  // unused lanes compute on what they last held (ignored)
  // Each lane's message end (Hash): the 64 bytes before it (a shorter message ends there), then
  // 64 zeros that stay zeros.
  struct alignas(64) Tail {
    uint8_t bytes[2 * 64];
  };
  std::array<Tail, internal::CompressLanes::kLanes> tails_{};
};

// BLAKE3-256 of messages whose last bytes are not known yet, many at a time: a chained
// record's `prev` (the hash of the record before it in its stream) is its last field, so all
// of a batch's records but their last block or two can be hashed before any of them is
// complete. Start(messages, tails, n) compresses, for every message, the blocks that end at
// or before tails[i] (the bytes from tails[i] on may still change; a tail past the end is
// taken as the end), the records side by side in SIMD lanes as Blake3Batch does, but never a
// message's final block. Finish(i, message) then compresses the rest: `message` must be as
// long as messages[i] was and hold the same bytes before tails[i] (it may be another copy of
// them). Finish(i, m) == Blake3(m), bit for bit: tests/engine/core/hash_prefix_test.cc holds
// it so for every length 0..4096 and tails across it (b3sum as a third opinion),
// fuzz/hash_prefix_fuzzer.cc for random mixes. Messages over internal::ChunkJobs::kMaxChunk
// (8) chunks are hashed whole by Finish.
//
// Not thread-safe: one Blake3Prefix per thread (it keeps its scratch between calls). Start
// discards the previous Start's state.
class Blake3Prefix {
 public:
  void Start(const std::string_view* messages, const size_t* tails, size_t count);
  Digest Finish(size_t i, std::string_view message) const;

 private:
  struct State {
    size_t size;  // the message's length at Start
    size_t done;  // bytes compressed by Start: whole blocks, before the tail and the final block
    bool batched;
  };
  std::vector<State> states_;
  std::vector<internal::ChunkJobs::Cv> cvs_;  // per message, kMaxChunk slots
  internal::ChunkJobs jobs_;
};

// Lowercase hex of a digest (64 chars).
std::string ToHex(const Digest& digest);
// "b3:" + ToHex(digest), written into `out` (kHashTextBytes chars).
void FormatHashText(const Digest& digest, char* out);
// text == HashText(digest), without writing the text out (a chain's prev against the hash
// of the record before it).
bool IsHashTextOf(std::string_view text, const Digest& digest);
// HashText and ParseHashText are public (ron_audit/types.h).

// A chain head as the next record's `prev`: "b3:0" when the chain is empty (head_seq 0), else
// the head's hash text, written into `buf` (no allocation: this runs once per record).
inline std::string_view HeadText(uint64_t head_seq, const Digest& head_hash,
                                 char (&buf)[kHashTextBytes]) {
  if (head_seq == 0) return kGenesisPrev;
  FormatHashText(head_hash, buf);
  return std::string_view(buf, kHashTextBytes);
}

// Whether `prev` links to a chain head: HeadText(head_seq, head_hash) == prev, without
// writing the text out.
inline bool IsPrevOf(std::string_view prev, uint64_t head_seq, const Digest& head_hash) {
  return head_seq == 0 ? prev == kGenesisPrev : IsHashTextOf(prev, head_hash);
}

// True for "b3:0" or a valid ParseHashText text.
bool IsValidPrev(std::string_view text);

}  // namespace ron

#endif  // ENGINE_CORE_HASH_H_
