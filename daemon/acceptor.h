// A thread that accepts connections on a listening socket and hands each to
// a callback, until stopped. Used for the gRPC socket (the daemon accepts
// its clients itself, to know their credentials) and the descriptor channel.
#pragma once

#include <functional>
#include <string>
#include <thread>

namespace tensoripc::daemon {

class Acceptor {
 public:
  // Takes ownership of `listen_fd`; accepted sockets get `accept_flags`
  // (SOCK_CLOEXEC always) and belong to `on_accept`.
  Acceptor(std::string what, int listen_fd, int accept_flags, std::function<void(int)> on_accept);
  ~Acceptor();
  Acceptor(const Acceptor&) = delete;
  Acceptor& operator=(const Acceptor&) = delete;

  // Stops accepting and closes the listening socket; returns once the
  // callback is no longer running. Idempotent.
  void stop();

 private:
  void loop();

  const std::string what_;
  int listen_fd_;
  const int accept_flags_;
  const int stop_fd_;  // an eventfd, readable once stop() is called
  std::function<void(int)> on_accept_;
  std::thread thread_;
};

}  // namespace tensoripc::daemon
