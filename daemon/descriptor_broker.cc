#include "daemon/descriptor_broker.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <random>

#include "common/descriptor_channel.h"
#include "common/unix_socket.h"

namespace tensoripc::daemon {
namespace {

// 128 bits from the kernel's generator, as 32 hex digits.
std::string random_token() {
  static thread_local std::random_device device;
  std::string token;
  token.reserve(kDescriptorTokenLength);
  for (int i = 0; i < 4; ++i) {
    char part[9];
    std::snprintf(part, sizeof part, "%08x", static_cast<unsigned>(device()));
    token += part;
  }
  return token;
}

}  // namespace

StatusOr<std::unique_ptr<DescriptorBroker>> DescriptorBroker::start(
    const std::string& grpc_socket_path, mode_t mode) {
  const std::string path = descriptor_socket_path(grpc_socket_path);
  auto listen_fd = listen_unix(path, SOCK_SEQPACKET, mode);
  if (!listen_fd.ok()) return listen_fd.status();
  std::unique_ptr<DescriptorBroker> broker(new DescriptorBroker(path));
  broker->acceptor_ = std::make_unique<Acceptor>("descriptor channel", *listen_fd, 0,
                                                 [b = broker.get()](int c) { b->on_accept(c); });
  return broker;
}

DescriptorBroker::~DescriptorBroker() { stop(); }

void DescriptorBroker::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  acceptor_->stop();
  std::unique_lock<std::mutex> lock(mu_);
  // Each connection ends within kIoTimeout at most.
  idle_.wait(lock, [&] { return serving_ == 0; });
  tickets_.clear();
  handed_over_ = 0;
  expiry_order_.clear();
  ::unlink(path_.c_str());
}

void DescriptorBroker::on_accept(int conn) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (serving_ >= kMaxConnections) {
      spdlog::warn("descriptor channel: {} connections being served; refusing one",
                   kMaxConnections);
      ::close(conn);
      return;
    }
    ++serving_;
  }
  std::thread([this, conn] { serve(conn); }).detach();
}

void DescriptorBroker::serve(int conn) {
  set_socket_timeouts(conn, kIoTimeout);
  auto peer = peer_credentials(conn);
  if (peer.ok()) {
    Caller caller;
    caller.pid = peer->pid;
    caller.uid = peer->uid;
    answer(conn, caller);
  }
  ::close(conn);
  std::lock_guard<std::mutex> lock(mu_);
  --serving_;
  idle_.notify_all();
}

void DescriptorBroker::answer(int conn, const Caller& peer) {
  auto packet = receive_packet(conn, kMaxDescriptorMessage);
  if (!packet.ok()) {
    spdlog::debug("descriptor channel: {}: {}", peer.to_string(), packet.status().message());
    return;
  }
  auto request = parse_descriptor_request(packet->text);
  if (!request.ok()) {
    (void)send_packet(conn, descriptor_error(request.status()));
    return;
  }
  auto refuse = [&](const Status& why) {
    spdlog::info("descriptor channel: refused {}: {}", peer.to_string(), why.message());
    (void)send_packet(conn, descriptor_error(why));
  };

  if (request->verb == DescriptorRequest::Verb::kGive) {
    if (packet->fd < 0) {
      refuse(invalid_argument("GIVE without a descriptor"));
      return;
    }
    Ticket t;
    t.pid = peer.pid;
    t.uid = peer.uid;
    t.handed_over = std::make_shared<ShmFile>(
        ShmFile::adopt_fd(packet->release_fd(), "memory handed back by " + peer.to_string()));
    std::string token;
    {
      std::lock_guard<std::mutex> lock(mu_);
      token = add_ticket(std::move(t));
    }
    if (token.empty()) {
      refuse(resource_exhausted("too many descriptors handed over and not claimed yet"));
      return;
    }
    (void)send_packet(conn, descriptor_ok(token));
    return;
  }

  Ticket t;
  Status refused;  // answered with mu_ released
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = tickets_.find(request->argument);
    if (it == tickets_.end() || it->second.handed_over ||
        it->second.expires < std::chrono::steady_clock::now()) {
      if (it != tickets_.end() && !it->second.handed_over) erase_ticket(it);
      refused = not_found("unknown, used or expired descriptor token");
    } else if (it->second.uid != peer.uid || it->second.pid != peer.pid) {
      // Not erased: the rightful holder may still come.
      refused = Status(StatusCode::kPermissionDenied,
                       "this descriptor token was issued to another process");
    } else {
      t = std::move(it->second);
      erase_ticket(it);
    }
  }
  if (!refused.ok()) {
    refuse(refused);
    return;
  }
  const std::shared_ptr<const PoolMapping> memory = t.memory.lock();
  if (!memory) {
    refuse(not_found("the pool of this descriptor token was removed"));
    return;
  }
  const ShmFile& file = memory->file();
  if (t.writable) {
    (void)send_packet(conn, descriptor_ok(kDescriptorKindMemfd), file.fd());
    return;
  }
  auto read_only = file.reopen_read_only();
  if (!read_only.ok()) {
    refuse(read_only.status());
    return;
  }
  (void)send_packet(conn, descriptor_ok(kDescriptorKindMemfd), read_only->fd());
}

void DescriptorBroker::erase_ticket(std::map<std::string, Ticket>::iterator it) {
  if (it == tickets_.end()) return;
  if (it->second.handed_over) --handed_over_;
  tickets_.erase(it);
}

std::string DescriptorBroker::add_ticket(Ticket ticket) {
  const auto now = std::chrono::steady_clock::now();
  while (!expiry_order_.empty() && expiry_order_.front().first < now) {
    erase_ticket(tickets_.find(expiry_order_.front().second));  // a no-op for a used token
    expiry_order_.pop_front();
  }
  if (tickets_.size() >= kMaxTickets) return "";
  if (ticket.handed_over && handed_over_ >= kMaxHandedOver) return "";
  ticket.expires = now + kTicketLifetime;
  std::string token = random_token();
  const bool handed_over = ticket.handed_over != nullptr;
  if (!tickets_.emplace(token, std::move(ticket)).second) return "";  // 2^-128
  if (handed_over) ++handed_over_;
  expiry_order_.emplace_back(now + kTicketLifetime, token);
  return token;
}

std::string DescriptorBroker::issue(const Caller& caller, std::shared_ptr<const PoolMapping> memory,
                                    bool writable) {
  Ticket t;
  t.pid = caller.pid;
  t.uid = caller.uid;
  t.memory = std::move(memory);
  t.writable = writable;
  std::lock_guard<std::mutex> lock(mu_);
  if (stopped_) return "";
  return add_ticket(std::move(t));
}

StatusOr<ShmFile> DescriptorBroker::take_handed_over(const Caller& caller,
                                                     const std::string& token) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = tickets_.find(token);
  if (it == tickets_.end() || !it->second.handed_over ||
      it->second.expires < std::chrono::steady_clock::now()) {
    return not_found("unknown, used or expired hand-back token");
  }
  if (it->second.uid != caller.uid || it->second.pid != caller.pid) {
    return Status(StatusCode::kPermissionDenied,
                  "the hand-back token was issued to another process");
  }
  ShmFile file = std::move(*it->second.handed_over);
  erase_ticket(it);
  return file;
}

}  // namespace tensoripc::daemon
