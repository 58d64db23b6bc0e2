// The gRPC server of tensor-ipcd on its Unix socket: the Broker service,
// server reflection, and the standard health service; and beside it the
// descriptor channel ("<socket>.fd", daemon/descriptor_broker.h).
//
// The daemon accepts connections itself, records each one's credentials
// (SO_PEERCRED) in a PeerTable, and hands the socket to gRPC: every call
// knows its caller, whatever its request says.
//
// Owns the grpc::Server, the service, the acceptor and the descriptor
// broker; does not own the Registry, which must outlive it. start() and
// shutdown() are called from the main thread.
#pragma once

#include <grpcpp/server.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "common/status.h"
#include "daemon/acceptor.h"
#include "daemon/broker_service.h"
#include "daemon/config.h"
#include "daemon/registry.h"

namespace tensoripc::daemon {

class Server {
 public:
  // Serves `registry` on config.socket_path (directory created if missing,
  // both sockets chmod-ed to config.socket_mode). Refuses a directory that
  // others could write to (ensure_socket_dir: FAILED_PRECONDITION), and
  // refuses, rather than steals, a socket that another daemon is answering on.
  static StatusOr<std::unique_ptr<Server>> start(const Config& config, Registry& registry);

  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  const std::string& socket_path() const { return socket_path_; }

  // Marks the health service NOT_SERVING, ends every stream with
  // UNAVAILABLE (Registry::shutdown), waits up to `grace` for them to be
  // written out, then stops serving, cancelling what is left, and removes the
  // socket file. Idempotent.
  //
  // Returns false when gRPC could not stop within another `grace`: it waits
  // for every connection's pending write, which a client that stopped reading
  // its socket (frozen, or not polling) never lets finish. The grpc::Server
  // is then abandoned, still stopping, and the caller must leave with
  // std::_Exit once its own cleanup is done.
  bool shutdown(std::chrono::milliseconds grace = std::chrono::seconds(2));

 private:
  Server(Registry& registry, std::string socket_path, std::optional<uint32_t> admin_gid);
  // From the acceptor's thread: a new client connection.
  void on_accept(int fd);

  Registry& registry_;
  std::string socket_path_;
  PeerTable peers_;
  std::unique_ptr<DescriptorBroker> descriptors_;
  std::unique_ptr<BrokerService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<Acceptor> acceptor_;
};

}  // namespace tensoripc::daemon
