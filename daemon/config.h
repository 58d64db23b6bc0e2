// The daemon's settings: what tensor-ipcd reads from its command line and its
// TOML config file, with the defaults a user gets when they give neither.
//
// Value type; thread-compatible.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "daemon/registry.h"
#include "daemon/stream_tracker.h"

namespace tensoripc::daemon {

inline constexpr const char* kSystemConfigFile = "/etc/tensor-ipc/tensor-ipcd.toml";

// The defaults here (and in RegistryOptions) are the only ones: the flags'
// help and the config file's example take theirs from these.
struct Config {
  // Where to serve. Default: resolve_daemon_socket_path(false), i.e.
  // $TENSOR_IPC_SOCKET or the user's runtime dir; the systemd unit passes the
  // system path explicitly.
  std::string socket_path;
  mode_t socket_mode = 0660;
  std::string log_level = "info";  // trace, debug, info, warn, error, critical, off
  // Members of this group (name or gid) may manage every pool; empty: none.
  std::string admin_group;
  // Pools: memory label prefix, limits, retention.
  RegistryOptions registry;
  // Streams: how many, per user, and a ProducerSession's claim deadline.
  StreamLimits streams;
  // The config file that was read, empty when none.
  std::string config_file;
};

// What parsing the command line led to: a Config to run with, or an exit
// code (0 after --help/--version, 2 for a bad setting; the message has been
// printed already).
struct ParseOutcome {
  std::optional<Config> config;
  int exit_code = 0;
};

// Parses argv (and the config file it names, or kSystemConfigFile when it
// exists and no --config is given; flags win over the file), validates every
// setting, and prints help, version or errors itself.
ParseOutcome parse_config(int argc, const char* const* argv);

// Same, with the default config file taken from `system_config_file` (tests).
ParseOutcome parse_config(int argc, const char* const* argv, const std::string& system_config_file);

// "0660", "660", "0o660" -> 0660; nullopt unless octal and at most 0777.
std::optional<mode_t> parse_mode(const std::string& text);

// "4294967296", "4G", "4GiB", "512M", "64k" (powers of 1024) -> bytes;
// nullopt on anything else or on overflow.
std::optional<uint64_t> parse_byte_size(const std::string& text);

// The inverse, as short as it is exact: 4 << 30 -> "4GiB", 1000 -> "1000".
std::string format_byte_size(uint64_t bytes);

// One line for the start-up log.
std::string describe(const Config& config);

}  // namespace tensoripc::daemon
