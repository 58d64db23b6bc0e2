#include "pool_mapping.h"

#include "common/pool_identity.h"

namespace tensoripc {

Layout layout_from_proto(const v1::PoolLayout& p) {
  Layout l;
  l.frame_size = p.frame_size();
  l.slot_stride = p.slot_stride();
  l.slot_count = p.slot_count();
  l.slots_offset = p.slots_offset();
  l.data_offset = p.data_offset();
  l.data_size = p.slot_stride() * p.slot_count();
  l.segment_size = p.segment_size();
  l.memory_kind = p.memory_kind();
  return l;
}

StatusOr<std::shared_ptr<PoolMapping>> PoolMapping::open(const v1::PoolLayout& layout,
                                                         const v1::PoolMetadata& metadata,
                                                         Role role) {
  const std::string& name = layout.shm_name();
  const std::string pool = "pool '" + metadata.name() + "' (" + name + "): ";
  if (layout.memory_kind() != v1::MEMORY_KIND_HOST) {
    return failed_precondition(pool + "is a GPU pool; this build maps host pools only");
  }
  // What the metadata implies must be what the daemon said; a client never
  // trusts sizes it has not derived itself.
  const Layout expected = compute_layout(metadata);
  const Layout got = layout_from_proto(layout);
  if (expected.frame_size != got.frame_size || expected.slot_stride != got.slot_stride ||
      expected.slot_count != got.slot_count || expected.slots_offset != got.slots_offset ||
      expected.data_offset != got.data_offset || expected.segment_size != got.segment_size) {
    return failed_precondition(pool + "the daemon's layout does not match the pool's metadata");
  }

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
  m->generation_ = layout.generation();
  m->shm_name_ = name;
  auto control = Mapping::map(*file, 0, expected.data_offset, Mapping::Access::kReadWrite, true);
  if (!control.ok()) return Status(control.status().code(), pool + control.status().message());
  m->control_ = std::move(*control);
  // check_header reads the header page only; the size it is given is the file's.
  if (Status s = check_header(m->control_.data(), *size); !s.ok()) {
    return failed_precondition(pool + s.message());
  }
  m->header_ = header_of(m->control_.data());
  if (m->header_->generation != layout.generation()) {
    return failed_precondition(pool + "segment is generation " +
                               std::to_string(m->header_->generation) + ", the daemon said " +
                               std::to_string(layout.generation()));
  }
  if (m->header_->identity_digest != identity_digest(metadata)) {
    return failed_precondition(pool + "segment holds another pool's identity");
  }
  m->slots_ = slots_of(m->control_.data(), expected);

  const auto access =
      role == Role::kProducer ? Mapping::Access::kReadWrite : Mapping::Access::kRead;
  auto data = Mapping::map(*file, expected.data_offset, expected.data_size, access, true);
  if (!data.ok()) return Status(data.status().code(), pool + data.status().message());
  m->data_map_ = std::move(*data);
  m->data_ = static_cast<char*>(m->data_map_.data());
  return m;
}

}  // namespace tensoripc
