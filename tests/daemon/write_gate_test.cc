// The WriteGate: writes in flight bounded daemon-wide, turns round the pools,
// stalled writes set aside, a quiet pool's direct turn from the reserve, and
// lagging streams served last, at a bounded rate.
#include "daemon/write_gate.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/child_process.h"

namespace tensoripc::daemon {
namespace {

using std::chrono::milliseconds;

// Records the order turns come in; writes (and keeps the ticket) unless
// told to decline.
class Recorder {
 public:
  struct Waiter : WriteGate::Waiter {
    Waiter(Recorder& r, std::string name) : r(r), name(std::move(name)) {}
    bool granted(uint64_t ticket) override {
      std::lock_guard<std::mutex> lock(r.mu);
      r.order.push_back(name);
      r.tickets.push_back(ticket);
      r.times.push_back(std::chrono::steady_clock::now());
      return !decline;
    }
    Recorder& r;
    std::string name;
    bool decline = false;
  };

  std::shared_ptr<Waiter> make(const std::string& name) {
    auto w = std::make_shared<Waiter>(*this, name);
    waiters.push_back(w);
    return w;
  }
  size_t granted() {
    std::lock_guard<std::mutex> lock(mu);
    return order.size();
  }
  std::vector<std::string> granted_order() {
    std::lock_guard<std::mutex> lock(mu);
    return order;
  }
  uint64_t ticket(size_t i) {
    std::lock_guard<std::mutex> lock(mu);
    return tickets.at(i);
  }

  std::mutex mu;
  std::vector<std::string> order;
  std::vector<uint64_t> tickets;
  std::vector<std::chrono::steady_clock::time_point> times;
  std::vector<std::shared_ptr<Waiter>> waiters;
};

TEST(WriteGate, TurnsGoRoundThePoolsNotTheStreams) {
  WriteGate gate(2);
  Recorder r;
  // Two writes of pool "a" fill the bound.
  const uint64_t t1 = gate.acquire("a", r.make("a0"));
  const uint64_t t2 = gate.acquire("a", r.make("a1"));
  ASSERT_NE(t1, 0u);
  ASSERT_NE(t2, 0u);
  EXPECT_EQ(gate.in_flight(), 2u);
  // Pool "a" has many streams waiting, pool "b" one, pool "c" one. The
  // quiet pools' first writes take the reserve at once...
  for (int i = 2; i < 8; ++i) EXPECT_EQ(gate.acquire("a", r.make("a" + std::to_string(i))), 0u);
  const uint64_t b = gate.acquire("b", r.make("b0"));
  const uint64_t c = gate.acquire("c", r.make("c0"));
  EXPECT_NE(b, 0u) << "a pool none of whose streams waits takes a turn from the reserve";
  EXPECT_NE(c, 0u);
  // ... and their second ones wait their turn, which comes round before
  // pool a's many.
  EXPECT_EQ(gate.acquire("b", r.make("b1")), 0u);
  EXPECT_EQ(gate.acquire("c", r.make("c1")), 0u);
  EXPECT_EQ(gate.waiting(), 8u);
  EXPECT_EQ(gate.in_flight(), 4u);

  // Each release below the bound hands one turn on; the writes granted keep
  // theirs until released in turn.
  gate.release(b);
  gate.release(c);
  EXPECT_EQ(r.granted(), 0u);  // still at the bound
  gate.release(t1);
  gate.release(t2);
  ASSERT_TRUE(tensoripc::testing::eventually([&] { return r.granted() == 2; }, milliseconds(5000)));
  for (size_t i = 0; r.granted() < 8; ++i) {
    gate.release(r.ticket(i));
    const size_t want = std::min<size_t>(i + 3, 8);
    ASSERT_TRUE(tensoripc::testing::eventually([&] { return r.granted() >= want; }, milliseconds(5000)))
        << r.granted();
  }
  const std::vector<std::string> order = r.granted_order();
  // Round robin over a, b, c: b1 and c1 are served among the first three,
  // not after pool a's six.
  const std::vector<std::string> first(order.begin(), order.begin() + 3);
  EXPECT_NE(std::find(first.begin(), first.end(), "b1"), first.end())
      << ::testing::PrintToString(order);
  EXPECT_NE(std::find(first.begin(), first.end(), "c1"), first.end())
      << ::testing::PrintToString(order);
  // Within a pool, in the order they asked.
  std::vector<std::string> a;
  for (const auto& n : order) {
    if (n[0] == 'a') a.push_back(n);
  }
  EXPECT_EQ(a, (std::vector<std::string>{"a2", "a3", "a4", "a5", "a6", "a7"}));
  EXPECT_EQ(gate.waiting(), 0u);
}

TEST(WriteGate, StalledWritesStopHoldingTurns) {
  WriteGate gate(1);
  Recorder r;
  const uint64_t stuck = gate.acquire("a", r.make("a0"));  // never released: flow control holds it
  ASSERT_NE(stuck, 0u);
  EXPECT_EQ(gate.acquire("a", r.make("a1")), 0u);
  // No release ever comes; once the write is older than kStalled it is set
  // aside and the waiter gets its turn.
  ASSERT_TRUE(tensoripc::testing::eventually([&] { return r.granted() == 1; }, milliseconds(5000)));
  EXPECT_EQ(r.granted_order(), std::vector<std::string>{"a1"});
  EXPECT_EQ(gate.in_flight(), 1u);
  gate.release(stuck);  // late: counted no more, hands nothing on
  EXPECT_EQ(gate.in_flight(), 1u);
}

TEST(WriteGate, DeclinedAndVanishedWaitersPassTheTurnOn) {
  WriteGate gate(1);
  Recorder r;
  const uint64_t t = gate.acquire("a", r.make("a0"));
  auto declines = r.make("a1");
  declines->decline = true;
  EXPECT_EQ(gate.acquire("a", declines), 0u);
  {
    auto gone = std::make_shared<Recorder::Waiter>(r, "a2");
    EXPECT_EQ(gate.acquire("a", gone), 0u);
  }  // gone before its turn: skipped
  EXPECT_EQ(gate.acquire("a", r.make("a3")), 0u);
  gate.release(t);
  ASSERT_TRUE(tensoripc::testing::eventually([&] { return r.granted() == 2; }, milliseconds(5000)));
  EXPECT_EQ(r.granted_order(), (std::vector<std::string>{"a1", "a3"}));
  EXPECT_EQ(gate.in_flight(), 1u);  // a3's; a1 gave its turn back
  EXPECT_EQ(gate.waiting(), 0u);
}

// A lagging stream always waits; lagging turns go only when no stream that
// keeps up waits, round the pools, and never closer together than the rate
// allows.
TEST(WriteGate, LaggingStreamsGoLastAndAtTheirRate) {
  WriteGate gate(1, /*lagging_writes_per_second=*/20, /*lagging_burst=*/1);  // one per 50 ms
  Recorder r;
  const uint64_t t = gate.acquire("a", r.make("a0"));
  ASSERT_NE(t, 0u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(gate.acquire_lagging("flood", r.make("lag" + std::to_string(i))), 0u);
  }
  // A stream of another pool that lags for a moment: its turn comes round
  // after one of the flood's, not after all of them.
  EXPECT_EQ(gate.acquire_lagging("other", r.make("other0")), 0u);
  // A busy pool's stream (not quiet: "a" has a write in flight) waits too.
  EXPECT_EQ(gate.acquire("a", r.make("a1")), 0u) << "the bound is reached";
  EXPECT_EQ(gate.waiting(), 6u);
  gate.release(t);
  // Each grant keeps the only turn until released here.
  for (size_t i = 0; i < 6; ++i) {
    ASSERT_TRUE(tensoripc::testing::eventually([&] { return r.granted() == i + 1; },
                                               milliseconds(5000)));
    gate.release(r.ticket(i));
  }
  const std::vector<std::string> order = r.granted_order();
  EXPECT_EQ(order.front(), "a1") << "the stream that keeps up goes before every lagging one";
  EXPECT_EQ(std::vector<std::string>(order.begin() + 1, order.end()),
            (std::vector<std::string>{"lag0", "other0", "lag1", "lag2", "lag3"}));
  // The gate never hands lagging turns out faster than its rate (a slow
  // machine only spaces them more).
  std::lock_guard<std::mutex> lock(r.mu);
  for (size_t i = 2; i < r.times.size(); ++i) {
    EXPECT_GE(r.times[i] - r.times[i - 1], milliseconds(49)) << "lagging turns " << i - 1 << ", " << i;
  }
  EXPECT_EQ(gate.waiting(), 0u);
}

// A lagging turn that starts no write (the stream is gone, or has nothing
// left to write) hands itself straight on: the rate counts writes, so the
// budget is not used up by streams that no longer want it.
TEST(WriteGate, LaggingTurnsThatWriteNothingSpendNoBudget) {
  WriteGate gate(4, /*lagging_writes_per_second=*/1, /*lagging_burst=*/1);  // one a second
  Recorder r;
  {
    auto gone = std::make_shared<Recorder::Waiter>(r, "gone");
    EXPECT_EQ(gate.acquire_lagging("flood", gone), 0u);
  }  // the stream went before its turn came
  auto declines = r.make("declines");
  declines->decline = true;
  EXPECT_EQ(gate.acquire_lagging("flood", declines), 0u);
  EXPECT_EQ(gate.acquire_lagging("flood", r.make("writes")), 0u);
  EXPECT_EQ(gate.acquire_lagging("flood", r.make("next")), 0u);
  ASSERT_TRUE(tensoripc::testing::eventually([&] { return r.granted() == 3; },
                                             milliseconds(10000)));
  const std::vector<std::string> order = r.granted_order();
  EXPECT_EQ(order, (std::vector<std::string>{"declines", "writes", "next"}));
  std::lock_guard<std::mutex> lock(r.mu);
  // Had the gone and the declining stream spent the budget, a second would
  // lie between each of these turns.
  EXPECT_LT(r.times[1] - r.times[0], milliseconds(900))
      << "the turn after one that wrote nothing waited for the rate";
  EXPECT_GE(r.times[2] - r.times[1], milliseconds(999)) << "a write spends the budget";
}

// Lagging turns go in bursts (the gate's thread wakes once per burst, not
// once per turn), and the bursts keep to the rate: a burst of 4 at 20 a
// second, then the next burst no sooner than 4 turns' worth (200 ms) later.
TEST(WriteGate, LaggingTurnsGoInBurstsAtTheRate) {
  WriteGate gate(16, /*lagging_writes_per_second=*/20, /*lagging_burst=*/4);
  Recorder r;
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(gate.acquire_lagging("flood", r.make("lag" + std::to_string(i))), 0u);
  }
  ASSERT_TRUE(tensoripc::testing::eventually([&] { return r.granted() == 8; },
                                             milliseconds(10000)));
  std::lock_guard<std::mutex> lock(r.mu);
  for (size_t i = 0; i < 8; ++i) EXPECT_EQ(r.order[i], "lag" + std::to_string(i));
  EXPECT_GE(r.times[4] - r.times[0], milliseconds(199)) << "the second burst came early";
  EXPECT_GE(r.times[7] - r.times[0], milliseconds(199));
  for (size_t i = 0; i < 8; ++i) gate.release(r.tickets[i]);
}

}  // namespace
}  // namespace tensoripc::daemon
