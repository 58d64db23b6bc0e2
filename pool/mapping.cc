#include "pool/mapping.h"

#include "common/clock.h"

namespace tensoripc {

Status PoolMapping::map_control(const ShmFile& file, bool prefault) {
  auto control = Mapping::map(file, 0, layout_.data_offset, Mapping::Access::kReadWrite, prefault);
  if (!control.ok()) return control.status();
  control_ = std::move(*control);
  header_ = header_of(control_.data());
  slots_ = slots_of(control_.data(), layout_);
  return {};
}

Status PoolMapping::map_frames(const ShmFile& file, Role role) {
  if (role == Role::kBroker || layout_.data_size == 0) return {};
  const auto access =
      role == Role::kProducer ? Mapping::Access::kReadWrite : Mapping::Access::kRead;
  auto data = Mapping::map(file, layout_.data_offset, layout_.data_size, access, true);
  if (!data.ok()) return data.status();
  data_map_ = std::move(*data);
  data_ = static_cast<char*>(data_map_.data());
  return {};
}

StatusOr<std::shared_ptr<PoolMapping>> PoolMapping::create(const PoolMetadata& md,
                                                           const std::string& shm_name,
                                                           uint64_t generation, mode_t mode) {
  std::shared_ptr<PoolMapping> m(new PoolMapping());
  m->layout_ = compute_layout(md);
  m->layout_.shm_name = shm_name;
  m->layout_.generation = generation;
  auto file = ShmFile::create(shm_name, m->layout_.segment_size, mode);
  if (!file.ok()) {
    if (file.status().code() == StatusCode::kAlreadyExists) {
      return failed_precondition("segment " + shm_name +
                                 " already exists in /dev/shm but is not one of this daemon's "
                                 "pools; is another tensor-ipcd running with the same "
                                 "--shm-prefix?");
    }
    return file.status();
  }
  if (Status s = m->map_control(*file, false); !s.ok()) {
    ShmFile::unlink(shm_name);
    return s;
  }
  init_header(m->control_.data(), m->layout_, md, generation, realtime_ns());
  return m;
}

StatusOr<std::shared_ptr<PoolMapping>> PoolMapping::adopt(const std::string& shm_name,
                                                          PoolMetadata* md) {
  auto file = ShmFile::open(shm_name, true);
  if (!file.ok()) return file.status();
  auto size = file->size();
  if (!size.ok()) return size.status();
  if (*size < kHeaderSize) {
    return failed_precondition(std::to_string(*size) + " bytes, smaller than a pool header");
  }
  // The header page alone first: nothing else is trusted before it is checked.
  auto header = Mapping::map(*file, 0, kHeaderSize, Mapping::Access::kRead, false);
  if (!header.ok()) return header.status();
  if (Status s = check_header(header->data(), *size); !s.ok()) return s;
  const PoolHeader& h = *header_of(header->data());
  std::shared_ptr<PoolMapping> m(new PoolMapping());
  PoolMetadata recorded = metadata_from_header(h);
  m->layout_ = compute_layout(recorded);
  m->layout_.shm_name = shm_name;
  m->layout_.generation = h.generation;
  if (Status s = m->map_control(*file, false); !s.ok()) return s;
  recorded.shm_name = shm_name;
  *md = std::move(recorded);
  return m;
}

StatusOr<std::shared_ptr<PoolMapping>> PoolMapping::open(const Layout& layout,
                                                         const PoolMetadata& md, Role role) {
  const std::string& name = layout.shm_name;
  const std::string pool = "pool '" + md.name + "' (" + name + "): ";
  if (role != Role::kBroker && layout.memory_kind != MemoryKind::kHost) {
    return failed_precondition(pool + "is a GPU pool; this build maps host pools only");
  }
  Layout expected = compute_layout(md);
  if (!same_geometry(expected, layout)) {
    return failed_precondition(pool + "the daemon's layout does not match the pool's metadata");
  }
  expected.shm_name = name;
  expected.generation = layout.generation;

  auto file = ShmFile::open(name, true);
  if (!file.ok()) return Status(file.status().code(), pool + file.status().message());
  auto size = file->size();
  if (!size.ok()) return size.status();
  if (*size < expected.segment_size) {
    return failed_precondition(pool + "segment is " + std::to_string(*size) + " bytes, expected " +
                               std::to_string(expected.segment_size));
  }

  std::shared_ptr<PoolMapping> m(new PoolMapping());
  m->layout_ = expected;
  // The control pages first, checked before the frames are mapped.
  if (Status s = m->map_control(*file, true); !s.ok()) {
    return Status(s.code(), pool + s.message());
  }
  // check_header reads the header page only; the size it is given is the file's.
  if (Status s = check_header(m->control_.data(), *size); !s.ok()) {
    return failed_precondition(pool + s.message());
  }
  if (m->header_->generation != layout.generation) {
    return failed_precondition(pool + "segment is generation " +
                               std::to_string(m->header_->generation) + ", the daemon said " +
                               std::to_string(layout.generation));
  }
  if (m->header_->identity_digest != identity_digest(md)) {
    return failed_precondition(pool + "segment holds another pool's identity");
  }
  if (Status s = m->map_frames(*file, role); !s.ok()) {
    return Status(s.code(), pool + s.message());
  }
  return m;
}

StatusOr<std::shared_ptr<PoolMapping>> PoolMapping::reuse_or_open(
    const std::shared_ptr<PoolMapping>& current, const Layout& layout, const PoolMetadata& md,
    Role role) {
  if (current && current->maps(layout)) return current;
  return open(layout, md, role);
}

void PoolMapping::unlink() const {
  if (!layout_.shm_name.empty()) ShmFile::unlink(layout_.shm_name);
}

}  // namespace tensoripc
