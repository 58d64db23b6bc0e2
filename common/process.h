// Processes and threads: liveness of another process, the priority of the
// library's background threads, and a portable pause for spin-waits.
#pragma once

#include <signal.h>

namespace tensoripc {

// Whether `pid` is a live process (not gone, not a zombie). A system call and
// a read of /proc: slow path only.
bool process_alive(int pid);

// Blocks SIGTERM and SIGINT in the calling thread, and so in every thread it
// starts afterwards (the library's, gRPC's): call before starting any. The
// set returned is for sigwait/sigtimedwait, so that one place takes them.
sigset_t block_stop_signals();

// Makes the calling thread yield to others (its nice value raised by `by`,
// +5 by default): for background threads whose work is not on the
// latency-critical path.
void lower_thread_priority(int by = 5);

// Tells the CPU that the caller is spinning (x86 PAUSE, Arm YIELD), so a
// sibling hyperthread or the writer being waited for gets the core.
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
  asm volatile("yield" ::: "memory");
#else
  asm volatile("" ::: "memory");
#endif
}

}  // namespace tensoripc
