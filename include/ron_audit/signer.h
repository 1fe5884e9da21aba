// Checkpoint signatures (docs/FORMAT.md §4): the Signer interface hosts implement, an Ed25519 signer
// over a key file for tools and tests, and the trusted-keys list verifiers check against.
// Ed25519 is libsodium's (crypto_sign_*); base64 is libsodium's original variant.
//
// Key ids: 1..64 characters of [A-Za-z0-9._:@-] (kMaxKeyIdBytes). Every function that takes or
// parses one validates it and answers Code::kSchema otherwise.
//
// Secret key file (written by WriteKeyFile / `ronctl keygen`), exactly one line:
//
//   ron-audit-ed25519-secret-v1 <key_id> <base64 of the 32-byte Ed25519 seed>\n
//
//   - fields separated by one space; base64 is RFC 4648 §4 (standard alphabet, with padding), so
//     the seed is always 44 characters; the final LF may be missing, nothing may follow it;
//   - the file must be a regular file with mode exactly 0600 (no other permission or special
//     bit), else it is refused; at most kMaxKeyFileBytes long.
//   The Ed25519 key pair is derived from the seed (RFC 8032 §5.1.5, crypto_sign_seed_keypair).
//
// Trusted-keys file (public; one key per line, in any order):
//
//   <key_id> ed25519 <base64 of the 32-byte public key>
//
//   - fields separated by runs of spaces or tabs; a trailing CR is ignored;
//   - empty lines, lines of only spaces/tabs and lines starting with '#' are ignored;
//   - any other line that does not match, an alg other than "ed25519", a key that is not 32
//     bytes, and a key id listed twice are Code::kSchema errors naming the line (from 1);
//   - at most kMaxTrustedKeys keys and kMaxTrustedKeysFileBytes bytes.
//
// Error messages name paths, line numbers and modes, never key material.
#ifndef RON_AUDIT_SIGNER_H_
#define RON_AUDIT_SIGNER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "ron_audit/export.h"
#include "ron_audit/status.h"

namespace ron {

inline constexpr size_t kMaxKeyIdBytes = 64;
inline constexpr size_t kEd25519SeedBytes = 32;       // crypto_sign_SEEDBYTES
inline constexpr size_t kEd25519PublicKeyBytes = 32;  // crypto_sign_PUBLICKEYBYTES
inline constexpr size_t kEd25519SignatureBytes = 64;  // crypto_sign_BYTES
inline constexpr std::string_view kAlgEd25519 = "ed25519";
inline constexpr std::string_view kKeyFileMagic = "ron-audit-ed25519-secret-v1";
// Limits: a key file is one ~120-byte line; a trusted-keys file is a short hand-kept list.
inline constexpr size_t kMaxKeyFileBytes = 512;
inline constexpr size_t kMaxTrustedKeys = 1024;
inline constexpr size_t kMaxTrustedKeysFileBytes = 1 << 20;

// True for 1..64 characters of [A-Za-z0-9._:@-].
RON_AUDIT_EXPORT bool IsValidKeyId(std::string_view key_id);

// Signs checkpoint bodies. Hosts provide their own (an HSM, a KMS); Ed25519Signer ships for tools
// and tests. Thread-safety: the checkpoint builder calls Sign from one thread at a time; an
// implementation need not be safe for concurrent calls.
class RON_AUDIT_EXPORT Signer {
 public:
  virtual ~Signer() = default;
  // The signer_key_id written into checkpoints; a valid key id.
  virtual std::string key_id() const = 0;
  // The checkpoint "alg" ("ed25519").
  virtual std::string alg() const = 0;
  // The raw signature bytes over `message` (64 for ed25519).
  virtual Result<std::string> Sign(std::string_view message) = 0;
};

// Ed25519 over a secret held in memory; the secret is zeroed on destruction. Not copyable.
// Thread-safety: immutable after construction; Sign is safe from any number of threads.
class RON_AUDIT_EXPORT Ed25519Signer final : public Signer {
 public:
  // Loads a key file (format above). Code::kIo if it cannot be opened or read; Code::kSchema if
  // it is not a regular file, its mode is not exactly 0600 ("key file <path> has mode 0644; must
  // be 0600"), or its content is malformed.
  static Result<std::unique_ptr<Ed25519Signer>> FromKeyFile(const std::string& path);
  // For tests and hosts that hold the seed elsewhere. REQUIRES: IsValidKeyId(key_id) (checked:
  // aborts otherwise); `seed` points at 32 bytes, which the caller still owns and must wipe.
  static std::unique_ptr<Ed25519Signer> FromSeed(std::string key_id, const uint8_t seed[32]);

  ~Ed25519Signer() override;
  Ed25519Signer(const Ed25519Signer&) = delete;
  Ed25519Signer& operator=(const Ed25519Signer&) = delete;

  std::string key_id() const override { return key_id_; }
  std::string alg() const override { return std::string(kAlgEd25519); }
  Result<std::string> Sign(std::string_view message) override;

  // The 32 raw public key bytes.
  std::string public_key() const;

 private:
  Ed25519Signer(std::string key_id, const uint8_t seed[32]);

  std::string key_id_;
  uint8_t secret_key_[64];  // libsodium's seed ‖ public key; zeroed in the destructor
  uint8_t public_key_[32];
};

// Generates a fresh key pair from the OS random source and writes its key file at `path` with
// O_CREAT|O_EXCL and mode 0600 (never overwrites: an existing path is Code::kIo), fsyncs the file
// and its directory, and sets *public_key_line to "<key_id> ed25519 <base64 public key>" (no LF),
// the line to add to a trusted-keys file. On failure no file is left behind and
// *public_key_line is unchanged. Code::kSchema for an invalid key id. REQUIRES: public_key_line.
RON_AUDIT_EXPORT Status WriteKeyFile(const std::string& path, const std::string& key_id,
                    std::string* public_key_line);

// The outcome of checking one signature; SigCheckName gives its stable name.
enum class SigCheck : uint8_t {
  kValid = 0,
  kUnknownKey,    // the key id is not trusted
  kBadSignature,  // wrong length, or does not verify over the message with that key
  kBadAlg,        // alg is not "ed25519" (for example "none")
};

// "valid", "unknown_key", "bad_signature", "bad_alg".
RON_AUDIT_EXPORT const char* SigCheckName(SigCheck check);

// The public keys a verifier trusts, by key id. A value; thread-safe for concurrent const use.
class RON_AUDIT_EXPORT TrustedKeys {
 public:
  TrustedKeys() = default;

  // Parses a trusted-keys file's text (format above). Errors are Code::kSchema, "line <n>: why".
  static Result<TrustedKeys> Parse(std::string_view text);
  // Reads and parses `path`: Code::kIo if unreadable; Code::kSchema if not a regular file, too
  // long, or malformed ("trusted keys file <path>: line <n>: why").
  static Result<TrustedKeys> Load(const std::string& path);

  // Trusts `public_key` (32 raw bytes) as `key_id`, replacing an earlier key of that id.
  // REQUIRES: IsValidKeyId(key_id) and 32 bytes (checked: aborts otherwise).
  void Add(std::string key_id, std::string public_key);
  bool Knows(std::string_view key_id) const;
  size_t size() const { return keys_.size(); }

  // kValid only if alg is "ed25519", the key id is trusted, and `signature` is 64 bytes that
  // verify over `message` with that key. alg is checked first, so an unsigned ("none")
  // checkpoint reads kBadAlg whatever its key id.
  SigCheck Verify(std::string_view key_id, std::string_view alg, std::string_view message,
                  std::string_view signature) const;

 private:
  std::map<std::string, std::string, std::less<>> keys_;  // key id -> 32-byte public key
};

// Standard base64 (RFC 4648 §4: original alphabet, with padding).
RON_AUDIT_EXPORT std::string Base64Encode(std::string_view bytes);
// Strict inverse of Base64Encode: false (and *bytes cleared) on whitespace, a character outside
// the alphabet, missing or extra padding, non-zero trailing bits, or trailing garbage.
RON_AUDIT_EXPORT bool Base64Decode(std::string_view text, std::string* bytes);

}  // namespace ron

#endif  // RON_AUDIT_SIGNER_H_
