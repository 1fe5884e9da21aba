#include "ron_audit/signer.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "engine/core/check.h"
#include "wal/files.h"

namespace ron {

static_assert(kEd25519SeedBytes == crypto_sign_SEEDBYTES);
static_assert(kEd25519PublicKeyBytes == crypto_sign_PUBLICKEYBYTES);
static_assert(kEd25519SignatureBytes == crypto_sign_BYTES);
static_assert(crypto_sign_SECRETKEYBYTES == 64);
// "ron-audit-ed25519-secret-v1 " + 64-char id + " " + 44 base64 chars + LF fits the limit.
static_assert(kKeyFileMagic.size() + 1 + kMaxKeyIdBytes + 1 + 44 + 1 <= kMaxKeyFileBytes);

namespace {

// libsodium must be initialized once before use (it picks implementations and seeds its random
// source); a function-local static makes that thread-safe.
Status EnsureSodium() {
  static const int rc = sodium_init();
  if (rc < 0) return Status(Code::kIo, "libsodium could not be initialized");
  return Status::Ok();
}

using wal::Wipe;

// A valid pointer even for an empty view: libsodium is not promised to accept nullptr.
const unsigned char* Bytes(std::string_view s) {
  static const unsigned char kEmpty = 0;
  return s.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(s.data());
}

// Parses key file text into its key id and seed. Messages never quote the content.
Status ParseKeyFile(const std::string& path, std::string_view text, std::string* key_id,
                    std::string* seed) {
  const auto bad = [&path](const std::string& why) {
    return Status(Code::kSchema, "key file " + path + ": " + why);
  };
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  if (text.find('\n') != std::string_view::npos) return bad("must be exactly one line");
  const size_t space1 = text.find(' ');
  const size_t space2 = space1 == std::string_view::npos ? space1 : text.find(' ', space1 + 1);
  if (space2 == std::string_view::npos || text.substr(0, space1) != kKeyFileMagic) {
    return bad("not a '" + std::string(kKeyFileMagic) + " <key_id> <base64 seed>' line");
  }
  const std::string_view id = text.substr(space1 + 1, space2 - space1 - 1);
  if (!IsValidKeyId(id)) return bad("invalid key id (1..64 of [A-Za-z0-9._:@-])");
  if (!Base64Decode(text.substr(space2 + 1), seed) || seed->size() != kEd25519SeedBytes) {
    Wipe(seed);
    return bad("the seed is not base64 of 32 bytes");
  }
  *key_id = std::string(id);
  return Status::Ok();
}

bool IsBlank(std::string_view line) {
  return line.find_first_not_of(" \t") == std::string_view::npos;
}

// Splits on runs of spaces and tabs; at most `max_fields` + 1 fields are kept, so callers can
// tell "too many" apart without unbounded work.
size_t SplitFields(std::string_view line, std::string_view* fields, size_t max_fields) {
  size_t count = 0;
  size_t pos = line.find_first_not_of(" \t");
  while (pos != std::string_view::npos && count <= max_fields) {
    const size_t end = line.find_first_of(" \t", pos);
    const std::string_view field =
        line.substr(pos, end == std::string_view::npos ? end : end - pos);
    if (count < max_fields) fields[count] = field;
    ++count;
    pos = end == std::string_view::npos ? end : line.find_first_not_of(" \t", end);
  }
  return count;
}

}  // namespace

bool IsValidKeyId(std::string_view key_id) {
  if (key_id.empty() || key_id.size() > kMaxKeyIdBytes) return false;
  for (const char c : key_id) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == ':' || c == '@' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// ---- Ed25519Signer ------------------------------------------------------------------------

Ed25519Signer::Ed25519Signer(std::string key_id, const uint8_t seed[32])
    : key_id_(std::move(key_id)) {
  RON_CHECK(crypto_sign_seed_keypair(public_key_, secret_key_, seed) == 0);
}

Ed25519Signer::~Ed25519Signer() {
  sodium_memzero(secret_key_, sizeof(secret_key_));
  sodium_memzero(public_key_, sizeof(public_key_));
}

std::unique_ptr<Ed25519Signer> Ed25519Signer::FromSeed(std::string key_id, const uint8_t seed[32]) {
  RON_CHECK(IsValidKeyId(key_id));
  RON_CHECK(EnsureSodium().ok());
  return std::unique_ptr<Ed25519Signer>(new Ed25519Signer(std::move(key_id), seed));
}

Result<std::unique_ptr<Ed25519Signer>> Ed25519Signer::FromKeyFile(const std::string& path) {
  RON_RETURN_IF_ERROR(EnsureSodium());
  std::string text, key_id, seed;
  Status status =
      wal::ReadSecretFile(path, "key file", kMaxKeyFileBytes, /*require_0600=*/true, &text);
  if (status.ok()) status = ParseKeyFile(path, text, &key_id, &seed);
  Wipe(&text);
  if (!status.ok()) return status;
  auto signer = std::unique_ptr<Ed25519Signer>(
      new Ed25519Signer(std::move(key_id), reinterpret_cast<const uint8_t*>(seed.data())));
  Wipe(&seed);
  return signer;
}

Result<std::string> Ed25519Signer::Sign(std::string_view message) {
  unsigned char sig[crypto_sign_BYTES];
  unsigned long long sig_bytes = 0;
  if (crypto_sign_detached(sig, &sig_bytes, Bytes(message), message.size(), secret_key_) != 0 ||
      sig_bytes != crypto_sign_BYTES) {
    return Status(Code::kIo, "ed25519 signing failed");
  }
  return std::string(reinterpret_cast<const char*>(sig), sizeof(sig));
}

std::string Ed25519Signer::public_key() const {
  return std::string(reinterpret_cast<const char*>(public_key_), sizeof(public_key_));
}

// ---- Key files ----------------------------------------------------------------------------

Status WriteKeyFile(const std::string& path, const std::string& key_id,
                    std::string* public_key_line) {
  if (!IsValidKeyId(key_id)) {
    return Status(Code::kSchema, "invalid key id (1..64 of [A-Za-z0-9._:@-])");
  }
  RON_RETURN_IF_ERROR(EnsureSodium());
  unsigned char seed[crypto_sign_SEEDBYTES];
  unsigned char pk[crypto_sign_PUBLICKEYBYTES];
  unsigned char sk[crypto_sign_SECRETKEYBYTES];
  randombytes_buf(seed, sizeof(seed));
  const bool derived = crypto_sign_seed_keypair(pk, sk, seed) == 0;
  sodium_memzero(sk, sizeof(sk));
  std::string seed_b64 = Base64Encode(std::string_view(reinterpret_cast<char*>(seed), 32));
  sodium_memzero(seed, sizeof(seed));
  // Built in place with room to spare so the secret line is never reallocated (and copied).
  std::string line;
  line.reserve(kMaxKeyFileBytes);
  line.append(kKeyFileMagic).append(" ").append(key_id).append(" ").append(seed_b64).append("\n");
  Wipe(&seed_b64);
  const Status status =
      derived ? wal::CreateExclusiveFile(path, "key file", line)
              : Status(Code::kIo, "ed25519 key derivation failed");
  Wipe(&line);
  if (!status.ok()) return status;
  *public_key_line = key_id + " " + std::string(kAlgEd25519) + " " +
                     Base64Encode(std::string_view(reinterpret_cast<char*>(pk), sizeof(pk)));
  return Status::Ok();
}

// ---- Verification -------------------------------------------------------------------------

const char* SigCheckName(SigCheck check) {
  switch (check) {
    case SigCheck::kValid:
      return "valid";
    case SigCheck::kUnknownKey:
      return "unknown_key";
    case SigCheck::kBadSignature:
      return "bad_signature";
    case SigCheck::kBadAlg:
      return "bad_alg";
  }
  return "unknown";
}

Result<TrustedKeys> TrustedKeys::Parse(std::string_view text) {
  if (text.size() > kMaxTrustedKeysFileBytes) {
    return Status(Code::kSchema,
                  "longer than " + std::to_string(kMaxTrustedKeysFileBytes) + " bytes");
  }
  TrustedKeys keys;
  std::map<std::string, size_t, std::less<>> first_line;  // key id -> line it was listed on
  size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const size_t lf = text.find('\n');
    std::string_view line = text.substr(0, lf);
    text.remove_prefix(lf == std::string_view::npos ? text.size() : lf + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (IsBlank(line) || line.front() == '#') continue;
    const auto bad = [line_no](const std::string& why) {
      return Status(Code::kSchema, "line " + std::to_string(line_no) + ": " + why);
    };
    std::string_view fields[3];
    if (SplitFields(line, fields, 3) != 3) {
      return bad("expected '<key_id> ed25519 <base64 public key>'");
    }
    if (!IsValidKeyId(fields[0])) return bad("invalid key id (1..64 of [A-Za-z0-9._:@-])");
    if (fields[1] != kAlgEd25519) return bad("unknown alg; only ed25519 is supported");
    std::string public_key;
    if (!Base64Decode(fields[2], &public_key)) return bad("public key is not valid base64");
    if (public_key.size() != kEd25519PublicKeyBytes) {
      return bad("public key is " + std::to_string(public_key.size()) + " bytes; must be 32");
    }
    if (const auto it = first_line.find(fields[0]); it != first_line.end()) {
      return bad("duplicate key id " + std::string(fields[0]) + " (first on line " +
                 std::to_string(it->second) + ")");
    }
    if (keys.size() >= kMaxTrustedKeys) {
      return bad("more than " + std::to_string(kMaxTrustedKeys) + " keys");
    }
    first_line.emplace(std::string(fields[0]), line_no);
    keys.keys_.emplace(std::string(fields[0]), std::move(public_key));
  }
  return keys;
}

Result<TrustedKeys> TrustedKeys::Load(const std::string& path) {
  // Whoever can write this file decides what verifies: refuse one that anybody may change.
  struct stat st {};
  if (stat(path.c_str(), &st) == 0 && (st.st_mode & S_IWOTH) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return Status(Code::kSchema, "trusted keys file " + path + " has mode " + mode +
                                     ": anybody may change it; remove the others' write bit");
  }
  std::string text;
  RON_RETURN_IF_ERROR(wal::ReadSecretFile(path, "trusted keys file", kMaxTrustedKeysFileBytes,
                                          /*require_0600=*/false, &text));
  auto parsed = Parse(text);
  if (!parsed.ok()) {
    return Status(Code::kSchema, "trusted keys file " + path + ": " + parsed.status().message());
  }
  return parsed;
}

void TrustedKeys::Add(std::string key_id, std::string public_key) {
  RON_CHECK(IsValidKeyId(key_id));
  RON_CHECK(public_key.size() == kEd25519PublicKeyBytes);
  keys_.insert_or_assign(std::move(key_id), std::move(public_key));
}

bool TrustedKeys::Knows(std::string_view key_id) const { return keys_.find(key_id) != keys_.end(); }

SigCheck TrustedKeys::Verify(std::string_view key_id, std::string_view alg,
                             std::string_view message, std::string_view signature) const {
  if (alg != kAlgEd25519) return SigCheck::kBadAlg;
  const auto it = keys_.find(key_id);
  if (it == keys_.end()) return SigCheck::kUnknownKey;
  // Without an initialized libsodium nothing is vouched for: fail closed.
  if (!EnsureSodium().ok() || signature.size() != crypto_sign_BYTES) {
    return SigCheck::kBadSignature;
  }
  if (crypto_sign_verify_detached(Bytes(signature), Bytes(message), message.size(),
                                  Bytes(it->second)) != 0) {
    return SigCheck::kBadSignature;
  }
  return SigCheck::kValid;
}

// ---- Base64 -------------------------------------------------------------------------------

std::string Base64Encode(std::string_view bytes) {
  const size_t size_with_nul =
      sodium_base64_ENCODED_LEN(bytes.size(), sodium_base64_VARIANT_ORIGINAL);
  std::string out(size_with_nul, '\0');
  sodium_bin2base64(out.data(), out.size(), Bytes(bytes), bytes.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  out.resize(size_with_nul - 1);
  return out;
}

bool Base64Decode(std::string_view text, std::string* bytes) {
  bytes->clear();
  if (text.empty()) return true;
  bytes->resize(text.size() / 4 * 3 + 3);
  size_t size = 0;
  // No ignore set and no end pointer: whitespace, wrong padding and trailing bytes all fail.
  const int rc = sodium_base642bin(reinterpret_cast<unsigned char*>(bytes->data()), bytes->size(),
                                   text.data(), text.size(), /*ignore=*/nullptr, &size,
                                   /*b64_end=*/nullptr, sodium_base64_VARIANT_ORIGINAL);
  if (rc != 0) {
    Wipe(bytes);  // the text may have been a secret
    return false;
  }
  bytes->resize(size);
  return true;
}

}  // namespace ron
