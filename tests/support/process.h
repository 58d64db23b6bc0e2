// Test support: real child processes and a real tensor-ipcd on a temporary
// socket with a private shm prefix. No mocks: tests drive the actual binary.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "tensoripc/v1/broker.grpc.pb.h"

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
// gRPC threads). Its stdout is a pipe the test can read lines from. Killed
// with SIGKILL and reaped on destruction if still running.
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env = {});
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

// The real tensor-ipcd on <tmp>/tensor-ipcd.sock with prefix "tipct<pid>x<n>.".
// The constructor returns once the health service answers SERVING.
class DaemonProcess {
 public:
  explicit DaemonProcess(std::vector<std::string> extra_args = {});
  ~DaemonProcess();  // SIGTERM, then SIGKILL if it does not exit in 10 s

  const std::string& socket_path() const { return socket_path_; }
  const std::string& shm_prefix() const { return shm_prefix_; }
  pid_t pid() const { return child_->pid(); }
  ChildProcess& process() { return *child_; }

  // SIGTERM and wait; returns the wait status.
  int terminate();

  // Stops the daemon (SIGTERM, or SIGKILL when `kill`) and starts a new one
  // on the same socket and shm prefix, as a restart by systemd would; returns
  // once it serves. Segments are left as the old daemon left them.
  void restart(bool kill = false, std::vector<std::string> extra_args = {});

  std::shared_ptr<grpc::Channel> channel();
  std::unique_ptr<v1::Broker::Stub> stub();

  // Segments in /dev/shm under this daemon's prefix.
  std::vector<std::string> segments() const;

  // Environment entries that point a client at this daemon.
  std::vector<std::string> client_env() const;

 private:
  void start(const std::vector<std::string>& extra_args);

  TempDir dir_;
  std::string socket_path_;
  std::string shm_prefix_;
  std::unique_ptr<ChildProcess> child_;
  std::shared_ptr<grpc::Channel> channel_;
};

// Paths of built binaries, from compile definitions.
std::string daemon_binary();

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
