// A pool's shared-memory segment, mapped into this process once and
// pre-faulted, so the hot path never takes a page fault or a system call.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/pool_layout.h"
#include "common/shm.h"
#include "common/status.h"
#include "tensoripc/v1/broker.pb.h"

namespace tensoripc {

// The header and slot-header pages are mapped read-write for everyone (a
// consumer registers itself as a futex waiter there); the data region is
// read-write for the producer and read-only for consumers, so a consumer
// bug cannot scribble on frames. Immutable after open(); shared (by
// shared_ptr) between a client's threads and the zero-copy views it handed
// out, which keep it mapped. Thread-safe.
class PoolMapping {
 public:
  enum class Role { kProducer, kConsumer };

  // Maps `layout.shm_name()` and checks that its header is a valid pool of
  // exactly this generation and geometry, and of `metadata`'s identity.
  static StatusOr<std::shared_ptr<PoolMapping>> open(const v1::PoolLayout& layout,
                                                     const v1::PoolMetadata& metadata, Role role);

  PoolHeader& header() const { return *header_; }
  SlotHeader& slot(uint64_t index) const { return slots_[index]; }
  const char* frame(uint64_t index) const { return data_ + index * layout_.slot_stride; }
  char* writable_frame(uint64_t index) const { return data_ + index * layout_.slot_stride; }

  const Layout& layout() const { return layout_; }
  uint64_t frame_size() const { return layout_.frame_size; }
  uint32_t slot_count() const { return layout_.slot_count; }
  uint64_t generation() const { return generation_; }
  const std::string& shm_name() const { return shm_name_; }

 private:
  PoolMapping() = default;

  Layout layout_;
  uint64_t generation_ = 0;
  std::string shm_name_;
  Mapping control_;  // header + slot headers
  Mapping data_map_;
  PoolHeader* header_ = nullptr;
  SlotHeader* slots_ = nullptr;
  char* data_ = nullptr;
};

// The geometry a PoolLayout message describes.
Layout layout_from_proto(const v1::PoolLayout& layout);

}  // namespace tensoripc
