#include "session_loop.h"

#include <algorithm>

namespace tensoripc {
namespace {
constexpr std::chrono::milliseconds kFirstBackoff{50};
constexpr std::chrono::milliseconds kConnectWait{200};
}  // namespace

SessionLoop::SessionLoop(std::shared_ptr<Connection> connection,
                         std::chrono::milliseconds backoff_max)
    : connection_(std::move(connection)), backoff_max_(std::max(backoff_max, kFirstBackoff)) {}

SessionLoop::~SessionLoop() { stop(); }

void SessionLoop::start(std::function<Outcome()> attempt, std::function<void()> cancel) {
  attempt_ = std::move(attempt);
  cancel_ = std::move(cancel);
  thread_ = std::thread([this] { run(); });
}

void SessionLoop::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    cv_.notify_all();
  }
  if (cancel_) cancel_();
  if (thread_.joinable()) thread_.join();
}

bool SessionLoop::stopping() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stopping_;
}

bool SessionLoop::pause(std::chrono::milliseconds delay) {
  std::unique_lock<std::mutex> lock(mu_);
  return !cv_.wait_for(lock, delay, [this] { return stopping_; });
}

void SessionLoop::run() {
  auto backoff = kFirstBackoff;
  Outcome outcome = stopping() ? Outcome::kStop : attempt_();
  for (;;) {
    if (outcome == Outcome::kStop) return;
    if (outcome == Outcome::kEnded) backoff = kFirstBackoff;
    if (!pause(backoff)) return;
    backoff = std::min(backoff * 2, backoff_max_);
    if (!connection_->wait_connected(kConnectWait)) {
      outcome = Outcome::kFailed;
      continue;
    }
    if (stopping()) return;
    outcome = attempt_();
  }
}

}  // namespace tensoripc
