#include "pool/cuda_memory.h"

#include <algorithm>
#include <set>

#include "pool/model.h"  // frame_bytes, device_of

namespace tensoripc {
namespace {

bool all_zero(const std::string& bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](char c) { return c == 0; });
}

// A handle's bytes: exactly `size` of them, not all zeros (what an unset
// handle looks like).
Status check_bytes(const std::string& pool, const std::string& field, const std::string& bytes,
                   size_t size) {
  if (bytes.size() != size) {
    return invalid_argument(pool + field + " is " + std::to_string(bytes.size()) +
                            " bytes; CUDA's is " + std::to_string(size));
  }
  if (all_zero(bytes)) return invalid_argument(pool + field + " is all zeros (never set)");
  return {};
}

}  // namespace

std::string to_hex(const std::string& bytes) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

Status check_cuda_memory(const PoolMetadata& md, const CudaMemory& cuda) {
  const std::string pool = "pool '" + md.name + "': ";
  const Device device = device_of(md);
  if (device.kind != MemoryKind::kCuda) {
    if (cuda.present()) {
      return invalid_argument(pool + "a host (" + md.device +
                              ") pool's claim carries no CUDA memory");
    }
    return {};
  }
  if (!cuda.present()) {
    return invalid_argument(pool + "the pool is on " + md.device +
                            ": its claim must carry the device memory's CUDA IPC handles "
                            "(ClaimPool.cuda)");
  }
  if (cuda.sharing == CudaMemory::Sharing::kVmmFd) {
    return Status(StatusCode::kUnimplemented,
                  pool + "CUDA memory shared as a VMM descriptor is not served by this daemon "
                         "yet; export it with cudaIpcGetMemHandle (sharing LEGACY_IPC)");
  }
  if (Status s = check_bytes(pool, "cuda.memory_handle", cuda.memory_handle, kCudaIpcHandleBytes);
      !s.ok()) {
    return s;
  }
  if (cuda.device_ordinal != device.ordinal) {
    return invalid_argument(pool + "cuda.device_ordinal is " + std::to_string(cuda.device_ordinal) +
                            ", the metadata says " + md.device);
  }
  if (Status s = check_bytes(pool, "cuda.device_uuid", cuda.device_uuid, kCudaUuidBytes);
      !s.ok()) {
    return s;
  }
  if (cuda.event_handles.size() != md.history_len) {
    return invalid_argument(pool + "cuda.event_handles holds " +
                            std::to_string(cuda.event_handles.size()) +
                            " handles; one per slot is " + std::to_string(md.history_len));
  }
  std::set<std::string> distinct;
  for (size_t i = 0; i < cuda.event_handles.size(); ++i) {
    const std::string field = "cuda.event_handles[" + std::to_string(i) + "]";
    if (Status s = check_bytes(pool, field, cuda.event_handles[i], kCudaIpcHandleBytes); !s.ok()) {
      return s;
    }
    if (!distinct.insert(cuda.event_handles[i]).second) {
      return invalid_argument(pool + field + " repeats an earlier slot's event");
    }
  }
  const uint64_t frame = frame_bytes(md);
  if (cuda.slot_stride < frame || cuda.slot_stride % kCudaFrameAlign != 0) {
    return invalid_argument(pool + "cuda.slot_stride " + std::to_string(cuda.slot_stride) +
                            " must hold a frame (" + std::to_string(frame) +
                            " bytes) and be a multiple of " + std::to_string(kCudaFrameAlign));
  }
  if (cuda.data_offset % kCudaFrameAlign != 0) {
    return invalid_argument(pool + "cuda.data_offset " + std::to_string(cuda.data_offset) +
                            " is not a multiple of " + std::to_string(kCudaFrameAlign));
  }
  // data_offset + slot_stride * history_len, without overflow.
  const uint64_t slots = md.history_len;
  if (cuda.slot_stride > (UINT64_MAX - cuda.data_offset) / slots) {
    return invalid_argument(pool + "cuda.data_offset + slot_stride * history_len overflows");
  }
  const uint64_t needed = cuda.data_offset + cuda.slot_stride * slots;
  const uint64_t rounded =
      needed > UINT64_MAX - (kCudaAllocationGranularity - 1)
          ? 0
          : (needed + kCudaAllocationGranularity - 1) / kCudaAllocationGranularity *
                kCudaAllocationGranularity;
  if (rounded == 0 || cuda.allocation_size != rounded) {
    return invalid_argument(pool + "cuda.allocation_size is " +
                            std::to_string(cuda.allocation_size) + "; the frames need " +
                            std::to_string(needed) + " bytes from the block's start, which is " +
                            std::to_string(rounded) + " rounded up to 2 MiB");
  }
  return {};
}

std::string cuda_memory_json(const CudaMemory& cuda) {
  std::string events;
  for (const auto& e : cuda.event_handles) {
    events += (events.empty() ? "\"" : ", \"") + to_hex(e) + "\"";
  }
  const char* sharing = cuda.sharing == CudaMemory::Sharing::kLegacyIpc ? "legacy_ipc"
                        : cuda.sharing == CudaMemory::Sharing::kVmmFd   ? "vmm_fd"
                                                                        : "none";
  return std::string("{\"cuda_ipc\": {\"sharing\": \"") + sharing +
         "\", \"device\": " + std::to_string(cuda.device_ordinal) + ", \"device_uuid\": \"" +
         to_hex(cuda.device_uuid) + "\", \"memory_handle\": \"" + to_hex(cuda.memory_handle) +
         "\", \"allocation_size\": " + std::to_string(cuda.allocation_size) +
         ", \"data_offset\": " + std::to_string(cuda.data_offset) +
         ", \"slot_stride\": " + std::to_string(cuda.slot_stride) + ", \"event_handles\": [" +
         events + "]}}";
}

}  // namespace tensoripc
