// Fuzz target: check_header (pool/layout.h), what every process runs on pool
// memory before trusting it: a memory another process wrote, which may lie.
// The input is the header page (the rest zero) and the size the mapping
// claims; with the first byte odd, the magic and layout version are made
// valid so that the checks behind them are reached.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>

#include "fuzz_support.h"
#include "pool/layout.h"
#include "pool/model.h"

namespace {

using namespace tensoripc;

using fuzz::check;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 9) return 0;
  const bool force_valid_prefix = (data[0] & 1) != 0;
  uint64_t mapped_size;
  std::memcpy(&mapped_size, data + 1, sizeof mapped_size);
  data += 9;
  size -= 9;
  // The header page, aligned as a mapping is (its atomics need it).
  alignas(4096) static unsigned char page[kHeaderSize];
  std::memset(page, 0, sizeof page);
  std::memcpy(page, data, size < sizeof page ? size : sizeof page);
  auto* h = reinterpret_cast<PoolHeader*>(page);
  if (force_valid_prefix) {
    h->magic.store(kPoolMagic, std::memory_order_relaxed);
    h->layout_version = kLayoutVersion;
  }
  // Only the page is there: a claimed size past it is checked, never read.
  const Status s = check_header(page, mapped_size);
  if (!s.ok()) return 0;
  const PoolMetadata md = metadata_from_header(*h);
  const Layout l = compute_layout(md);
  check(l.segment_size <= mapped_size);
  check(l.slot_count == md.history_len && l.slot_count >= 1);
  check(l.frame_size == frame_bytes(md));
  check(l.slot_stride >= l.frame_size);
  check(l.slots_offset <= l.data_offset || l.memory_kind == MemoryKind::kCuda);
  check(validate_pool_name(md.name).ok());
  return 0;
}
