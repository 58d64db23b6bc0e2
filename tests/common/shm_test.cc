#include "common/shm.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

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

TEST_F(ShmTest, OpenMissingIsNotFoundAndListFindsByPrefix) {
  EXPECT_EQ(ShmFile::open(name_, false).status().code(), StatusCode::kNotFound);
  auto file = ShmFile::create(name_, 4096, 0600);
  ASSERT_TRUE(file.ok());
  const auto found = list_segments(name_.substr(1));
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0], name_);
  EXPECT_TRUE(ShmFile::unlink(name_));
  EXPECT_TRUE(list_segments(name_.substr(1)).empty());
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

}  // namespace
}  // namespace tensoripc
