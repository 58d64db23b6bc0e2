#include "pool/ring.h"

#include <time.h>

#include <cstring>

#include "common/clock.h"
#include "common/futex.h"
#include "common/process.h"

namespace tensoripc {
namespace {

// A reader restarts a history snapshot at most this often before it accepts
// overwritten frames as lost: a producer that laps a slow reader forever must
// not starve it.
constexpr int kMaxSnapshotRestarts = 64;

void sleep_ns(int64_t ns) {
  struct timespec ts {
    0, static_cast<long>(ns)
  };
  ::nanosleep(&ts, nullptr);
}

// How long a reader waits for a slot to leave its odd (mid-write) state
// before it calls the frame lost although its producer looks alive: the
// time a slow copy of one frame could take, with a generous margin.
int64_t odd_slot_budget_ns(const PoolMapping& m) {
  return 50'000'000 + static_cast<int64_t>(m.frame_size()) * 2;  // 50 ms + 2 ms/MB
}

// Waits while the slot's counter is still `odd`, until `deadline`
// (monotonic ns). Returns true when it moved (the write finished), false
// when the writer is dead or the deadline passed.
bool wait_slot_settled(const PoolMapping& m, const SlotHeader& slot, uint64_t odd,
                       int64_t deadline) {
  for (int i = 0; i < 128; ++i) {
    if (slot.lock.load(std::memory_order_acquire) != odd) return true;
    cpu_relax();
  }
  const int64_t start = monotonic_ns();
  const int64_t budget = deadline - start;
  int64_t next_liveness_check = 0;
  int64_t nap = 2'000;
  for (;;) {
    if (slot.lock.load(std::memory_order_acquire) != odd) return true;
    const int64_t elapsed = monotonic_ns() - start;
    if (elapsed >= next_liveness_check) {
      const int pid = m.header().producer_pid.load(std::memory_order_acquire);
      if (pid == 0 || !process_alive(pid)) {
        // One last look: the writer may have finished just before it left.
        return slot.lock.load(std::memory_order_acquire) != odd;
      }
      next_liveness_check = elapsed + 1'000'000;
    }
    if (elapsed >= budget) return false;
    sleep_ns(nap);
    if (nap < 200'000) nap *= 2;
  }
}

// One attempt at frame `seq`; on kOk dst (if not null) holds it and *ts its
// time. `busy` is set to the odd counter when a write is in progress on the
// slot (then the result is kOverwritten: the frame is going away).
ReadStatus try_read(const PoolMapping& m, uint64_t seq, void* dst, int64_t* ts, uint64_t* busy,
                    const FrameSource* source) {
  const SlotHeader& slot = m.slot(seq % m.slot_count());
  for (;;) {
    const uint64_t begin = slot_read_begin(slot);
    if (begin & 1) {
      *busy = begin;
      return ReadStatus::kOverwritten;
    }
    const uint64_t frame_seq = slot.frame_seq.load(std::memory_order_relaxed);
    if (frame_seq != seq) {
      if (!slot_read_valid(slot, begin)) continue;
      // Newer: lapped by the producer. Older: the frame never completed
      // (a writer died before finishing it); it will not appear later.
      return frame_seq > seq ? ReadStatus::kOverwritten : ReadStatus::kLost;
    }
    if (dst) {
      if (source) {
        source->copy_out(seq % m.slot_count(), dst);
      } else {
        std::memcpy(dst, m.frame(seq % m.slot_count()), m.frame_size());
      }
    }
    const int64_t t = slot.timestamp_ns.load(std::memory_order_relaxed);
    if (slot_read_valid(slot, begin)) {
      if (ts) *ts = t;
      return ReadStatus::kOk;
    }
  }
}

}  // namespace

FrameStamp write_frame(const PoolMapping& m, uint64_t seq, const void* src) {
  return write_frame_with(m, seq, [&](uint64_t slot) {
    if (src) std::memcpy(m.writable_frame(slot), src, m.frame_size());
    return true;
  });
}

ReadStatus read_frame(const PoolMapping& m, uint64_t seq, void* dst, int64_t* ts,
                      const FrameSource* source) {
  uint64_t busy = 0;
  const ReadStatus r = seq == 0 ? ReadStatus::kLost : try_read(m, seq, dst, ts, &busy, source);
  if (r == ReadStatus::kLost && dst) {
    if (source) {
      source->zero(dst, m.frame_size());
    } else {
      std::memset(dst, 0, m.frame_size());
    }
  }
  return r;
}

uint64_t read_history(const PoolMapping& m, size_t count, bool latest_first, void* dst,
                      uint64_t* seqs, int64_t* timestamps_ns, const FrameSource* source) {
  const PoolHeader& h = m.header();
  const uint64_t frame = m.frame_size();
  char* out = static_cast<char*>(dst);
  // One budget for the whole read, waits and restarts together, so a get()
  // returns within about odd_slot_budget_ns plus two passes of copies. It
  // starts at the first trouble (a restart or a slot mid-write): an
  // undisturbed read, the usual one, reads no clock (~20 ns each here).
  int64_t deadline = 0;
  auto get_deadline = [&] {
    if (deadline == 0) deadline = monotonic_ns() + odd_slot_budget_ns(m);
    return deadline;
  };
  for (int attempt = 0;; ++attempt) {
    const bool last_attempt =
        attempt > 0 && (attempt >= kMaxSnapshotRestarts || monotonic_ns() >= get_deadline());
    const uint64_t latest = h.latest_seq.load(std::memory_order_acquire);
    if (latest == 0) return 0;
    bool restart = false;
    for (size_t i = 0; i < count && !restart; ++i) {
      const size_t pos = latest_first ? i : count - 1 - i;
      char* frame_dst = out + pos * frame;
      uint64_t seq = latest >= i + 1 ? latest - i : 0;
      int64_t ts = 0;
      ReadStatus r = ReadStatus::kLost;
      if (seq != 0) {
        uint64_t busy = 0;
        r = try_read(m, seq, frame_dst, &ts, &busy, source);
        if (r == ReadStatus::kOverwritten && busy != 0 &&
            !wait_slot_settled(m, m.slot(seq % m.slot_count()), busy, get_deadline())) {
          r = ReadStatus::kLost;  // the writer died on this slot (or stalls)
        } else if (r == ReadStatus::kOverwritten && !last_attempt) {
          restart = true;
          continue;
        }
      }
      if (r != ReadStatus::kOk) {
        if (source) {
          source->zero(frame_dst, frame);
        } else {
          std::memset(frame_dst, 0, frame);
        }
        seq = 0;
        ts = 0;
      }
      if (seqs) seqs[pos] = seq;
      if (timestamps_ns) timestamps_ns[pos] = ts;
    }
    if (!restart) return latest;
  }
}

LatestFrame locate_latest(const PoolMapping& m) {
  const PoolHeader& h = m.header();
  const int64_t deadline = monotonic_ns() + odd_slot_budget_ns(m);
  for (int attempt = 0; attempt < kMaxSnapshotRestarts; ++attempt) {
    const uint64_t latest = h.latest_seq.load(std::memory_order_acquire);
    if (latest == 0) return LatestFrame{};
    const uint64_t slot_index = latest % m.slot_count();
    const SlotHeader& slot = m.slot(slot_index);
    const uint64_t begin = slot_read_begin(slot);
    if (begin & 1) {
      if (!wait_slot_settled(m, slot, begin, deadline)) return LatestFrame{};  // lost
      continue;
    }
    const uint64_t frame_seq = slot.frame_seq.load(std::memory_order_relaxed);
    const int64_t ts = slot.timestamp_ns.load(std::memory_order_relaxed);
    if (!slot_read_valid(slot, begin)) continue;
    if (frame_seq != latest) {
      if (frame_seq < latest) return LatestFrame{};  // never completed
      continue;                                      // lapped: look again
    }
    return LatestFrame{FrameStamp{latest, slot_index, ts}, begin};
  }
  return LatestFrame{};
}

uint64_t wait_for_seq_after(const PoolMapping& m, uint64_t after, std::chrono::nanoseconds timeout,
                            const std::atomic<bool>* stop) {
  PoolHeader& h = m.header();
  uint64_t latest = 0;
  // Not counted in h.futex_waiters: the daemon keeps that raised while this
  // consumer is subscribed (a consumer's mapping is read-only).
  futex_sleep_until(h.futex_word, nullptr, deadline_after(timeout.count()), [&] {
    latest = h.latest_seq.load(std::memory_order_seq_cst);
    return latest > after || (stop && stop->load(std::memory_order_seq_cst));
  });
  return latest;
}

void wake_waiters(const PoolMapping& m) {
  std::atomic<uint32_t>& word = m.header().futex_word;
  if (m.role() == PoolMapping::Role::kConsumer) {
    futex_wake_all(&word);  // read-only: cannot bump the word
  } else {
    futex_kick(word);
  }
}

}  // namespace tensoripc
