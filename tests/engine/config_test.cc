// Configuration: schema defaults and units, file < env < flags precedence with origins, and the
// docs/CONFIG.md test matrix of fail-closed validation rules.
#include "ron_audit/config.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>

#include "tests/test_util.h"

namespace ron {
namespace {

class ConfigTest : public ::testing::Test {
 protected:
  std::string File(const std::string& toml) {
    const std::string path = tmp_.path() + "/audit.toml";
    testing::WriteFile(path, toml);
    return path;
  }
  std::string PrivateDir(const std::string& name) {
    const std::string path = tmp_.path() + "/" + name;
    mkdir(path.c_str(), 0700);
    return path;
  }
  Result<AuditConfig> Load(const std::string& toml, std::vector<std::string> env = {},
                           std::vector<std::string> flags = {}) {
    return LoadConfig(ConfigSources{File(toml), env, flags}, &origins_);
  }
  // The error message of a load that must fail.
  std::string Error(const std::string& toml, std::vector<std::string> env = {},
                    std::vector<std::string> flags = {}) {
    const auto r = Load(toml, env, flags);
    EXPECT_FALSE(r.ok()) << toml;
    EXPECT_EQ(r.code(), Code::kSchema);
    return r.status().message();
  }

  testing::TempDir tmp_;
  ConfigOrigins origins_;
};

TEST_F(ConfigTest, DefaultsAreTheSchemas) {
  const auto r = LoadConfig(ConfigSources{});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const AuditConfig& c = r.value();
  EXPECT_EQ(c.sink, SinkKind::kRam);
  EXPECT_TRUE(c.amnesia);
  EXPECT_EQ(c.queue_depth, 1024u);
  EXPECT_EQ(c.workers, 1u);
  EXPECT_EQ(c.max_attrs_bytes, 1024u);
  EXPECT_EQ(c.max_record_bytes, 4096u);
  EXPECT_EQ(c.shed_policy, ShedPolicy::kDrop);
  EXPECT_EQ(c.wal.rotate_bytes, 128u << 20);
  EXPECT_EQ(c.wal.fsync, FsyncPolicy::kAlways);  // durable by default, in every profile
  EXPECT_EQ(c.export_.checkpoint_every, 50000u);
  EXPECT_EQ(c.export_.export_every_ms, 15u * 60 * 1000);
  EXPECT_EQ(c.export_.alg, "ed25519");
}

TEST_F(ConfigTest, UnitsOfSizesAndDurations) {
  uint64_t v = 0;
  EXPECT_TRUE(ParseSize("1KiB", &v));
  EXPECT_EQ(v, 1024u);
  EXPECT_TRUE(ParseSize("128MiB", &v));
  EXPECT_EQ(v, 128u << 20);
  EXPECT_TRUE(ParseSize("4KB", &v));
  EXPECT_EQ(v, 4000u);
  EXPECT_TRUE(ParseSize("512B", &v));
  EXPECT_EQ(v, 512u);
  EXPECT_TRUE(ParseSize("4096", &v));
  EXPECT_EQ(v, 4096u);
  for (const char* bad : {"", "KiB", "1.5MiB", "-1", "1 KiB", "1kib", "99999999999GiB"}) {
    EXPECT_FALSE(ParseSize(bad, &v)) << bad;
  }
  EXPECT_TRUE(ParseDurationMs("15m", &v));
  EXPECT_EQ(v, 900000u);
  EXPECT_TRUE(ParseDurationMs("30s", &v));
  EXPECT_EQ(v, 30000u);
  EXPECT_TRUE(ParseDurationMs("250ms", &v));
  EXPECT_EQ(v, 250u);
  EXPECT_TRUE(ParseDurationMs("2h", &v));
  EXPECT_EQ(v, 7200000u);
  EXPECT_FALSE(ParseDurationMs("1d", &v));
  EXPECT_FALSE(ParseDurationMs("m", &v));
}

TEST_F(ConfigTest, FileThenEnvThenFlagsWithOrigins) {
  const std::string wal = PrivateDir("wal");
  const auto r = Load(
      "sink = \"wal\"\namnesia = false\nqueue_depth = 2048\nworkers = 2\n"
      "max_attrs_bytes = \"512B\"\nmax_record_bytes = \"2KiB\"\n"
      "[wal]\ndir = \"" +
          wal +
          "\"\nrotate_bytes = \"64MiB\"\nfsync = \"always\"\n"
          "[streams.\"ingress\"]\nqueue_depth = 4096\n",
      {"RON_AUDIT_WORKERS=3", "RON_AUDIT_QUEUE_DEPTH=100", "PATH=/usr/bin"},
      {"--audit-workers", "4", "--audit-wal-rotate=32MiB"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const AuditConfig& c = r.value();
  EXPECT_EQ(c.workers, 4u);        // flag beats env beats file
  EXPECT_EQ(c.queue_depth, 100u);  // env beats file
  EXPECT_EQ(c.wal.rotate_bytes, 32u << 20);
  EXPECT_EQ(c.max_attrs_bytes, 512u);  // file
  EXPECT_EQ(c.max_record_bytes, 2048u);
  EXPECT_EQ(c.stream_queue_depth.at("ingress"), 4096u);
  EXPECT_EQ(origins_["workers"], "flag --audit-workers");
  EXPECT_EQ(origins_["queue_depth"], "env RON_AUDIT_QUEUE_DEPTH");
  EXPECT_EQ(origins_["wal.fsync"], "file " + tmp_.path() + "/audit.toml");
  EXPECT_EQ(origins_["export.alg"], "default");
  const std::string text = DescribeConfig(c, origins_);
  EXPECT_NE(text.find("workers = 4  # flag --audit-workers\n"), std::string::npos) << text;
  EXPECT_NE(text.find("wal.fsync = \"always\"  # file "), std::string::npos) << text;
  EXPECT_NE(text.find("streams.\"ingress\".queue_depth = 4096"), std::string::npos) << text;
}

// Names and paths are printed as TOML strings: none can end its value early or add a line.
TEST_F(ConfigTest, TheDescriptionQuotesEveryNameAndPath) {
  const auto r = Load("[streams.\"a\\nworkers = 99\"]\nqueue_depth = 7\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const std::string text = DescribeConfig(r.value(), origins_);
  EXPECT_NE(text.find("streams.\"a\\u000Aworkers = 99\".queue_depth = 7"), std::string::npos)
      << text;
  EXPECT_EQ(text.find("\nworkers = 99"), std::string::npos) << text;
}

TEST_F(ConfigTest, UnknownKeysVariablesAndFlagsAreErrors) {
  EXPECT_NE(Error("sinks = \"ram\"\n").find("sinks: unknown key"), std::string::npos);
  EXPECT_NE(Error("[wal]\ndirectory = \"/x\"\n").find("wal.directory: unknown key"),
            std::string::npos);
  EXPECT_NE(Error("", {"RON_AUDIT_WORKER=2"}).find("RON_AUDIT_WORKER"), std::string::npos);
  EXPECT_NE(Error("", {}, {"--audit-wrokers", "2"}).find("--audit-wrokers: unknown flag"),
            std::string::npos);
  EXPECT_NE(Error("", {}, {"--audit-workers"}).find("needs a value"), std::string::npos);
  EXPECT_NE(Error("workers = \"two\"\n").find("workers: expected a non-negative integer"),
            std::string::npos);
  EXPECT_NE(Error("sink = \"disk\"\n").find("sink: expected one of ram, wal, export, wal+export"),
            std::string::npos);
  EXPECT_NE(Error("max_attrs_bytes = \"1 KiB\"\n").find("max_attrs_bytes: expected a size"),
            std::string::npos);
  EXPECT_NE(Error("sink = ").find("audit.toml:1:"),
            std::string::npos);  // TOML syntax error with position
}

// docs/CONFIG.md, one row per test.
TEST_F(ConfigTest, AmnesiaWithWalSinkIsForbidden) {
  const std::string wal = PrivateDir("wal");
  EXPECT_NE(Error("sink = \"wal\"\n[wal]\ndir = \"" + wal + "\"\n")
                .find("sink: amnesia=true allows only"),
            std::string::npos);
  // An export could hand off through a host hook with amnesia on; this engine
  // cuts checkpoints from its WAL, so the check refuses what Engine::Open would refuse.
  EXPECT_NE(Error("sink = \"export\"\namnesia = true\n[export]\ndir = \"" + PrivateDir("exp") +
                  "\"\nsigner_key_id = \"k\"\n")
                .find("sink: export without a WAL is not supported by this engine"),
            std::string::npos);
  EXPECT_NE(Error("sink = \"export\"\namnesia = false\n").find("use \"wal+export\""),
            std::string::npos);
}

TEST_F(ConfigTest, RecordBoundMustExceedAttrsBy512) {
  EXPECT_NE(
      Error("max_attrs_bytes = \"2KiB\"\nmax_record_bytes = \"2KiB\"\n").find("max_record_bytes"),
      std::string::npos);
  EXPECT_NE(Error("max_attrs_bytes = \"100B\"\n").find("max_attrs_bytes: must be at least 256B"),
            std::string::npos);
  EXPECT_NE(Error("max_attrs_bytes = \"2KiB\"\nmax_record_bytes = \"4KiB\"\n").find("stricter"),
            std::string::npos);
}

TEST_F(ConfigTest, HashedIpsNeedAPrivateNonEmptySalt) {
  EXPECT_NE(Error("[privacy]\nip_mode = \"hash\"\n").find("privacy.hash_salt_path: is required"),
            std::string::npos);
  const std::string salt = tmp_.path() + "/salt";
  testing::WriteFile(salt, "s3cr3t-salt");
  chmod(salt.c_str(), 0644);
  EXPECT_NE(
      Error("[privacy]\nip_mode = \"hash\"\nhash_salt_path = \"" + salt + "\"\n").find("mode 0600"),
      std::string::npos);
  chmod(salt.c_str(), 0600);
  EXPECT_TRUE(Load("[privacy]\nip_mode = \"hash\"\nhash_salt_path = \"" + salt + "\"\n").ok());
}

TEST_F(ConfigTest, WalSinkNeedsAPrivateWalDir) {
  EXPECT_NE(Error("sink = \"wal\"\namnesia = false\n").find("wal.dir: must be set"),
            std::string::npos);
  const std::string loose = tmp_.path() + "/loose";
  mkdir(loose.c_str(), 0755);
  chmod(loose.c_str(), 0755);
  EXPECT_NE(Error("sink = \"wal\"\namnesia = false\n[wal]\ndir = \"" + loose + "\"\n").find("0700"),
            std::string::npos);
  EXPECT_NE(Error("sink = \"wal\"\namnesia = false\n[wal]\ndir = \"" + PrivateDir("w") +
                  "\"\nrotate_bytes = \"1MiB\"\n")
                .find("wal.rotate_bytes: must be at least 8MiB"),
            std::string::npos);
}

TEST_F(ConfigTest, FsyncNeverIsRefusedInProduction) {
  const std::string toml = "sink = \"wal\"\namnesia = false\n[wal]\ndir = \"" + PrivateDir("w") +
                           "\"\nfsync = \"never\"\n";
  EXPECT_TRUE(Load(toml).ok());
  EXPECT_NE(Error("profile = \"prod\"\n" + toml).find("wal.fsync: never is for tests only"),
            std::string::npos);
  EXPECT_NE(Error("profile = \"prod\"\nshed_policy = \"block\"\n").find("shed_policy"),
            std::string::npos);
}

TEST_F(ConfigTest, QueueWorkersAndExportRules) {
  EXPECT_NE(Error("queue_depth = 0\n").find("queue_depth: must be greater than 0"),
            std::string::npos);
  EXPECT_NE(Error("workers = 9\n").find("workers: must be in 1..8"), std::string::npos);
  EXPECT_NE(Error("workers = 0\n").find("workers"), std::string::npos);
  const std::string exp = "sink = \"wal+export\"\namnesia = false\n[wal]\ndir = \"" +
                          PrivateDir("w") + "\"\n[export]\ndir = \"" + PrivateDir("e") + "\"\n";
  EXPECT_NE(Error(exp).find("export.signer_key_id: is required"), std::string::npos);
  EXPECT_NE(Error(exp + "signer_key_id = \"k\"\ncheckpoint_every = 10\n").find("at least 1000"),
            std::string::npos);
  EXPECT_TRUE(Load(exp + "alg = \"none\"\n").ok());  // unsigned checkpoints need no key id
  EXPECT_NE(Error(exp + "alg = \"none\"\nexport_every = \"0s\"\n").find("export.export_every: must be in 1s..7d"),
            std::string::npos);
  EXPECT_NE(Error(exp + "alg = \"none\"\nexport_every = \"200h\"\n").find("export.export_every"),
            std::string::npos);
  EXPECT_TRUE(Load(exp + "alg = \"none\"\nexport_every = \"1s\"\n").ok());
  EXPECT_NE(Error("[streams.\"x\"]\nqueue_depth = 0\n").find("streams.x.queue_depth"),
            std::string::npos);
}

// Unsigned checkpoints prove nothing to an auditor: a test-only choice, refused in production.
TEST_F(ConfigTest, UnsignedCheckpointsAreRefusedInProduction) {
  const std::string exp = "sink = \"wal+export\"\namnesia = false\n[wal]\ndir = \"" +
                          PrivateDir("w") + "\"\n[export]\ndir = \"" + PrivateDir("e") +
                          "\"\nalg = \"none\"\n";
  EXPECT_TRUE(Load(exp).ok());
  EXPECT_NE(Error("profile = \"prod\"\n" + exp).find("export.alg: none (unsigned checkpoints)"),
            std::string::npos);
}

// A bound out of range is an error even where the chosen sink does not use it: it would
// surface only when the sink changes.
TEST_F(ConfigTest, EveryBoundIsCheckedWhateverTheSink) {
  EXPECT_NE(Error("[wal]\nrotate_bytes = \"1MiB\"\n").find("wal.rotate_bytes: must be at least 8MiB"),
            std::string::npos);
  EXPECT_NE(Error("[wal]\nrotate_bytes = \"2GiB\"\n").find("wal.rotate_bytes: must be at most 1GiB"),
            std::string::npos);
  EXPECT_NE(Error("[export]\ncheckpoint_every = 10\n").find("at least 1000"), std::string::npos);
  EXPECT_NE(Error("[export]\nexport_every = \"0s\"\n").find("export.export_every"),
            std::string::npos);
  EXPECT_NE(Error("profile = \"prod\"\n[wal]\nfsync = \"never\"\n").find("wal.fsync"),
            std::string::npos);
}

// The configuration file goes through the file layer: a FIFO is refused, not waited for.
TEST_F(ConfigTest, AFifoAsTheConfigFileIsRefused) {
  const std::string fifo = tmp_.path() + "/fifo.toml";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  const auto r = LoadConfig(ConfigSources{fifo, {}, {}}, &origins_);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("is a FIFO, not a regular file"), std::string::npos)
      << r.status().ToString();
}

TEST_F(ConfigTest, RonctlConfigCheck) {
  const std::string path = File("workers = 2\n[export]\nexport_every = \"30s\"\n");
  auto r = testing::RunCommand(
      {testing::RonctlPath(), "config", "check", path, "--audit-queue-depth", "64"}, "");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("workers = 2  # file " + path), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("queue_depth = 64  # flag --audit-queue-depth"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("export.export_every = \"30000ms\""), std::string::npos) << r.out;
  r = testing::RunCommand({testing::RonctlPath(), "config", "check", File("workers = 12\n")}, "");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "config: workers: must be in 1..8\n");
  EXPECT_EQ(testing::RunCommand({testing::RonctlPath(), "config", "check"}, "").exit_code, 2);
  EXPECT_EQ(testing::RunCommand({testing::RonctlPath(), "config", "--help"}, "").exit_code, 0);
  // Flags before the file: a flag's value is never taken for the file, nor the file for a value
  // (`--audit-workers 2 FILE` reads FILE as the file).
  r = testing::RunCommand(
      {testing::RonctlPath(), "config", "check", "--audit-workers", "3", "--audit-amnesia", path},
      "");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("workers = 3  # flag --audit-workers"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("amnesia = true  # flag --audit-amnesia"), std::string::npos) << r.out;
  // --audit-config names the file (docs/CONFIG.md), anywhere among the flags.
  ASSERT_EQ(File("workers = 2\n"), path);
  r = testing::RunCommand({testing::RonctlPath(), "config", "check", "--audit-queue-depth", "32",
                           "--audit-config", path},
                          "");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("workers = 2  # file " + path), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("queue_depth = 32  # flag --audit-queue-depth"), std::string::npos);
  r = testing::RunCommand({testing::RonctlPath(), "config", "check", path, "--audit-workers"}, "");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "config: --audit-workers: needs a value\n");
}

}  // namespace
}  // namespace ron
