// Futex wait/wake on a 32-bit word in shared memory (cross-process: no
// FUTEX_PRIVATE_FLAG). The low-latency notification path.
#pragma once

#include <atomic>
#include <cstdint>

namespace tensoripc {

// Sleeps while *word == expected, for at most timeout_ns (< 0: no limit).
// Returns false on timeout; true when woken, interrupted or the value changed.
bool futex_wait(std::atomic<uint32_t>* word, uint32_t expected, int64_t timeout_ns);

// Wakes every waiter on word.
void futex_wake_all(std::atomic<uint32_t>* word);

}  // namespace tensoripc
