// Scans of text for the canonical form, 16 bytes a step (SSE2) or 32 (AVX2, on CPUs that have
// it, for runs of 64 bytes or more); byte by byte elsewhere. Each returns the first byte at or
// after `p` of its kind, or `end`. Exact: the caller needs no scan of its own after them.
#ifndef ENGINE_CORE_TEXT_SCAN_H_
#define ENGINE_CORE_TEXT_SCAN_H_

namespace ron::internal {

// A byte a JSON string must escape: below 0x20, '"' or backslash (the writer's escaping).
const char* FindEscape(const char* p, const char* end);
// FindEscape's bytes and every byte >= 0x80 (the reader's fast path, which leaves non-ASCII
// text to the full path).
const char* FindEscapeOrNonAscii(const char* p, const char* end);
// A byte >= 0x80.
const char* FindNonAscii(const char* p, const char* end);

}  // namespace ron::internal

#endif  // ENGINE_CORE_TEXT_SCAN_H_
