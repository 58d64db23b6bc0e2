// What the benchmarks share: clocks, child processes started with
// posix_spawn, a private tensor-ipcd, and latency statistics. Deliberately
// tiny and free of test code (no gtest), so the bench build stays light.
#pragma once

#include <csignal>

#include <sys/types.h>
#include <time.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/process.h"
#include "tests/support/child_process.h"

namespace tensoripc::bench {

// Frame timestamps are CLOCK_REALTIME (comparable across processes);
// intervals CLOCK_MONOTONIC. One definition, in common/.
using tensoripc::monotonic_ns;
using tensoripc::realtime_ns;

// Sleeps until the CLOCK_MONOTONIC instant `t_ns` (pacing at a fixed rate
// without drift).
void sleep_until_monotonic(int64_t t_ns);

// The benchmark programs' command line: "--flag value" pairs (the child
// roles' included). `bad(why)` is called, and must not return, on anything
// else.
class Flags {
 public:
  template <typename Bad>
  Flags(int argc, char** argv, Bad&& bad) {
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      if (a.rfind("--", 0) != 0 || i + 1 >= argc) bad("bad argument " + a);
      values_[a.substr(2)] = argv[++i];
    }
  }
  bool given(const std::string& key) const { return values_.count(key) != 0; }
  // The value of --`key`, or `def` when it was not given.
  std::string operator()(const std::string& key, const std::string& def = "") const {
    auto it = values_.find(key);
    return it == values_.end() ? def : it->second;
  }

 private:
  std::map<std::string, std::string> values_;
};

// Calls `tick(i)` for i = 1..total at `rate_hz`, paced on CLOCK_MONOTONIC
// from 10 ms after the call.
template <typename Tick>
void paced(uint64_t total, double rate_hz, Tick tick) {
  const int64_t period = static_cast<int64_t>(1e9 / rate_hz);
  const int64_t t0 = monotonic_ns() + 10'000'000;
  for (uint64_t i = 1; i <= total; ++i) {
    sleep_until_monotonic(t0 + static_cast<int64_t>(i) * period);
    tick(i);
  }
}

// How a child role stops: block_stop_signals() (common/process.h) before any
// thread starts, then wait_for_stop() takes them.
void wait_for_stop(const sigset_t& stop);

// This executable's path (children are this binary in another role).
std::string self_exe();

// Child processes: the same posix_spawn helper the tests use (no gRPC in it).
using Child = testing::ChildProcess;

// The real tensor-ipcd on a socket in a fresh temporary directory, with a
// private shm prefix and --retention remove, so that nothing outlives the
// benchmark. The constructor returns once the socket accepts connections;
// the destructor stops the daemon (SIGTERM) and removes what is left.
class BenchDaemon {
 public:
  // `extra_args`: more tensor-ipcd flags (limits a benchmark must raise).
  explicit BenchDaemon(const std::vector<std::string>& extra_args = {});
  ~BenchDaemon();
  BenchDaemon(const BenchDaemon&) = delete;
  BenchDaemon& operator=(const BenchDaemon&) = delete;

  const std::string& socket_path() const { return socket_path_; }
  const std::string& dir() const { return dir_; }
  pid_t pid() const { return child_->pid(); }

 private:
  std::string dir_;
  std::string socket_path_;
  std::string shm_prefix_;
  std::optional<Child> child_;
};

// Path of the tensor-ipcd binary: $TENSORIPC_DAEMON, else the one built
// beside the benchmarks.
std::string daemon_binary();

// The machine and the moment, as JSON object members without the braces:
// "date", "host", "kernel", "cpu", "num_cpus" and "load_avg" (1, 5, 15 min).
std::string machine_json_fields();

// CPU time process `pid` has used so far (user + system), in seconds; -1 when
// /proc would not say.
double cpu_seconds(pid_t pid);

// "a,b,,c" -> {"a", "b", "c"} (flags' lists).
std::vector<std::string> split(const std::string& s, char sep);

// A pause for connections and subscriptions to settle before a measured run.
void settle();

// Child processes of this binary in one role, for one configuration: started
// with `role_args` and "--out FILE", each awaited until it prints "ready";
// at the end stopped (SIGTERM when asked), waited for, and their sample
// files read back. A child may print "dropped N" and "missed N" (library
// consumers: frame events the daemon dropped, callbacks whose view had moved
// on) before it exits; they are summed.
class Crew {
 public:
  Crew(std::string dir, std::string tag) : dir_(std::move(dir)), tag_(std::move(tag)) {}

  // Throws std::runtime_error when a child does not get ready within 20 s.
  void start(int n, const std::vector<std::string>& role_args);
  // The samples of every child, one vector each.
  std::vector<std::vector<int64_t>> finish(bool terminate);
  uint64_t dropped() const { return dropped_; }
  uint64_t missed() const { return missed_; }

 private:
  uint64_t dropped_ = 0, missed_ = 0;
  std::string dir_, tag_;
  std::vector<std::string> files_;
  std::vector<std::unique_ptr<Child>> children_;
};

// Latency samples in ns, summarised in µs.
struct LatencySummary {
  size_t count = 0;
  double p50_us = 0, p90_us = 0, p99_us = 0, max_us = 0, mean_us = 0;
};
LatencySummary summarize(std::vector<int64_t> samples_ns);

// The median of `values` (the mean of the middle two for an even count); 0
// for none. Per-round results are reported as medians over the rounds.
double median(std::vector<double> values);

// A benchmark's JSON report: to `path`, or to stdout when it is empty.
void write_report(const std::string& path, const std::string& text);

// Raw int64 samples to and from a file (children hand their samples back).
bool write_samples(const std::string& path, const std::vector<int64_t>& samples);
std::vector<int64_t> read_samples(const std::string& path);

}  // namespace tensoripc::bench
