// Producer::loan(): a frame written in place in the pool's next slot, then
// committed (or abandoned), against the real tensor-ipcd.
#include <cstring>
#include <thread>

#include "client_fixture.h"
#include "frame_pattern.h"

namespace tensoripc::testing {
namespace {

PoolMetadata floats(const std::string& name, uint32_t history) {
  return PoolMetadata::create(name, {4}, DType::kFloat32, history);
}

void write_floats(Loan& loan, float first) {
  ASSERT_EQ(loan.nbytes(), 16u);
  float* p = static_cast<float*>(loan.data());
  for (int i = 0; i < 4; ++i) p[i] = first + static_cast<float>(i);
}

// What is written into a loan is what consumers read once it is committed,
// and not before.
TEST_F(ClientTest, ALoanIsPublishedByItsCommit) {
  Producer producer(floats("loan", 3), producer_options());
  Consumer consumer(floats("loan", 3), consumer_options());
  Loan loan = producer.loan();
  EXPECT_TRUE(loan.active());
  EXPECT_EQ(loan.seq(), 1u);
  EXPECT_EQ(loan.tensor().shape(), Shape({4}));
  EXPECT_EQ(loan.tensor().device(), Device::host());
  write_floats(loan, 10);
  EXPECT_FALSE(consumer.get().has_value()) << "nothing is published before the commit";
  EXPECT_EQ(producer.latest_seq(), 0u);
  const PutResult r = loan.commit();
  EXPECT_EQ(r.seq, 1u);
  EXPECT_EQ(r.frame_index, 1u);
  EXPECT_FALSE(loan.active());
  auto got = consumer.get();
  ASSERT_TRUE(got);
  EXPECT_EQ(std::vector<float>(got->data_as<float>(), got->data_as<float>() + 4),
            (std::vector<float>{10, 11, 12, 13}));
  // Loans and puts take turns in one sequence.
  std::vector<float> f = {1, 2, 3, 4};
  EXPECT_EQ(producer.put(TensorView(f.data(), DType::kFloat32, {4})).seq, 2u);
  Loan next = producer.loan();
  EXPECT_EQ(next.seq(), 3u);
  write_floats(next, 20);
  EXPECT_EQ(next.commit().seq, 3u);
  auto h = consumer.read(3);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->seqs, (std::vector<uint64_t>{3, 2, 1}));
  EXPECT_EQ(h->tensor.data_as<float>()[0], 20.f);
  EXPECT_EQ(h->tensor.data_as<float>()[4], 1.f);
  EXPECT_EQ(h->tensor.data_as<float>()[8], 10.f);
}

// A loan dropped without commit publishes nothing. The frame its slot held
// (the oldest) was retired when the loan began: it reads as lost, never as
// a frame half overwritten.
TEST_F(ClientTest, AnAbandonedLoanPublishesNothing) {
  Producer producer(floats("abandon", 3), producer_options());
  Consumer consumer(floats("abandon", 3), consumer_options());
  std::vector<float> f = {1, 2, 3, 4};
  for (int i = 0; i < 3; ++i) producer.put(TensorView(f.data(), DType::kFloat32, {4}));
  {
    Loan loan = producer.loan();
    EXPECT_EQ(loan.seq(), 4u);
    write_floats(loan, 99);
    auto h = consumer.read(3);
    ASSERT_TRUE(h);
    EXPECT_EQ(h->seqs, (std::vector<uint64_t>{3, 2, 0})) << "frame 1's slot is on loan";
    EXPECT_EQ(h->tensor.data_as<float>()[8], 0.f);
  }  // dropped
  EXPECT_EQ(producer.latest_seq(), 3u);
  EXPECT_EQ(consumer.read()->seqs[0], 3u);
  Loan again = producer.loan();
  EXPECT_EQ(again.seq(), 4u) << "the abandoned seq is used by the next frame";
  again.abandon();
  again.abandon();  // idempotent
  EXPECT_THROW(again.commit(), StateError);
  EXPECT_EQ(producer.put(TensorView(f.data(), DType::kFloat32, {4})).seq, 4u);
}

// One loan at a time; a loan that outlives its producer cannot publish.
TEST_F(ClientTest, OneLoanAtATimeAndNoneAfterCleanup) {
  Producer producer(floats("oneloan", 2), producer_options());
  std::vector<float> f = {1, 2, 3, 4};
  Loan loan = producer.loan();
  EXPECT_THROW(producer.loan(), StateError);
  EXPECT_THROW(producer.put(TensorView(f.data(), DType::kFloat32, {4})), StateError);
  Loan moved = std::move(loan);
  EXPECT_FALSE(loan.active());
  EXPECT_TRUE(moved.active());
  EXPECT_EQ(moved.commit().seq, 1u);
  EXPECT_THROW(moved.commit(), StateError) << "committed already";

  Loan last = producer.loan();
  producer.cleanup();
  EXPECT_THROW(last.commit(), StateError);
  EXPECT_THROW(producer.loan(), StateError);
}

// A producer process that writes every frame in place: consumer processes
// get them intact, on every read path.
TEST_F(ClientTest, LoanedFramesArriveIntactInOtherProcesses) {
  const int64_t bytes = 64 * 1024;
  auto stream = start_consumer("loanx", bytes, 4, "stream");
  auto getter = start_consumer("loanx", bytes, 4, "get", {"--get-history", "4"});
  auto producer =
      start_producer("loanx", bytes, 4, {"--frames", "200", "--interval-us", "1000", "--loan"});
  ASSERT_TRUE(producer->wait_for_line("DONE", seconds(60)));
  expect_clean_exit(*producer);
  std::this_thread::sleep_for(milliseconds(300));
  for (auto* c : {stream.get(), getter.get()}) {
    auto r = finish_consumer(*c);
    EXPECT_EQ(r["torn"], 0u);
    EXPECT_EQ(r["order_errors"], 0u);
    EXPECT_GT(r["intact"], 0u);
  }
}

}  // namespace
}  // namespace tensoripc::testing
