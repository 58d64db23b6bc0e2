#include "common/socket_path.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/support/child_process.h"

namespace tensoripc {
namespace {

// Sets an environment variable for one test and restores it after.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = ::getenv(name)) old_ = old;
    value ? ::setenv(name, value, 1) : ::unsetenv(name);
  }
  ~ScopedEnv() { old_.empty() ? ::unsetenv(name_) : ::setenv(name_, old_.c_str(), 1); }

 private:
  const char* name_;
  std::string old_;
};

TEST(SocketPath, ExplicitEnvironmentWins) {
  ScopedEnv e("TENSOR_IPC_SOCKET", "/tmp/x/explicit.sock");
  EXPECT_EQ(resolve_socket_path(), "/tmp/x/explicit.sock");
  EXPECT_EQ(resolve_daemon_socket_path(true), "/tmp/x/explicit.sock");
}

TEST(SocketPath, UserRuntimeDirWithoutSystemService) {
  ScopedEnv e("TENSOR_IPC_SOCKET", nullptr);
  ScopedEnv x("XDG_RUNTIME_DIR", "/run/user/1234");
  EXPECT_EQ(resolve_daemon_socket_path(false), "/run/user/1234/tensor-ipc/tensor-ipcd.sock");
  EXPECT_EQ(resolve_daemon_socket_path(true), kSystemSocketPath);
  struct stat st {};
  if (::stat(kSystemSocketPath, &st) != 0) {
    EXPECT_EQ(resolve_socket_path(), "/run/user/1234/tensor-ipc/tensor-ipcd.sock");
  }
}

TEST(SocketPath, FallbackWithoutRuntimeDir) {
  ScopedEnv e("TENSOR_IPC_SOCKET", nullptr);
  ScopedEnv x("XDG_RUNTIME_DIR", nullptr);
  EXPECT_EQ(resolve_daemon_socket_path(false),
            "/tmp/tensor-ipc-" + std::to_string(::getuid()) + "/tensor-ipcd.sock");
}

TEST(SocketPath, EnsureDirCreatesParents) {
  testing::TempDir dir;
  const std::string sock = dir.path() + "/a/b/tensor-ipcd.sock";
  ASSERT_TRUE(ensure_socket_dir(sock).ok());
  struct stat st {};
  ASSERT_EQ(::stat((dir.path() + "/a/b").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_TRUE(ensure_socket_dir(sock).ok()) << "idempotent";
  EXPECT_EQ(grpc_target(sock), "unix:" + sock);
}

}  // namespace
}  // namespace tensoripc
