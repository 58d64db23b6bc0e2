// The segment layout: geometry, and the header as it is written and checked.
#include "pool/layout.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <vector>

#include "pool/model.h"

namespace tensoripc {
namespace {

PoolMetadata pool(std::vector<int64_t> shape, const char* dtype, uint32_t history_len,
                  const char* device = "cpu") {
  PoolMetadata md;
  md.name = "layout_test";
  md.shape = std::move(shape);
  md.dtype = *parse_dtype(dtype);
  md.history_len = history_len;
  md.device = device;
  md.backend_type = "";
  EXPECT_TRUE(complete_metadata(&md, PoolLimits{}).ok());
  return md;
}

TEST(Layout, SmallFramesAreCacheLineAligned) {
  const Layout l = compute_layout(pool({3}, "float32", 5));
  EXPECT_EQ(l.frame_size, 12u);
  EXPECT_EQ(l.slot_stride, 64u);
  EXPECT_EQ(l.slot_count, 5u);
  EXPECT_EQ(l.slots_offset, kHeaderSize);
  EXPECT_EQ(l.data_offset % kPageSize, 0u);
  EXPECT_GE(l.data_offset, l.slots_offset + 5 * kSlotHeaderSize);
  EXPECT_EQ(l.segment_size, l.data_offset + 5 * 64);
}

TEST(Layout, LargeFramesArePageAligned) {
  const Layout l = compute_layout(pool({480, 640, 3}, "float32", 3));
  EXPECT_EQ(l.frame_size, 3686400u);
  EXPECT_EQ(l.slot_stride % kPageSize, 0u);
  EXPECT_GE(l.slot_stride, l.frame_size);
  const Layout odd = compute_layout(pool({4097}, "uint8", 2));
  EXPECT_EQ(odd.slot_stride, 8192u);
}

TEST(Layout, ManySlotsPushDataOut) {
  const Layout l = compute_layout(pool({1}, "uint8", 1000));
  EXPECT_GE(l.data_offset, kHeaderSize + 1000 * kSlotHeaderSize);
  EXPECT_EQ(l.data_offset % kPageSize, 0u);
}

TEST(Layout, GpuPoolsHaveNoHostDataRegion) {
  const Layout l = compute_layout(pool({16}, "float32", 2, "cuda:0"));
  EXPECT_EQ(l.memory_kind, MemoryKind::kCuda);
  EXPECT_EQ(l.segment_size, l.data_offset);
  EXPECT_EQ(l.data_size, 2 * l.slot_stride);
}

TEST(Header, InitThenCheckAndReadBack) {
  const PoolMetadata md = pool({2, 3}, "int16", 4);
  const Layout l = compute_layout(md);
  std::vector<uint64_t> mem(l.segment_size / 8, 0);
  init_header(mem.data(), l, md, 42, 1000);
  ASSERT_TRUE(check_header(mem.data(), l.segment_size).ok());
  const PoolHeader* h = header_of(mem.data());
  EXPECT_EQ(h->generation, 42u);
  EXPECT_EQ(h->created_unix_ns, 1000);
  EXPECT_EQ(h->memory_kind, 1u) << "the wire's MEMORY_KIND_HOST, part of layout version 1";
  PoolMetadata back = metadata_from_header(*h);
  EXPECT_TRUE(same_identity(md, back)) << describe_identity_mismatch(md, back);
  EXPECT_EQ(back.backend_type, "numpy");
}

TEST(Header, CheckRejectsGarbageAndTruncation) {
  const PoolMetadata md = pool({2, 3}, "int16", 4);
  const Layout l = compute_layout(md);
  std::vector<uint64_t> mem(l.segment_size / 8, 0);
  EXPECT_FALSE(check_header(mem.data(), l.segment_size).ok()) << "zeroed: no magic";
  init_header(mem.data(), l, md, 1, 1);
  EXPECT_FALSE(check_header(mem.data(), l.segment_size - 64).ok()) << "truncated file";
  header_of(mem.data())->frame_size = 7;
  EXPECT_FALSE(check_header(mem.data(), l.segment_size).ok()) << "geometry tampered";
  init_header(mem.data(), l, md, 1, 1);
  header_of(mem.data())->identity.shape[0] = 3;
  EXPECT_FALSE(check_header(mem.data(), l.segment_size).ok()) << "identity tampered";
  init_header(mem.data(), l, md, 1, 1);
  header_of(mem.data())->identity.ndim = 1000;
  EXPECT_FALSE(check_header(mem.data(), l.segment_size).ok()) << "ndim out of range";
}

}  // namespace
}  // namespace tensoripc
