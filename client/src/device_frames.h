// A GPU pool's frames in this process. The slot headers, the seqlock and
// latest_seq stay in the pool's host memory (pool/mapping.h); the frames are
// one device allocation, and each slot has an interprocess event that its
// writer records after the copy and its readers wait on before theirs.
//
//   the producer's  allocate(): one allocation rounded up to 2 MiB (so no
//                   other allocation shares the exported block), frames at
//                   256-byte offsets, the events, all exported. The claim
//                   carries memory() to the daemon.
//   a consumer's    import(): the memory() the daemon brokered, opened once
//                   per process and shared by every consumer of that pool in
//                   it, cached by handle bytes and pool generation (never by
//                   pointer). A consumer in the producer's own process gets
//                   the producer's allocation (CUDA refuses to import a
//                   handle in the process that exported it).
//
// Freed (or closed) when the last holder lets go: a consumer lets go when
// the pool's producer leaves or the pool is remapped, before it reads again.
// Immutable after it is made; thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "device_api.h"
#include "pool/cuda_memory.h"
#include "pool/ring.h"
#include "tensoripc/metadata.h"

namespace tensoripc {

class DeviceFrames {
 public:
  // The producer's frames for the completed metadata `md` (on md's device).
  static StatusOr<std::shared_ptr<DeviceFrames>> allocate(device::Api& api, const PoolMetadata& md);
  // A consumer's view of `cuda`, the device memory of pool `md` at pool
  // generation `generation`, as the daemon brokered it. The device is found
  // by UUID among those this process sees (CUDA_VISIBLE_DEVICES may number
  // it differently): none with that UUID is FAILED_PRECONDITION naming both.
  static StatusOr<std::shared_ptr<DeviceFrames>> import(device::Api& api, const PoolMetadata& md,
                                                        const CudaMemory& cuda,
                                                        uint64_t generation);
  ~DeviceFrames();
  DeviceFrames(const DeviceFrames&) = delete;
  DeviceFrames& operator=(const DeviceFrames&) = delete;

  // The memory as the broker knows it (handles, sizes, device).
  const CudaMemory& memory() const { return memory_; }
  // The device in this process's numbering.
  int ordinal() const { return ordinal_; }
  bool owned() const { return owned_; }
  uint64_t frame_size() const { return frame_size_; }
  char* frame(uint64_t slot) const {
    return base_ + memory_.data_offset + slot * memory_.slot_stride;
  }
  device::Event event(uint64_t slot) const { return events_[slot]; }
  device::Api& api() const { return *api_; }
  const std::string& pool() const { return pool_; }

  // The producer's write of frame `slot`: `src` (host or device memory)
  // copied in on `stream`, then the slot's event recorded there. Queued,
  // not waited for: readers wait on the event.
  Status copy_in(uint64_t slot, const void* src, device::Stream stream) const;
  // The slot's event recorded on `stream` (a frame written there in place:
  // Producer::loan()).
  Status record(uint64_t slot, device::Stream stream) const;
  // Frame `slot` to `dst` (host or device memory), ordered after the slot's
  // event, complete when this returns; what a seqlock read needs before it
  // checks the slot again. Throws tensoripc::Error with CUDA's text.
  void copy_out(uint64_t slot, void* dst, device::Stream stream) const;
  // `bytes` of zeros at `dst` (host or device memory), complete on return.
  void zero(void* dst, uint64_t bytes, device::Stream stream) const;

 private:
  DeviceFrames() = default;

  device::Api* api_ = nullptr;
  std::string pool_;  // its name, for messages
  CudaMemory memory_;
  uint64_t frame_size_ = 0;
  int ordinal_ = 0;
  bool owned_ = false;  // allocated here (else imported)
  char* base_ = nullptr;
  std::vector<device::Event> events_;
  std::string cache_key_;  // where the process-wide cache knows it
};

// A pool's frames on a GPU, read through the ring's seqlock (pool/ring.h):
// each copy waits on the slot's event and is complete before the slot is
// checked again.
class DeviceFrameSource final : public FrameSource {
 public:
  DeviceFrameSource(const DeviceFrames& frames, device::Stream stream)
      : frames_(frames), stream_(stream) {}
  void copy_out(uint64_t slot, void* dst) const override { frames_.copy_out(slot, dst, stream_); }
  void zero(void* dst, uint64_t bytes) const override { frames_.zero(dst, bytes, stream_); }

 private:
  const DeviceFrames& frames_;
  device::Stream stream_;
};

// Throws the library's exception for a device error (InvalidArgumentError,
// ResourceExhaustedError, else Error) with its message.
[[noreturn]] void throw_device_status(const Status& status);

// Whether device::api() can serve a pool on `md`'s device; the error to give
// when not (no CUDA in this build, no driver, no such device).
Status check_device_pools(const PoolMetadata& md);

}  // namespace tensoripc
