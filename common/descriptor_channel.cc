#include "common/descriptor_channel.h"

#include <unistd.h>

#include <cstdlib>

#include "common/unix_socket.h"

namespace tensoripc {
namespace {

constexpr char kMagic[] = "TIPCFD1 ";

class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() { ::close(fd_); }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// One request, one answer.
StatusOr<Packet> exchange(const std::string& grpc_socket_path, const DescriptorRequest& request,
                          int fd, std::chrono::milliseconds timeout) {
  const std::string path = descriptor_socket_path(grpc_socket_path);
  auto sock = connect_seqpacket(path, timeout);
  if (!sock.ok()) {
    return Status(sock.status().code(),
                  "descriptor channel: " + sock.status().message() +
                      " (is tensor-ipcd older than this client, or not running?)");
  }
  Socket s(*sock);
  if (Status st = send_packet(s.get(), format_descriptor_request(request), fd); !st.ok()) {
    return Status(st.code(), "descriptor channel " + path + ": " + st.message());
  }
  auto answer = receive_packet(s.get(), kMaxDescriptorMessage);
  if (!answer.ok()) {
    return Status(answer.status().code(),
                  "descriptor channel " + path + ": " + answer.status().message());
  }
  return answer;
}

}  // namespace

std::string descriptor_socket_path(const std::string& grpc_socket_path) {
  return grpc_socket_path + kDescriptorSocketSuffix;
}

bool is_descriptor_token(const std::string& text) {
  if (text.size() != kDescriptorTokenLength) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

StatusOr<DescriptorRequest> parse_descriptor_request(const std::string& text) {
  const std::string magic = kMagic;
  if (text.compare(0, magic.size(), magic) != 0) {
    return invalid_argument("not a descriptor request (expected \"TIPCFD1 GET <token>\")");
  }
  const std::string rest = text.substr(magic.size());
  DescriptorRequest r;
  if (rest.rfind("GET ", 0) == 0) {
    r.verb = DescriptorRequest::Verb::kGet;
    r.argument = rest.substr(4);
    if (!is_descriptor_token(r.argument)) return invalid_argument("malformed token");
  } else if (rest.rfind("GIVE ", 0) == 0) {
    r.verb = DescriptorRequest::Verb::kGive;
    r.argument = rest.substr(5);
    if (r.argument.empty() || r.argument.size() > 200) return invalid_argument("malformed label");
    for (char c : r.argument) {
      if (c < 0x21 || c > 0x7e) return invalid_argument("malformed label");
    }
  } else {
    return invalid_argument("unknown verb (expected GET or GIVE)");
  }
  return r;
}

std::string format_descriptor_request(const DescriptorRequest& request) {
  return std::string(kMagic) + (request.verb == DescriptorRequest::Verb::kGet ? "GET " : "GIVE ") +
         request.argument;
}

std::string descriptor_ok(const std::string& what) { return "OK " + what; }

std::string descriptor_error(const Status& status) {
  return "ERR " + std::to_string(static_cast<int>(status.code())) + " " + status.message();
}

StatusOr<std::string> parse_descriptor_answer(const std::string& text) {
  if (text.rfind("OK ", 0) == 0) return text.substr(3);
  if (text.rfind("ERR ", 0) == 0) {
    char* end = nullptr;
    const long code = std::strtol(text.c_str() + 4, &end, 10);
    if (end != text.c_str() + 4 && code > 0 && code <= 16 && *end == ' ') {
      return Status(static_cast<StatusCode>(code), end + 1);
    }
  }
  return Status(StatusCode::kUnavailable, "tensor-ipcd's descriptor channel answered \"" +
                                              text.substr(0, 80) + "\"");
}

StatusOr<ShmFile> fetch_descriptor(const std::string& grpc_socket_path, const std::string& token,
                                   std::chrono::milliseconds timeout) {
  DescriptorRequest request{DescriptorRequest::Verb::kGet, token};
  auto answer = exchange(grpc_socket_path, request, -1, timeout);
  if (!answer.ok()) return answer.status();
  auto what = parse_descriptor_answer(answer->text);
  if (!what.ok()) return what.status();
  if (*what != kDescriptorKindMemfd || answer->fd < 0) {
    return Status(StatusCode::kUnavailable,
                  "tensor-ipcd sent \"" + *what + "\" without a memory descriptor");
  }
  return ShmFile::adopt_fd(answer->release_fd(), "pool memory");
}

StatusOr<std::string> hand_over_descriptor(const std::string& grpc_socket_path,
                                           const ShmFile& file, const std::string& label,
                                           std::chrono::milliseconds timeout) {
  DescriptorRequest request{DescriptorRequest::Verb::kGive, label};
  auto answer = exchange(grpc_socket_path, request, file.fd(), timeout);
  if (!answer.ok()) return answer.status();
  auto token = parse_descriptor_answer(answer->text);
  if (!token.ok()) return token.status();
  if (!is_descriptor_token(*token)) {
    return Status(StatusCode::kUnavailable, "tensor-ipcd answered a hand-over without a token");
  }
  return token;
}

}  // namespace tensoripc
