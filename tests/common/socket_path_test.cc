#include "common/socket_path.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <string>

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

// Sets the umask for one test and restores it after.
class ScopedUmask {
 public:
  explicit ScopedUmask(mode_t mask) : old_(::umask(mask)) {}
  ~ScopedUmask() { ::umask(old_); }

 private:
  mode_t old_;
};

mode_t mode_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

// `dir`, made with exactly `mode` (mkdir alone would apply the umask).
std::string make_dir(const std::string& dir, mode_t mode) {
  EXPECT_EQ(::mkdir(dir.c_str(), 0700), 0) << dir;
  EXPECT_EQ(::chmod(dir.c_str(), mode), 0) << dir;
  return dir;
}

std::string octal(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode));
  return buf;
}

// A refusal names the directory, its owner and its mode, and leaves it as it was.
void expect_refused(const std::string& dir) {
  struct stat before {};
  ASSERT_EQ(::lstat(dir.c_str(), &before), 0) << dir;
  const Status s = ensure_socket_dir(dir + "/tensor-ipcd.sock");
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.message();
  EXPECT_NE(s.message().find("socket directory " + dir + " "), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("owner uid " + std::to_string(before.st_uid)), std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("mode " + octal(before.st_mode & 07777)), std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("--socket"), std::string::npos) << s.message();
  struct stat after {};
  ASSERT_EQ(::lstat(dir.c_str(), &after), 0) << dir;
  EXPECT_EQ(after.st_mode, before.st_mode);
  EXPECT_EQ(after.st_uid, before.st_uid);
}

TEST(SocketDir, FreshDirectoryGetsItsModeWhateverTheUmask) {
  testing::TempDir dir;
  {
    ScopedUmask mask(0277);  // mkdir alone would give 0500
    const Status s = ensure_socket_dir(dir.path() + "/strict/tensor-ipcd.sock");
    ASSERT_TRUE(s.ok()) << s.message();
  }
  EXPECT_EQ(mode_of(dir.path() + "/strict"), kUserSocketDirMode);
  EXPECT_TRUE(ensure_socket_dir(dir.path() + "/strict/tensor-ipcd.sock").ok()) << "idempotent";
}

TEST(SocketDir, FreshSystemDirectoryUnderRunGetsItsModeWhateverTheUmask) {
  const std::string run_dir = "/run/tipc-test-" + std::to_string(::getpid());
  {
    ScopedUmask mask(0077);  // mkdir alone would give 0700: other users could not reach the socket
    const Status s = ensure_socket_dir(run_dir + "/tensor-ipcd.sock");
    if (s.code() == StatusCode::kPermissionDenied) GTEST_SKIP() << "/run not writable here";
    ASSERT_TRUE(s.ok()) << s.message();
  }
  EXPECT_EQ(mode_of(run_dir), kSystemSocketDirMode);
  ::rmdir(run_dir.c_str());
}

TEST(SocketDir, ExistingPrivateDirectoryIsAccepted) {
  testing::TempDir dir;
  const std::string own = make_dir(dir.path() + "/own", 0700);
  EXPECT_TRUE(ensure_socket_dir(own + "/tensor-ipcd.sock").ok());
  EXPECT_EQ(mode_of(own), 0700u);
  const std::string readable = make_dir(dir.path() + "/readable", 0755);
  EXPECT_TRUE(ensure_socket_dir(readable + "/tensor-ipcd.sock").ok());
}

TEST(SocketDir, RootOwnedDirectoryNotWritableByOthersIsAccepted) {
  struct stat st {};
  ASSERT_EQ(::lstat("/", &st), 0);
  if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    GTEST_SKIP() << "/ here is not root's and 0755";
  }
  EXPECT_TRUE(ensure_socket_dir("/tensor-ipcd.sock").ok());
}

TEST(SocketDir, WorldWritableDirectoryIsRefused) {
  testing::TempDir dir;
  expect_refused(make_dir(dir.path() + "/open", 0777));
}

TEST(SocketDir, StickyWorldWritableDirectoryIsRefused) {
  testing::TempDir dir;
  expect_refused(make_dir(dir.path() + "/shared", 01777));
}

TEST(SocketDir, GroupWritableDirectoryIsRefused) {
  testing::TempDir dir;
  expect_refused(make_dir(dir.path() + "/group", 0770));
  expect_refused(make_dir(dir.path() + "/group-sticky", 01730));
}

TEST(SocketDir, SymlinkToAGoodDirectoryIsRefused) {
  testing::TempDir dir;
  const std::string good = make_dir(dir.path() + "/good", 0700);
  ASSERT_TRUE(ensure_socket_dir(good + "/tensor-ipcd.sock").ok());
  const std::string link = dir.path() + "/link";
  ASSERT_EQ(::symlink(good.c_str(), link.c_str()), 0);
  expect_refused(link);
}

TEST(SocketDir, AFileIsRefused) {
  testing::TempDir dir;
  const std::string file = dir.path() + "/file";
  std::FILE* f = std::fopen(file.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fclose(f);
  expect_refused(file);
}

TEST(SocketDir, DirectoryOfAnotherUserIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "only root can give a directory to another user";
  testing::TempDir dir;
  const std::string theirs = make_dir(dir.path() + "/theirs", 0700);
  ASSERT_EQ(::chown(theirs.c_str(), 65534, 65534), 0);
  expect_refused(theirs);
}

}  // namespace
}  // namespace tensoripc
