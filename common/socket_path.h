// Where tensor-ipcd listens; the one resolution daemon and clients share.
#pragma once

#include <string>

#include "common/status.h"

namespace tensoripc {

inline constexpr const char* kSocketEnv = "TENSOR_IPC_SOCKET";
inline constexpr const char* kSystemSocketPath = "/run/tensor-ipc/tensor-ipcd.sock";

// Clients: $TENSOR_IPC_SOCKET; else the system service's
// /run/tensor-ipc/tensor-ipcd.sock when that socket exists; else
// $XDG_RUNTIME_DIR/tensor-ipc/tensor-ipcd.sock; else /tmp/tensor-ipc-$UID/tensor-ipcd.sock.
std::string resolve_socket_path();

// As above, but the system path is taken only when `system_service` is true:
// a daemon started by hand serves the user's own socket, not the system one.
std::string resolve_daemon_socket_path(bool system_service);

// Creates the socket's directory (mode 0755 for a system path, 0700 otherwise)
// if missing.
Status ensure_socket_dir(const std::string& socket_path);

// "unix:" + path, for grpc::CreateChannel and ServerBuilder.
inline std::string grpc_target(const std::string& socket_path) { return "unix:" + socket_path; }

}  // namespace tensoripc
