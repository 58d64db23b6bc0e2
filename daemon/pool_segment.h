// One pool's shared-memory segment as the daemon holds it: a mapping of the
// header page, the geometry, and the generation. The only place the daemon
// creates, adopts or unlinks segments.
//
// The daemon never touches frames, so it maps just the header page: enough
// to read latest_seq and to set or clear producer_pid. Movable, not copyable;
// not thread-safe (the Registry serialises access).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "common/pool_layout.h"
#include "common/shm.h"
#include "common/status.h"
#include "tensoripc/v1/broker.pb.h"

namespace tensoripc::daemon {

class PoolSegment {
 public:
  PoolSegment() = default;

  // Creates the segment `shm_name` for a validated, completed metadata: sized
  // and reserved up front (a full /dev/shm is RESOURCE_EXHAUSTED now, not a
  // SIGBUS later), header written with a fresh random generation. Nothing is
  // left behind on failure.
  static StatusOr<PoolSegment> create(const std::string& shm_name, const v1::PoolMetadata& md,
                                      mode_t mode);

  // Adopts a leftover segment after a daemon restart: its header must pass
  // check_header and record a pool whose segment name under `prefix` is
  // `shm_name`. Fills `md` with the recorded (completed) metadata and clears
  // the header's producer_pid. History, latest_seq and generation are kept.
  static StatusOr<PoolSegment> adopt(const std::string& shm_name, const std::string& prefix,
                                     v1::PoolMetadata* md);

  const std::string& shm_name() const { return shm_name_; }
  uint64_t generation() const { return generation_; }
  int64_t created_unix_ns() const { return created_unix_ns_; }
  const Layout& layout() const { return layout_; }
  explicit operator bool() const { return static_cast<bool>(header_map_); }

  // The wire form of the geometry, with shm_name and generation.
  void layout_proto(v1::PoolLayout* out) const;

  uint64_t latest_seq() const;
  void set_producer_pid(int32_t pid);

  // Removes the name from /dev/shm. Processes that mapped the segment keep
  // their mapping; so does this object until it is destroyed.
  void unlink();

 private:
  PoolHeader& header() const { return *header_of(header_map_.data()); }

  std::string shm_name_;
  Mapping header_map_;
  Layout layout_;
  uint64_t generation_ = 0;
  int64_t created_unix_ns_ = 0;
};

}  // namespace tensoripc::daemon
