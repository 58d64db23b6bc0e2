// Pool identity and validation: what makes two pools "the same", what a sane
// pool looks like, and the names derived from a pool name. Shared by the
// daemon (which validates every request) and the client (which checks what it
// was given against what it expected).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "tensoripc/dtype.h"
#include "common/status.h"
#include "tensoripc/v1/broker.pb.h"

namespace tensoripc {

inline constexpr size_t kMaxPoolNameLength = 128;
inline constexpr size_t kMaxPrefixLength = 64;
inline constexpr size_t kMaxDims = 32;
inline constexpr uint32_t kMaxHistoryLen = 65536;
inline constexpr size_t kMaxPayloadJson = 16 * 1024;

struct PoolLimits {
  uint64_t max_pool_bytes = 4ULL << 30;  // all history_len frames of one pool
};

// [A-Za-z0-9_][A-Za-z0-9_.:-]{0,127}: safe as a file-name component, so no
// path tricks ("../x", "/etc", empty) can get through.
Status validate_pool_name(std::string_view name);

// The shm prefix: [A-Za-z0-9_.-]{1,64}.
Status validate_shm_prefix(std::string_view prefix);

// Checks a claim's metadata and fills in what the daemon derives: dtype
// canonical, device defaulted to "cpu", backend_type defaulted from the
// device, element_size, total_size. shm_name and creator_pid are left alone.
// Sizes are computed without overflow. On error nothing is changed.
Status validate_and_complete(v1::PoolMetadata* md, const PoolLimits& limits);

// Bytes of one frame of a *validated* metadata.
uint64_t frame_bytes(const v1::PoolMetadata& md);

// Host memory for "cpu", CUDA for "cuda:N".
v1::MemoryKind memory_kind_of(const v1::PoolMetadata& md);

// CUDA ordinal of "cuda:N" ("cuda" is 0); -1 for host pools.
int cuda_ordinal_of(const v1::PoolMetadata& md);

// Identity: name, shape, dtype, history_len, device. backend_type is not part
// of it, so a numpy producer and a torch consumer share a host pool.
bool same_identity(const v1::PoolMetadata& a, const v1::PoolMetadata& b);

// "" when identical, else e.g. "shape: expected [480, 640, 3], pool has [480, 640]".
std::string describe_identity_mismatch(const v1::PoolMetadata& expected,
                                       const v1::PoolMetadata& actual);

// A 64-bit digest of the identity, stored in the segment header.
uint64_t identity_digest(const v1::PoolMetadata& md);

// "[480, 640, 3]".
std::string shape_string(const v1::PoolMetadata& md);

// The shm_open name of a pool's segment: "/" + prefix + name. Both parts are
// validated first, so neither is a client string used raw.
std::string segment_name(std::string_view prefix, std::string_view pool_name);

}  // namespace tensoripc
