// Test and benchmark support: child processes started with posix_spawn, and
// temporary directories. Free of gRPC and protobuf, so a binary that links the
// shared client library (which carries its own copy of the generated protos)
// can use it too.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace tensoripc::testing {

// A temporary directory, removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A child process started with posix_spawn (never fork: the test process has
// gRPC threads). Its stdout is a pipe the test can read lines from; its stderr
// is the test's own unless `capture` puts it in the pipe too. Killed with
// SIGKILL and reaped on destruction if still running.
class ChildProcess {
 public:
  enum class Capture { kStdout, kStdoutAndStderr };

  ChildProcess(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env = {},
               Capture capture = Capture::kStdout);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  // Next line of stdout without the newline; nullopt at EOF or after `timeout`.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout);
  // Reads lines until one starts with `prefix`; returns it, or nullopt.
  std::optional<std::string> wait_for_line(const std::string& prefix,
                                           std::chrono::milliseconds timeout);
  void signal(int sig);
  // Waits for exit; returns the wait status (as waitpid gives it), or nullopt on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  bool running();

 private:
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  bool reaped_ = false;
  int status_ = 0;
  std::string buffer_;
};

// Polls `pred` every millisecond until it is true or `timeout` passes.
template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return pred();
}

}  // namespace tensoripc::testing
