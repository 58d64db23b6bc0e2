#include "subscription.h"

#include "proto/wire.h"

namespace tensoripc {

Subscription::Subscription(std::shared_ptr<Connection> connection, SubscribeRequest request,
                           Handler* handler, std::chrono::milliseconds backoff_max)
    : connection_(connection),
      request_(std::move(request)),
      handler_(handler),
      loop_(std::move(connection), backoff_max) {
  loop_.start([this] { return run_once(); }, [this] { cancel(); });
}

Subscription::~Subscription() { stop(); }

void Subscription::stop() { loop_.stop(); }

void Subscription::cancel() {
  // Safe before the call starts too: gRPC then cancels it as it starts.
  std::lock_guard<std::mutex> lock(mu_);
  if (ctx_) ctx_->TryCancel();
}

SessionLoop::Outcome Subscription::run_once() {
  grpc::ClientContext* ctx;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (loop_.stopping()) return SessionLoop::Outcome::kStop;
    ctx_ = std::make_unique<grpc::ClientContext>();
    ctx = ctx_.get();
  }
  v1::SubscribeRequest req;
  req.set_name(request_.name);
  req.set_keep_last(request_.keep_last);
  req.set_pid(request_.pid);
  req.set_lifecycle_only(request_.lifecycle_only);
  auto reader = connection_->stub().Subscribe(ctx, req);
  v1::SubscribeEvent message;
  bool got_going = false;
  Status unreadable;
  while (reader->Read(&message)) {
    got_going = true;
    auto event = wire::from_proto(message);
    if (!event.ok()) {
      unreadable = event.status();
      ctx->TryCancel();
      continue;  // read to the end, as Finish requires
    }
    handler_->on_event(*event);
  }
  const Status status = unreadable.ok() ? wire::from_grpc(reader->Finish()) : unreadable;
  if (!unreadable.ok()) reader->Finish();
  reader.reset();
  {
    std::lock_guard<std::mutex> lock(mu_);
    ctx_.reset();
  }
  if (loop_.stopping()) return SessionLoop::Outcome::kStop;
  if (!handler_->on_stream_end(status)) return SessionLoop::Outcome::kStop;
  return got_going ? SessionLoop::Outcome::kEnded : SessionLoop::Outcome::kFailed;
}

}  // namespace tensoripc
