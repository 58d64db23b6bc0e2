// Bare gRPC server-streaming hops, the yardsticks of the stream notification
// path: a callback-API server on a Unix socket (one write in flight per
// stream, as tensor-ipcd's Subscribe stream) and a synchronous reading client
// (as the library's subscription thread). As a relay in its own process, the
// server also re-broadcasts the ticks a publisher streams to it: two hops,
// the path producer -> tensor-ipcd -> consumer takes.
#pragma once

#include <grpcpp/grpcpp.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "tensoripc_bench/hop.grpc.pb.h"

namespace tensoripc::bench {

class HopWriter;

// Serves Hop.Stream on `socket_path`; broadcast() sends a tick to every open
// stream. Thread-safe. The destructor finishes the streams and shuts down.
class HopServer final : public Hop::CallbackService {
 public:
  explicit HopServer(const std::string& socket_path);
  ~HopServer() override;

  // Sends {seq, now} to every stream; returns how many streams got it.
  size_t broadcast(uint64_t seq, int64_t timestamp_ns);
  // Ends every stream (after what is queued) and waits for them to close.
  void finish_all();

 private:
  friend class HopWriter;
  grpc::ServerWriteReactor<Tick>* Stream(grpc::CallbackServerContext* context,
                                         const HopRequest* request) override;
  grpc::ServerReadReactor<Tick>* Publish(grpc::CallbackServerContext* context,
                                         HopRequest* response) override;
  void on_stream_done();

  std::unique_ptr<grpc::Server> server_;
  // Writers live until the server is gone, so broadcast() can use a copy of
  // the list without holding mu_ while gRPC runs (it may run reactions
  // inline, and a reaction must never wait for a lock its caller holds).
  std::mutex mu_;
  std::vector<std::unique_ptr<HopWriter>> writers_;  // guarded by mu_
  std::mutex open_mu_;
  std::condition_variable open_cv_;
  size_t open_ = 0;  // streams not yet done; guarded by open_mu_
};

// The client side, run in a child process: reads ticks until the server
// ends the stream and records now - timestamp for ticks past `warmup`.
// Prints "ready" on stdout once the stream is up. Returns an exit status.
int run_hop_client(const std::string& socket_path, uint64_t warmup, const std::string& out);

// The relay, run in a child process: serves on `socket_path`, prints "ready",
// and on SIGTERM finishes its streams and exits. Returns an exit status.
int run_hop_relay(const std::string& socket_path);

// The publisher's side of the relay: a client stream of ticks, each stamped
// with CLOCK_REALTIME as it is sent. Not thread-safe.
class HopPublisher {
 public:
  explicit HopPublisher(const std::string& socket_path);
  ~HopPublisher();
  void send(uint64_t seq);

 private:
  std::unique_ptr<Hop::Stub> stub_;
  grpc::ClientContext context_;
  HopRequest response_;
  std::unique_ptr<grpc::ClientWriter<Tick>> writer_;
};

}  // namespace tensoripc::bench
