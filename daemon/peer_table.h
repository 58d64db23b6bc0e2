// The credentials of every gRPC connection the daemon accepted, by socket:
// gRPC's peer string for such a connection is "fd:<N>" (grpc::
// AddInsecureChannelFromFd), and a call looks its caller up from it when it
// starts. An entry is replaced when the kernel reuses the number for a new
// connection, which can only happen after gRPC closed the old one.
// Thread-safe.
#pragma once

#include <cstdlib>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "common/unix_socket.h"
#include "daemon/caller.h"

namespace tensoripc::daemon {

class PeerTable {
 public:
  // Members of `admin_gid` (when set) may manage every pool, as root may.
  explicit PeerTable(std::optional<uint32_t> admin_gid) : admin_gid_(admin_gid) {}

  void add(int fd, const PeerCredentials& cred) {
    Caller c;
    c.pid = cred.pid;
    c.uid = cred.uid;
    c.admin = admin_gid_ && cred.in_group(*admin_gid_);
    std::lock_guard<std::mutex> lock(mu_);
    by_fd_[fd] = c;
  }

  std::optional<Caller> lookup(const std::string& peer) const {
    if (peer.rfind("fd:", 0) != 0) return std::nullopt;
    char* end = nullptr;
    const long fd = std::strtol(peer.c_str() + 3, &end, 10);
    if (end == peer.c_str() + 3 || *end != '\0') return std::nullopt;
    std::lock_guard<std::mutex> lock(mu_);
    auto it = by_fd_.find(static_cast<int>(fd));
    if (it == by_fd_.end()) return std::nullopt;
    return it->second;
  }

 private:
  const std::optional<uint32_t> admin_gid_;
  mutable std::mutex mu_;
  std::unordered_map<int, Caller> by_fd_;
};

}  // namespace tensoripc::daemon
