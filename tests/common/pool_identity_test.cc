#include "common/pool_identity.h"

#include <gtest/gtest.h>

namespace tensoripc {
namespace {

v1::PoolMetadata camera(uint32_t history_len = 4) {
  v1::PoolMetadata md;
  md.set_name("camera_feed");
  md.add_shape(480);
  md.add_shape(640);
  md.add_shape(3);
  md.set_dtype_str("float32");
  md.set_history_len(history_len);
  return md;
}

TEST(PoolName, AcceptsTopicNames) {
  for (const char* ok : {"camera", "camera_feed", "robot1.joint:pos-2", "_x", "A"}) {
    EXPECT_TRUE(validate_pool_name(ok).ok()) << ok;
  }
}

TEST(PoolName, RejectsPathTricksAndOddCharacters) {
  for (const char* bad : {"", "../x", "..", ".hidden", "a/b", "/abs", "sp ace", "tab\t", "-x",
                          "new\nline", "ü"}) {
    Status s = validate_pool_name(bad);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_FALSE(s.message().empty());
  }
  Status long_name = validate_pool_name(std::string(10000, 'a'));
  EXPECT_EQ(long_name.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(long_name.message().find("10000"), std::string::npos) << long_name.message();
  EXPECT_LT(long_name.message().size(), 200u) << "messages must not echo huge input";
}

TEST(ShmPrefix, Validated) {
  EXPECT_TRUE(validate_shm_prefix("tensoripc.").ok());
  EXPECT_FALSE(validate_shm_prefix("").ok());
  EXPECT_FALSE(validate_shm_prefix("a/b").ok());
  EXPECT_FALSE(validate_shm_prefix(std::string(65, 'p')).ok());
}

TEST(Validate, CompletesDerivedFields) {
  v1::PoolMetadata md = camera();
  ASSERT_TRUE(validate_and_complete(&md, PoolLimits{}).ok());
  EXPECT_EQ(md.device(), "cpu");
  EXPECT_EQ(md.backend_type(), "numpy");
  EXPECT_EQ(md.element_size(), 4u);
  EXPECT_EQ(md.total_size(), 480u * 640 * 3 * 4 * 4);
  EXPECT_EQ(frame_bytes(md), 3686400u);
  EXPECT_EQ(memory_kind_of(md), v1::MEMORY_KIND_HOST);
}

TEST(Validate, ScalarShapeIsOneElement) {
  v1::PoolMetadata md;
  md.set_name("scalar");
  md.set_dtype_str("float64");
  md.set_history_len(2);
  ASSERT_TRUE(validate_and_complete(&md, PoolLimits{}).ok());
  EXPECT_EQ(frame_bytes(md), 8u);
}

TEST(Validate, CudaDevice) {
  v1::PoolMetadata md = camera();
  md.set_device("cuda:1");
  ASSERT_TRUE(validate_and_complete(&md, PoolLimits{}).ok());
  EXPECT_EQ(md.backend_type(), "torch_cuda");
  EXPECT_EQ(memory_kind_of(md), v1::MEMORY_KIND_CUDA);
  EXPECT_EQ(cuda_ordinal_of(md), 1);

  v1::PoolMetadata bad = camera();
  bad.set_device("cuda:1");
  bad.set_backend_type("numpy");
  EXPECT_EQ(validate_and_complete(&bad, PoolLimits{}).code(), StatusCode::kInvalidArgument);
  bad.set_device("tpu:0");
  bad.set_backend_type("");
  EXPECT_EQ(validate_and_complete(&bad, PoolLimits{}).code(), StatusCode::kInvalidArgument);
}

TEST(Validate, RejectsBadInputWithoutChangingIt) {
  struct Case {
    const char* what;
    void (*mutate)(v1::PoolMetadata*);
    StatusCode code;
  };
  const Case cases[] = {
      {"unknown dtype", [](v1::PoolMetadata* m) { m->set_dtype_str("float128"); },
       StatusCode::kInvalidArgument},
      {"history_len 0", [](v1::PoolMetadata* m) { m->set_history_len(0); },
       StatusCode::kInvalidArgument},
      {"history_len huge", [](v1::PoolMetadata* m) { m->set_history_len(1u << 30); },
       StatusCode::kInvalidArgument},
      {"zero dim", [](v1::PoolMetadata* m) { m->set_shape(1, 0); }, StatusCode::kInvalidArgument},
      {"negative dim", [](v1::PoolMetadata* m) { m->set_shape(0, -3); },
       StatusCode::kInvalidArgument},
      {"overflowing shape",
       [](v1::PoolMetadata* m) {
         m->set_shape(0, int64_t{1} << 40);
         m->set_shape(1, int64_t{1} << 40);
       },
       StatusCode::kInvalidArgument},
      {"10^12 elements", [](v1::PoolMetadata* m) {
         m->clear_shape();
         m->add_shape(1000000000000);
       },
       StatusCode::kResourceExhausted},
      {"too many dims",
       [](v1::PoolMetadata* m) {
         for (int i = 0; i < 40; ++i) m->add_shape(1);
       },
       StatusCode::kInvalidArgument},
      {"bad backend", [](v1::PoolMetadata* m) { m->set_backend_type("jax"); },
       StatusCode::kInvalidArgument},
  };
  for (const auto& c : cases) {
    v1::PoolMetadata md = camera();
    c.mutate(&md);
    const v1::PoolMetadata before = md;
    Status s = validate_and_complete(&md, PoolLimits{});
    EXPECT_EQ(s.code(), c.code) << c.what << ": " << s.message();
    EXPECT_NE(s.message().find("camera_feed"), std::string::npos) << c.what << ": " << s.message();
    EXPECT_EQ(md.SerializeAsString(), before.SerializeAsString()) << c.what;
  }
}

TEST(Validate, SizeLimitNamesTheFlag) {
  v1::PoolMetadata md = camera(100);
  Status s = validate_and_complete(&md, PoolLimits{1 << 20});
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(s.message().find("--max-pool-bytes"), std::string::npos) << s.message();
}

TEST(Identity, IgnoresBackendAndPidComparesTheRest) {
  v1::PoolMetadata a = camera();
  ASSERT_TRUE(validate_and_complete(&a, PoolLimits{}).ok());
  v1::PoolMetadata b = a;
  b.set_backend_type("torch");
  b.set_creator_pid(1234);
  EXPECT_TRUE(same_identity(a, b));
  EXPECT_EQ(identity_digest(a), identity_digest(b));

  b.set_shape(2, 4);
  EXPECT_FALSE(same_identity(a, b));
  EXPECT_NE(identity_digest(a), identity_digest(b));
  const std::string why = describe_identity_mismatch(a, b);
  EXPECT_NE(why.find("shape: expected [480, 640, 3], pool has [480, 640, 4]"), std::string::npos)
      << why;

  v1::PoolMetadata c = a;
  c.set_history_len(5);
  c.set_dtype_str("uint8");
  const std::string why2 = describe_identity_mismatch(a, c);
  EXPECT_NE(why2.find("dtype: expected float32, pool has uint8"), std::string::npos) << why2;
  EXPECT_NE(why2.find("history_len: expected 4, pool has 5"), std::string::npos) << why2;
}

TEST(SegmentName, PrefixPlusName) {
  EXPECT_EQ(segment_name("tensoripc.", "camera"), "/tensoripc.camera");
}

}  // namespace
}  // namespace tensoripc
