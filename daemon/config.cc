#include "daemon/config.h"

#include <sys/un.h>

#include <CLI/CLI.hpp>
#include <cctype>
#include <cstdlib>
#include <iostream>

#include "common/socket_path.h"
#include "pool/model.h"

#ifndef TENSORIPC_VERSION
#define TENSORIPC_VERSION "unknown"
#endif

namespace tensoripc::daemon {
namespace {

std::string octal(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0%03o", static_cast<unsigned>(mode));
  return buf;
}

const char* retention_name(Retention r) { return r == Retention::kKeep ? "keep" : "remove"; }
const char* watch_name(FrameWatcher::Mode m) {
  return m == FrameWatcher::Mode::kPerPool ? "per-pool" : "auto";
}

// Settings as CLI11 fills them in: strings where we parse the text ourselves,
// so that a bad value gets a message naming the setting and what it expects.
// Every default comes from Config's.
struct RawSettings {
  explicit RawSettings(const Config& d)
      : socket_path(d.socket_path),
        socket_mode(octal(d.socket_mode)),
        shm_prefix(d.registry.shm_prefix),
        admin_group(d.admin_group),
        log_level(d.log_level),
        max_pools(d.registry.max_pools),
        max_pool_bytes(format_byte_size(d.registry.max_pool_bytes)),
        max_total_bytes(d.registry.max_total_bytes == 0
                            ? std::string("auto")
                            : format_byte_size(d.registry.max_total_bytes)),
        retention(retention_name(d.registry.retention)),
        frame_watch(watch_name(d.registry.watch_mode)),
        max_streams(d.streams.max_streams),
        max_streams_per_uid(d.streams.max_streams_per_uid),
        claim_timeout_ms(static_cast<uint32_t>(d.streams.claim_timeout.count())),
        stall_timeout_ms(static_cast<uint32_t>(d.streams.stall_timeout.count())) {}

  std::string socket_path;
  std::string socket_mode;
  std::string shm_prefix;
  std::string admin_group;
  std::string log_level;
  uint32_t max_pools;
  std::string max_pool_bytes;
  std::string max_total_bytes;
  std::string retention;
  std::string frame_watch;
  uint32_t max_streams;
  uint32_t max_streams_per_uid;
  uint32_t claim_timeout_ms;
  uint32_t stall_timeout_ms;
};

// A byte size above 0 (parse_byte_size's forms), or nullopt.
std::optional<uint64_t> positive_size(const std::string& text) {
  auto bytes = parse_byte_size(text);
  if (!bytes || *bytes == 0) return std::nullopt;
  return bytes;
}

int fail(const std::string& message) {
  std::cerr << "tensor-ipcd: " << message << "\n";
  return 2;
}

}  // namespace

std::optional<mode_t> parse_mode(const std::string& text) {
  std::string digits = text;
  if (digits.rfind("0o", 0) == 0 || digits.rfind("0O", 0) == 0) digits = digits.substr(2);
  if (digits.empty() || digits.size() > 4) return std::nullopt;
  mode_t mode = 0;
  for (char c : digits) {
    if (c < '0' || c > '7') return std::nullopt;
    mode = mode * 8 + static_cast<mode_t>(c - '0');
  }
  if (mode > 0777) return std::nullopt;
  return mode;
}

std::optional<uint64_t> parse_byte_size(const std::string& text) {
  size_t i = 0;
  uint64_t value = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    if (__builtin_mul_overflow(value, 10, &value) ||
        __builtin_add_overflow(value, static_cast<uint64_t>(text[i] - '0'), &value)) {
      return std::nullopt;
    }
    ++i;
  }
  if (i == 0) return std::nullopt;
  std::string unit = text.substr(i);
  for (char& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  uint64_t scale = 1;
  if (unit.empty() || unit == "b") {
    scale = 1;
  } else if (unit == "k" || unit == "kb" || unit == "kib") {
    scale = 1ULL << 10;
  } else if (unit == "m" || unit == "mb" || unit == "mib") {
    scale = 1ULL << 20;
  } else if (unit == "g" || unit == "gb" || unit == "gib") {
    scale = 1ULL << 30;
  } else if (unit == "t" || unit == "tb" || unit == "tib") {
    scale = 1ULL << 40;
  } else {
    return std::nullopt;
  }
  if (__builtin_mul_overflow(value, scale, &value)) return std::nullopt;
  return value;
}

std::string format_byte_size(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
  std::string unit;
  for (const char* u : kUnits) {
    if (bytes == 0 || bytes % 1024 != 0) break;
    bytes /= 1024;
    unit = u;
  }
  return std::to_string(bytes) + unit;
}

ParseOutcome parse_config(int argc, const char* const* argv) {
  return parse_config(argc, argv, kSystemConfigFile);
}

ParseOutcome parse_config(int argc, const char* const* argv,
                          const std::string& system_config_file) {
  Config defaults;
  defaults.socket_path = resolve_daemon_socket_path(false);
  RawSettings raw(defaults);

  CLI::App app{
      "tensor-ipcd: the tensor-ipc broker. Grants each pool (topic) to one producer, creates its "
      "shared-memory segment, and streams frame and lifecycle events to subscribers over gRPC "
      "on a Unix socket.",
      "tensor-ipcd"};
  app.set_version_flag("--version", std::string("tensor-ipcd ") + TENSORIPC_VERSION);
  app.set_config("--config", system_config_file,
                 "TOML file with the same settings, keys named like the long flags without "
                 "'--' (e.g. log-level = \"debug\"); flags win over the file",
                 false);
  app.allow_config_extras(CLI::config_extras_mode::error);
  // A flag given twice: the last one wins, as with most daemons (a wrapper
  // script can append an override).
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);

  app.add_option("--socket", raw.socket_path,
                 "Unix socket to serve on ($TENSOR_IPC_SOCKET, else the user's runtime dir; "
                 "the system service passes /run/tensor-ipc/tensor-ipcd.sock)")
      ->capture_default_str();
  app.add_option("--socket-mode", raw.socket_mode, "Octal mode of the socket file")
      ->capture_default_str();
  app.add_option("--shm-prefix", raw.shm_prefix,
                 "Label prefix of the pools' memory, as /proc/PID/maps shows it "
                 "(memfd:<prefix><pool>; [A-Za-z0-9_.-]{1,64}): a label, not a name anyone "
                 "can open")
      ->capture_default_str();
  app.add_option("--admin-group", raw.admin_group,
                 "Group (name or number) whose members may resume, replace and delete every "
                 "user's pools, as root may; empty: none")
      ->capture_default_str();
  app.add_option("--log-level", raw.log_level, "Least severe level that is logged")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      ->capture_default_str();
  app.add_option("--max-pools", raw.max_pools, "Most pools the daemon holds at once")
      ->check(CLI::Range(1u, 1u << 20))
      ->capture_default_str();
  app.add_option("--max-pool-bytes", raw.max_pool_bytes,
                 "Largest pool (all history_len frames); a number of bytes, or with K, M, G, T "
                 "(powers of 1024)")
      ->capture_default_str();
  app.add_option("--max-total-bytes", raw.max_total_bytes,
                 "Memory of all pools together (kept ones included); a size as for "
                 "--max-pool-bytes, or auto: half of the machine's physical memory")
      ->capture_default_str();
  app.add_option("--retention", raw.retention,
                 "What becomes of a pool whose producer left: keep (while the daemon runs, a "
                 "producer of the same user and metadata resumes it) or remove")
      ->check(CLI::IsMember({"keep", "remove"}))
      ->capture_default_str();
  app.add_option("--frame-watch", raw.frame_watch,
                 "How the daemon sleeps on its pools' futex words for new frames: auto "
                 "(futex_waitv, a thread per 127 pools, where the kernel has it: Linux 5.16; "
                 "else a thread per pool) or per-pool (a thread per watched pool, as on older "
                 "kernels)")
      ->check(CLI::IsMember({"auto", "per-pool"}))
      ->capture_default_str();
  app.add_option("--max-streams", raw.max_streams,
                 "Most ProducerSession and Subscribe streams open at once, all users together; "
                 "past it a new one is refused with RESOURCE_EXHAUSTED")
      ->check(CLI::Range(1u, 1u << 20))
      ->capture_default_str();
  app.add_option("--max-streams-per-uid", raw.max_streams_per_uid,
                 "Most streams open at once for one user (uid)")
      ->check(CLI::Range(1u, 1u << 20))
      ->capture_default_str();
  app.add_option("--claim-timeout-ms", raw.claim_timeout_ms,
                 "How long a ProducerSession may stay open without its ClaimPool before the "
                 "daemon ends it (DEADLINE_EXCEEDED), in milliseconds")
      ->check(CLI::Range(100u, 3600000u))
      ->capture_default_str();
  app.add_option("--stall-timeout-ms", raw.stall_timeout_ms,
                 "How long an event may wait for a subscriber that does not read (its socket "
                 "full) before the daemon ends that Subscribe stream, in milliseconds; 0: never")
      ->check(CLI::Range(0u, 86400000u))
      ->check([](const std::string& v) {
        const unsigned long ms = std::strtoul(v.c_str(), nullptr, 10);
        return ms == 0 || ms >= 100 ? std::string() : std::string("0 (never) or at least 100");
      })
      ->capture_default_str();

  ParseOutcome out;
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    out.exit_code = app.exit(e);
    return out;
  } catch (const CLI::CallForAllHelp& e) {
    out.exit_code = app.exit(e);
    return out;
  } catch (const CLI::CallForVersion& e) {
    out.exit_code = app.exit(e);
    return out;
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    out.exit_code = 2;
    return out;
  }

  Config config = defaults;
  if (CLI::Option* opt = app.get_config_ptr(); opt != nullptr && opt->count() > 0) {
    config.config_file = opt->as<std::string>();
  }
  if (raw.socket_path.empty()) {
    out.exit_code = fail("--socket: the socket path is empty");
    return out;
  }
  if (raw.socket_path.size() >= sizeof(sockaddr_un{}.sun_path)) {
    out.exit_code =
        fail("--socket: '" + raw.socket_path + "' is " + std::to_string(raw.socket_path.size()) +
             " characters; a Unix socket path must be under " +
             std::to_string(sizeof(sockaddr_un{}.sun_path)));
    return out;
  }
  config.socket_path = raw.socket_path;
  auto socket_mode = parse_mode(raw.socket_mode);
  if (!socket_mode) {
    out.exit_code =
        fail("--socket-mode: '" + raw.socket_mode + "' is not an octal file mode like 0660");
    return out;
  }
  config.socket_mode = *socket_mode;
  if (Status s = validate_shm_prefix(raw.shm_prefix); !s.ok()) {
    out.exit_code = fail("--shm-prefix: " + s.message());
    return out;
  }
  config.registry.shm_prefix = raw.shm_prefix;
  config.admin_group = raw.admin_group;
  config.log_level = raw.log_level;
  config.registry.max_pools = raw.max_pools;
  const auto bytes = positive_size(raw.max_pool_bytes);
  if (!bytes) {
    out.exit_code = fail("--max-pool-bytes: '" + raw.max_pool_bytes +
                         "' is not a size above 0 like 4294967296, 512M or 4GiB");
    return out;
  }
  if (*bytes > PoolLimits::unlimited().max_pool_bytes) {
    // Past this the layout's rounding of a frame to pages could wrap.
    out.exit_code = fail("--max-pool-bytes: '" + raw.max_pool_bytes + "' is over " +
                         std::to_string(PoolLimits::unlimited().max_pool_bytes) +
                         " bytes (1 EiB), the most a pool can be");
    return out;
  }
  config.registry.max_pool_bytes = *bytes;
  // auto is 0: the registry resolves it.
  const auto total = raw.max_total_bytes == "auto" ? std::optional<uint64_t>(0)
                                                   : positive_size(raw.max_total_bytes);
  if (!total) {
    out.exit_code = fail("--max-total-bytes: '" + raw.max_total_bytes +
                         "' is not auto or a size above 0 like 16G");
    return out;
  }
  config.registry.max_total_bytes = *total;
  config.registry.retention = raw.retention == "remove" ? Retention::kRemove : Retention::kKeep;
  config.registry.watch_mode =
      raw.frame_watch == "per-pool" ? FrameWatcher::Mode::kPerPool : FrameWatcher::Mode::kAuto;
  config.streams.max_streams = raw.max_streams;
  config.streams.max_streams_per_uid = raw.max_streams_per_uid;
  config.streams.claim_timeout = std::chrono::milliseconds(raw.claim_timeout_ms);
  config.streams.stall_timeout = std::chrono::milliseconds(raw.stall_timeout_ms);
  out.config = config;
  return out;
}

std::string describe(const Config& c) {
  const RegistryOptions& r = c.registry;
  return "socket " + c.socket_path + " (mode " + octal(c.socket_mode) + "), memory label prefix '" +
         r.shm_prefix + "', admin group " + (c.admin_group.empty() ? "none" : c.admin_group) +
         ", max " + std::to_string(r.max_pools) +
         " pools of at most " + std::to_string(r.max_pool_bytes) + " bytes (" +
         (r.max_total_bytes == 0 ? std::string("half of physical memory")
                                 : std::to_string(r.max_total_bytes) + " bytes") +
         " together), retention " +
         retention_name(r.retention) + ", frame watch " + watch_name(r.watch_mode) +
         ", at most " + std::to_string(c.streams.max_streams) + " streams (" +
         std::to_string(c.streams.max_streams_per_uid) + " per user), claim timeout " +
         std::to_string(c.streams.claim_timeout.count()) + " ms, stall timeout " +
         (c.streams.stall_timeout.count() == 0
              ? std::string("never")
              : std::to_string(c.streams.stall_timeout.count()) + " ms") +
         (c.config_file.empty() ? "" : ", config " + c.config_file);
}

}  // namespace tensoripc::daemon
