#include "buffer_pool.h"

#include <cstdlib>
#include <new>

namespace tensoripc {
namespace {
constexpr size_t kAlignment = 64;
}

std::shared_ptr<BufferPool> BufferPool::create(size_t max_free) {
  return std::shared_ptr<BufferPool>(new BufferPool(max_free));
}

BufferPool::~BufferPool() {
  for (const Free& f : free_) std::free(f.p);
}

std::shared_ptr<void> BufferPool::acquire(size_t nbytes) {
  const size_t rounded =
      nbytes == 0 ? kAlignment : (nbytes + kAlignment - 1) / kAlignment * kAlignment;
  void* p = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = free_.begin(); it != free_.end(); ++it) {
      if (it->nbytes == rounded) {
        p = it->p;
        free_.erase(it);
        break;
      }
    }
  }
  if (!p) {
    p = std::aligned_alloc(kAlignment, rounded);
    if (!p) throw std::bad_alloc();
  }
  std::weak_ptr<BufferPool> owner = weak_from_this();
  return std::shared_ptr<void>(p, [owner, rounded](void* q) {
    if (auto pool = owner.lock()) {
      pool->give_back(q, rounded);
    } else {
      std::free(q);
    }
  });
}

void BufferPool::give_back(void* p, size_t nbytes) {
  void* evicted = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (max_free_ == 0) {
      evicted = p;
    } else {
      // The most recent sizes are the ones a reader is using now.
      if (free_.size() >= max_free_) {
        evicted = free_.front().p;
        free_.erase(free_.begin());
      }
      free_.push_back({p, nbytes});
    }
  }
  std::free(evicted);
}

}  // namespace tensoripc
