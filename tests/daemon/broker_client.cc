#include "tests/daemon/broker_client.h"

#include "common/clock.h"
#include "common/descriptor_channel.h"
#include "tests/support/broker_stub.h"
#include "pool/ring.h"
#include "proto/wire.h"

namespace tensoripc::testing {

v1::PoolMetadata pool_metadata(const std::string& name, std::vector<int64_t> shape,
                               const std::string& dtype, uint32_t history_len) {
  v1::PoolMetadata md;
  md.set_name(name);
  for (int64_t d : shape) md.add_shape(d);
  md.set_dtype_str(dtype);
  md.set_history_len(history_len);
  return md;
}

TestProducer::TestProducer(v1::Broker::Stub& stub)
    : socket_path_(socket_path_of(stub)), stream_(stub.ProducerSession(&ctx_)) {}

TestProducer::~TestProducer() {
  if (!finished_) {
    ctx_.TryCancel();
    stream_->Finish();
  }
}

grpc::Status TestProducer::claim(const v1::PoolMetadata& md, int32_t pid,
                                 const std::string& handback_token) {
  v1::ClaimPool c;
  *c.mutable_metadata() = md;
  c.set_pid(pid);
  c.set_handback_token(handback_token);
  return claim(c);
}

grpc::Status TestProducer::claim(const v1::ClaimPool& claim) {
  v1::ProducerMessage msg;
  *msg.mutable_claim() = claim;
  stream_->Write(msg);  // a failed write shows up as a failed read below
  v1::ProducerEvent ev;
  if (!stream_->Read(&ev)) return wait_end();
  granted_ = ev.granted();
  auto grant = wire::from_proto(granted_);
  if (grant.ok() && grant->layout.memory_kind == MemoryKind::kHost) {
    auto memory = fetch_descriptor(socket_path_, grant->descriptor_token, std::chrono::seconds(5));
    if (memory.ok()) {
      auto mapping = PoolMapping::open(std::move(*memory), grant->layout, grant->metadata,
                                       PoolMapping::Role::kProducer);
      if (mapping.ok()) mapping_ = std::move(*mapping);
    }
  }
  return grpc::Status::OK;
}

bool TestProducer::publish(uint64_t seq) {
  if (!mapping_) return false;
  write_frame(*mapping_, seq, nullptr);
  return true;
}

bool TestProducer::send(const v1::ProducerMessage& msg) { return stream_->Write(msg); }

grpc::Status TestProducer::close() {
  stream_->WritesDone();
  return wait_end();
}

grpc::Status TestProducer::wait_end() {
  if (finished_) return status_;
  v1::ProducerEvent ev;
  while (stream_->Read(&ev)) {
  }
  status_ = stream_->Finish();
  finished_ = true;
  return status_;
}

TestSubscriber::TestSubscriber(v1::Broker::Stub& stub, const std::string& name, uint32_t keep_last,
                               bool read_now, bool lifecycle_only) {
  v1::SubscribeRequest req;
  req.set_name(name);
  req.set_keep_last(keep_last);
  req.set_lifecycle_only(lifecycle_only);
  req.set_pid(::getpid());
  reader_ = stub.Subscribe(&ctx_, req);
  if (read_now) start_reading();
}

TestSubscriber::~TestSubscriber() {
  ctx_.TryCancel();
  if (!thread_.joinable()) start_reading();  // Finish must be called after reading to the end
  thread_.join();
}

void TestSubscriber::start_reading() {
  if (!thread_.joinable()) thread_ = std::thread([this] { read_loop(); });
}

void TestSubscriber::read_loop() {
  v1::SubscribeEvent ev;
  while (reader_->Read(&ev)) {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(ev);
    cv_.notify_all();
  }
  grpc::Status st = reader_->Finish();
  std::lock_guard<std::mutex> lock(mu_);
  end_ = st;
  cv_.notify_all();
}

std::optional<v1::SubscribeEvent> TestSubscriber::next(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, timeout, [this] { return !events_.empty() || end_.has_value(); });
  if (events_.empty()) return std::nullopt;
  v1::SubscribeEvent ev = std::move(events_.front());
  events_.pop_front();
  return ev;
}

std::optional<grpc::Status> TestSubscriber::wait_end(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, timeout, [this] { return end_.has_value(); });
  return end_;
}

std::string kind(const v1::SubscribeEvent& ev) {
  switch (ev.event_case()) {
    case v1::SubscribeEvent::kAttached:
      return "attached";
    case v1::SubscribeEvent::kWaiting:
      return "waiting";
    case v1::SubscribeEvent::kFrame:
      return "frame";
    case v1::SubscribeEvent::kProducerGone:
      return "gone";
    case v1::SubscribeEvent::kRemoved:
      return "removed";
    default:
      return "none";
  }
}

grpc::Status get_pool(v1::Broker::Stub& stub, const std::string& name, v1::PoolInfo* info) {
  grpc::ClientContext ctx;
  v1::GetPoolRequest req;
  req.set_name(name);
  return stub.GetPool(&ctx, req, info);
}

}  // namespace tensoripc::testing
