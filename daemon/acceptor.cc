#include "daemon/acceptor.h"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace tensoripc::daemon {

Acceptor::Acceptor(std::string what, int listen_fd, int accept_flags,
                   std::function<void(int)> on_accept)
    : what_(std::move(what)),
      listen_fd_(listen_fd),
      accept_flags_(accept_flags | SOCK_CLOEXEC),
      stop_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
      on_accept_(std::move(on_accept)),
      thread_([this] { loop(); }) {}

Acceptor::~Acceptor() {
  stop();
  if (stop_fd_ >= 0) ::close(stop_fd_);
}

void Acceptor::stop() {
  if (!thread_.joinable()) return;
  const uint64_t one = 1;
  (void)!::write(stop_fd_, &one, sizeof one);
  thread_.join();
  ::close(listen_fd_);
  listen_fd_ = -1;
}

void Acceptor::loop() {
  pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
  for (;;) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      spdlog::error("{}: poll failed: {}", what_, std::strerror(errno));
      return;
    }
    if (fds[1].revents != 0) return;
    const int conn = ::accept4(listen_fd_, nullptr, nullptr, accept_flags_);
    if (conn < 0) {
      if (errno == EMFILE || errno == ENFILE) {
        spdlog::warn("{}: out of file descriptors; a connection waits", what_);
        ::poll(nullptr, 0, 50);  // do not spin while the backlog stays full
      }
      continue;
    }
    on_accept_(conn);
  }
}

}  // namespace tensoripc::daemon
