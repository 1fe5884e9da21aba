#include "engine/core/hash.h"

#include <blake3.h>

#include <array>
#include <cstring>

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

int HexValue(char c) { return kHexValues[static_cast<unsigned char>(c)]; }

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

Digest Blake3(const uint8_t* data, size_t size) {
  Blake3Hasher hasher;
  hasher.Update(data, size);
  return hasher.Finalize();
}

Digest Blake3(std::string_view data) {
  return Blake3(reinterpret_cast<const uint8_t*>(data.data()), data.size());
}

std::string ToHex(const Digest& digest) {
  std::string out(2 * kDigestBytes, '\0');
  for (size_t i = 0; i < kDigestBytes; ++i) {
    out[2 * i] = kHexDigits[digest[i] >> 4];
    out[2 * i + 1] = kHexDigits[digest[i] & 0xF];
  }
  return out;
}

void FormatHashText(const Digest& digest, char* out) {
  std::memcpy(out, "b3:", 3);
  for (size_t i = 0; i < kDigestBytes; ++i) {
    out[3 + 2 * i] = kHexDigits[digest[i] >> 4];
    out[3 + 2 * i + 1] = kHexDigits[digest[i] & 0xF];
  }
}

std::string HashText(const Digest& digest) {
  std::string out(kHashTextBytes, '\0');
  FormatHashText(digest, out.data());
  return out;
}

bool ParseHashText(std::string_view text, Digest* digest) {
  if (text.size() != kHashTextBytes || text.substr(0, 3) != "b3:") return false;
  int bad = 0;  // accumulate instead of branching per digit
  for (size_t i = 0; i < kDigestBytes; ++i) {
    const int hi = HexValue(text[3 + 2 * i]);
    const int lo = HexValue(text[3 + 2 * i + 1]);
    bad |= hi | lo;
    (*digest)[i] = static_cast<uint8_t>((hi & 0xF) << 4 | (lo & 0xF));
  }
  return bad >= 0;
}

bool IsValidPrev(std::string_view text) {
  Digest ignored;
  return text == kGenesisPrev || ParseHashText(text, &ignored);
}

}  // namespace ron
