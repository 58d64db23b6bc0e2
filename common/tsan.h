// Telling ThreadSanitizer about hand-offs it cannot see.
//
// Debian's gRPC is not built with TSan: when gRPC hands a reactor from the
// thread that made it to the threads that run its callbacks, and from one
// callback to the next, the ordering it provides (its own locks and atomics,
// in uninstrumented code) is invisible, and every member the constructor or
// an earlier callback set looks raced by the callback that reads it. A
// reactor marks the point from which gRPC may call it with
// tsan_handed_off(this), and each callback with a TsanReaction (OnDone, after
// which nothing follows, with tsan_taken_over(this)): the pairs are the
// happens-before gRPC provides. In every build but a TSan one all of it is
// empty inline code.
#pragma once

#if defined(__SANITIZE_THREAD__)
#define TIPC_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TIPC_TSAN 1
#endif
#endif

#ifdef TIPC_TSAN
extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);
#endif

namespace tensoripc {

// What this thread wrote so far is published under `object`'s address.
inline void tsan_handed_off([[maybe_unused]] const void* object) {
#ifdef TIPC_TSAN
  __tsan_release(const_cast<void*>(object));
#endif
}

// This thread sees what was published under `object`'s address.
inline void tsan_taken_over([[maybe_unused]] const void* object) {
#ifdef TIPC_TSAN
  __tsan_acquire(const_cast<void*>(object));
#endif
}

// For the length of one reactor callback: it sees what the construction and
// the callbacks before it did, and the callbacks after it see what it did.
class TsanReaction {
 public:
  explicit TsanReaction(const void* object) : object_(object) { tsan_taken_over(object_); }
  ~TsanReaction() { tsan_handed_off(object_); }
  TsanReaction(const TsanReaction&) = delete;
  TsanReaction& operator=(const TsanReaction&) = delete;

 private:
  const void* object_;
};

}  // namespace tensoripc
