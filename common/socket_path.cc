#include "common/socket_path.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace tensoripc {
namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

std::string user_socket_path() {
  std::string runtime = env("XDG_RUNTIME_DIR");
  if (!runtime.empty()) return runtime + "/tensor-ipc/tensor-ipcd.sock";
  return "/tmp/tensor-ipc-" + std::to_string(::getuid()) + "/tensor-ipcd.sock";
}

std::string octal(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

// Whoever may write to the socket's directory may unlink the socket and bind
// one of their own in its place, so it must be a real directory that only the
// daemon's user (or root) can write to.
Status check_socket_dir(const std::string& dir) {
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0) {
    return Status(StatusCode::kFailedPrecondition,
                  "cannot check socket directory " + dir + ": " + std::strerror(errno));
  }
  const uid_t euid = ::geteuid();
  std::string problem;
  std::string fix;  // beside serving elsewhere, which is always possible
  if (S_ISLNK(st.st_mode)) {
    problem = "is a symbolic link";
    fix = "remove the link (tensor-ipcd then makes a directory there)";
  } else if (!S_ISDIR(st.st_mode)) {
    problem = "is not a directory";
    fix = "remove it (tensor-ipcd then makes a directory there)";
  } else if (st.st_uid != euid && st.st_uid != 0) {
    problem = "belongs to another user";
    fix = "have it removed (tensor-ipcd then makes it afresh)";
  } else if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    problem = (st.st_mode & S_IWOTH) != 0 ? "is writable by others" : "is writable by its group";
    // Not for a sticky one: that is a shared directory like /tmp.
    if (st.st_uid == euid && (st.st_mode & S_ISVTX) == 0) fix = "run chmod go-w " + dir;
  } else {
    return {};
  }
  std::string what_to_do =
      "serve elsewhere: --socket in a directory of your own, or XDG_RUNTIME_DIR set for the "
      "default socket";
  if (!fix.empty()) what_to_do = fix + ", or " + what_to_do;
  return Status(
      StatusCode::kFailedPrecondition,
      "unsafe socket directory " + dir + " (owner uid " + std::to_string(st.st_uid) + ", mode " +
          octal(st.st_mode) + "): it " + problem +
          ". tensor-ipcd serves only in a real directory owned by " +
          (euid == 0 ? std::string("root") : "its own uid (" + std::to_string(euid) + ") or root") +
          " and not writable by group or others: whoever can write there can replace "
          "the socket. To go on, " +
          what_to_do);
}

// Like mkdir -p. Parents get 0755 less the umask (never writable by others);
// `dir` itself gets exactly its mode whatever the umask, so what
// check_socket_dir sees does not depend on how the daemon was started.
Status make_socket_dir(const std::string& dir) {
  const mode_t mode = dir.rfind("/run/", 0) == 0 && dir.find("/user/") == std::string::npos
                          ? kSystemSocketDirMode
                          : kUserSocketDirMode;
  for (size_t pos = 0;;) {
    pos = dir.find('/', pos + 1);
    const std::string part = dir.substr(0, pos);
    const bool last = pos == std::string::npos;
    if (::mkdir(part.c_str(), last ? mode : 0755) != 0) {
      if (errno == EEXIST) {
        if (last) return {};  // made by someone else meanwhile: the check judges it
        continue;
      }
      return Status(StatusCode::kPermissionDenied,
                    "cannot create socket directory " + part + ": " + std::strerror(errno));
    }
    if (last) break;
  }
  // Through an fd opened without following links, so the mode lands on the
  // directory just made and nothing else. (A umask that takes the owner's read
  // bit makes that open fail for a non-root daemon, which then says so.)
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 || ::fchmod(fd, mode) != 0) {
    const int err = errno;
    if (fd >= 0) ::close(fd);
    return Status(StatusCode::kPermissionDenied, "cannot set the mode of socket directory " + dir +
                                                     " to " + octal(mode) + ": " +
                                                     std::strerror(err));
  }
  ::close(fd);
  return {};
}

}  // namespace

ResolvedSocket resolve_socket() {
  std::string explicit_path = env(kSocketEnv);
  if (!explicit_path.empty()) return {explicit_path, kSocketEnv};
  struct stat st {};
  if (::stat(kSystemSocketPath, &st) == 0 && S_ISSOCK(st.st_mode)) {
    return {kSystemSocketPath, "the system service's socket"};
  }
  return {user_socket_path(), env("XDG_RUNTIME_DIR").empty()
                                  ? "your own daemon's, under /tmp (XDG_RUNTIME_DIR is not set)"
                                  : "your own daemon's, under XDG_RUNTIME_DIR"};
}

std::string resolve_socket_path() { return resolve_socket().path; }

std::string resolve_daemon_socket_path(bool system_service) {
  std::string explicit_path = env(kSocketEnv);
  if (!explicit_path.empty()) return explicit_path;
  if (system_service) return kSystemSocketPath;
  return user_socket_path();
}

Status ensure_socket_dir(const std::string& socket_path) {
  const auto slash = socket_path.rfind('/');
  const std::string dir = slash == std::string::npos ? "."
                          : slash == 0               ? "/"
                                                     : socket_path.substr(0, slash);
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0 && errno == ENOENT) {
    if (Status s = make_socket_dir(dir); !s.ok()) return s;
  }
  return check_socket_dir(dir);
}

}  // namespace tensoripc
