// Recycles frame-sized host buffers, so that a copying get() writes into
// memory that is already faulted in: a fresh 3.7 MB buffer costs ~900 page
// faults (milliseconds here), more than the copy itself.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

namespace tensoripc {

// Hands out buffers as shared_ptr whose deleter gives them back (up to
// `max_free` are kept; the rest are freed). Buffers may outlive the pool:
// they are then simply freed. Thread-safe.
class BufferPool : public std::enable_shared_from_this<BufferPool> {
 public:
  static std::shared_ptr<BufferPool> create(size_t max_free = 4);
  ~BufferPool();

  // A 64-byte-aligned buffer of at least `nbytes`, contents unspecified.
  std::shared_ptr<void> acquire(size_t nbytes);

 private:
  explicit BufferPool(size_t max_free) : max_free_(max_free) {}
  void give_back(void* p, size_t nbytes);

  struct Free {
    void* p;
    size_t nbytes;
  };
  const size_t max_free_;
  std::mutex mu_;
  std::vector<Free> free_;  // guarded by mu_
};

}  // namespace tensoripc
