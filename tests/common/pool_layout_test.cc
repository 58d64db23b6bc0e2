#include "common/pool_layout.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <thread>
#include <vector>

#include "common/pool_identity.h"

namespace tensoripc {
namespace {

v1::PoolMetadata pool(std::vector<int64_t> shape, const char* dtype, uint32_t history_len,
                      const char* device = "cpu") {
  v1::PoolMetadata md;
  md.set_name("layout_test");
  for (int64_t d : shape) md.add_shape(d);
  md.set_dtype_str(dtype);
  md.set_history_len(history_len);
  md.set_device(device);
  EXPECT_TRUE(validate_and_complete(&md, PoolLimits{}).ok());
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
  EXPECT_EQ(l.memory_kind, v1::MEMORY_KIND_CUDA);
  EXPECT_EQ(l.segment_size, l.data_offset);
  EXPECT_EQ(l.data_size, 2 * l.slot_stride);
}

TEST(Header, InitThenCheckAndReadBack) {
  const v1::PoolMetadata md = pool({2, 3}, "int16", 4);
  const Layout l = compute_layout(md);
  std::vector<uint64_t> mem(l.segment_size / 8, 0);
  init_header(mem.data(), l, md, 42, 1000);
  ASSERT_TRUE(check_header(mem.data(), l.segment_size).ok());
  const PoolHeader* h = header_of(mem.data());
  EXPECT_EQ(h->generation, 42u);
  EXPECT_EQ(h->created_unix_ns, 1000);
  v1::PoolMetadata back = metadata_from_header(*h);
  EXPECT_TRUE(same_identity(md, back)) << describe_identity_mismatch(md, back);
  EXPECT_EQ(back.backend_type(), "numpy");
}

TEST(Header, CheckRejectsGarbageAndTruncation) {
  const v1::PoolMetadata md = pool({2, 3}, "int16", 4);
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

TEST(Seqlock, ReaderSeesWriteInProgressAndCompletion) {
  SlotHeader slot{};
  const uint64_t begin = slot_read_begin(slot);
  EXPECT_TRUE(slot_read_valid(slot, begin));
  const uint64_t odd = slot_write_begin(slot);
  EXPECT_EQ(odd & 1, 1u);
  EXPECT_FALSE(slot_read_valid(slot, begin)) << "a write started after the read began";
  EXPECT_FALSE(slot_read_valid(slot, slot_read_begin(slot))) << "odd: write in progress";
  slot_write_end(slot, odd, 7, 99);
  const uint64_t after = slot_read_begin(slot);
  EXPECT_TRUE(slot_read_valid(slot, after));
  EXPECT_EQ(slot.frame_seq.load(), 7u);
  EXPECT_EQ(slot.timestamp_ns.load(), 99);
}

TEST(Seqlock, WriterMovesPastACounterLeftOddByADeadWriter) {
  SlotHeader slot{};
  slot_write_begin(slot);  // the writer "dies" here: counter stays odd
  const uint64_t odd = slot_write_begin(slot);
  EXPECT_EQ(odd & 1, 1u);
  slot_write_end(slot, odd, 2, 0);
  EXPECT_EQ(slot.lock.load() & 1, 0u);
  EXPECT_TRUE(slot_read_valid(slot, slot_read_begin(slot)));
}

TEST(Seqlock, ConcurrentReaderNeverSeesATornFrame) {
  SlotHeader slot{};
  constexpr size_t kWords = 512;
  std::vector<uint64_t> data(kWords, 0);
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (uint64_t seq = 1; !stop.load(std::memory_order_relaxed); ++seq) {
      const uint64_t odd = slot_write_begin(slot);
      for (auto& w : data) reinterpret_cast<std::atomic<uint64_t>&>(w).store(seq, std::memory_order_relaxed);
      slot_write_end(slot, odd, seq, 0);
      // Off the CPU only between writes: when reader and writer share one core
      // (a loaded machine, ASan), a writer preempted mid-write would leave the
      // counter odd for the reader's whole time slice, and no read could succeed.
      std::this_thread::yield();
    }
  });
  uint64_t consistent = 0;
  std::vector<uint64_t> copy(kWords);
  for (int i = 0; i < 200000 && consistent < 2000; ++i) {
    const uint64_t begin = slot_read_begin(slot);
    for (size_t w = 0; w < kWords; ++w) {
      copy[w] = reinterpret_cast<std::atomic<uint64_t>&>(data[w]).load(std::memory_order_relaxed);
    }
    if (!slot_read_valid(slot, begin)) continue;
    ++consistent;
    for (size_t w = 1; w < kWords; ++w) ASSERT_EQ(copy[w], copy[0]) << "torn read accepted";
  }
  stop = true;
  writer.join();
  EXPECT_GT(consistent, 0u);
}

}  // namespace
}  // namespace tensoripc
