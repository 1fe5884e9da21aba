#include <string>
#include <string_view>

#include "engine/core/canonical_rules.h"

namespace ron::internal {
namespace {

namespace dom = simdjson::dom;

// ---- Classification of inputs simdjson rejects -------------------------------------------
//
// simdjson reports the first problem its stages meet (invalid UTF-8 before structure, say),
// but the law ranks them: malformed JSON, then Float, then Utf8. So on failure we make a
// sanitized copy in which every UTF-8 or surrogate problem and every out-of-range number is
// replaced by something harmless of the same length, and parse that: if it still fails the
// document is malformed; otherwise the replacements tell which rule was broken.

struct Sanitized {
  std::string text;
  bool had_bad_utf8 = false;
  bool had_lone_surrogate = false;
  bool had_float = false;
  bool had_big_integer = false;
};

int HexDigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes the 4 hex digits after "\u" at s[i] (i points at the backslash). -1 if malformed.
int DecodeUnicodeEscape(const std::string& s, size_t i) {
  if (i + 6 > s.size() || s[i] != '\\' || s[i + 1] != 'u') return -1;
  int value = 0;
  for (size_t k = i + 2; k < i + 6; ++k) {
    const int d = HexDigitValue(s[k]);
    if (d < 0) return -1;
    value = value << 4 | d;
  }
  return value;
}

// Length of a JSON number token starting at s[i] if it matches the JSON grammar
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, else 0. Sets *is_integer.
size_t JsonNumberLength(const std::string& s, size_t i, bool* is_integer) {
  size_t k = i;
  const auto digit_at = [&](size_t p) { return p < s.size() && IsAsciiDigit(s[p]); };
  if (k < s.size() && s[k] == '-') ++k;
  if (!digit_at(k)) return 0;
  if (s[k] == '0') {
    ++k;
  } else {
    while (digit_at(k)) ++k;
  }
  *is_integer = true;
  if (k < s.size() && s[k] == '.') {
    ++k;
    if (!digit_at(k)) return 0;
    while (digit_at(k)) ++k;
    *is_integer = false;
  }
  if (k < s.size() && (s[k] == 'e' || s[k] == 'E')) {
    ++k;
    if (k < s.size() && (s[k] == '+' || s[k] == '-')) ++k;
    if (!digit_at(k)) return 0;
    while (digit_at(k)) ++k;
    *is_integer = false;
  }
  return k - i;
}

bool IntegerTokenFits(std::string_view token) {
  if (token[0] == '-') {
    int64_t v;
    const auto r = std::from_chars(token.data(), token.data() + token.size(), v);
    return r.ec == std::errc() && r.ptr == token.data() + token.size();
  }
  uint64_t v;
  const auto r = std::from_chars(token.data(), token.data() + token.size(), v);
  return r.ec == std::errc() && r.ptr == token.data() + token.size();
}

void SanitizeString(Sanitized* out, size_t* pos) {
  std::string& s = out->text;
  size_t i = *pos + 1;  // after the opening quote
  while (i < s.size() && s[i] != '"') {
    if (s[i] != '\\') {
      ++i;
      continue;
    }
    const int unit = DecodeUnicodeEscape(s, i);
    if (unit < 0) {
      i += 2;  // a simple escape, or a malformed one that the re-parse will reject
      continue;
    }
    if (unit >= 0xD800 && unit <= 0xDBFF) {
      const int low = DecodeUnicodeEscape(s, i + 6);
      if (low >= 0xDC00 && low <= 0xDFFF) {
        i += 12;
        continue;
      }
    }
    if (unit >= 0xD800 && unit <= 0xDFFF) {
      s.replace(i, 6, "\\u003f");
      out->had_lone_surrogate = true;
    }
    i += 6;
  }
  *pos = i + 1;
}

Sanitized Sanitize(std::string_view json) {
  Sanitized out;
  out.text.assign(json);
  std::string& s = out.text;
  for (size_t i = 0; i < s.size();) {
    const size_t n = ValidUtf8SequenceLength(s, i);
    if (n == 0) {
      s[i] = '?';  // '?' is invalid outside strings, so it cannot repair a malformed document
      out.had_bad_utf8 = true;
      ++i;
    } else {
      i += n;
    }
  }
  for (size_t i = 0; i < s.size();) {
    if (s[i] == '"') {
      SanitizeString(&out, &i);
      continue;
    }
    bool is_integer = false;
    const size_t n = (s[i] == '-' || IsAsciiDigit(s[i])) ? JsonNumberLength(s, i, &is_integer) : 0;
    if (n == 0) {
      ++i;
      continue;
    }
    const bool fits = is_integer && IntegerTokenFits(std::string_view(s).substr(i, n));
    if (!fits) {
      (is_integer ? out.had_big_integer : out.had_float) = true;
      s.replace(i, n, std::string(n, ' '));
      s[i] = '0';
    }
    i += n;
  }
  return out;
}

}  // namespace

Status RankRejectedJson(dom::parser* parser, std::string_view json) {
  Sanitized sanitized = Sanitize(json);
  dom::element ignored;
  if (parser->parse(sanitized.text.data(), sanitized.text.size()).get(ignored) !=
      simdjson::SUCCESS) {
    return Status(Code::kSchema, "malformed JSON");
  }
  if (sanitized.had_float) return Status(Code::kFloat, "number with fraction or exponent");
  if (sanitized.had_bad_utf8) return Status(Code::kUtf8, "invalid UTF-8");
  if (sanitized.had_lone_surrogate) return Status(Code::kUtf8, "lone surrogate escape");
  if (sanitized.had_big_integer) {
    return Status(Code::kSchema, "integer does not fit in int64 or uint64");
  }
  return Status(Code::kSchema, "unparseable JSON");
}

}  // namespace ron::internal
