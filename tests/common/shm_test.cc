// Shared memory files and mappings: named segments (benchmarks and tests)
// and the sealed memfds pools live in, whose promises (no resize, mode 0600,
// read-only reopening that mprotect cannot undo, a stable identity) the rest
// of the project builds on.
#include "common/shm.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "tests/support/process.h"

namespace tensoripc {
namespace {

std::string unique_name(const char* tag) {
  return "/tipc-shmtest-" + std::to_string(::getpid()) + "-" + tag;
}

class ShmTest : public ::testing::Test {
 protected:
  void TearDown() override { ShmFile::unlink(name_); }
  std::string name_ = unique_name(::testing::UnitTest::GetInstance()->current_test_info()->name());
};

TEST_F(ShmTest, CreateReservesSizeWithExactModeAndZeroes) {
  const mode_t old = ::umask(0077);
  auto file = ShmFile::create(name_, 1 << 20, 0660);
  ::umask(old);
  ASSERT_TRUE(file.ok()) << file.status().message();
  EXPECT_EQ(*file->size(), size_t{1} << 20);
  struct stat st {};
  ASSERT_EQ(::fstat(file->fd(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u) << "mode must not be filtered by the umask";
  EXPECT_GE(st.st_blocks * 512, 1 << 20) << "space must be reserved up front";

  auto map = Mapping::map(*file, 0, 1 << 20, Mapping::Access::kReadWrite, true);
  ASSERT_TRUE(map.ok()) << map.status().message();
  const auto* bytes = static_cast<const unsigned char*>(map->data());
  for (size_t i = 0; i < (1 << 20); i += 4093) ASSERT_EQ(bytes[i], 0);
}

TEST_F(ShmTest, CreateIsExclusive) {
  auto first = ShmFile::create(name_, 4096, 0600);
  ASSERT_TRUE(first.ok());
  auto second = ShmFile::create(name_, 4096, 0600);
  EXPECT_EQ(second.status().code(), StatusCode::kAlreadyExists);
}

TEST_F(ShmTest, TwoMappingsShareBytesAndReadOnlyIsReadOnly) {
  auto file = ShmFile::create(name_, 8192, 0600);
  ASSERT_TRUE(file.ok());
  auto rw = Mapping::map(*file, 0, 8192, Mapping::Access::kReadWrite, true);
  auto reader = ShmFile::open(name_, false);
  ASSERT_TRUE(reader.ok());
  auto ro = Mapping::map(*reader, 4096, 4096, Mapping::Access::kRead, true);
  ASSERT_TRUE(rw.ok() && ro.ok());
  std::memcpy(static_cast<char*>(rw->data()) + 4096, "frame", 5);
  EXPECT_EQ(std::memcmp(ro->data(), "frame", 5), 0);
  auto rw_from_ro = Mapping::map(*reader, 0, 4096, Mapping::Access::kReadWrite, false);
  EXPECT_FALSE(rw_from_ro.ok()) << "a read-only open must not map writable";
}

TEST_F(ShmTest, OpenMissingIsNotFoundAndUnlinkRemovesTheName) {
  EXPECT_EQ(ShmFile::open(name_, false).status().code(), StatusCode::kNotFound);
  auto file = ShmFile::create(name_, 4096, 0600);
  ASSERT_TRUE(file.ok());
  EXPECT_TRUE(ShmFile::open(name_, false).ok());
  EXPECT_TRUE(ShmFile::unlink(name_));
  EXPECT_FALSE(ShmFile::unlink(name_));
  EXPECT_EQ(ShmFile::open(name_, false).status().code(), StatusCode::kNotFound);
  // A named segment is not sealed: anyone who can open it can truncate it.
  EXPECT_FALSE(file->sealed_against_resize());
}

TEST_F(ShmTest, MoveTransfersOwnership) {
  auto file = ShmFile::create(name_, 4096, 0600);
  ASSERT_TRUE(file.ok());
  ShmFile moved = std::move(*file);
  EXPECT_GE(moved.fd(), 0);
  auto map = Mapping::map(moved, 0, 4096, Mapping::Access::kReadWrite, false);
  ASSERT_TRUE(map.ok());
  Mapping m2 = std::move(*map);
  EXPECT_TRUE(static_cast<bool>(m2));
  EXPECT_FALSE(static_cast<bool>(*map));
}

// ---- sealed memfds: what pools live in

std::string fd_link(int fd) {
  char buf[512];
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  const ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
  return n < 0 ? std::string() : std::string(buf, static_cast<size_t>(n));
}

std::string unique_label(const char* tag) {
  return "tipc-sealtest-" + std::to_string(::getpid()) + "-" + tag;
}

TEST(SealedShm, ReservesTheSizeWithMode0600AndNoNameInDevShm) {
  const std::string label = unique_label("size");
  constexpr size_t kSize = 1 << 20;
  auto file = ShmFile::create_sealed(label, kSize);
  ASSERT_TRUE(file.ok()) << file.status().message();
  EXPECT_EQ(*file->size(), kSize);
  struct stat st {};
  ASSERT_EQ(::fstat(file->fd(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u) << "a memfd is born 0777; only its user may reopen it";
  EXPECT_GE(static_cast<size_t>(st.st_blocks) * 512, kSize) << "space must be reserved up front";
  EXPECT_TRUE(file->writable());
  EXPECT_TRUE(file->sealed_against_resize());
  EXPECT_EQ(fd_link(file->fd()).rfind("/memfd:" + label, 0), 0u) << fd_link(file->fd());
  EXPECT_FALSE(testing::any_shm_file_with_prefix(label));
  EXPECT_EQ(testing::memfd_labels(::getpid(), label), std::vector<std::string>{label});

  auto map = Mapping::map(*file, 0, kSize, Mapping::Access::kReadWrite, true);
  ASSERT_TRUE(map.ok()) << map.status().message();
  const auto* bytes = static_cast<const unsigned char*>(map->data());
  for (size_t i = 0; i < kSize; i += 4093) ASSERT_EQ(bytes[i], 0);
}

TEST(SealedShm, CannotBeResizedOrUnsealedByAnyone) {
  constexpr size_t kSize = 8192;
  auto file = ShmFile::create_sealed(unique_label("seal"), kSize);
  ASSERT_TRUE(file.ok()) << file.status().message();
  errno = 0;
  EXPECT_EQ(::ftruncate(file->fd(), 4096), -1);
  EXPECT_EQ(errno, EPERM) << "shrinking would SIGBUS every mapping of the pool";
  errno = 0;
  EXPECT_EQ(::ftruncate(file->fd(), 2 * kSize), -1);
  EXPECT_EQ(errno, EPERM);
  errno = 0;
  EXPECT_EQ(::fallocate(file->fd(), 0, 0, 2 * kSize), -1);
  EXPECT_EQ(errno, EPERM);
  // F_SEAL_SEAL: the seals themselves are final.
  errno = 0;
  EXPECT_EQ(::fcntl(file->fd(), F_ADD_SEALS, F_SEAL_WRITE), -1);
  EXPECT_EQ(errno, EPERM);
  EXPECT_EQ(*file->size(), kSize);

  // The seals belong to the file, not the descriptor: a copy received by
  // another process is sealed too.
  ShmFile copy = ShmFile::adopt_fd(::dup(file->fd()), "copy");
  EXPECT_TRUE(copy.sealed_against_resize());
  errno = 0;
  EXPECT_EQ(::ftruncate(copy.fd(), 0), -1);
  EXPECT_EQ(errno, EPERM);
}

TEST(SealedShm, AnUnsealedMemfdIsNotSealedAgainstResize) {
  const int fd = ::memfd_create("tipc-unsealed", MFD_CLOEXEC);
  ASSERT_GE(fd, 0);
  ShmFile plain = ShmFile::adopt_fd(fd, "plain");
  ASSERT_EQ(::ftruncate(plain.fd(), 4096), 0);
  EXPECT_FALSE(plain.sealed_against_resize());

  // Sealed against shrinking only is not enough either.
  const int half = ::memfd_create("tipc-half", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  ASSERT_GE(half, 0);
  ShmFile shrink_only = ShmFile::adopt_fd(half, "half");
  ASSERT_EQ(::ftruncate(shrink_only.fd(), 4096), 0);
  ASSERT_EQ(::fcntl(shrink_only.fd(), F_ADD_SEALS, F_SEAL_SHRINK), 0);
  EXPECT_FALSE(shrink_only.sealed_against_resize());
}

TEST(SealedShm, ReadOnlyReopeningCannotBeMappedOrMadeWritable) {
  constexpr size_t kSize = 8192;
  auto file = ShmFile::create_sealed(unique_label("ro"), kSize);
  ASSERT_TRUE(file.ok()) << file.status().message();
  auto ro = file->reopen_read_only();
  ASSERT_TRUE(ro.ok()) << ro.status().message();
  EXPECT_FALSE(ro->writable());
  EXPECT_EQ(::fcntl(ro->fd(), F_GETFL) & O_ACCMODE, O_RDONLY);
  EXPECT_TRUE(ro->sealed_against_resize());
  EXPECT_EQ(*ro->size(), kSize);

  errno = 0;
  void* w = ::mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_SHARED, ro->fd(), 0);
  EXPECT_EQ(w, MAP_FAILED);
  EXPECT_EQ(errno, EACCES);
  if (w != MAP_FAILED) ::munmap(w, kSize);
  auto rw = Mapping::map(*ro, 0, kSize, Mapping::Access::kReadWrite, false);
  ASSERT_FALSE(rw.ok());
  EXPECT_EQ(rw.status().code(), StatusCode::kPermissionDenied) << rw.status().message();

  // It reads what the writable descriptor writes, and mprotect cannot turn
  // its mapping writable (the open file, not the mapping, decides).
  auto writer = Mapping::map(*file, 0, kSize, Mapping::Access::kReadWrite, false);
  auto reader = Mapping::map(*ro, 0, kSize, Mapping::Access::kRead, true);
  ASSERT_TRUE(writer.ok() && reader.ok());
  std::memcpy(static_cast<char*>(writer->data()) + 4096, "frame", 5);
  EXPECT_EQ(std::memcmp(static_cast<const char*>(reader->data()) + 4096, "frame", 5), 0);
  errno = 0;
  EXPECT_EQ(::mprotect(reader->data(), kSize, PROT_READ | PROT_WRITE), -1);
  EXPECT_EQ(errno, EACCES);
}

TEST(SealedShm, IdentityIsTheFileNotTheDescriptor) {
  auto a = ShmFile::create_sealed(unique_label("a"), 4096);
  auto b = ShmFile::create_sealed(unique_label("b"), 4096);
  ASSERT_TRUE(a.ok() && b.ok());
  const FileIdentity ida = *a->identity();
  EXPECT_EQ(*ShmFile::adopt_fd(::dup(a->fd()), "dup").identity(), ida);
  auto ro = a->reopen_read_only();
  ASSERT_TRUE(ro.ok());
  EXPECT_EQ(*ro->identity(), ida);
  EXPECT_NE(*b->identity(), ida) << "two memfds, even of the same size, are two files";
  auto c = ShmFile::create_sealed(unique_label("a"), 4096);  // same label, another file
  ASSERT_TRUE(c.ok());
  EXPECT_NE(*c->identity(), ida);
}

TEST(SealedShm, AdoptFdTakesOwnership) {
  auto file = ShmFile::create_sealed(unique_label("own"), 4096);
  ASSERT_TRUE(file.ok());
  int fd = -1;
  {
    ShmFile owner = ShmFile::adopt_fd(::dup(file->fd()), "owner");
    fd = owner.fd();
    ASSERT_GE(fd, 0);
    ShmFile moved = std::move(owner);
    EXPECT_EQ(owner.fd(), -1);
    EXPECT_EQ(moved.fd(), fd);
    EXPECT_GE(::fcntl(fd, F_GETFD), 0) << "still open while owned";
  }
  errno = 0;
  EXPECT_EQ(::fcntl(fd, F_GETFD), -1) << "closed with its owner";
  EXPECT_EQ(errno, EBADF);
}

}  // namespace
}  // namespace tensoripc
