#include "segment/segment_format.h"

#include <xxhash.h>
#if defined(__x86_64__)
#include <immintrin.h>
#define XXH_DISPATCH_DISABLE_REPLACE  // XXH3_64bits stays the SSE2 function
#include <xxh_x86dispatch.h>          // XXH3_64bits_dispatch
#endif

#include <charconv>
#include <cstring>

#include "engine/core/check.h"
#include "engine/core/cpu.h"

namespace ron::segment {
namespace {

void Put16(uint16_t v, uint8_t* p) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}
void Put32(uint32_t v, uint8_t* p) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
void Put64(uint64_t v, uint8_t* p) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint16_t Get16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | p[1] << 8); }
uint32_t Get32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = v << 8 | p[i];
  return v;
}
uint64_t Get64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = v << 8 | p[i];
  return v;
}
const uint8_t* Bytes(std::string_view s) { return reinterpret_cast<const uint8_t*>(s.data()); }

bool KeepsByte(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '@' || c == '-';
}

}  // namespace

void EncodeHeader(const SegmentHeader& header, uint8_t out[kHeaderBytes]) {
  std::memcpy(out, kMagic, sizeof(kMagic));
  Put16(header.flags, out + 8);
  Put16(header.reserved, out + 10);
  Put32(header.count, out + 12);
  Put64(header.first_seq, out + 16);
  Put64(header.segment_no, out + 24);
}

HeaderStatus DecodeHeader(std::string_view bytes, SegmentHeader* header) {
  if (bytes.size() < kHeaderBytes) return HeaderStatus::kShort;
  const uint8_t* p = Bytes(bytes);
  bool all_zero = true;
  for (size_t i = 0; i < kHeaderBytes; ++i) all_zero = all_zero && p[i] == 0;
  if (all_zero) return HeaderStatus::kAllZero;
  if (std::memcmp(p, kMagic, sizeof(kMagic)) != 0) return HeaderStatus::kBadMagic;
  header->flags = Get16(p + 8);
  header->reserved = Get16(p + 10);
  header->count = Get32(p + 12);
  header->first_seq = Get64(p + 16);
  header->segment_no = Get64(p + 24);
  if (header->flags != 0 || header->reserved != 0 || header->first_seq == 0) {
    return HeaderStatus::kBadFields;
  }
  return HeaderStatus::kOk;
}

namespace {

#if defined(__x86_64__)
// libxxhash's AVX2 and AVX-512 code returns without vzeroupper; the SSE code that runs next
// would then stall on the dirty upper register halves (a frame's self_hash copy right after
// the checksum took 11 % of a verify).
__attribute__((target("avx"))) void ZeroUpper() { _mm256_zeroupper(); }
#endif

// XXH3-64 of a frame, with the library's choice of SIMD for this CPU (on x86-64; its plain
// XXH3_64bits is SSE2 only, three times the instructions for a 1 KiB frame).
uint64_t Xxh3(const void* data, size_t size) {
#if defined(__x86_64__)
  const uint64_t hash = XXH3_64bits_dispatch(data, size);
  if (internal::CpuHasAvx()) ZeroUpper();
  return hash;
#else
  return XXH3_64bits(data, size);
#endif
}

}  // namespace

uint64_t FrameChecksum(std::string_view bytes) { return Xxh3(bytes.data(), bytes.size()); }

void AppendFrame(uint64_t seq, std::string_view json, const Digest& self_hash, std::string* out) {
  RON_CHECK(!json.empty() && json.size() < kPaddingMarker);
  // Appended piece by piece: a resize would first zero the frame's bytes (a memset of each
  // record on the writer thread).
  const size_t start = out->size();
  uint8_t prefix[kFramePrefixBytes];
  Put32(static_cast<uint32_t>(json.size()), prefix);
  prefix[4] = kRecordMajor;
  Put64(seq, prefix + 5);
  out->append(reinterpret_cast<const char*>(prefix), kFramePrefixBytes);
  out->append(json);
  out->append(reinterpret_cast<const char*>(self_hash.data()), kDigestBytes);
  uint8_t checksum[8];
  Put64(Xxh3(out->data() + start, out->size() - start), checksum);
  out->append(reinterpret_cast<const char*>(checksum), sizeof(checksum));
  RON_CHECK(out->size() == start + FrameBytes(json.size()));
}

void AppendPadding(uint64_t base_offset, std::string* out) {
  const uint64_t offset = base_offset + out->size();
  if (offset % kPaddingAlignBytes == 0) return;
  const uint64_t next = AfterPadding(offset);
  const size_t start = out->size();
  out->resize(start + static_cast<size_t>(next - offset), '\0');
  Put32(kPaddingMarker, reinterpret_cast<uint8_t*>(out->data() + start));
}

FrameStatus DecodeFrame(std::string_view file, uint64_t offset, size_t max_record_bytes,
                        FrameView* frame) {
  if (offset + kFrameLenBytes > file.size()) {
    // Fewer than four bytes left: zeros are a clean end, anything else a torn length.
    for (uint64_t i = offset; i < file.size(); ++i) {
      if (file[i] != 0) return FrameStatus::kTruncated;
    }
    return FrameStatus::kEnd;
  }
  const uint8_t* p = Bytes(file) + offset;
  const uint32_t len = Get32(p);
  if (len == kEndMarker) return FrameStatus::kEnd;
  if (len == kPaddingMarker) return FrameStatus::kPadding;
  if (len > max_record_bytes) return FrameStatus::kTooLong;
  const size_t size = FrameBytes(len);
  if (offset + size > file.size()) return FrameStatus::kTruncated;
  const size_t checked = kFramePrefixBytes + len + kDigestBytes;
  if (p[4] != kRecordMajor || Xxh3(p, checked) != Get64(p + checked)) {
    return FrameStatus::kChecksum;
  }
  frame->offset = offset;
  frame->seq = Get64(p + 5);
  frame->json = file.substr(offset + kFramePrefixBytes, len);
  std::memcpy(frame->self_hash.data(), p + kFramePrefixBytes + len, kDigestBytes);
  frame->size = size;
  return FrameStatus::kOk;
}

std::string SegmentFileName(uint64_t segment_no) {
  char digits[24];
  const auto r = std::to_chars(digits, digits + sizeof(digits), segment_no);
  std::string number(digits, r.ptr);
  if (number.size() < 6) number.insert(0, 6 - number.size(), '0');
  return "wal-" + number + ".seg";
}

bool ParseSegmentFileName(std::string_view name, uint64_t* segment_no) {
  if (name.size() < 4 + 6 + 4 || name.substr(0, 4) != "wal-" ||
      name.substr(name.size() - 4) != ".seg") {
    return false;
  }
  const std::string_view digits = name.substr(4, name.size() - 8);
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
  }
  const auto r = std::from_chars(digits.data(), digits.data() + digits.size(), *segment_no);
  // The canonical spelling only: at least 6 digits, no extra leading zeros beyond that.
  return r.ec == std::errc() && SegmentFileName(*segment_no) == name;
}

std::string EscapePathComponent(std::string_view name) {
  if (name == ".") return "%2E";
  if (name == "..") return "%2E%2E";
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : name) {
    if (KeepsByte(c)) {
      out.push_back(c);
    } else {
      const auto b = static_cast<unsigned char>(c);
      out.push_back('%');
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 0xF]);
    }
  }
  return out;
}

std::string PrintedStreamName(std::string_view writer_id, std::string_view stream) {
  return EscapePathComponent(writer_id) + "/" + EscapePathComponent(stream);
}

bool UnescapePathComponent(std::string_view escaped, std::string* name) {
  name->clear();
  for (size_t i = 0; i < escaped.size(); ++i) {
    const char c = escaped[i];
    if (c != '%') {
      if (!KeepsByte(c)) return false;
      name->push_back(c);
      continue;
    }
    if (i + 2 >= escaped.size()) return false;
    int value = 0;
    for (int k = 1; k <= 2; ++k) {
      const char h = escaped[i + static_cast<size_t>(k)];
      int d = -1;
      if (h >= '0' && h <= '9') d = h - '0';
      if (h >= 'A' && h <= 'F') d = h - 'A' + 10;
      if (d < 0) return false;
      value = value << 4 | d;
    }
    name->push_back(static_cast<char>(value));
    i += 2;
  }
  return EscapePathComponent(*name) == escaped;  // reject non-canonical escapings
}

}  // namespace ron::segment
