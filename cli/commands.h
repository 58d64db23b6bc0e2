// The tensor-ipc command's subcommands, each a function of its options that
// prints to stdout (errors to stderr) and returns the exit status: 0 done,
// 1 failed (the message says why). main.cc parses the command line.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

namespace tensoripc::cli {

// Set by SIGINT and SIGTERM: the commands that run until stopped (hz, bw,
// echo, watch) return 0 when it is.
extern std::atomic<bool> g_stop;

struct Common {
  std::string socket;  // "" finds it as every client does
  bool json = false;   // one JSON document per line instead of text
  uint32_t timeout_ms = 3000;
};

int run_ls(const Common& c);
int run_info(const Common& c, const std::string& pool);
int run_rm(const Common& c, const std::string& pool, bool force);
int run_socket(const Common& c);
int run_doctor(const Common& c);

struct WatchOptions {
  uint32_t interval_ms = 100;  // how often the pool list is read
  uint64_t count = 0;          // stop after this many changes; 0: until stopped
};
int run_watch(const Common& c, const WatchOptions& o);

struct RateOptions {
  bool bandwidth = false;  // bw: bytes per second rather than frames per second
  uint32_t window = 10000;  // intervals the statistics cover
  double period_s = 1.0;    // between two reports
  uint64_t count = 0;       // stop after this many reports; 0: until stopped
};
int run_rate(const Common& c, const std::string& pool, const RateOptions& o);

struct EchoOptions {
  bool once = false;   // the latest frame (or the first to come), then exit
  uint64_t count = 0;  // stop after this many frames; 0: until stopped
};
int run_echo(const Common& c, const std::string& pool, const EchoOptions& o);

struct SnapshotOptions {
  std::string output;  // the file; its extension picks the format unless `format` is set
  std::string format;  // "npy", "png" or ""
  std::optional<std::pair<double, double>> range;  // PNG scaling of non-uint8 pools
};
int run_snapshot(const Common& c, const std::string& pool, const SnapshotOptions& o);

}  // namespace tensoripc::cli
