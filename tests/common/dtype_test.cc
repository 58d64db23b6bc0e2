#include "tensoripc/dtype.h"

#include <gtest/gtest.h>

namespace tensoripc {
namespace {

TEST(DType, EveryNumpyNameRoundTrips) {
  for (const auto& info : detail::kDTypes) {
    auto parsed = parse_dtype(info.name);
    ASSERT_TRUE(parsed.has_value()) << info.name;
    EXPECT_EQ(*parsed, info.dtype);
    EXPECT_EQ(dtype_name(info.dtype), info.name);
  }
  EXPECT_EQ(detail::kDTypes.size(), 15u);
}

TEST(DType, ItemSizesAreNumpys) {
  EXPECT_EQ(dtype_itemsize(DType::kBool), 1u);
  EXPECT_EQ(dtype_itemsize(DType::kUInt16), 2u);
  EXPECT_EQ(dtype_itemsize(DType::kBFloat16), 2u);
  EXPECT_EQ(dtype_itemsize(DType::kFloat32), 4u);
  EXPECT_EQ(dtype_itemsize(DType::kInt64), 8u);
  EXPECT_EQ(dtype_itemsize(DType::kComplex64), 8u);
  EXPECT_EQ(dtype_itemsize(DType::kComplex128), 16u);
}

TEST(DType, ExactParseRejectsAliasesLenientTakesThem) {
  EXPECT_FALSE(parse_dtype("float").has_value());
  EXPECT_FALSE(parse_dtype("torch.float32").has_value());
  EXPECT_FALSE(parse_dtype("").has_value());
  EXPECT_FALSE(parse_dtype("float128").has_value());
  EXPECT_EQ(parse_dtype_lenient("torch.float32"), DType::kFloat32);
  EXPECT_EQ(parse_dtype_lenient("<f4"), DType::kFloat32);
  EXPECT_EQ(parse_dtype_lenient("|u1"), DType::kUInt8);
  EXPECT_EQ(parse_dtype_lenient("torch.half"), DType::kFloat16);
  EXPECT_EQ(parse_dtype_lenient("np.complex128"), DType::kComplex128);
  EXPECT_FALSE(parse_dtype_lenient("tensor").has_value());
}

TEST(DType, DlpackCodesMapBack) {
  for (const auto& info : detail::kDTypes) {
    EXPECT_EQ(dtype_from_dlpack(info.dl_code, info.dl_bits, 1), info.dtype) << info.name;
  }
  EXPECT_FALSE(dtype_from_dlpack(2, 32, 4).has_value()) << "vector lanes are not supported";
  EXPECT_NE(dtype_names_joined().find("bfloat16"), std::string::npos);
}

}  // namespace
}  // namespace tensoripc
