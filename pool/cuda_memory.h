// A GPU pool's device memory as its producer exported it through CUDA IPC,
// and the checks the daemon makes of it. The slot headers, the seqlock and
// latest_seq of a GPU pool stay in the host memory (pool/layout.h); only the
// frames live on the GPU, in one allocation of the producer's, reached by
// every consumer through the handles below. The daemon checks the form of
// these fields, stores them and hands them to every subscriber; it never
// opens a handle, so it needs no GPU and no CUDA library.
//
// Value type; thread-compatible.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "tensoripc/metadata.h"

namespace tensoripc {

// Sizes CUDA fixes (cuda_runtime_api.h): cudaIpcMemHandle_t and
// cudaIpcEventHandle_t are 64 bytes, a device UUID 16.
inline constexpr size_t kCudaIpcHandleBytes = 64;
inline constexpr size_t kCudaUuidBytes = 16;
// One cudaMalloc per pool, rounded up to 2 MiB, so that no other allocation
// shares the block whose handle is exported.
inline constexpr uint64_t kCudaAllocationGranularity = 2ULL << 20;
// Frames start on 256-byte boundaries, as cudaMalloc's own allocations do.
inline constexpr uint64_t kCudaFrameAlign = 256;

struct CudaMemory {
  enum class Sharing {
    kNone,       // not a GPU pool
    kLegacyIpc,  // cudaIpcGetMemHandle: the producer owns the memory; it goes with it
    kVmmFd,      // cuMemExportToShareableHandle descriptor (not served yet)
  };
  Sharing sharing = Sharing::kNone;
  std::string memory_handle;  // kLegacyIpc: cudaIpcMemHandle_t, raw bytes
  uint64_t allocation_size = 0;  // the whole block, a multiple of 2 MiB
  uint64_t data_offset = 0;      // the first frame's offset in the block
  uint64_t slot_stride = 0;      // from one frame to the next
  std::vector<std::string> event_handles;  // cudaIpcEventHandle_t, one per slot
  int32_t device_ordinal = 0;
  std::string device_uuid;  // raw bytes

  bool present() const { return sharing != Sharing::kNone; }
};

// Checks `cuda` against the completed metadata of its pool: present exactly
// when the pool is on a GPU; legacy IPC only (kVmmFd is UNIMPLEMENTED); a
// 64-byte memory handle and one distinct 64-byte event handle per slot, none
// all zeros; the device ordinal of the metadata's cuda:N and a 16-byte UUID;
// frames 256-aligned, a stride of at least one frame, and an allocation that
// holds them all and is exactly that rounded up to 2 MiB. INVALID_ARGUMENT
// naming the pool and the field otherwise.
Status check_cuda_memory(const PoolMetadata& md, const CudaMemory& cuda);

// The fields as JSON, in the original package's payload_json spirit (handles
// and UUID in lowercase hex): {"cuda_ipc": {...}}.
std::string cuda_memory_json(const CudaMemory& cuda);

// Bytes as lowercase hex.
std::string to_hex(const std::string& bytes);

}  // namespace tensoripc
