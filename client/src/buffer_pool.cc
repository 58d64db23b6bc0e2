#include "buffer_pool.h"

#include <atomic>
#include <cstdlib>
#include <new>

namespace tensoripc {
namespace {

constexpr size_t kAlignment = 64;

size_t rounded(size_t nbytes) {
  return nbytes == 0 ? kAlignment : (nbytes + kAlignment - 1) / kAlignment * kAlignment;
}

}  // namespace

std::shared_ptr<void> allocate_buffer(size_t nbytes) {
  void* p = std::aligned_alloc(kAlignment, rounded(nbytes));
  if (!p) throw std::bad_alloc();
  return std::shared_ptr<void>(p, [](void* q) { std::free(q); });
}

std::shared_ptr<BufferPool> BufferPool::create(size_t capacity) {
  return std::shared_ptr<BufferPool>(new BufferPool(capacity));
}

std::shared_ptr<void> BufferPool::acquire(size_t nbytes) {
  const size_t size = rounded(nbytes);
  std::lock_guard<std::mutex> lock(mu_);
  for (Entry& e : entries_) {
    // use_count() is a relaxed load: the fence orders our coming writes to
    // the buffer after the last holder's reads (its release decrement).
    if (e.nbytes != size || e.buffer.use_count() != 1) continue;
    std::atomic_thread_fence(std::memory_order_acquire);
    return e.buffer;
  }
  std::shared_ptr<void> fresh = allocate_buffer(size);
  if (entries_.size() < capacity_) {
    entries_.push_back({fresh, size});
    return fresh;
  }
  // Full: replace a buffer nobody holds, if any (one of a size no longer
  // read: another history length, or a pool that changed).
  for (Entry& e : entries_) {
    if (e.buffer.use_count() == 1) {
      e = Entry{fresh, size};
      return fresh;
    }
  }
  return fresh;  // every kept buffer is in use: this one is not kept
}

}  // namespace tensoripc
