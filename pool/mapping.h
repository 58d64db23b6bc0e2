// A pool's segment mapped into this process: the one place that creates,
// adopts, opens and checks segments, for the daemon and the clients alike.
// Mapped once per process and pre-faulted (clients), so the hot path never
// takes a page fault or a system call.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/shm.h"
#include "common/status.h"
#include "pool/layout.h"
#include "tensoripc/metadata.h"

namespace tensoripc {

// Who maps a pool decides what is mapped and how:
//   kBroker    the daemon: header and slot headers, read-write; no frames.
//   kProducer  header, slot headers and frames, read-write.
//   kConsumer  everything read-only: the daemon hands consumers a read-only
//              descriptor, so not even mprotect can make their mapping
//              writable. Nothing a consumer could write is trusted by anyone.
//
// A pool's memory is a sealed memfd (common/shm.h): no name in /dev/shm, no
// truncation. The daemon creates it; clients get it over the descriptor
// channel (common/descriptor_channel.h). A mapping keeps its descriptor open:
// the daemon hands it out, a producer hands it back to a restarted daemon.
//
// Immutable after it is made; shared (by shared_ptr) between a client's
// threads and the zero-copy views it handed out, which keep it mapped.
// Thread-safe.
class PoolMapping {
 public:
  enum class Role { kBroker, kProducer, kConsumer };

  // The daemon: a new pool for a validated, completed `md`, its memory
  // labelled md.shm_name and reserved up front (not enough memory is
  // RESOURCE_EXHAUSTED now, not a SIGBUS later), its header written with
  // `generation`.
  static StatusOr<std::shared_ptr<PoolMapping>> create(const PoolMetadata& md,
                                                       uint64_t generation);

  // The daemon, after a restart: memory a producer handed back, trusted only
  // once it is a resize-sealed, writable file whose header passes
  // check_header and records exactly `md` (its identity and geometry). The
  // pool keeps the generation its header records.
  static StatusOr<std::shared_ptr<PoolMapping>> adopt(ShmFile file, const PoolMetadata& md);

  // Clients: the pool memory `file` (from the descriptor channel), checked to
  // be sealed against resizing and a valid pool of exactly `layout`'s
  // generation and geometry and of `md`'s identity. A client never trusts
  // sizes it has not derived itself.
  static StatusOr<std::shared_ptr<PoolMapping>> open(ShmFile file, const Layout& layout,
                                                     const PoolMetadata& md, Role role);

  // `current` when `file` is the very memory it maps (same file, same
  // generation: a resumed pool keeps its mapping, and its zero-copy views
  // stay valid), else open().
  static StatusOr<std::shared_ptr<PoolMapping>> reuse_or_open(
      const std::shared_ptr<PoolMapping>& current, ShmFile file, const Layout& layout,
      const PoolMetadata& md, Role role);

  PoolHeader& header() const { return *header_; }
  SlotHeader& slot(uint64_t index) const { return slots_[index]; }
  // Frames: producer and consumer roles of host pools only.
  const char* frame(uint64_t index) const { return data_ + index * layout_.slot_stride; }
  char* writable_frame(uint64_t index) const { return data_ + index * layout_.slot_stride; }

  const Layout& layout() const { return layout_; }
  uint64_t frame_size() const { return layout_.frame_size; }
  uint32_t slot_count() const { return layout_.slot_count; }
  uint64_t generation() const { return layout_.generation; }
  // The memory's descriptor (read-only for consumers) and which file it is.
  const ShmFile& file() const { return file_; }
  const FileIdentity& identity() const { return identity_; }
  Role role() const { return role_; }

 private:
  PoolMapping() = default;
  // Takes `file`, checks it is sealed against resizing and at least as large
  // as layout_ says, and records its identity.
  Status take_file(ShmFile file, const std::string& what);
  // Maps the header and slot headers (read-write unless a consumer).
  Status map_control(bool prefault);
  // Maps the frames of a host pool (producer and consumer roles), pre-faulted.
  Status map_frames();
  // The header of a mapped pool records `md` at `generation`.
  Status check_recorded(const PoolMetadata& md, uint64_t generation) const;

  Role role_ = Role::kBroker;
  Layout layout_;
  ShmFile file_;
  FileIdentity identity_;
  Mapping control_;  // header + slot headers
  Mapping data_map_;
  PoolHeader* header_ = nullptr;
  SlotHeader* slots_ = nullptr;
  char* data_ = nullptr;
};

}  // namespace tensoripc
