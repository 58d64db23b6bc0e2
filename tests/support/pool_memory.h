// Test support: counterfeit pool memory, for the tests of what a mapping and
// the daemon refuse (tests/pool, tests/daemon). Header-only: gtest and the
// pool core, nothing else.
#pragma once

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "common/shm.h"
#include "pool/mapping.h"

namespace tensoripc::testing {

// A memfd of `size` bytes holding a copy of `from`'s control pages (a
// valid-looking header and slot headers), sealed against resizing or not.
inline ShmFile copy_of_control(const PoolMapping& from, size_t size, bool sealed) {
  ShmFile file;
  if (sealed) {
    auto f = ShmFile::create_sealed("tipc-copy", size);
    EXPECT_TRUE(f.ok()) << f.status().message();
    if (!f.ok()) return file;
    file = std::move(*f);
  } else {
    file = ShmFile::adopt_fd(::memfd_create("tipc-unsealed", MFD_CLOEXEC), "unsealed");
    EXPECT_EQ(::ftruncate(file.fd(), static_cast<off_t>(size)), 0);
  }
  const size_t control = std::min<size_t>(size, from.layout().data_offset);
  auto map = Mapping::map(file, 0, control, Mapping::Access::kReadWrite, false);
  EXPECT_TRUE(map.ok()) << map.status().message();
  if (map.ok()) std::memcpy(map->data(), &from.header(), control);
  return file;
}

}  // namespace tensoripc::testing
