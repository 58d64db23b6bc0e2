#include "common/socket_path.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace tensoripc {
namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

bool is_dir(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string user_socket_path() {
  std::string runtime = env("XDG_RUNTIME_DIR");
  if (!runtime.empty()) return runtime + "/tensor-ipc/tensor-ipcd.sock";
  return "/tmp/tensor-ipc-" + std::to_string(::getuid()) + "/tensor-ipcd.sock";
}

}  // namespace

std::string resolve_socket_path() {
  std::string explicit_path = env(kSocketEnv);
  if (!explicit_path.empty()) return explicit_path;
  struct stat st {};
  if (::stat(kSystemSocketPath, &st) == 0 && S_ISSOCK(st.st_mode)) return kSystemSocketPath;
  return user_socket_path();
}

std::string resolve_daemon_socket_path(bool system_service) {
  std::string explicit_path = env(kSocketEnv);
  if (!explicit_path.empty()) return explicit_path;
  if (system_service) return kSystemSocketPath;
  return user_socket_path();
}

Status ensure_socket_dir(const std::string& socket_path) {
  const auto slash = socket_path.rfind('/');
  if (slash == std::string::npos || slash == 0) return {};
  const std::string dir = socket_path.substr(0, slash);
  if (is_dir(dir)) return {};
  const mode_t mode = dir.rfind("/run/", 0) == 0 && dir.find("/user/") == std::string::npos
                          ? 0755 : 0700;
  // Create parents one level at a time, like mkdir -p.
  for (size_t pos = 1; pos != std::string::npos;) {
    pos = dir.find('/', pos + 1);
    const std::string part = dir.substr(0, pos);
    if (::mkdir(part.c_str(), pos == std::string::npos ? mode : 0755) != 0 && errno != EEXIST) {
      return Status(StatusCode::kPermissionDenied,
                    "cannot create socket directory " + part + ": " + std::strerror(errno));
    }
  }
  return {};
}

}  // namespace tensoripc
