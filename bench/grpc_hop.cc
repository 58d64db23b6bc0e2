#include "grpc_hop.h"

#include <signal.h>

#include <cstdio>
#include <deque>
#include <stdexcept>
#include <vector>

#include "support.h"

namespace tensoripc::bench {

// One Stream call: a hello, then the broadcast ticks, one write in flight
// and the rest queued. Owned by the HopServer. No lock is held while gRPC is
// called (reactions may run inline).
class HopWriter final : public grpc::ServerWriteReactor<Tick> {
 public:
  explicit HopWriter(HopServer* server) : server_(server) {
    Tick hello;
    hello.set_timestamp_ns(realtime_ns());
    send(hello);
  }

  void send(const Tick& tick) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (done_) return;
      if (in_flight_) {
        queue_.push_back(tick);
        return;
      }
      in_flight_ = true;
      msg_ = tick;
    }
    StartWrite(&msg_);
  }

  void finish() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      finishing_ = true;
      if (in_flight_ || done_) return;
      done_ = true;
    }
    Finish(grpc::Status::OK);
  }

 private:
  void OnWriteDone(bool ok) override {
    bool write = false, end = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!ok) {
        in_flight_ = false;
        end = !done_;
        done_ = true;
      } else if (!queue_.empty()) {
        msg_ = queue_.front();
        queue_.pop_front();
        write = true;
      } else {
        in_flight_ = false;
        end = finishing_ && !done_;
        if (end) done_ = true;
      }
    }
    if (write) StartWrite(&msg_);
    if (end) Finish(grpc::Status::OK);
  }

  void OnDone() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;  // a stream the client cancelled: no more writes
    }
    server_->on_stream_done();
  }

  HopServer* server_;
  std::mutex mu_;
  Tick msg_;  // owned by gRPC while in_flight_
  std::deque<Tick> queue_;
  bool in_flight_ = false;
  bool finishing_ = false;
  bool done_ = false;  // Finish called, or the stream is over
};

// One Publish call: every tick read is broadcast. Deletes itself when done.
class HopReader final : public grpc::ServerReadReactor<Tick> {
 public:
  explicit HopReader(HopServer* server) : server_(server) { StartRead(&tick_); }

 private:
  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status::OK);
      return;
    }
    server_->broadcast(tick_.seq(), tick_.timestamp_ns());
    StartRead(&tick_);
  }
  void OnDone() override { delete this; }

  HopServer* server_;
  Tick tick_;
};

HopServer::HopServer(const std::string& socket_path) {
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + socket_path, grpc::InsecureServerCredentials());
  builder.RegisterService(this);
  server_ = builder.BuildAndStart();
  if (!server_) throw std::runtime_error("cannot serve the gRPC hop on " + socket_path);
}

HopServer::~HopServer() {
  finish_all();
  server_->Shutdown();
  server_.reset();  // before the writers it may still refer to
}

grpc::ServerWriteReactor<Tick>* HopServer::Stream(grpc::CallbackServerContext*, const HopRequest*) {
  {
    std::lock_guard<std::mutex> lock(open_mu_);
    ++open_;
  }
  auto writer = std::make_unique<HopWriter>(this);
  HopWriter* w = writer.get();
  std::lock_guard<std::mutex> lock(mu_);
  writers_.push_back(std::move(writer));
  return w;
}

grpc::ServerReadReactor<Tick>* HopServer::Publish(grpc::CallbackServerContext*, HopRequest*) {
  return new HopReader(this);
}

void HopServer::on_stream_done() {
  std::lock_guard<std::mutex> lock(open_mu_);
  --open_;
  open_cv_.notify_all();
}

size_t HopServer::broadcast(uint64_t seq, int64_t timestamp_ns) {
  Tick t;
  t.set_seq(seq);
  t.set_timestamp_ns(timestamp_ns);
  std::vector<HopWriter*> writers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& w : writers_) writers.push_back(w.get());
  }
  for (HopWriter* w : writers) w->send(t);
  return writers.size();
}

void HopServer::finish_all() {
  std::vector<HopWriter*> writers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& w : writers_) writers.push_back(w.get());
  }
  for (HopWriter* w : writers) w->finish();
  std::unique_lock<std::mutex> lock(open_mu_);
  open_cv_.wait_for(lock, std::chrono::seconds(10), [&] { return open_ == 0; });
}

int run_hop_client(const std::string& socket_path, uint64_t warmup, const std::string& out) {
  auto channel = grpc::CreateChannel("unix:" + socket_path, grpc::InsecureChannelCredentials());
  auto stub = Hop::NewStub(channel);
  grpc::ClientContext context;
  auto reader = stub->Stream(&context, HopRequest());
  std::vector<int64_t> samples;
  samples.reserve(1 << 16);
  Tick tick;
  bool ready = false;
  while (reader->Read(&tick)) {
    const int64_t now = realtime_ns();
    if (!ready) {
      std::printf("ready\n");
      std::fflush(stdout);
      ready = true;
    }
    if (tick.seq() > warmup) samples.push_back(now - tick.timestamp_ns());
  }
  const grpc::Status status = reader->Finish();
  if (!status.ok()) {
    std::fprintf(stderr, "hop client: stream ended with %s\n", status.error_message().c_str());
  }
  return write_samples(out, samples) && ready ? 0 : 1;
}

int run_hop_relay(const std::string& socket_path) {
  // SIGTERM is taken by sigwait below only, never by a gRPC thread.
  const sigset_t stop = block_stop_signals();
  HopServer server(socket_path);
  std::printf("ready\n");
  std::fflush(stdout);
  wait_for_stop(stop);
  server.finish_all();
  return 0;
}

HopPublisher::HopPublisher(const std::string& socket_path)
    : stub_(Hop::NewStub(
          grpc::CreateChannel("unix:" + socket_path, grpc::InsecureChannelCredentials()))) {
  context_.set_wait_for_ready(true);
  writer_ = stub_->Publish(&context_, &response_);
}

HopPublisher::~HopPublisher() {
  writer_->WritesDone();
  writer_->Finish();
}

void HopPublisher::send(uint64_t seq) {
  Tick t;
  t.set_seq(seq);
  t.set_timestamp_ns(realtime_ns());
  writer_->Write(t);
}

}  // namespace tensoripc::bench
