// What the registry's unit tests share: a recording subscriber (a real
// EventQueue the test drains) and lease holder, callers, claims as they come
// off the wire, a producer's put, and the fixture that gives each test a
// private memory label prefix. The test process plays the daemon, so the
// pool memory it holds open is what memfd_labels() lists.
#pragma once

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/shm.h"
#include "daemon/event_queue.h"
#include "daemon/registry.h"
#include "pool/model.h"
#include "pool/ring.h"
#include "proto/wire.h"
#include "tests/support/pool_memory.h"
#include "tests/support/process.h"

namespace tensoripc::daemon {

// What a Subscribe stream would do with the events, minus the socket: a real
// EventQueue that the test drains, taking the pool's announced frames from
// its feed as it pops. follow() and push_lifecycle() come from the
// registry's callers: a mutex, as the real outbox has.
class RecordingSink final : public EventSink {
 public:
  explicit RecordingSink(uint32_t keep_last = 64) : queue_(keep_last) {}
  void follow(std::shared_ptr<FrameFeed> feed, uint64_t after) override {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.follow(std::move(feed), after);
  }
  void push_lifecycle(std::shared_ptr<const PoolEvent> ev) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (ev->kind == PoolEvent::Kind::kAttached) {
      queue_.cap_frames(ev->layout.slot_count);  // as the Subscribe stream's outbox does
      attached_memory = ev->memory;
      attached_cuda = ev->cuda;
    }
    queue_.push_lifecycle(std::move(ev));
  }
  void close(const Status& s) override { closed = s; }
  SubscriberStats stats() const override {
    std::lock_guard<std::mutex> lock(mu_);
    SubscriberStats s;
    s.keep_last = queue_.keep_last();
    s.dropped = queue_.dropped();
    s.queued = queue_.queued_frames();
    return s;
  }

  // "attached(pid)", "waiting", "frame(seq)", "gone(pid,kept)", "removed".
  std::vector<std::string> take() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> out;
    StreamEvent ev;
    while (queue_.pop(&ev)) {
      if (ev.is_frame()) {
        out.push_back("frame(" + std::to_string(ev.frame.seq) + ")");
        continue;
      }
      const PoolEvent& life = *ev.lifecycle;
      switch (life.kind) {
        case PoolEvent::Kind::kAttached:
          out.push_back("attached(" + std::to_string(life.producer_pid) + ")");
          break;
        case PoolEvent::Kind::kWaiting:
          out.push_back("waiting");
          break;
        case PoolEvent::Kind::kProducerGone:
          out.push_back("gone(" + std::to_string(life.producer_pid) + "," +
                        (life.pool_kept ? "kept" : "not kept") + ")");
          break;
        case PoolEvent::Kind::kRemoved:
          out.push_back("removed");
          break;
      }
    }
    return out;
  }

  // The frame events' seqs, each with the drop total its event carries.
  std::vector<std::pair<uint64_t, uint64_t>> take_frames() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::pair<uint64_t, uint64_t>> out;
    StreamEvent ev;
    while (queue_.pop(&ev)) {
      if (ev.is_frame()) out.emplace_back(ev.frame.seq, ev.dropped);
    }
    return out;
  }

  std::optional<Status> closed;
  // The memory of the last attached event (not kept alive by this).
  std::weak_ptr<const PoolMapping> attached_memory;
  CudaMemory attached_cuda;  // ... and its GPU memory

 private:
  mutable std::mutex mu_;
  EventQueue queue_;
};

class RecordingHolder final : public LeaseHolder {
 public:
  void revoke(const Status& why) override { revoked = why; }
  std::optional<Status> revoked;
  // The producer's own mapping of the pool it was granted, opened from a
  // descriptor of the grant's memory as the descriptor channel would hand it
  // over (claim() below sets it).
  std::shared_ptr<PoolMapping> memory;
};

constexpr uint32_t kOwnerUid = 1000;
constexpr uint32_t kOtherUid = 1234;

// Who calls, as the socket's credentials would say.
inline Caller caller(int32_t pid, uint32_t uid = kOwnerUid, bool admin = false) {
  Caller c;
  c.pid = pid;
  c.uid = uid;
  c.admin = admin;
  return c;
}

inline v1::ClaimPool claim_of(const std::string& name, std::vector<int64_t> shape = {4, 3},
                       const std::string& dtype = "float32", uint32_t history = 4,
                       int32_t pid = 4242) {
  v1::ClaimPool c;
  c.set_pid(pid);
  v1::PoolMetadata* md = c.mutable_metadata();
  md->set_name(name);
  for (int64_t d : shape) md->add_shape(d);
  md->set_dtype_str(dtype);
  md->set_history_len(history);
  return c;
}

inline ShmFile dup_of(const ShmFile& file) { return ShmFile::adopt_fd(::dup(file.fd()), "x"); }

inline std::shared_ptr<PoolMapping> map_as_producer(const Grant& g) {
  auto m = PoolMapping::open(dup_of(g.memory->file()), g.layout, g.metadata,
                             PoolMapping::Role::kProducer);
  EXPECT_TRUE(m.ok()) << m.status().message();
  return m.ok() ? *m : nullptr;
}

// A claim as it comes off the wire: the daemon reads it (proto/wire.h), then
// the registry decides for `who`. What the reading refuses is refused as a
// claim. A granted holder maps the pool as its producer would.
inline StatusOr<Grant> claim(Registry& reg, const v1::ClaimPool& c,
                      const std::shared_ptr<RecordingHolder>& holder, const Caller& who,
                      ShmFile* handed_back = nullptr) {
  auto read = wire::from_proto(c);
  if (!read.ok()) return read.status();
  auto granted = reg.claim(*read, who, holder, handed_back);
  // A GPU pool's frames are on the device: its host memory is not mapped here.
  if (granted.ok() && granted->layout.memory_kind == MemoryKind::kHost) {
    holder->memory = map_as_producer(*granted);
  }
  return granted;
}

// The owner's producer, with the pid the claim names.
inline StatusOr<Grant> claim(Registry& reg, const v1::ClaimPool& c,
                      const std::shared_ptr<RecordingHolder>& holder) {
  return claim(reg, c, holder, caller(c.pid()));
}

// What a producer does per frame: write it into the pool (the ring's write
// wakes the frame watcher). The test then has the registry announce at once
// rather than wait for the watcher's thread, so event orders are exact.
inline void put(Registry& reg, RecordingHolder& holder, uint64_t seq) {
  ASSERT_NE(holder.memory, nullptr);
  write_frame(*holder.memory, seq, nullptr);
  reg.announce_all();
}

class DaemonRegistry : public ::testing::Test {
 protected:
  DaemonRegistry() {
    static std::atomic<int> n{0};
    options_.shm_prefix = "tipcu" + std::to_string(::getpid()) + "x" + std::to_string(n++) + ".";
    spdlog::set_level(spdlog::level::warn);
  }

  // The labels of the pool memory this process holds open (the registry's,
  // and whatever the test still keeps).
  std::vector<std::string> segments() const {
    return testing::memfd_labels(::getpid(), options_.shm_prefix);
  }
  std::string label(const std::string& pool) const {
    return memory_label(options_.shm_prefix, pool);
  }


  RegistryOptions options_;
};

}  // namespace tensoripc::daemon
