#include "pool/mapping.h"

#include "common/clock.h"

namespace tensoripc {

Status PoolMapping::take_file(ShmFile file, const std::string& what) {
  if (!file.sealed_against_resize()) {
    return failed_precondition(what + "its memory is not sealed against resizing (anyone "
                                      "holding it could truncate it under the mapping)");
  }
  if (role_ != Role::kConsumer && !file.writable()) {
    return failed_precondition(what + "its memory was handed over read-only");
  }
  auto size = file.size();
  if (!size.ok()) return size.status();
  if (*size < layout_.segment_size) {
    return failed_precondition(what + "its memory is " + std::to_string(*size) +
                               " bytes, the pool needs " + std::to_string(layout_.segment_size));
  }
  auto id = file.identity();
  if (!id.ok()) return id.status();
  identity_ = *id;
  file_ = std::move(file);
  return {};
}

Status PoolMapping::map_control(bool prefault) {
  const auto access =
      role_ == Role::kConsumer ? Mapping::Access::kRead : Mapping::Access::kReadWrite;
  auto control = Mapping::map(file_, 0, layout_.data_offset, access, prefault);
  if (!control.ok()) return control.status();
  control_ = std::move(*control);
  header_ = header_of(control_.data());
  slots_ = slots_of(control_.data(), layout_);
  return {};
}

Status PoolMapping::map_frames() {
  // A GPU pool's frames are on the device (the client's DeviceFrames).
  if (role_ == Role::kBroker || layout_.memory_kind != MemoryKind::kHost ||
      layout_.data_size == 0) {
    return {};
  }
  const auto access =
      role_ == Role::kProducer ? Mapping::Access::kReadWrite : Mapping::Access::kRead;
  auto data = Mapping::map(file_, layout_.data_offset, layout_.data_size, access, true);
  if (!data.ok()) return data.status();
  data_map_ = std::move(*data);
  data_ = static_cast<char*>(data_map_.data());
  return {};
}

Status PoolMapping::check_recorded(const PoolMetadata& md, uint64_t generation) const {
  // check_header reads the header page only; the size it is given is the file's.
  auto size = file_.size();
  if (!size.ok()) return size.status();
  if (Status s = check_header(control_.data(), *size); !s.ok()) return s;
  if (header_->generation != generation) {
    return failed_precondition("its memory is generation " + std::to_string(header_->generation) +
                               ", not " + std::to_string(generation));
  }
  if (header_->identity_digest != identity_digest(md)) {
    return failed_precondition("its memory holds another pool's identity");
  }
  if (!same_geometry(compute_layout(metadata_from_header(*header_)), layout_)) {
    return failed_precondition("its memory records another geometry");
  }
  return {};
}

StatusOr<std::shared_ptr<PoolMapping>> PoolMapping::create(const PoolMetadata& md,
                                                           uint64_t generation) {
  std::shared_ptr<PoolMapping> m(new PoolMapping());
  m->role_ = Role::kBroker;
  m->layout_ = compute_layout(md);
  m->layout_.shm_name = md.shm_name;
  m->layout_.generation = generation;
  auto file = ShmFile::create_sealed(md.shm_name, m->layout_.segment_size);
  if (!file.ok()) return file.status();
  if (Status s = m->take_file(std::move(*file), ""); !s.ok()) return s;
  if (Status s = m->map_control(false); !s.ok()) return s;
  init_header(m->control_.data(), m->layout_, md, generation, realtime_ns());
  return m;
}

StatusOr<std::shared_ptr<PoolMapping>> PoolMapping::adopt(ShmFile file, const PoolMetadata& md) {
  std::shared_ptr<PoolMapping> m(new PoolMapping());
  m->role_ = Role::kBroker;
  m->layout_ = compute_layout(md);
  m->layout_.shm_name = md.shm_name;
  const std::string what = "the memory handed back for pool '" + md.name + "': ";
  // Sealed, and at least as large as `md` needs, before anything is mapped.
  if (Status s = m->take_file(std::move(file), what); !s.ok()) return s;
  if (Status s = m->map_control(false); !s.ok()) return s;
  m->layout_.generation = m->header_->generation;
  if (Status s = m->check_recorded(md, m->layout_.generation); !s.ok()) {
    return failed_precondition(what + s.message());
  }
  return m;
}

StatusOr<std::shared_ptr<PoolMapping>> PoolMapping::open(ShmFile file, const Layout& layout,
                                                         const PoolMetadata& md, Role role) {
  const std::string pool = "pool '" + md.name + "': ";
  Layout expected = compute_layout(md);
  if (!same_geometry(expected, layout)) {
    return failed_precondition(pool + "the daemon's layout does not match the pool's metadata");
  }
  expected.shm_name = layout.shm_name;
  expected.generation = layout.generation;

  std::shared_ptr<PoolMapping> m(new PoolMapping());
  m->role_ = role;
  m->layout_ = expected;
  if (Status s = m->take_file(std::move(file), pool); !s.ok()) return s;
  // The control pages first, checked before the frames are mapped.
  if (Status s = m->map_control(true); !s.ok()) return Status(s.code(), pool + s.message());
  if (Status s = m->check_recorded(md, layout.generation); !s.ok()) {
    return failed_precondition(pool + s.message());
  }
  if (Status s = m->map_frames(); !s.ok()) return Status(s.code(), pool + s.message());
  return m;
}

StatusOr<std::shared_ptr<PoolMapping>> PoolMapping::reuse_or_open(
    const std::shared_ptr<PoolMapping>& current, ShmFile file, const Layout& layout,
    const PoolMetadata& md, Role role) {
  if (current && current->generation() == layout.generation) {
    auto id = file.identity();
    if (id.ok() && *id == current->identity()) return current;
  }
  return open(std::move(file), layout, md, role);
}

}  // namespace tensoripc
