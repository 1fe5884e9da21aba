// Checkpoint signing: Ed25519 against RFC 8032, the key file's 0600 rule and format, the
// trusted-keys parser, strict base64, and the `ronctl keygen` contract run on the real binary.
#include "ron_audit/signer.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

#include "tests/test_util.h"

namespace ron {
namespace {

using testing::ReadFile;
using testing::RunCommand;
using testing::SplitLines;
using testing::TempDir;
using testing::WriteFile;

std::string FromHex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

const uint8_t* SeedBytes(const std::string& seed) {
  return reinterpret_cast<const uint8_t*>(seed.data());
}

// RFC 8032 §7.1, TEST 1.
const std::string kVector1Seed =
    FromHex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
const std::string kVector1PublicKey =
    FromHex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
const std::string kVector1Signature = FromHex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b4"
    "6bd25bf5f0595bbe24655141438e7a100b");

std::string KeyFileText(const std::string& key_id, const std::string& seed) {
  return "ron-audit-ed25519-secret-v1 " + key_id + " " + Base64Encode(seed) + "\n";
}

// Writes a key file with the given mode (chmod, so the umask does not interfere).
std::string WriteKey(const TempDir& dir, const std::string& text, mode_t mode) {
  const std::string path = dir.path() + "/k.key";
  unlink(path.c_str());
  WriteFile(path, text);
  EXPECT_EQ(chmod(path.c_str(), mode), 0);
  return path;
}

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

bool Exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

std::string FlipBit(std::string s, size_t byte, int bit) {
  s[byte] = static_cast<char>(s[byte] ^ (1 << bit));
  return s;
}

TrustedKeys KeysOf(const Ed25519Signer& signer) {
  TrustedKeys keys;
  keys.Add(signer.key_id(), signer.public_key());
  return keys;
}

// ---- Signing and verification ------------------------------------------------------------

TEST(SignerTest, SignVerifyRoundTrip) {
  const auto signer = Ed25519Signer::FromSeed("ops@host-1", SeedBytes(kVector1Seed));
  EXPECT_EQ(signer->key_id(), "ops@host-1");
  EXPECT_EQ(signer->alg(), "ed25519");
  const TrustedKeys keys = KeysOf(*signer);
  for (const std::string& message :
       std::vector<std::string>{std::string(), std::string("{\"tree_size\":1}"),
                                std::string(100000, 'x'), std::string("a\0b", 3)}) {
    const auto sig = signer->Sign(message);
    ASSERT_TRUE(sig.ok()) << sig.status().ToString();
    EXPECT_EQ(sig.value().size(), 64u);
    EXPECT_EQ(keys.Verify("ops@host-1", "ed25519", message, sig.value()), SigCheck::kValid);
  }
}

TEST(SignerTest, Rfc8032Vector1) {
  const auto signer = Ed25519Signer::FromSeed("rfc8032-1", SeedBytes(kVector1Seed));
  EXPECT_EQ(signer->public_key(), kVector1PublicKey);
  const auto sig = signer->Sign("");
  ASSERT_TRUE(sig.ok());
  EXPECT_EQ(sig.value(), kVector1Signature);
  TrustedKeys keys;
  keys.Add("rfc8032-1", kVector1PublicKey);
  EXPECT_EQ(keys.Verify("rfc8032-1", "ed25519", "", kVector1Signature), SigCheck::kValid);
}

TEST(SignerTest, FlippedBitInMessageOrSignatureIsBadSignature) {
  const auto signer = Ed25519Signer::FromSeed("k1", SeedBytes(kVector1Seed));
  const TrustedKeys keys = KeysOf(*signer);
  const std::string message = "{\"tree_root\":\"b3:00\"}";
  const std::string sig = signer->Sign(message).value();
  for (size_t byte = 0; byte < message.size(); ++byte) {
    EXPECT_EQ(keys.Verify("k1", "ed25519", FlipBit(message, byte, byte % 8), sig),
              SigCheck::kBadSignature)
        << byte;
  }
  for (size_t byte = 0; byte < sig.size(); ++byte) {
    EXPECT_EQ(keys.Verify("k1", "ed25519", message, FlipBit(sig, byte, byte % 8)),
              SigCheck::kBadSignature)
        << byte;
  }
  EXPECT_EQ(keys.Verify("k1", "ed25519", message, sig.substr(0, 63)), SigCheck::kBadSignature);
  EXPECT_EQ(keys.Verify("k1", "ed25519", message, sig + "x"), SigCheck::kBadSignature);
  EXPECT_EQ(keys.Verify("k1", "ed25519", message, ""), SigCheck::kBadSignature);
}

TEST(SignerTest, OtherKeysSignatureIsBadSignature) {
  const auto a = Ed25519Signer::FromSeed("a", SeedBytes(kVector1Seed));
  const auto b = Ed25519Signer::FromSeed("b", SeedBytes(std::string(32, '\7')));
  TrustedKeys keys = KeysOf(*a);
  EXPECT_EQ(keys.Verify("a", "ed25519", "m", b->Sign("m").value()), SigCheck::kBadSignature);
  // Add replaces: after rotation only the new key verifies under the id.
  keys.Add("a", b->public_key());
  EXPECT_EQ(keys.Verify("a", "ed25519", "m", b->Sign("m").value()), SigCheck::kValid);
  EXPECT_EQ(keys.Verify("a", "ed25519", "m", a->Sign("m").value()), SigCheck::kBadSignature);
}

TEST(SignerTest, UnknownKeyAndBadAlg) {
  const auto signer = Ed25519Signer::FromSeed("k1", SeedBytes(kVector1Seed));
  const TrustedKeys keys = KeysOf(*signer);
  const std::string sig = signer->Sign("m").value();
  EXPECT_TRUE(keys.Knows("k1"));
  EXPECT_FALSE(keys.Knows("k2"));
  EXPECT_EQ(keys.Verify("k2", "ed25519", "m", sig), SigCheck::kUnknownKey);
  EXPECT_EQ(keys.Verify("", "ed25519", "m", sig), SigCheck::kUnknownKey);
  EXPECT_EQ(keys.Verify("k1", "none", "m", sig), SigCheck::kBadAlg);
  EXPECT_EQ(keys.Verify("k1", "ED25519", "m", sig), SigCheck::kBadAlg);
  EXPECT_EQ(keys.Verify("k1", "", "m", sig), SigCheck::kBadAlg);
  EXPECT_EQ(TrustedKeys().Verify("k1", "ed25519", "m", sig), SigCheck::kUnknownKey);
}

TEST(SignerTest, SigCheckNames) {
  EXPECT_STREQ(SigCheckName(SigCheck::kValid), "valid");
  EXPECT_STREQ(SigCheckName(SigCheck::kUnknownKey), "unknown_key");
  EXPECT_STREQ(SigCheckName(SigCheck::kBadSignature), "bad_signature");
  EXPECT_STREQ(SigCheckName(SigCheck::kBadAlg), "bad_alg");
}

TEST(SignerKeyIdTest, Validation) {
  for (const std::string& id :
       std::vector<std::string>{"a", "ops@host-1", "A.b_c:d@e-f", "0", std::string(64, 'k')}) {
    EXPECT_TRUE(IsValidKeyId(id)) << id;
  }
  for (const std::string& id : std::vector<std::string>{
           std::string(), std::string(65, 'k'), std::string("a b"), std::string("a/b"),
           std::string("a\nb"), std::string("é"), std::string("a\0b", 3), std::string("a#")}) {
    EXPECT_FALSE(IsValidKeyId(id)) << id;
  }
}

// ---- Key files ---------------------------------------------------------------------------

TEST(SignerKeyFileTest, LoadsA0600KeyFile) {
  TempDir dir;
  const std::string path = WriteKey(dir, KeyFileText("k1", kVector1Seed), 0600);
  const auto signer = Ed25519Signer::FromKeyFile(path);
  ASSERT_TRUE(signer.ok()) << signer.status().ToString();
  EXPECT_EQ(signer.value()->key_id(), "k1");
  EXPECT_EQ(signer.value()->public_key(), kVector1PublicKey);
  EXPECT_EQ(signer.value()->Sign("").value(), kVector1Signature);
  // The final LF is optional.
  const std::string text = KeyFileText("k1", kVector1Seed);
  const auto no_lf =
      Ed25519Signer::FromKeyFile(WriteKey(dir, text.substr(0, text.size() - 1), 0600));
  ASSERT_TRUE(no_lf.ok()) << no_lf.status().ToString();
  EXPECT_EQ(no_lf.value()->public_key(), kVector1PublicKey);
}

TEST(SignerKeyFileTest, ModeOtherThan0600IsRefused) {
  TempDir dir;
  for (const mode_t mode : {0644, 0640, 0604, 0400, 0700, 0660, 01600}) {
    const std::string path = WriteKey(dir, KeyFileText("k1", kVector1Seed), mode);
    const auto signer = Ed25519Signer::FromKeyFile(path);
    ASSERT_FALSE(signer.ok()) << std::oct << mode;
    EXPECT_EQ(signer.code(), Code::kSchema);
    EXPECT_NE(signer.status().message().find("0600"), std::string::npos);
    EXPECT_NE(signer.status().message().find(path), std::string::npos);
  }
  const std::string path = WriteKey(dir, KeyFileText("k1", kVector1Seed), 0644);
  EXPECT_EQ(Ed25519Signer::FromKeyFile(path).status().message(),
            "key file " + path + " has mode 0644; must be 0600");
}

TEST(SignerKeyFileTest, UnreadableOrSpecialFiles) {
  TempDir dir;
  EXPECT_EQ(Ed25519Signer::FromKeyFile(dir.path() + "/missing.key").code(), Code::kIo);
  const auto is_dir = Ed25519Signer::FromKeyFile(dir.path());
  EXPECT_EQ(is_dir.code(), Code::kSchema);
  EXPECT_NE(is_dir.status().message().find("not a regular file"), std::string::npos);
  const std::string fifo = dir.path() + "/fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_EQ(Ed25519Signer::FromKeyFile(fifo).code(), Code::kSchema);  // and does not block
}

TEST(SignerKeyFileTest, MalformedContentIsSchema) {
  TempDir dir;
  const std::string seed64 = Base64Encode(kVector1Seed);
  const std::string magic = "ron-audit-ed25519-secret-v1 ";
  const std::vector<std::string> bad = {
      "",
      "\n",
      "ron-audit-ed25519-secret-v2 k1 " + seed64 + "\n",
      magic + "k1\n",
      magic + "k1 " + seed64 + " extra\n",
      magic + "k1  " + seed64 + "\n",
      magic + "k1 " + seed64 + "\n\n",
      magic + "k1 " + seed64 + "\r\n",
      magic + "bad/id " + seed64 + "\n",
      magic + " " + seed64 + "\n",
      magic + "k1 " + Base64Encode(kVector1Seed.substr(0, 31)) + "\n",
      magic + "k1 " + Base64Encode(kVector1Seed + "x") + "\n",
      magic + "k1 " + seed64.substr(0, 43) + "\n",
      magic + "k1 " + std::string(kMaxKeyFileBytes, 'A') + "\n",
  };
  for (const std::string& text : bad) {
    const auto signer = Ed25519Signer::FromKeyFile(WriteKey(dir, text, 0600));
    ASSERT_FALSE(signer.ok()) << text;
    EXPECT_EQ(signer.code(), Code::kSchema) << text;
    // Never echoes key material.
    EXPECT_EQ(signer.status().message().find(seed64.substr(0, 12)), std::string::npos);
  }
}

TEST(SignerKeyFileTest, WrittenKeyFileIs0600LoadsAndVerifiesAgainstPrintedLine) {
  TempDir dir;
  const std::string path = dir.path() + "/ops.key";
  std::string line;
  ASSERT_TRUE(WriteKeyFile(path, "ops@host-1", &line).ok());
  EXPECT_EQ(ModeOf(path), 0600u);
  const std::string text = ReadFile(path);
  EXPECT_EQ(text.rfind("ron-audit-ed25519-secret-v1 ops@host-1 ", 0), 0u) << text;
  EXPECT_EQ(text.size(), std::string("ron-audit-ed25519-secret-v1 ops@host-1 ").size() + 44 + 1);
  EXPECT_EQ(text.back(), '\n');

  EXPECT_EQ(line.rfind("ops@host-1 ed25519 ", 0), 0u) << line;
  EXPECT_EQ(line.size(), std::string("ops@host-1 ed25519 ").size() + 44);
  const auto keys = TrustedKeys::Parse(line);
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();

  auto signer = Ed25519Signer::FromKeyFile(path);
  ASSERT_TRUE(signer.ok()) << signer.status().ToString();
  EXPECT_EQ(Base64Encode(signer.value()->public_key()), line.substr(line.rfind(' ') + 1));
  const auto sig = signer.value()->Sign("checkpoint body");
  ASSERT_TRUE(sig.ok());
  EXPECT_EQ(keys.value().Verify("ops@host-1", "ed25519", "checkpoint body", sig.value()),
            SigCheck::kValid);

  // A second key is a different key.
  std::string line2;
  ASSERT_TRUE(WriteKeyFile(dir.path() + "/two.key", "ops@host-1", &line2).ok());
  EXPECT_NE(line, line2);
}

TEST(SignerKeyFileTest, WriteKeyFileRefusesToOverwrite) {
  TempDir dir;
  const std::string path = dir.path() + "/k.key";
  WriteFile(path, "precious");
  std::string line = "unchanged";
  const Status status = WriteKeyFile(path, "k1", &line);
  EXPECT_EQ(status.code(), Code::kIo);
  EXPECT_NE(status.message().find("already exists"), std::string::npos) << status.ToString();
  EXPECT_EQ(ReadFile(path), "precious");
  EXPECT_EQ(line, "unchanged");
  // Nor through a symlink, even a dangling one.
  const std::string link = dir.path() + "/link.key";
  ASSERT_EQ(symlink((dir.path() + "/target.key").c_str(), link.c_str()), 0);
  EXPECT_EQ(WriteKeyFile(link, "k1", &line).code(), Code::kIo);
  EXPECT_FALSE(Exists(dir.path() + "/target.key"));
}

TEST(SignerKeyFileTest, WriteKeyFileValidatesTheKeyIdAndTheDirectory) {
  TempDir dir;
  std::string line;
  for (const std::string& id :
       std::vector<std::string>{std::string(), std::string("a b"), std::string(65, 'k')}) {
    const std::string path = dir.path() + "/k.key";
    EXPECT_EQ(WriteKeyFile(path, id, &line).code(), Code::kSchema) << id;
    EXPECT_FALSE(Exists(path));
  }
  EXPECT_EQ(WriteKeyFile(dir.path() + "/no/such/dir/k.key", "k1", &line).code(), Code::kIo);
}

TEST(SignerKeyFileTest, WriteKeyFileIgnoresTheUmask) {
  TempDir dir;
  const mode_t old = umask(0277);
  std::string line;
  const Status status = WriteKeyFile(dir.path() + "/k.key", "k1", &line);
  umask(old);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(ModeOf(dir.path() + "/k.key"), 0600u);
}

// ---- Trusted keys ------------------------------------------------------------------------

TEST(TrustedKeysTest, ParsesKeysCommentsAndBlankLines) {
  const std::string pk = Base64Encode(kVector1PublicKey);
  const std::string other = Base64Encode(std::string(32, '\1'));
  const auto keys = TrustedKeys::Parse("# trusted checkpoint signers\n\n   \t\nrfc8032-1 ed25519 " +
                                       pk + "\nops@host-1\ted25519   " + other + "\r\n#end");
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  EXPECT_EQ(keys.value().size(), 2u);
  EXPECT_TRUE(keys.value().Knows("rfc8032-1"));
  EXPECT_TRUE(keys.value().Knows("ops@host-1"));
  EXPECT_EQ(keys.value().Verify("rfc8032-1", "ed25519", "", kVector1Signature), SigCheck::kValid);
  EXPECT_EQ(TrustedKeys::Parse("").value().size(), 0u);
  EXPECT_EQ(TrustedKeys::Parse("# only a comment\n").value().size(), 0u);
}

TEST(TrustedKeysTest, ParseErrorsNameTheLine) {
  const std::string pk = Base64Encode(kVector1PublicKey);
  const std::string head = "# keys\nk0 ed25519 " + pk + "\n";  // the bad line is line 3
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"k1 ed25519 " + pk.substr(1), "base64"},                          // bad base64
      {"k1 ed25519 " + pk + "=", "base64"},                              // bad padding
      {"k1 ed25519 " + Base64Encode(std::string(31, 'x')), "31 bytes"},  // wrong length
      {"k1 ed25519 " + Base64Encode(std::string(33, 'x')), "33 bytes"},  // wrong length
      {"k1 rsa " + pk, "alg"},                                           // unknown alg
      {"k1 none " + pk, "alg"},                                          // unknown alg
      {"k0 ed25519 " + pk, "duplicate key id k0 (first on line 2)"},     // duplicate id
      {"bad/id ed25519 " + pk, "key id"},                                // bad key id
      {std::string(65, 'k') + " ed25519 " + pk, "key id"},               // bad key id
      {"k1 ed25519", "expected"},                                        // too few
      {"k1 ed25519 " + pk + " extra", "expected"},                       // too many
      {"  # indented comment", "key id"},  // only a line starting with # is a comment
  };
  for (const auto& [line, why] : cases) {
    const auto keys = TrustedKeys::Parse(head + line + "\nk9 ed25519 " + pk + "\n");
    ASSERT_FALSE(keys.ok()) << line;
    EXPECT_EQ(keys.code(), Code::kSchema) << line;
    EXPECT_EQ(keys.status().message().rfind("line 3: ", 0), 0u) << keys.status().message();
    EXPECT_NE(keys.status().message().find(why), std::string::npos) << keys.status().message();
  }
}

TEST(TrustedKeysTest, LoadNamesThePath) {
  TempDir dir;
  const std::string path = dir.path() + "/trusted_keys";
  WriteFile(path, "k1 ed25519 " + Base64Encode(kVector1PublicKey) + "\n");
  const auto keys = TrustedKeys::Load(path);
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  EXPECT_TRUE(keys.value().Knows("k1"));

  WriteFile(path, "\nk1 ed25519 AAAA\n");
  const auto bad = TrustedKeys::Load(path);
  EXPECT_EQ(bad.code(), Code::kSchema);
  EXPECT_EQ(bad.status().message().rfind("trusted keys file " + path + ": line 2: ", 0), 0u)
      << bad.status().message();
  EXPECT_EQ(TrustedKeys::Load(dir.path() + "/missing").code(), Code::kIo);
}

TEST(TrustedKeysTest, LoadRefusesAFileAnybodyMayChange) {
  TempDir dir;
  const std::string path = dir.path() + "/trusted_keys";
  WriteFile(path, "k1 ed25519 " + Base64Encode(kVector1PublicKey) + "\n");
  ASSERT_EQ(chmod(path.c_str(), 0666), 0);
  const auto refused = TrustedKeys::Load(path);
  EXPECT_EQ(refused.code(), Code::kSchema);
  EXPECT_NE(refused.status().message().find("mode 0666"), std::string::npos)
      << refused.status().message();
  ASSERT_EQ(chmod(path.c_str(), 0644), 0);  // readable by all is fine
  EXPECT_TRUE(TrustedKeys::Load(path).ok());
}

// ---- Base64 ------------------------------------------------------------------------------

TEST(Base64Test, Rfc4648VectorsAndRoundTrip) {
  const std::vector<std::pair<std::string, std::string>> vectors = {{"", ""},
                                                                    {"f", "Zg=="},
                                                                    {"fo", "Zm8="},
                                                                    {"foo", "Zm9v"},
                                                                    {"foob", "Zm9vYg=="},
                                                                    {"fooba", "Zm9vYmE="},
                                                                    {"foobar", "Zm9vYmFy"},
                                                                    {"\xff\xfe", "//4="}};
  for (const auto& [bytes, text] : vectors) {
    EXPECT_EQ(Base64Encode(bytes), text);
    std::string decoded = "junk";
    ASSERT_TRUE(Base64Decode(text, &decoded)) << text;
    EXPECT_EQ(decoded, bytes);
  }
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (size_t n = 0; n <= all.size(); n += 7) {
    std::string decoded;
    ASSERT_TRUE(Base64Decode(Base64Encode(all.substr(0, n)), &decoded)) << n;
    EXPECT_EQ(decoded, all.substr(0, n));
  }
}

TEST(Base64Test, RejectsMalformedInput) {
  for (const std::string& text : std::vector<std::string>{
           std::string("Zg"), std::string("Zg="), std::string("Zg==="), std::string("Zh=="),
           std::string("Zg==Zg=="), std::string("Zm9v\n"), std::string(" Zm9v"),
           std::string("Zm 9v"), std::string("Zm9v\r"), std::string("Zm9v!"), std::string("Zm9-"),
           std::string("Zm9_"), std::string("===="), std::string("="), std::string("Z"),
           std::string("Zm9v\0", 5)}) {
    std::string decoded = "junk";
    EXPECT_FALSE(Base64Decode(text, &decoded)) << text;
    EXPECT_TRUE(decoded.empty());
  }
}

// ---- ronctl keygen -----------------------------------------------------------------------

testing::CommandResult Keygen(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {testing::RonctlPath(), "keygen"};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, "");
}

TEST(KeygenCliTest, WritesA0600KeyAndPrintsItsTrustedKeysLine) {
  TempDir dir;
  const std::string path = dir.path() + "/ops.key";
  const auto r = Keygen({"--key-id", "ops@host-1", "--out", path});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  const auto lines = SplitLines(r.out);
  ASSERT_EQ(lines.size(), 1u) << r.out;
  EXPECT_EQ(r.out.back(), '\n');
  EXPECT_EQ(lines[0].rfind("ops@host-1 ed25519 ", 0), 0u) << lines[0];
  std::string public_key;
  ASSERT_TRUE(Base64Decode(lines[0].substr(lines[0].rfind(' ') + 1), &public_key));
  EXPECT_EQ(public_key.size(), 32u);
  EXPECT_EQ(ModeOf(path), 0600u);

  // The printed line is a trusted-keys file that verifies the key file's signatures.
  const auto keys = TrustedKeys::Parse(r.out);
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  auto signer = Ed25519Signer::FromKeyFile(path);
  ASSERT_TRUE(signer.ok()) << signer.status().ToString();
  EXPECT_EQ(signer.value()->public_key(), public_key);
  EXPECT_EQ(keys.value().Verify("ops@host-1", "ed25519", "m", signer.value()->Sign("m").value()),
            SigCheck::kValid);
}

TEST(KeygenCliTest, FailuresExitOneWithOneErrorLine) {
  TempDir dir;
  const std::string path = dir.path() + "/k.key";
  WriteFile(path, "precious");
  const auto exists = Keygen({"--key-id", "k1", "--out", path});
  EXPECT_EQ(exists.exit_code, 1);
  EXPECT_EQ(exists.out, "");
  ASSERT_EQ(SplitLines(exists.err).size(), 1u) << exists.err;
  EXPECT_EQ(exists.err.rfind("error: Io: ", 0), 0u) << exists.err;
  EXPECT_EQ(ReadFile(path), "precious");

  const auto bad_id = Keygen({"--key-id", "no spaces", "--out", dir.path() + "/n.key"});
  EXPECT_EQ(bad_id.exit_code, 1);
  EXPECT_EQ(bad_id.out, "");
  EXPECT_EQ(bad_id.err.rfind("error: Schema: ", 0), 0u) << bad_id.err;
  EXPECT_EQ(SplitLines(bad_id.err).size(), 1u);
  EXPECT_FALSE(Exists(dir.path() + "/n.key"));
}

TEST(KeygenCliTest, HelpAndUsageErrors) {
  const auto help = Keygen({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("usage: ronctl keygen"), std::string::npos);
  const auto top = RunCommand({testing::RonctlPath(), "--help"}, "");
  EXPECT_NE(top.out.find("keygen"), std::string::npos);

  TempDir dir;
  const std::string out = dir.path() + "/k.key";
  for (const auto& args :
       std::vector<std::vector<std::string>>{{},
                                             {"--key-id", "k1"},
                                             {"--out", out},
                                             {"--key-id"},
                                             {"--key-id", "k1", "--out", out, "--bogus"},
                                             {"--key-id", "k1", "--out", out, "extra"}}) {
    const auto r = Keygen(args);
    EXPECT_EQ(r.exit_code, 2) << (args.empty() ? "" : args.back());
    EXPECT_EQ(SplitLines(r.err).size(), 1u) << r.err;
    EXPECT_EQ(r.out, "");
  }
  EXPECT_FALSE(Exists(out));
}

}  // namespace
}  // namespace ron
