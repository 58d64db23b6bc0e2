// tensor-ipcd's settings: defaults, flags, the TOML file, and validation.
#include "daemon/config.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "tests/support/process.h"

namespace tensoripc::daemon {
namespace {

constexpr const char* kNoSystemFile = "/nonexistent/tensor-ipcd.toml";

ParseOutcome parse(std::vector<std::string> args, const std::string& system_file = kNoSystemFile) {
  args.insert(args.begin(), "tensor-ipcd");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  return parse_config(static_cast<int>(argv.size()), argv.data(), system_file);
}

std::string write_file(const testing::TempDir& dir, const std::string& text) {
  const std::string path = dir.path() + "/tensor-ipcd.toml";
  std::ofstream(path) << text;
  return path;
}

TEST(DaemonConfig, Defaults) {
  ParseOutcome out = parse({});
  ASSERT_TRUE(out.config.has_value());
  const Config& c = *out.config;
  EXPECT_FALSE(c.socket_path.empty());
  EXPECT_EQ(c.socket_mode, 0660u);
  EXPECT_EQ(c.registry.shm_prefix, "tensoripc.");
  EXPECT_TRUE(c.admin_group.empty()) << "no admin group unless one is named";
  EXPECT_EQ(c.log_level, "info");
  EXPECT_EQ(c.registry.max_pools, 256u);
  EXPECT_EQ(c.registry.max_pool_bytes, 4ULL << 30);
  EXPECT_EQ(c.registry.max_total_bytes, 0u) << "auto: half of physical memory";
  EXPECT_EQ(c.registry.retention, Retention::kKeep);
  EXPECT_TRUE(c.config_file.empty());
}

TEST(DaemonConfig, Flags) {
  ParseOutcome out = parse({"--socket", "/tmp/x.sock", "--socket-mode", "0600", "--shm-prefix",
                            "t1.", "--admin-group", "video", "--log-level", "debug", "--max-pools",
                            "8", "--max-pool-bytes", "512M", "--retention", "remove",
                            "--max-total-bytes", "16G"});
  ASSERT_TRUE(out.config.has_value());
  const Config& c = *out.config;
  EXPECT_EQ(c.socket_path, "/tmp/x.sock");
  EXPECT_EQ(c.socket_mode, 0600u);
  EXPECT_EQ(c.registry.shm_prefix, "t1.");
  EXPECT_EQ(c.admin_group, "video");
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_EQ(c.registry.max_pools, 8u);
  EXPECT_EQ(c.registry.max_pool_bytes, 512ULL << 20);
  EXPECT_EQ(c.registry.max_total_bytes, 16ULL << 30);
  EXPECT_EQ(c.registry.retention, Retention::kRemove);
}

TEST(DaemonConfig, TheExampleConfigFileHoldsTheDefaults) {
  // systemd/tensor-ipcd.toml says "the values below are the defaults"; the
  // defaults are defined once, in Config and RegistryOptions, and this keeps
  // the example from drifting away from them.
  const Config defaults = *parse({}).config;
  ParseOutcome out = parse({"--config", TIPC_EXAMPLE_CONFIG});
  ASSERT_TRUE(out.config.has_value());
  const Config& c = *out.config;
  EXPECT_EQ(c.socket_mode, defaults.socket_mode);
  EXPECT_EQ(c.log_level, defaults.log_level);
  EXPECT_EQ(c.registry.shm_prefix, defaults.registry.shm_prefix);
  EXPECT_EQ(c.admin_group, defaults.admin_group);
  EXPECT_EQ(c.registry.max_pools, defaults.registry.max_pools);
  EXPECT_EQ(c.registry.max_pool_bytes, defaults.registry.max_pool_bytes);
  EXPECT_EQ(c.registry.max_total_bytes, defaults.registry.max_total_bytes);
  EXPECT_EQ(c.registry.retention, defaults.registry.retention);
  EXPECT_EQ(c.registry.watch_mode, defaults.registry.watch_mode);
  EXPECT_EQ(c.streams.max_streams, defaults.streams.max_streams);
  EXPECT_EQ(c.streams.max_streams_per_uid, defaults.streams.max_streams_per_uid);
  EXPECT_EQ(c.streams.claim_timeout, defaults.streams.claim_timeout);
  EXPECT_EQ(c.streams.stall_timeout, defaults.streams.stall_timeout);
}

TEST(DaemonConfig, StreamLimits) {
  ParseOutcome out =
      parse({"--max-streams", "50", "--max-streams-per-uid", "5", "--claim-timeout-ms", "250"});
  ASSERT_TRUE(out.config.has_value());
  EXPECT_EQ(out.config->streams.max_streams, 50u);
  EXPECT_EQ(out.config->streams.max_streams_per_uid, 5u);
  EXPECT_EQ(out.config->streams.claim_timeout, std::chrono::milliseconds(250));
  EXPECT_EQ(parse({"--max-streams", "0"}).exit_code, 2);
  EXPECT_EQ(parse({"--claim-timeout-ms", "5"}).exit_code, 2);
  // The stall timeout: 60 s unless given; 0 turns it off; under 100 ms is refused.
  EXPECT_EQ(parse({}).config->streams.stall_timeout, std::chrono::milliseconds(60000));
  EXPECT_EQ(parse({"--stall-timeout-ms", "0"}).config->streams.stall_timeout,
            std::chrono::milliseconds(0));
  EXPECT_EQ(parse({"--stall-timeout-ms", "1500"}).config->streams.stall_timeout,
            std::chrono::milliseconds(1500));
  EXPECT_EQ(parse({"--stall-timeout-ms", "50"}).exit_code, 2);
  EXPECT_EQ(parse({"--stall-timeout-ms", "-1"}).exit_code, 2);
}

TEST(DaemonConfig, FrameWatchIsAutoOrPerPool) {
  EXPECT_EQ(parse({}).config->registry.watch_mode, FrameWatcher::Mode::kAuto);
  ParseOutcome out = parse({"--frame-watch", "per-pool"});
  ASSERT_TRUE(out.config.has_value());
  EXPECT_EQ(out.config->registry.watch_mode, FrameWatcher::Mode::kPerPool);
  EXPECT_NE(describe(*out.config).find("frame watch per-pool"), std::string::npos);
  EXPECT_EQ(parse({"--frame-watch", "poll"}).exit_code, 2);
}

TEST(DaemonConfig, TheLastOfARepeatedFlagWins) {
  ParseOutcome out = parse({"--shm-prefix", "a.", "--shm-prefix", "b."});
  ASSERT_TRUE(out.config.has_value());
  EXPECT_EQ(out.config->registry.shm_prefix, "b.");
}

TEST(DaemonConfig, ConfigFileAndFlagsWin) {
  testing::TempDir dir;
  const std::string path = write_file(dir,
                                      "shm-prefix = \"fromfile.\"\n"
                                      "max-pools = 12\n"
                                      "retention = \"remove\"\n"
                                      "socket-mode = \"0600\"\n"
                                      "admin-group = \"1001\"\n");
  ParseOutcome out = parse({"--config", path, "--max-pools", "3"});
  ASSERT_TRUE(out.config.has_value());
  EXPECT_EQ(out.config->registry.shm_prefix, "fromfile.");
  EXPECT_EQ(out.config->registry.max_pools, 3u);
  EXPECT_EQ(out.config->registry.retention, Retention::kRemove);
  EXPECT_EQ(out.config->socket_mode, 0600u);
  EXPECT_EQ(out.config->admin_group, "1001");
  EXPECT_EQ(out.config->config_file, path);

  out = parse({"--config", path, "--admin-group", "video"});
  ASSERT_TRUE(out.config.has_value());
  EXPECT_EQ(out.config->admin_group, "video") << "the flag wins over the file";
}

TEST(DaemonConfig, SystemConfigFileIsReadWhenPresent) {
  testing::TempDir dir;
  const std::string path = write_file(dir, "shm-prefix = \"system.\"\n");
  ParseOutcome out = parse({}, path);
  ASSERT_TRUE(out.config.has_value());
  EXPECT_EQ(out.config->registry.shm_prefix, "system.");
}

TEST(DaemonConfig, BadSettingsExitWithCode2) {
  testing::TempDir dir;
  const std::string typo = write_file(dir, "shm_prefixx = \"a.\"\n");
  const std::vector<std::vector<std::string>> bad = {
      {"--shm-prefix", "../x"},
      {"--shm-prefix", ""},
      {"--shm-prefix", std::string(65, 'p')},
      {"--socket-mode", "999"},
      {"--socket-mode", "01777"},
      {"--shm-mode", "0660"},  // gone with the named segments it set the mode of
      {"--log-level", "loud"},
      {"--max-pools", "0"},
      {"--max-pool-bytes", "lots"},
      {"--max-pool-bytes", "0"},
      {"--max-pool-bytes", "99999999999T"},
      {"--max-pool-bytes", "2000000T"},  // parses, but over 1 EiB: a frame's rounding could wrap
      {"--max-total-bytes", "0"},
      {"--max-total-bytes", "plenty"},
      {"--retention", "forever"},
      {"--socket", ""},
      {"--socket", "/" + std::string(200, 's')},
      {"--no-such-flag"},
      {"--config", dir.path() + "/missing.toml"},
      {"--config", typo},
  };
  for (const auto& args : bad) {
    ParseOutcome out = parse(args);
    EXPECT_FALSE(out.config.has_value()) << args[0];
    EXPECT_EQ(out.exit_code, 2) << args[0];
  }
}

// Pools are sealed memfds now, not files in /dev/shm: shm-mode has nothing to
// set. A config file from before still says it; the daemon must refuse it and
// name the key, not start with a setting it silently ignores.
TEST(DaemonConfig, AnOldConfigFileWithShmModeIsRefusedNamingTheKey) {
  testing::TempDir dir;
  const std::string path = write_file(dir,
                                      "shm-prefix = \"tensoripc.\"\n"
                                      "shm-mode = \"0660\"\n");
  ::testing::internal::CaptureStderr();
  ParseOutcome out = parse({"--config", path});
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_FALSE(out.config.has_value());
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_NE(err.find("shm-mode"), std::string::npos) << err;

  ::testing::internal::CaptureStderr();
  out = parse({"--shm-mode", "0660"});
  const std::string flag_err = ::testing::internal::GetCapturedStderr();
  EXPECT_FALSE(out.config.has_value());
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_NE(flag_err.find("shm-mode"), std::string::npos) << flag_err;
}

TEST(DaemonConfig, HelpAndVersionExitWith0) {
  for (const char* flag : {"--help", "--version"}) {
    ParseOutcome out = parse({flag});
    EXPECT_FALSE(out.config.has_value());
    EXPECT_EQ(out.exit_code, 0) << flag;
  }
}

TEST(DaemonConfig, ModesAndSizes) {
  EXPECT_EQ(parse_mode("0660"), 0660u);
  EXPECT_EQ(parse_mode("660"), 0660u);
  EXPECT_EQ(parse_mode("0o600"), 0600u);
  EXPECT_FALSE(parse_mode("8"));
  EXPECT_FALSE(parse_mode(""));
  EXPECT_FALSE(parse_mode("1000"));
  EXPECT_EQ(parse_byte_size("4GiB"), 4ULL << 30);
  EXPECT_EQ(parse_byte_size("64k"), 64ULL << 10);
  EXPECT_EQ(parse_byte_size("123"), 123u);
  EXPECT_FALSE(parse_byte_size("G"));
  EXPECT_FALSE(parse_byte_size("1.5G"));
  EXPECT_FALSE(parse_byte_size("18446744073709551616"));
  // What the help shows as a default reads back as that default.
  for (uint64_t v : {uint64_t{4} << 30, uint64_t{512} << 20, uint64_t{1000}, uint64_t{1} << 40,
                     uint64_t{3} << 10}) {
    EXPECT_EQ(parse_byte_size(format_byte_size(v)), v) << format_byte_size(v);
  }
  EXPECT_EQ(format_byte_size(4ULL << 30), "4GiB");
  EXPECT_EQ(format_byte_size(1000), "1000");
}

}  // namespace
}  // namespace tensoripc::daemon
