// Recycles frame-sized host buffers, so that a copying get() writes into
// memory that is already faulted in (a fresh 3.7 MB buffer costs ~900 page
// faults, milliseconds here, more than the copy itself) and allocates
// nothing per call once warm: not even a shared_ptr control block.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

namespace tensoripc {

// A 64-byte-aligned buffer of at least `nbytes` (contents unspecified) that
// no pool keeps: for a buffer its caller keeps and reuses (get_into).
std::shared_ptr<void> allocate_buffer(size_t nbytes);

// Keeps up to `capacity` buffers, each as a shared_ptr; acquire() hands out
// one that nobody else holds any more (use_count 1: the pool's own
// reference) and has the right size, else a new one. A caller that drops
// its reference gives the buffer back without calling the pool: no deleter,
// no lock, and buffers may outlive the pool (the last reference frees them).
// Thread-safe.
class BufferPool {
 public:
  static std::shared_ptr<BufferPool> create(size_t capacity = 4);

  // A 64-byte-aligned buffer of at least `nbytes`, contents unspecified.
  std::shared_ptr<void> acquire(size_t nbytes);

 private:
  explicit BufferPool(size_t capacity) : capacity_(capacity) {}

  struct Entry {
    std::shared_ptr<void> buffer;
    size_t nbytes;  // rounded up to the alignment
  };
  const size_t capacity_;
  std::mutex mu_;
  std::vector<Entry> entries_;  // guarded by mu_
};

}  // namespace tensoripc
