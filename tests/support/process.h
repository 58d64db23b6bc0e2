// Test support: a real tensor-ipcd on a temporary socket with a private shm
// prefix, as a child process. No mocks: tests drive the actual binary. Free of
// gRPC and protobuf, so tests that link the client library as users do (it
// carries the generated code privately) can use it; tests that talk to the
// daemon over gRPC themselves add tests/support/broker_stub.h.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/shm.h"
#include "tests/support/child_process.h"

namespace tensoripc::testing {

// The real tensor-ipcd on <tmp>/tensor-ipcd.sock with prefix "tipct<pid>x<n>.".
// The constructor returns once the daemon says READY=1 through sd_notify (a
// NOTIFY_SOCKET of the test's own), as systemd would wait for it.
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
  // once it serves.
  void restart(bool kill = false, std::vector<std::string> extra_args = {});

  // The labels of the pool memory (memfds) the daemon holds open, sorted:
  // one per pool it holds. Empty once the daemon exited.
  std::vector<std::string> segments() const;

  // Environment entries that point a client at this daemon.
  std::vector<std::string> client_env() const;

 private:
  void start(const std::vector<std::string>& extra_args);

  TempDir dir_;
  std::string socket_path_;
  std::string shm_prefix_;
  std::unique_ptr<ChildProcess> child_;
};

// The labels of the memfds process `pid` holds open whose label starts with
// `prefix` (from /proc/PID/fd), sorted, each once.
std::vector<std::string> memfd_labels(pid_t pid, const std::string& prefix);

// Opens pool memory `label` that process `pid` (a daemon) holds, through
// /proc/PID/fd, as the daemon's own user can: the tests' way to look at, or
// tamper with, a pool from outside. Throws when there is none.
ShmFile open_process_memfd(pid_t pid, const std::string& label, bool writable);

// Whether any file under /dev/shm has a name that starts with `prefix`.
bool any_shm_file_with_prefix(const std::string& prefix);

// Paths of built binaries, from compile definitions.
std::string daemon_binary();

}  // namespace tensoripc::testing
