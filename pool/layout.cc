#include "pool/layout.h"

#include <algorithm>
#include <cstring>

namespace tensoripc {
namespace {

// The numbers of the wire's MemoryKind, kept in the header so a segment
// reads the same whichever build wrote it.
constexpr uint32_t kHeaderHost = 1;
constexpr uint32_t kHeaderCuda = 2;

uint32_t header_kind(MemoryKind kind) {
  return kind == MemoryKind::kCuda ? kHeaderCuda : kHeaderHost;
}

uint64_t round_up(uint64_t v, uint64_t to) { return (v + to - 1) / to * to; }

void copy_field(char* dst, size_t cap, const std::string& src) {
  const size_t n = std::min(cap - 1, src.size());
  std::memcpy(dst, src.data(), n);
  dst[n] = '\0';
}

std::string read_field(const char* src, size_t cap) { return std::string(src, strnlen(src, cap)); }

}  // namespace

Layout compute_layout(const PoolMetadata& md) {
  Layout l;
  l.frame_size = frame_bytes(md);
  l.slot_count = md.history_len;
  l.memory_kind = device_of(md).kind;
  l.slot_stride = round_up(l.frame_size, l.frame_size >= kPageSize ? kPageSize : kSmallFrameAlign);
  l.slots_offset = kHeaderSize;
  l.data_offset = round_up(l.slots_offset + uint64_t{kSlotHeaderSize} * l.slot_count, kPageSize);
  l.data_size = l.slot_stride * l.slot_count;
  l.segment_size = l.memory_kind == MemoryKind::kHost ? l.data_offset + l.data_size : l.data_offset;
  return l;
}

bool same_geometry(const Layout& a, const Layout& b) {
  return a.frame_size == b.frame_size && a.slot_stride == b.slot_stride &&
         a.slot_count == b.slot_count && a.slots_offset == b.slots_offset &&
         a.data_offset == b.data_offset && a.segment_size == b.segment_size &&
         a.memory_kind == b.memory_kind;
}

void init_header(void* base, const Layout& l, const PoolMetadata& md, uint64_t generation,
                 int64_t created_unix_ns) {
  PoolHeader* h = header_of(base);
  h->layout_version = kLayoutVersion;
  h->header_size = kHeaderSize;
  h->generation = generation;
  h->identity_digest = identity_digest(md);
  h->frame_size = l.frame_size;
  h->slot_stride = l.slot_stride;
  h->slot_count = l.slot_count;
  h->memory_kind = header_kind(l.memory_kind);
  h->slots_offset = l.slots_offset;
  h->data_offset = l.data_offset;
  h->segment_size = l.segment_size;
  h->created_unix_ns = created_unix_ns;
  IdentityRecord& id = h->identity;
  copy_field(id.name, sizeof id.name, md.name);
  copy_field(id.dtype, sizeof id.dtype, std::string(md.dtype_str()));
  copy_field(id.device, sizeof id.device, md.device);
  copy_field(id.backend, sizeof id.backend, md.backend_type);
  id.ndim = static_cast<uint32_t>(md.shape.size());
  id.history_len = md.history_len;
  std::copy(md.shape.begin(), md.shape.end(), id.shape);
  h->latest_seq.store(0, std::memory_order_relaxed);
  h->futex_word.store(0, std::memory_order_relaxed);
  h->futex_waiters.store(0, std::memory_order_relaxed);
  h->producer_pid.store(0, std::memory_order_relaxed);
  h->magic.store(kPoolMagic, std::memory_order_release);
}

Status check_header(const void* base, size_t mapped_size) {
  if (mapped_size < kHeaderSize) return failed_precondition("segment is smaller than its header");
  const auto* h = static_cast<const PoolHeader*>(base);
  if (h->magic.load(std::memory_order_acquire) != kPoolMagic) {
    return failed_precondition("segment has no tensor-ipc pool header (bad magic)");
  }
  if (h->layout_version != kLayoutVersion) {
    return failed_precondition("segment layout version " + std::to_string(h->layout_version) +
                               ", this build knows " + std::to_string(kLayoutVersion));
  }
  const IdentityRecord& id = h->identity;
  if (id.ndim > kMaxDims || id.history_len == 0 || h->slot_count != id.history_len) {
    return failed_precondition("segment header is inconsistent (dims or slot count)");
  }
  if (!parse_dtype(read_field(id.dtype, sizeof id.dtype))) {
    return failed_precondition("segment header records an invalid pool: unknown dtype '" +
                               printable(read_field(id.dtype, sizeof id.dtype)) + "'");
  }
  PoolMetadata md = metadata_from_header(*h);
  if (Status s = complete_metadata(&md, PoolLimits::unlimited()); !s.ok()) {
    return failed_precondition("segment header records an invalid pool: " + s.message());
  }
  const Layout l = compute_layout(md);
  if (h->identity_digest != identity_digest(md) || h->frame_size != l.frame_size ||
      h->slot_stride != l.slot_stride || h->slots_offset != l.slots_offset ||
      h->data_offset != l.data_offset || h->segment_size != l.segment_size ||
      h->memory_kind != header_kind(l.memory_kind)) {
    return failed_precondition("segment header geometry does not match its identity");
  }
  if (mapped_size < l.segment_size) {
    return failed_precondition("segment is " + std::to_string(mapped_size) +
                               " bytes, its header says " + std::to_string(l.segment_size));
  }
  return {};
}

PoolMetadata metadata_from_header(const PoolHeader& h) {
  const IdentityRecord& id = h.identity;
  PoolMetadata md;
  md.name = read_field(id.name, sizeof id.name);
  md.dtype = parse_dtype(read_field(id.dtype, sizeof id.dtype)).value_or(DType::kUInt8);
  md.device = read_field(id.device, sizeof id.device);
  md.backend_type = read_field(id.backend, sizeof id.backend);
  md.history_len = id.history_len;
  md.shape.assign(id.shape, id.shape + std::min<uint32_t>(id.ndim, kMaxDims));
  complete_metadata(&md, PoolLimits::unlimited());  // sizes; check_header has judged it
  return md;
}

}  // namespace tensoripc
