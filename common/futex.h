// Futex wait/wake on a 32-bit word that may live in shared memory
// (cross-process: no FUTEX_PRIVATE_FLAG), and the one handshake every sleeper
// and waker in the project uses on such a word.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "common/clock.h"

namespace tensoripc {

// Sleeps while *word == expected, for at most timeout_ns (< 0: no limit).
// Returns false on timeout; true when woken, interrupted or the value changed.
bool futex_wait(std::atomic<uint32_t>* word, uint32_t expected, int64_t timeout_ns);

// Wakes every waiter on word.
void futex_wake_all(std::atomic<uint32_t>* word);

// ---- waiting on several words at once (futex_waitv, Linux 5.16 and later)

// One word of a multi-word wait: sleep while *word == expected.
// Words are waited on as shared futexes (any mapping, any process).
struct FutexWaitItem {
  std::atomic<uint32_t>* word = nullptr;
  uint32_t expected = 0;
};

// The most words one futex_wait_any call takes (the kernel's FUTEX_WAITV_MAX).
inline constexpr size_t kFutexWaitAnyMax = 128;

// Whether this kernel (and the process's seccomp filter) has futex_waitv;
// probed once.
bool futex_wait_any_supported();

// Sleeps until one of `items` (1..kFutexWaitAnyMax) is woken, one of them no
// longer holds its expected value, or CLOCK_MONOTONIC passes `deadline_ns`.
// Returns the index of the woken word, -1 on timeout, -2 when a word had
// already changed (or a signal came): look again. Needs
// futex_wait_any_supported(); -3 (and no sleep) otherwise.
int futex_wait_any(const FutexWaitItem* items, size_t count, int64_t deadline_ns);

// The handshake. A waker changes what the sleepers wait for, then calls
// futex_signal: it bumps `word` and makes the system call only when
// `sleepers` says someone may be asleep. A sleeper (futex_sleep_until) counts
// itself into `sleepers`, checks its condition once more, and only then
// sleeps on the word value it saw before the check. Both sides use seq_cst,
// so either the waker sees the sleeper or the sleeper sees the new word: no
// wake-up is lost, and a waker with no sleepers pays no system call.

// Bumps `word` and wakes its sleepers if there are any.
inline void futex_signal(std::atomic<uint32_t>& word, const std::atomic<uint32_t>& sleepers) {
  word.fetch_add(1, std::memory_order_seq_cst);
  if (sleepers.load(std::memory_order_seq_cst) != 0) futex_wake_all(&word);
}

// Bumps `word` and wakes its sleepers whether or not any are counted: to stop
// a sleeper whose condition includes a flag set just before.
inline void futex_kick(std::atomic<uint32_t>& word) {
  word.fetch_add(1, std::memory_order_seq_cst);
  futex_wake_all(&word);
}

// Sleeps on `word` until `ready()` returns true or CLOCK_MONOTONIC passes
// `deadline_ns`. `ready` is called with no lock held, before every sleep and
// after every wake; it should read what the waker writes with seq_cst or
// acquire loads. `sleepers`, when given, counts this sleeper while it may be
// asleep; without it, the waker must know by other means that sleepers may
// exist (a pool's futex_waiters flag, which the daemon raises for as long as
// the pool has subscribers: consumers map the pool read-only).
template <typename Ready>
void futex_sleep_until(std::atomic<uint32_t>& word, std::atomic<uint32_t>* sleepers,
                       int64_t deadline_ns, Ready&& ready) {
  for (;;) {
    const uint32_t seen = word.load(std::memory_order_seq_cst);
    if (ready()) return;
    const int64_t left = deadline_ns - monotonic_ns();
    if (left <= 0) return;
    if (sleepers) sleepers->fetch_add(1, std::memory_order_seq_cst);
    if (!ready()) futex_wait(&word, seen, left);
    if (sleepers) sleepers->fetch_sub(1, std::memory_order_seq_cst);
  }
}

// now + timeout, saturated: a huge timeout means "no limit", not an overflow.
inline int64_t deadline_after(int64_t timeout_ns) {
  const int64_t now = monotonic_ns();
  return timeout_ns > INT64_MAX - now ? INT64_MAX : now + timeout_ns;
}

}  // namespace tensoripc
