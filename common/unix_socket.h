// Unix-socket seams: who is at the other end (SO_PEERCRED), and messages
// that carry a file descriptor (SCM_RIGHTS) on SOCK_SEQPACKET sockets.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace tensoripc {

// The kernel's word on the process at the other end of a connected Unix
// socket, as of connect(): it cannot be forged by the peer.
struct PeerCredentials {
  int32_t pid = 0;
  uint32_t uid = UINT32_MAX;
  uint32_t gid = UINT32_MAX;
  std::vector<uint32_t> groups;  // supplementary groups (SO_PEERGROUPS)

  bool in_group(uint32_t group) const;
};

StatusOr<PeerCredentials> peer_credentials(int sock);

// One message of a SOCK_SEQPACKET socket, and the descriptor it carried.
// Owns the descriptor (closed unless released); movable.
struct Packet {
  Packet() = default;
  ~Packet();
  Packet(Packet&& other) noexcept;
  Packet& operator=(Packet&& other) noexcept;
  Packet(const Packet&) = delete;
  Packet& operator=(const Packet&) = delete;

  std::string text;
  int fd = -1;
  int release_fd();
};

// A listening socket of `type` (SOCK_STREAM, SOCK_SEQPACKET) bound at `path`,
// its mode set to `mode` (created 0600 first, so it is never wider than
// asked), close-on-exec, backlog 128. A stale socket file at `path` is
// replaced; anything else there is an error.
StatusOr<int> listen_unix(const std::string& path, int type, mode_t mode);

// A SOCK_SEQPACKET connection to `path`, with send and receive timeouts.
StatusOr<int> connect_seqpacket(const std::string& path, std::chrono::milliseconds timeout);
// Sets both timeouts of a socket.
void set_socket_timeouts(int sock, std::chrono::milliseconds timeout);

// Sends `text` as one message, with `fd` attached when >= 0.
Status send_packet(int sock, const std::string& text, int fd = -1);
// Receives one message of at most `max_bytes` (longer ones are an error),
// with the descriptor it carried, if any (at most one is accepted: extras are
// closed and make it an error).
StatusOr<Packet> receive_packet(int sock, size_t max_bytes);

}  // namespace tensoripc
