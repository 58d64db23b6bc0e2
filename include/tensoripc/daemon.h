// What tensor-ipcd knows: its pools (metadata, layout, stats, subscribers)
// and itself. For tools (the tensor-ipc command) and for programs that look a
// pool up before attaching to it (Consumer::attach does).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tensoripc/export.h"
#include "tensoripc/metadata.h"

namespace tensoripc {

// One Subscribe stream of a pool, as the daemon counts it.
struct SubscriberStats {
  int32_t pid = 0;
  uint32_t keep_last = 0;       // frame events queued for it at most
  uint64_t delivered = 0;       // frame events written to its stream
  uint64_t dropped = 0;         // frame events dropped (its queue was full)
  uint64_t queued = 0;          // frame events waiting now
  bool lifecycle_only = false;  // takes no frame events (waits on the pool's futex)
};

struct PoolStats {
  uint64_t frames_published = 0;  // frames written since this daemon had the pool
  uint64_t latest_seq = 0;
  double rate_hz = 0;  // over the last few seconds
  uint32_t subscribers = 0;
  uint64_t dropped = 0;      // frame events dropped, all subscribers (those that left too)
  int32_t producer_pid = 0;  // 0: no producer holds the pool now (a kept pool)
  int64_t created_unix_ns = 0;
  int64_t last_publish_unix_ns = 0;  // 0 before the first frame
  uint32_t owner_uid = 0;            // may resume, replace and delete it (with root, admins)
  std::vector<SubscriberStats> subscriber;
};

// Where a pool's frames sit.
struct PoolLayoutInfo {
  uint64_t generation = 0;  // changes whenever the pool's memory is made anew
  uint64_t frame_size = 0;    // bytes of one frame
  uint64_t slot_stride = 0;   // bytes from one frame to the next
  uint32_t slot_count = 0;    // == history_len
  uint64_t segment_size = 0;  // the host memory: headers, and the frames of a host pool
  // A GPU pool's device memory: how it is shared ("legacy-ipc", "vmm-fd";
  // empty for a host pool) and its size.
  std::string cuda_sharing;
  uint64_t cuda_allocation_size = 0;
};

struct PoolInfo {
  PoolMetadata metadata;
  PoolLayoutInfo layout;
  PoolStats stats;
};

// The daemon itself (GetDaemonInfo).
struct DaemonInfo {
  std::string version;
  int32_t pid = 0;
  uint32_t uid = 0;
  int64_t started_unix_ns = 0;
  std::string socket_path;  // as the daemon named it
  std::string retention;    // "keep" or "remove"
  uint32_t max_pools = 0;
  uint64_t max_pool_bytes = 0;
  uint64_t max_total_bytes = 0;
  uint32_t pools = 0;       // now, kept ones included
  uint64_t pool_bytes = 0;  // their memory together
  uint32_t streams = 0;     // ProducerSession and Subscribe streams open now
  uint32_t max_streams = 0;
  uint32_t max_streams_per_uid = 0;
  int32_t caller_pid = 0;  // this process, as the kernel told the daemon
  uint32_t caller_uid = 0;
  bool caller_is_admin = false;  // root or the daemon's --admin-group
};

// The socket a client in this process would use: $TENSOR_IPC_SOCKET, else
// the system service's when it exists, else the user's own (README, "The
// socket").
TENSORIPC_EXPORT std::string default_socket_path();

// default_socket_path(), and where it came from in words ("TENSOR_IPC_SOCKET",
// "the system service's socket", "your own daemon's, under XDG_RUNTIME_DIR", ...).
struct SocketChoice {
  std::string path;
  std::string source;
};
TENSORIPC_EXPORT SocketChoice default_socket();

// The system service's socket, /run/tensor-ipc/tensor-ipcd.sock.
TENSORIPC_EXPORT const char* system_socket_path();

// Queries to tensor-ipcd. Each call is one RPC; DaemonUnavailableError when
// the daemon cannot be reached within the connect timeout (at once when the
// socket file does not exist), Error for other failures. Thread-safe.
class TENSORIPC_EXPORT DaemonClient {
 public:
  // "" finds the socket as every client does (default_socket_path()).
  explicit DaemonClient(std::string socket_path = "",
                        std::chrono::milliseconds connect_timeout = std::chrono::milliseconds(3000));
  ~DaemonClient();
  DaemonClient(DaemonClient&&) noexcept;
  DaemonClient& operator=(DaemonClient&&) noexcept;
  DaemonClient(const DaemonClient&) = delete;
  DaemonClient& operator=(const DaemonClient&) = delete;

  const std::string& socket_path() const;

  DaemonInfo info();
  // Every pool, by name.
  std::vector<PoolInfo> list_pools();
  // nullopt when there is no pool of that name.
  std::optional<PoolInfo> get_pool(const std::string& name);
  // Deletes the pool: its subscribers are told, its memory goes once the last
  // mapping does. A pool a producer holds only with `force` (which ends the
  // producer's lease), else StateError naming the producer; another user's
  // pool is an Error naming its owner. False when there was no such pool.
  bool delete_pool(const std::string& name, bool force = false);

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace tensoripc
