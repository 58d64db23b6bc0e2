// What a pool is: its metadata checked and completed, its identity, its size,
// and the limits and defaults every part of the project takes from here.
//
// The model is the public tensoripc::PoolMetadata (include/tensoripc/
// metadata.h); this file adds what the daemon and the client both decide
// about it, as plain functions that return a Status instead of throwing.
// Stateless; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "tensoripc/metadata.h"
#include "tensoripc/tensor.h"

namespace tensoripc {

// ---- limits and defaults: the one definition of each

inline constexpr size_t kMaxPoolNameLength = 128;
inline constexpr size_t kMaxPrefixLength = 64;
inline constexpr size_t kMaxDims = Shape::kMaxDims;
inline constexpr uint32_t kMaxHistoryLen = 65536;
inline constexpr size_t kMaxPayloadJson = 16 * 1024;
// The daemon's --max-pool-bytes default: all history_len frames of one pool.
inline constexpr uint64_t kDefaultMaxPoolBytes = 4ULL << 30;
// keep_last: frame events queued for one consumer. 0 in a request means the
// default.
inline constexpr uint32_t kDefaultKeepLast = 10;
inline constexpr uint32_t kMaxKeepLast = 65536;

// keep_last as a user gives it: 0 means kDefaultKeepLast.
inline uint32_t keep_last_or_default(uint32_t requested) {
  return requested == 0 ? kDefaultKeepLast : requested;
}

// keep_last as a request gives it: as above, and above kMaxKeepLast is
// INVALID_ARGUMENT.
StatusOr<uint32_t> effective_keep_last(uint32_t requested);

struct PoolLimits {
  uint64_t max_pool_bytes = kDefaultMaxPoolBytes;  // all history_len frames of one pool

  // What no daemon could accept still fails; sizes are limited only to 1 EiB,
  // far past any machine, so that the layout's rounding can never wrap.
  static PoolLimits unlimited() { return PoolLimits{1ULL << 60}; }
};

// ---- names

// [A-Za-z0-9_][A-Za-z0-9_.:-]{0,127}: safe as a file-name component, so no
// path tricks ("../x", "/etc", empty) can get through.
Status validate_pool_name(std::string_view name);

// The label prefix of a daemon's pool memory: [A-Za-z0-9_.-]{1,64}.
Status validate_shm_prefix(std::string_view prefix);

// The label of a pool's memory (a memfd's name, shown in /proc/PID/maps):
// prefix + name. Both parts are validated first.
std::string memory_label(std::string_view prefix, std::string_view pool_name);

// At most `max` printable characters of `s` ('?' for the others, "..." when
// cut), for quoting untrusted strings in messages and logs.
std::string printable(std::string_view s, size_t max = 40);

// ---- metadata

// Checks `md` and fills in what follows from it: device "" becomes "cpu",
// backend_type "" becomes "numpy" (host) or "torch_cuda" (GPU),
// element_size and total_size are computed without overflow. shm_name and
// creator_pid are left alone. On error nothing is changed.
Status complete_metadata(PoolMetadata* md, const PoolLimits& limits);

// Bytes of one frame.
uint64_t frame_bytes(const PoolMetadata& md);

// Host memory for "cpu", a CUDA device for "cuda" (ordinal 0) and "cuda:N".
Device device_of(const PoolMetadata& md);

// Identity: name, shape, dtype, history_len, device. backend_type is not part
// of it, so a numpy producer and a torch consumer share a host pool.
bool same_identity(const PoolMetadata& a, const PoolMetadata& b);

// "" when identical, else e.g. "shape: expected [480, 640, 3], pool has [480, 640]".
std::string describe_identity_mismatch(const PoolMetadata& expected, const PoolMetadata& actual);

// Every field but creator_pid (PoolMetadata's operator==).
bool equal_but_creator_pid(const PoolMetadata& a, const PoolMetadata& b);

// A 64-bit digest of the identity, stored in the segment header.
uint64_t identity_digest(const PoolMetadata& md);

// "pool 'cam': [480, 640, 3] uint8 x 4 on cpu".
std::string describe_pool(const PoolMetadata& md);

// "[480, 640, 3]".
std::string format_shape(const int64_t* dims, size_t ndim);
inline std::string format_shape(const std::vector<int64_t>& dims) {
  return format_shape(dims.data(), dims.size());
}

}  // namespace tensoripc
