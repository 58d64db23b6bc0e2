// The daemon's end of the descriptor channel (common/descriptor_channel.h):
// a SOCK_SEQPACKET socket beside the gRPC one, where clients trade the
// tokens of their grants and PoolAttached events for pool memory, and where
// a producer hands its pool back to a restarted daemon.
//
// A token is single-use, bound to the pid and uid of the gRPC call it was
// issued on (the descriptor channel's own SO_PEERCRED must match), and
// expires after a few seconds. Consumers get a read-only descriptor, opened
// anew for them, never the daemon's own read-write one.
//
// One accept thread; each connection is served on a short-lived thread of
// its own (at most kMaxConnections at once, each bounded by a timeout), so a
// client that connects and never writes delays nobody. Thread-safe.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "common/shm.h"
#include "common/status.h"
#include "daemon/acceptor.h"
#include "daemon/caller.h"
#include "pool/mapping.h"

namespace tensoripc::daemon {

class DescriptorBroker {
 public:
  static constexpr int kMaxConnections = 64;
  static constexpr size_t kMaxTickets = 65536;
  // Descriptors handed over and not yet claimed: each is an open file here.
  static constexpr size_t kMaxHandedOver = 1024;
  static constexpr std::chrono::milliseconds kTicketLifetime{10000};
  static constexpr std::chrono::milliseconds kIoTimeout{2000};

  // Listens on descriptor_socket_path(grpc_socket_path), chmod-ed to `mode`.
  static StatusOr<std::unique_ptr<DescriptorBroker>> start(const std::string& grpc_socket_path,
                                                           mode_t mode);
  ~DescriptorBroker();
  DescriptorBroker(const DescriptorBroker&) = delete;
  DescriptorBroker& operator=(const DescriptorBroker&) = delete;

  const std::string& path() const { return path_; }

  // A token with which `caller` can fetch `memory`'s descriptor once:
  // read-write when `writable` (the granted producer), else read-only.
  std::string issue(const Caller& caller, std::shared_ptr<const PoolMapping> memory, bool writable);

  // The memory `caller` handed over (GIVE) under `token`, once.
  StatusOr<ShmFile> take_handed_over(const Caller& caller, const std::string& token);

  // Stops accepting, waits for the connections being served, and removes
  // the socket. Idempotent.
  void stop();

 private:
  struct Ticket {
    int32_t pid = 0;
    uint32_t uid = 0;
    std::chrono::steady_clock::time_point expires;
    std::weak_ptr<const PoolMapping> memory;  // GET tickets: gone with the pool
    bool writable = false;
    std::shared_ptr<ShmFile> handed_over;  // GIVE tickets
  };

  explicit DescriptorBroker(std::string path) : path_(std::move(path)) {}
  // From the acceptor's thread: serves `conn` on a thread of its own.
  void on_accept(int conn);
  void serve(int conn);
  // mu_ held. add_ticket returns "" when there is no room.
  std::string add_ticket(Ticket ticket);
  void erase_ticket(std::map<std::string, Ticket>::iterator it);
  // One reply for one request on `conn` from `peer`.
  void answer(int conn, const Caller& peer);

  const std::string path_;
  std::unique_ptr<Acceptor> acceptor_;

  std::mutex mu_;
  std::condition_variable idle_;
  int serving_ = 0;
  bool stopped_ = false;
  std::map<std::string, Ticket> tickets_;
  size_t handed_over_ = 0;  // tickets_ holding a handed-over descriptor
  // Tokens in the order they expire (one lifetime for all): swept on every
  // issue, so an unused token never pins a deleted pool's memory for long.
  std::deque<std::pair<std::chrono::steady_clock::time_point, std::string>> expiry_order_;
};

}  // namespace tensoripc::daemon
