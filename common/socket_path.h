// Where tensor-ipcd listens; the one resolution daemon and clients share.
#pragma once

#include <sys/types.h>

#include <string>

#include "common/status.h"

namespace tensoripc {

inline constexpr const char* kSocketEnv = "TENSOR_IPC_SOCKET";
inline constexpr const char* kSystemSocketPath = "/run/tensor-ipc/tensor-ipcd.sock";

// Clients: $TENSOR_IPC_SOCKET; else the system service's
// /run/tensor-ipc/tensor-ipcd.sock when that socket exists; else
// $XDG_RUNTIME_DIR/tensor-ipc/tensor-ipcd.sock; else /tmp/tensor-ipc-$UID/tensor-ipcd.sock.
std::string resolve_socket_path();

// The same, and which of those it was, in words (for people: `tensor-ipc socket`).
struct ResolvedSocket {
  std::string path;
  std::string source;
};
ResolvedSocket resolve_socket();

// As above, but the system path is taken only when `system_service` is true:
// a daemon started by hand serves the user's own socket, not the system one.
std::string resolve_daemon_socket_path(bool system_service);

// Modes of a socket directory ensure_socket_dir creates: a system one under
// /run (other users reach the socket inside; its own mode says who may open
// it), else the user's own.
inline constexpr mode_t kSystemSocketDirMode = 0755;
inline constexpr mode_t kUserSocketDirMode = 0700;

// Creates the socket's directory if missing (mode kSystemSocketDirMode under
// /run, except /run/user/, else kUserSocketDirMode, whatever the umask), then
// refuses it with FAILED_PRECONDITION unless it is safe to serve in: a real
// directory, not a symbolic link, owned by the effective uid or root, and not
// writable by group or others (sticky or not). Anyone who can write to it
// could swap the socket. The message names the directory, its owner and mode,
// and what to do.
Status ensure_socket_dir(const std::string& socket_path);

// "unix:" + path, for grpc::CreateChannel and ServerBuilder.
inline std::string grpc_target(const std::string& socket_path) { return "unix:" + socket_path; }

}  // namespace tensoripc
