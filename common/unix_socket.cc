#include "common/unix_socket.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace tensoripc {
namespace {

Status errno_status(const std::string& what, int err) {
  const StatusCode code = err == EAGAIN || err == EWOULDBLOCK ? StatusCode::kDeadlineExceeded
                          : err == ENOENT || err == ECONNREFUSED ? StatusCode::kUnavailable
                          : err == EACCES || err == EPERM        ? StatusCode::kPermissionDenied
                                                                 : StatusCode::kUnavailable;
  return Status(code, what + ": " + std::strerror(err));
}

}  // namespace

bool PeerCredentials::in_group(uint32_t group) const {
  if (gid == group) return true;
  for (uint32_t g : groups) {
    if (g == group) return true;
  }
  return false;
}

StatusOr<PeerCredentials> peer_credentials(int sock) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    return errno_status("SO_PEERCRED", errno);
  }
  PeerCredentials out;
  out.pid = cred.pid;
  out.uid = cred.uid;
  out.gid = cred.gid;
  std::vector<gid_t> groups(64);
  for (int attempt = 0; attempt < 4; ++attempt) {
    socklen_t bytes = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    if (::getsockopt(sock, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &bytes) == 0) {
      groups.resize(bytes / sizeof(gid_t));
      out.groups.assign(groups.begin(), groups.end());
      break;
    }
    if (errno != ERANGE) break;  // kernels before 4.13: no supplementary groups
    groups.resize(bytes / sizeof(gid_t) + 1);
  }
  return out;
}

Packet::~Packet() {
  if (fd >= 0) ::close(fd);
}

Packet::Packet(Packet&& other) noexcept
    : text(std::move(other.text)), fd(std::exchange(other.fd, -1)) {}

Packet& Packet::operator=(Packet&& other) noexcept {
  if (this != &other) {
    if (fd >= 0) ::close(fd);
    text = std::move(other.text);
    fd = std::exchange(other.fd, -1);
  }
  return *this;
}

int Packet::release_fd() { return std::exchange(fd, -1); }

void set_socket_timeouts(int sock, std::chrono::milliseconds timeout) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

StatusOr<int> listen_unix(const std::string& path, int type, mode_t mode) {
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path) {
    return invalid_argument("socket path " + path + " is longer than " +
                            std::to_string(sizeof addr.sun_path - 1) + " bytes");
  }
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return failed_precondition(path + " exists and is not a socket; remove it or choose "
                                        "another --socket");
    }
    ::unlink(path.c_str());
  }
  const int sock = ::socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
  if (sock < 0) return errno_status("socket", errno);
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const mode_t old_mask = ::umask(0177);
  const int bound = ::bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  const int bind_errno = errno;
  ::umask(old_mask);
  if (bound != 0) {
    ::close(sock);
    return Status(StatusCode::kUnavailable,
                  "cannot bind " + path + ": " + std::strerror(bind_errno));
  }
  if (::chmod(path.c_str(), mode) != 0 || ::listen(sock, 128) != 0) {
    const int err = errno;
    ::close(sock);
    ::unlink(path.c_str());
    return Status(StatusCode::kUnavailable, "cannot listen on " + path + ": " + std::strerror(err));
  }
  return sock;
}

StatusOr<int> connect_seqpacket(const std::string& path, std::chrono::milliseconds timeout) {
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path) {
    return invalid_argument("socket path " + path + " is longer than " +
                            std::to_string(sizeof addr.sun_path - 1) + " bytes");
  }
  const int sock = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (sock < 0) return errno_status("socket", errno);
  set_socket_timeouts(sock, timeout);
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (::connect(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    const int err = errno;
    ::close(sock);
    return errno_status("cannot connect to " + path, err);
  }
  return sock;
}

Status send_packet(int sock, const std::string& text, int fd) {
  iovec iov{const_cast<char*>(text.data()), text.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  if (fd >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
  }
  ssize_t n;
  do {
    n = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return errno_status("send", errno);
  if (static_cast<size_t>(n) != text.size()) return Status(StatusCode::kUnavailable, "short send");
  return {};
}

StatusOr<Packet> receive_packet(int sock, size_t max_bytes) {
  Packet packet;
  std::string buf(max_bytes + 1, '\0');
  iovec iov{buf.data(), buf.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)] = {};
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return errno_status("receive", errno);
  int extra_fds = 0;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      if (packet.fd < 0) {
        packet.fd = fd;
      } else {
        ::close(fd);
        ++extra_fds;
      }
    }
  }
  if (n == 0) return Status(StatusCode::kUnavailable, "the other end closed the connection");
  if (extra_fds > 0) return invalid_argument("a message carried more than one descriptor");
  if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0 || static_cast<size_t>(n) > max_bytes) {
    return invalid_argument("a message longer than " + std::to_string(max_bytes) + " bytes");
  }
  buf.resize(static_cast<size_t>(n));
  packet.text = std::move(buf);
  return packet;
}

}  // namespace tensoripc
