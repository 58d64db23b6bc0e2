// Test-side clients of the Broker service, on the generated sync stubs: what
// a producer and a subscriber do on the wire, without the client library, so
// the daemon's tests depend on nothing but the contract.
#pragma once

#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "pool/mapping.h"
#include "tensoripc/v1/broker.grpc.pb.h"

namespace tensoripc::testing {

v1::PoolMetadata pool_metadata(const std::string& name, std::vector<int64_t> shape = {16},
                               const std::string& dtype = "uint8", uint32_t history_len = 4);

// One ProducerSession. Not thread-safe.
class TestProducer {
 public:
  explicit TestProducer(v1::Broker::Stub& stub);
  ~TestProducer();

  // Sends ClaimPool and waits for the grant. On refusal returns the status
  // the stream ended with (OK means granted).
  // `handback_token`: memory handed over on the descriptor channel first.
  grpc::Status claim(const v1::PoolMetadata& md, int32_t pid = ::getpid(),
                     const std::string& handback_token = "");
  // Sends this ClaimPool as it is (a GPU pool's, say) and waits as above.
  grpc::Status claim(const v1::ClaimPool& claim);
  const v1::PoolGranted& granted() const { return granted_; }

  // The pool's memory, fetched on the descriptor channel with the grant's
  // token; null unless a host pool was granted.
  const std::shared_ptr<PoolMapping>& mapping() const { return mapping_; }

  // Does what a producer does for frame `seq`: the ring's write
  // (pool/ring.h: the slot's seqlock, header.latest_seq, the futex wake) in
  // the mapped pool. Nothing goes on the stream: the daemon reads frames from
  // the pool. False when no host pool is mapped.
  bool publish(uint64_t seq);
  // Sends any message, for the tests of bad input.
  bool send(const v1::ProducerMessage& msg);
  // Half-closes and returns how the stream ended.
  grpc::Status close();
  // Waits for the daemon to end the stream, and returns its status.
  grpc::Status wait_end();
  void cancel() { ctx_.TryCancel(); }

 private:
  const std::string socket_path_;  // for the descriptor channel
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::ProducerMessage, v1::ProducerEvent>> stream_;
  v1::PoolGranted granted_;
  std::shared_ptr<PoolMapping> mapping_;  // null unless a host pool was granted
  bool finished_ = false;
  grpc::Status status_;
};

// One Subscribe stream, read on a thread of its own into a queue (or not
// read at all until start_reading, to play a stuck subscriber).
class TestSubscriber {
 public:
  TestSubscriber(v1::Broker::Stub& stub, const std::string& name, uint32_t keep_last = 100,
                 bool read_now = true, bool lifecycle_only = false);
  ~TestSubscriber();

  void start_reading();
  // The next event, or nullopt if none came within `timeout` or the stream ended.
  std::optional<v1::SubscribeEvent> next(
      std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Waits for the stream to end; its status, or nullopt on timeout.
  std::optional<grpc::Status> wait_end(
      std::chrono::milliseconds timeout = std::chrono::seconds(10));
  void cancel() { ctx_.TryCancel(); }

 private:
  void read_loop();

  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReader<v1::SubscribeEvent>> reader_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<v1::SubscribeEvent> events_;
  std::optional<grpc::Status> end_;
};

// GetPool of `name` into *info.
grpc::Status get_pool(v1::Broker::Stub& stub, const std::string& name, v1::PoolInfo* info);

// A one-word description of an event, for asserting sequences:
// "waiting", "attached", "frame", "gone", "removed".
std::string kind(const v1::SubscribeEvent& ev);

}  // namespace tensoripc::testing
