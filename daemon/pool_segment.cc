#include "daemon/pool_segment.h"

#include <random>

#include "common/clock.h"
#include "common/pool_identity.h"

namespace tensoripc::daemon {
namespace {

uint64_t random_generation() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  uint64_t g = 0;
  while (g == 0) g = rng();
  return g;
}

}  // namespace

StatusOr<PoolSegment> PoolSegment::create(const std::string& shm_name, const v1::PoolMetadata& md,
                                          mode_t mode) {
  PoolSegment seg;
  seg.shm_name_ = shm_name;
  seg.layout_ = compute_layout(md);
  seg.generation_ = random_generation();
  seg.created_unix_ns_ = realtime_ns();
  auto file = ShmFile::create(shm_name, seg.layout_.segment_size, mode);
  if (!file.ok()) {
    if (file.status().code() == StatusCode::kAlreadyExists) {
      return failed_precondition("segment " + shm_name +
                                 " already exists in /dev/shm but is not one of this daemon's "
                                 "pools; is another tensor-ipcd running with the same "
                                 "--shm-prefix?");
    }
    return file.status();
  }
  auto map = Mapping::map(*file, 0, kHeaderSize, Mapping::Access::kReadWrite, false);
  if (!map.ok()) {
    ShmFile::unlink(shm_name);
    return map.status();
  }
  init_header(map->data(), seg.layout_, md, seg.generation_, seg.created_unix_ns_);
  seg.header_map_ = std::move(*map);
  return seg;
}

StatusOr<PoolSegment> PoolSegment::adopt(const std::string& shm_name, const std::string& prefix,
                                         v1::PoolMetadata* md) {
  auto file = ShmFile::open(shm_name, true);
  if (!file.ok()) return file.status();
  auto size = file->size();
  if (!size.ok()) return size.status();
  if (*size < kHeaderSize) {
    return failed_precondition(std::to_string(*size) + " bytes, smaller than a pool header");
  }
  auto map = Mapping::map(*file, 0, kHeaderSize, Mapping::Access::kReadWrite, false);
  if (!map.ok()) return map.status();
  // check_header reads only the header page; the file size is what it checks
  // the recorded geometry against.
  if (Status s = check_header(map->data(), *size); !s.ok()) return s;
  const PoolHeader& h = *header_of(map->data());
  v1::PoolMetadata recorded = metadata_from_header(h);
  if (Status s = validate_and_complete(&recorded, PoolLimits{~0ULL}); !s.ok()) {
    return failed_precondition("header records an invalid pool: " + s.message());
  }
  if (segment_name(prefix, recorded.name()) != shm_name) {
    return failed_precondition("header records pool '" + recorded.name() +
                               "', whose segment would be " +
                               segment_name(prefix, recorded.name()));
  }
  PoolSegment seg;
  seg.shm_name_ = shm_name;
  seg.layout_ = compute_layout(recorded);
  seg.generation_ = h.generation;
  seg.created_unix_ns_ = h.created_unix_ns;
  seg.header_map_ = std::move(*map);
  seg.set_producer_pid(0);
  recorded.set_shm_name(shm_name);
  *md = std::move(recorded);
  return seg;
}

void PoolSegment::layout_proto(v1::PoolLayout* out) const {
  to_proto(layout_, out);
  out->set_shm_name(shm_name_);
  out->set_generation(generation_);
}

uint64_t PoolSegment::latest_seq() const {
  return header_map_ ? header().latest_seq.load(std::memory_order_acquire) : 0;
}

void PoolSegment::set_producer_pid(int32_t pid) {
  if (header_map_) header().producer_pid.store(pid, std::memory_order_release);
}

void PoolSegment::unlink() {
  if (!shm_name_.empty()) ShmFile::unlink(shm_name_);
}

}  // namespace tensoripc::daemon
