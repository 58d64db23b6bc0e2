#include "subscription.h"

#include <algorithm>

namespace tensoripc {

Subscription::Subscription(std::shared_ptr<Connection> connection, v1::SubscribeRequest request,
                           Handler* handler, std::chrono::milliseconds backoff_max)
    : connection_(std::move(connection)),
      request_(std::move(request)),
      handler_(handler),
      backoff_max_(backoff_max) {
  thread_ = std::thread([this] { run(); });
}

Subscription::~Subscription() { stop(); }

void Subscription::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    // Safe before the call starts too: gRPC then cancels it as it starts.
    if (ctx_) ctx_->TryCancel();
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

void Subscription::run() {
  auto backoff = std::chrono::milliseconds(50);
  for (;;) {
    grpc::ClientContext* ctx;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      ctx_ = std::make_unique<grpc::ClientContext>();
      ctx = ctx_.get();
    }
    auto reader = connection_->stub().Subscribe(ctx, request_);
    v1::SubscribeEvent event;
    while (reader->Read(&event)) {
      backoff = std::chrono::milliseconds(50);
      handler_->on_event(event);
    }
    const grpc::Status status = reader->Finish();
    reader.reset();
    {
      std::lock_guard<std::mutex> lock(mu_);
      ctx_.reset();
      if (stopping_) return;
    }
    if (!handler_->on_stream_end(status)) return;
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (cv_.wait_for(lock, backoff, [&] { return stopping_; })) return;
    }
    backoff = std::min(backoff * 2, backoff_max_);
    connection_->wait_connected(std::chrono::milliseconds(200));
  }
}

}  // namespace tensoripc
