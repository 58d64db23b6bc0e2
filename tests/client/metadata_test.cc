// PoolMetadata and the MetadataCreator role.
#include "tensoripc/metadata.h"

#include <gtest/gtest.h>

#include "tensoripc/error.h"

namespace tensoripc {
namespace {

TEST(ClientMetadataTest, CreateFillsSizesAndDefaults) {
  PoolMetadata md = PoolMetadata::create("cam", {480, 640, 3}, DType::kFloat32, 5);
  EXPECT_EQ(md.dtype_str(), "float32");
  EXPECT_EQ(md.element_size, 4u);
  EXPECT_EQ(md.frame_bytes(), 3686400u);
  EXPECT_EQ(md.total_size, 5u * 3686400);
  EXPECT_EQ(md.device, "cpu");
  EXPECT_EQ(md.backend_type, "numpy");
  EXPECT_EQ(md.memory_device(), Device::host());
  EXPECT_EQ(md.to_string(), "pool 'cam': [480, 640, 3] float32 x 5 on cpu");
}

TEST(ClientMetadataTest, FromSampleTakesShapeDtypeAndDevice) {
  std::vector<uint16_t> buf(6);
  TensorView sample(buf.data(), DType::kUInt16, {2, 3});
  PoolMetadata md = PoolMetadata::from_sample("s", sample, 3);
  EXPECT_EQ(md.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(md.dtype, DType::kUInt16);
  EXPECT_EQ(md.history_len, 3u);
  EXPECT_EQ(md.total_size, 36u);

  TensorView gpu(buf.data(), DType::kFloat16, {2, 3}, Device::cuda(1));
  PoolMetadata g = PoolMetadata::from_sample("g", gpu);
  EXPECT_EQ(g.device, "cuda:1");
  EXPECT_EQ(g.backend_type, "torch_cuda");
  EXPECT_EQ(g.memory_device(), Device::cuda(1));
}

TEST(ClientMetadataTest, ScalarPools) {
  PoolMetadata md = PoolMetadata::create("scalar", {}, DType::kComplex128);
  EXPECT_EQ(md.frame_bytes(), 16u);
}

TEST(ClientMetadataTest, EqualityIgnoresOnlyCreatorPid) {
  PoolMetadata a = PoolMetadata::create("x", {4}, DType::kInt8);
  PoolMetadata b = a;
  b.creator_pid = 1234;
  EXPECT_EQ(a, b);
  b.shm_name = "/other";
  EXPECT_NE(a, b);
  PoolMetadata c = a;
  c.backend_type = "torch";
  EXPECT_NE(a, c);
  EXPECT_TRUE(a.same_identity(c));  // backend_type is not identity
  c.history_len = 2;
  EXPECT_FALSE(a.same_identity(c));
}

TEST(ClientMetadataTest, InvalidMetadataIsRefusedWithTheReason) {
  auto expect_refused = [](auto make, const std::string& needle) {
    try {
      make();
      ADD_FAILURE() << "expected InvalidArgumentError mentioning " << needle;
    } catch (const InvalidArgumentError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_refused([] { PoolMetadata::create("../etc", {1}, DType::kUInt8); }, "not allowed");
  expect_refused([] { PoolMetadata::create("", {1}, DType::kUInt8); }, "empty");
  expect_refused([] { PoolMetadata::create("a", {0, 3}, DType::kUInt8); }, "dimension <= 0");
  expect_refused([] { PoolMetadata::create("a", {3}, DType::kUInt8, 0); }, "history_len");
  expect_refused([] { PoolMetadata::create("a", {3}, DType::kUInt8, 1, "tpu"); }, "device");
}

TEST(ClientDTypeTableTest, NumpyNamesSizesAndParsing) {
  struct Row {
    const char* name;
    size_t itemsize;
  };
  const Row rows[] = {{"bool", 1},    {"int8", 1},      {"int16", 2},      {"int32", 4},
                      {"int64", 8},   {"uint8", 1},     {"uint16", 2},     {"uint32", 4},
                      {"uint64", 8},  {"float16", 2},   {"bfloat16", 2},   {"float32", 4},
                      {"float64", 8}, {"complex64", 8}, {"complex128", 16}};
  for (const Row& r : rows) {
    auto d = parse_dtype(r.name);
    ASSERT_TRUE(d.has_value()) << r.name;
    EXPECT_EQ(dtype_name(*d), r.name);
    EXPECT_EQ(dtype_itemsize(*d), r.itemsize) << r.name;
    PoolMetadata md = PoolMetadata::create("t", {2}, *d);
    EXPECT_EQ(md.element_size, r.itemsize);
  }
  EXPECT_EQ(parse_dtype_lenient("torch.float32"), DType::kFloat32);
  EXPECT_EQ(parse_dtype_lenient("<f8"), DType::kFloat64);
  EXPECT_FALSE(parse_dtype("float").has_value());  // the wire takes exact names only
}

}  // namespace
}  // namespace tensoripc
