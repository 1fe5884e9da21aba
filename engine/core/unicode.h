// UTF-8 validation and NFC normalization (utf8proc) for the canonical form.
//
// Thread-safety: pure functions.
#ifndef ENGINE_CORE_UNICODE_H_
#define ENGINE_CORE_UNICODE_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace ron {

bool IsAscii(std::string_view s);

// Length of the valid UTF-8 sequence starting at s[i] (1..4), or 0 when the bytes there are not
// valid UTF-8 (overlong forms, surrogates U+D800..U+DFFF and values above U+10FFFF are invalid).
size_t ValidUtf8SequenceLength(std::string_view s, size_t i);
bool IsValidUtf8(std::string_view s);

// NFC of valid UTF-8 `s`. ASCII is returned as is (a view of `s`); otherwise the normalized text
// is written to `*scratch` and a view of it returned. REQUIRES: IsValidUtf8(s).
// Returns false only if utf8proc fails (out of memory or invalid input).
bool NfcNormalize(std::string_view s, std::string* scratch, std::string_view* out);

// True if `s` contains a control character U+0000–U+001F or U+007F–U+009F.
// REQUIRES: IsValidUtf8(s).
bool HasControlCharacter(std::string_view s);

}  // namespace ron

#endif  // ENGINE_CORE_UNICODE_H_
