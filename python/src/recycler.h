// Frame-sized host buffers for the copies handed to Python callbacks, reused
// once Python has let go of them: a fresh 3.7 MB buffer costs ~900 page
// faults (milliseconds here), more than the copy. A buffer is free again when
// only the recycler holds it (every array made from it is gone).
// Thread-safe.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <new>
#include <vector>

namespace tensoripc::python {

class BufferRecycler {
 public:
  explicit BufferRecycler(size_t capacity = 4) : capacity_(capacity) {}

  // A 64-byte-aligned buffer of at least `nbytes`; contents unspecified.
  std::shared_ptr<void> acquire(size_t nbytes) {
    const size_t size = (nbytes + kAlign - 1) / kAlign * kAlign + (nbytes == 0 ? kAlign : 0);
    std::lock_guard<std::mutex> lock(mu_);
    for (Entry& e : entries_) {
      if (e.size == size && e.buffer.use_count() == 1) {
        // Orders our writes after the last holder's reads (its decrement).
        std::atomic_thread_fence(std::memory_order_acquire);
        return e.buffer;
      }
    }
    void* p = std::aligned_alloc(kAlign, size);
    if (p == nullptr) throw std::bad_alloc();
    std::shared_ptr<void> fresh(p, [](void* q) { std::free(q); });
    if (entries_.size() < capacity_) {
      entries_.push_back({fresh, size});
    } else {
      for (Entry& e : entries_) {
        if (e.buffer.use_count() == 1) {
          e = Entry{fresh, size};
          break;
        }
      }
    }
    return fresh;
  }

 private:
  static constexpr size_t kAlign = 64;
  struct Entry {
    std::shared_ptr<void> buffer;
    size_t size;
  };
  const size_t capacity_;
  std::mutex mu_;
  std::vector<Entry> entries_;  // guarded by mu_
};

}  // namespace tensoripc::python
