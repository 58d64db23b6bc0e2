// The descriptor channel: how pool memory travels between tensor-ipcd and its
// clients. gRPC cannot carry file descriptors, so beside its socket the
// daemon listens on a SOCK_SEQPACKET socket, "<socket>.fd", where a message
// can carry one (SCM_RIGHTS). gRPC stays the whole control plane: a grant or
// a PoolAttached event carries a single-use token, and the client trades it
// here for the descriptor. One request and one answer per connection:
//
//   client                              daemon
//   "TIPCFD1 GET <token>"          ->   "OK memfd" + descriptor
//   "TIPCFD1 GIVE <label>" + fd    ->   "OK <token>"   (a producer hands its
//                                        pool back to a restarted daemon)
//   any request                    ->   "ERR <code> <message>" on refusal
//
// <code> is a StatusCode number; tokens are 32 lowercase hex digits. "memfd"
// names what the descriptor is, so that other kinds (CUDA VMM handles) can
// travel the same way later. See docs/security.md for what the daemon checks.
#pragma once

#include <chrono>
#include <string>

#include "common/shm.h"
#include "common/status.h"

namespace tensoripc {

inline constexpr char kDescriptorSocketSuffix[] = ".fd";
inline constexpr size_t kMaxDescriptorMessage = 1024;
inline constexpr size_t kDescriptorTokenLength = 32;
inline constexpr char kDescriptorKindMemfd[] = "memfd";

// "<grpc socket>.fd".
std::string descriptor_socket_path(const std::string& grpc_socket_path);

struct DescriptorRequest {
  enum class Verb { kGet, kGive };
  Verb verb = Verb::kGet;
  std::string argument;  // the token (GET) or a label (GIVE)
};

// Parses a request; INVALID_ARGUMENT, saying what is wrong, otherwise.
StatusOr<DescriptorRequest> parse_descriptor_request(const std::string& text);
std::string format_descriptor_request(const DescriptorRequest& request);

// The answers.
std::string descriptor_ok(const std::string& what);
std::string descriptor_error(const Status& status);
// "OK <what>" -> what; "ERR ..." -> that Status; anything else: UNAVAILABLE.
StatusOr<std::string> parse_descriptor_answer(const std::string& text);

bool is_descriptor_token(const std::string& text);

// Client side: trades `token` for the memory it stands for.
StatusOr<ShmFile> fetch_descriptor(const std::string& grpc_socket_path, const std::string& token,
                                   std::chrono::milliseconds timeout);
// Client side: hands `file` to the daemon; returns the token to claim it with.
StatusOr<std::string> hand_over_descriptor(const std::string& grpc_socket_path,
                                           const ShmFile& file, const std::string& label,
                                           std::chrono::milliseconds timeout);

}  // namespace tensoripc
