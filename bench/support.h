// What the benchmarks share: clocks, child processes started with
// posix_spawn, a private tensor-ipcd, and latency statistics. Deliberately
// tiny and free of test code (no gtest), so the bench build stays light.
#pragma once

#include <sys/types.h>
#include <time.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tensoripc::bench {

// CLOCK_REALTIME in ns: what the library stamps frames with, comparable
// across processes on one machine.
inline int64_t realtime_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

inline int64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// Sleeps until the CLOCK_MONOTONIC instant `t_ns` (pacing at a fixed rate
// without drift).
void sleep_until_monotonic(int64_t t_ns);

// This executable's path (children are this binary in another role).
std::string self_exe();

// A child process started with posix_spawn (the parent has gRPC threads, so
// never fork). Its stdout is a pipe read line by line; stderr is inherited.
// SIGKILLed and reaped on destruction if still running. Not thread-safe.
class Child {
 public:
  Child(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env = {});
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  // Next stdout line without the newline; nullopt at EOF or timeout.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout);
  // Reads lines until one starts with `prefix`.
  std::optional<std::string> wait_for_line(const std::string& prefix,
                                           std::chrono::milliseconds timeout);
  void signal(int sig);
  // The wait status, or nullopt if it did not exit within `timeout`.
  std::optional<int> wait(std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  bool reaped_ = false;
  int status_ = 0;
  std::string buffer_;
};

// The real tensor-ipcd on a socket in a fresh temporary directory, with a
// private shm prefix and --retention remove, so that nothing outlives the
// benchmark. The constructor returns once the socket accepts connections;
// the destructor stops the daemon (SIGTERM) and removes what is left.
class BenchDaemon {
 public:
  BenchDaemon();
  ~BenchDaemon();
  BenchDaemon(const BenchDaemon&) = delete;
  BenchDaemon& operator=(const BenchDaemon&) = delete;

  const std::string& socket_path() const { return socket_path_; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  std::string socket_path_;
  std::string shm_prefix_;
  std::optional<Child> child_;
};

// Path of the tensor-ipcd binary: $TENSORIPC_DAEMON, else the one built
// beside the benchmarks.
std::string daemon_binary();

// Latency samples in ns, summarised in µs.
struct LatencySummary {
  size_t count = 0;
  double p50_us = 0, p90_us = 0, p99_us = 0, max_us = 0, mean_us = 0;
};
LatencySummary summarize(std::vector<int64_t> samples_ns);

// Raw int64 samples to and from a file (children hand their samples back).
bool write_samples(const std::string& path, const std::vector<int64_t>& samples);
std::vector<int64_t> read_samples(const std::string& path);

}  // namespace tensoripc::bench
