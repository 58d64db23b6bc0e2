// A pool's segment mapped into this process: the one place that creates,
// adopts, opens and checks segments, for the daemon and the clients alike.
// Mapped once per process and pre-faulted (clients), so the hot path never
// takes a page fault or a system call.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "common/shm.h"
#include "common/status.h"
#include "pool/layout.h"
#include "tensoripc/metadata.h"

namespace tensoripc {

// Who maps a segment decides what is mapped and how:
//   kBroker    the daemon: header and slot headers, read-write; no frames.
//   kProducer  header, slot headers and frames, read-write.
//   kConsumer  header and slot headers read-write (a consumer counts itself
//              as a futex waiter there); frames read-only, so a consumer bug
//              cannot scribble on them.
//
// Immutable after it is made; shared (by shared_ptr) between a client's
// threads and the zero-copy views it handed out, which keep it mapped.
// Thread-safe.
class PoolMapping {
 public:
  enum class Role { kBroker, kProducer, kConsumer };

  // The daemon: creates segment `shm_name` for a validated, completed `md`
  // with `mode` (not filtered by the umask), reserves its space up front (a
  // full /dev/shm is RESOURCE_EXHAUSTED now, not a SIGBUS later) and writes
  // its header with `generation`. Nothing is left behind on failure.
  static StatusOr<std::shared_ptr<PoolMapping>> create(const PoolMetadata& md,
                                                       const std::string& shm_name,
                                                       uint64_t generation, mode_t mode);

  // The daemon at start: a leftover segment, trusted only once its header
  // passes check_header. Fills `md` with the pool it records (shm_name set).
  static StatusOr<std::shared_ptr<PoolMapping>> adopt(const std::string& shm_name,
                                                      PoolMetadata* md);

  // Clients: the segment `layout` names, checked to be a valid pool of
  // exactly that generation and geometry and of `md`'s identity. A client
  // never trusts sizes it has not derived itself.
  static StatusOr<std::shared_ptr<PoolMapping>> open(const Layout& layout, const PoolMetadata& md,
                                                     Role role);

  // `current` when it already maps the segment `layout` names (same name and
  // generation: a resumed pool keeps its mapping), else open().
  static StatusOr<std::shared_ptr<PoolMapping>> reuse_or_open(
      const std::shared_ptr<PoolMapping>& current, const Layout& layout, const PoolMetadata& md,
      Role role);

  PoolHeader& header() const { return *header_; }
  SlotHeader& slot(uint64_t index) const { return slots_[index]; }
  // Frames: producer and consumer roles of host pools only.
  const char* frame(uint64_t index) const { return data_ + index * layout_.slot_stride; }
  char* writable_frame(uint64_t index) const { return data_ + index * layout_.slot_stride; }

  const Layout& layout() const { return layout_; }
  uint64_t frame_size() const { return layout_.frame_size; }
  uint32_t slot_count() const { return layout_.slot_count; }
  uint64_t generation() const { return layout_.generation; }
  const std::string& shm_name() const { return layout_.shm_name; }
  // Whether this maps the segment `layout` names.
  bool maps(const Layout& layout) const {
    return layout.generation == layout_.generation && layout.shm_name == layout_.shm_name;
  }

  // Removes the segment's name from /dev/shm. Whoever mapped it keeps the
  // mapping until they unmap.
  void unlink() const;

 private:
  PoolMapping() = default;
  // Maps the header and slot headers of an open segment, read-write.
  Status map_control(const ShmFile& file, bool prefault);
  // Maps the frames of a host pool (producer and consumer roles), pre-faulted.
  Status map_frames(const ShmFile& file, Role role);

  Layout layout_;
  Mapping control_;  // header + slot headers
  Mapping data_map_;
  PoolHeader* header_ = nullptr;
  SlotHeader* slots_ = nullptr;
  char* data_ = nullptr;
};

}  // namespace tensoripc
