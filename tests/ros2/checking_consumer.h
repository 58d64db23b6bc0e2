// A plain local Consumer of a bridged pool, as any program on the receiving
// host would be, that checks the test pattern (tests/client/frame_pattern.h)
// of every frame it is handed, and the account the bridge tests make of it:
// every frame delivered intact, or counted as skipped or dropped (the ring
// moved on before its turn: a loaded machine), none torn.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>

#include "tensoripc/consumer.h"
#include "tests/client/frame_pattern.h"
#include "tests/support/child_process.h"

namespace tensoripc::testing {

class CheckingConsumer {
 public:
  CheckingConsumer(const PoolMetadata& metadata, const std::string& socket_path,
                   uint32_t keep_last = 0)
      : consumer_(metadata, options(socket_path, keep_last)) {}

  bool connected(std::chrono::milliseconds within) {
    return eventually([&] { return consumer_.status().connected; }, within);
  }

  // The seq of the first intact frame; 0 before one came.
  uint64_t first_seq() const { return first_seq_; }

  // Waits (up to `within`) for frames 1..`frames` to be accounted for, then
  // expects every one intact or counted, at least one intact, none torn.
  // With `from_first`, the frames before the first that arrived are not
  // expected (a volatile DDS reader may miss what was in flight as it met the
  // writer).
  void expect_every_frame(int frames, std::chrono::milliseconds within, bool from_first = false) {
    auto expected = [&] {
      return from_first && first_seq_ > 0 ? frames - static_cast<int>(first_seq_ - 1) : frames;
    };
    EXPECT_TRUE(eventually([&] { return intact_ + other_ + counted() >= expected(); }, within))
        << describe();
    EXPECT_EQ(intact_ + counted(), expected()) << describe();
    EXPECT_GT(intact_.load(), 0) << describe();
    EXPECT_EQ(other_.load(), 0) << describe();
  }

 private:
  ConsumerOptions options(const std::string& socket_path, uint32_t keep_last) {
    ConsumerOptions o;
    o.socket_path = socket_path;
    if (keep_last != 0) o.keep_last = keep_last;
    o.on_new_data = [this](const Frame& frame) {
      uint64_t seq = 0;
      const auto check = check_test_frame(static_cast<const uint8_t*>(frame.tensor.data()),
                                          frame.tensor.nbytes(), &seq);
      (check == FrameCheck::kIntact ? intact_ : other_)++;
      if (check == FrameCheck::kIntact && first_seq_ == 0) first_seq_ = seq;
    };
    return o;
  }
  int counted() {
    const ConsumerStatus s = consumer_.status();
    return static_cast<int>(s.skipped + s.dropped);
  }
  std::string describe() {
    return std::to_string(intact_.load()) + " intact, " + std::to_string(other_.load()) +
           " not, " + std::to_string(counted()) + " skipped or dropped, the first intact seq " +
           std::to_string(first_seq_.load());
  }

  std::atomic<int> intact_{0}, other_{0};
  std::atomic<uint64_t> first_seq_{0};
  Consumer consumer_;  // last: its callback uses the counters
};

}  // namespace tensoripc::testing
