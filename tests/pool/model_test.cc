// The pool model: names, metadata checked and completed, identity.
#include "pool/model.h"

#include <gtest/gtest.h>

namespace tensoripc {
namespace {

PoolMetadata camera(uint32_t history_len = 4) {
  PoolMetadata md;
  md.name = "camera_feed";
  md.shape = {480, 640, 3};
  md.dtype = DType::kFloat32;
  md.history_len = history_len;
  md.backend_type = "";
  md.device = "";
  return md;
}

bool same_fields(const PoolMetadata& a, const PoolMetadata& b) {
  return equal_but_creator_pid(a, b) && a.creator_pid == b.creator_pid;
}

TEST(PoolName, AcceptsTopicNames) {
  for (const char* ok : {"camera", "camera_feed", "robot1.joint:pos-2", "_x", "A"}) {
    EXPECT_TRUE(validate_pool_name(ok).ok()) << ok;
  }
}

TEST(PoolName, RejectsPathTricksAndOddCharacters) {
  for (const char* bad :
       {"", "../x", "..", ".hidden", "a/b", "/abs", "sp ace", "tab\t", "-x", "new\nline", "ü"}) {
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
  PoolMetadata md = camera();
  ASSERT_TRUE(complete_metadata(&md, PoolLimits{}).ok());
  EXPECT_EQ(md.device, "cpu");
  EXPECT_EQ(md.backend_type, "numpy");
  EXPECT_EQ(md.element_size, 4u);
  EXPECT_EQ(md.total_size, 480u * 640 * 3 * 4 * 4);
  EXPECT_EQ(frame_bytes(md), 3686400u);
  EXPECT_EQ(device_of(md).kind, MemoryKind::kHost);
}

TEST(Validate, ScalarShapeIsOneElement) {
  PoolMetadata md;
  md.name = "scalar";
  md.shape = {};
  md.dtype = DType::kFloat64;
  md.history_len = 2;
  ASSERT_TRUE(complete_metadata(&md, PoolLimits{}).ok());
  EXPECT_EQ(frame_bytes(md), 8u);
}

TEST(Validate, CudaDevice) {
  PoolMetadata md = camera();
  md.device = "cuda:1";
  ASSERT_TRUE(complete_metadata(&md, PoolLimits{}).ok());
  EXPECT_EQ(md.backend_type, "torch_cuda");
  EXPECT_EQ(device_of(md).kind, MemoryKind::kCuda);
  EXPECT_EQ(device_of(md).ordinal, 1);

  PoolMetadata bad = camera();
  bad.device = "cuda:1";
  bad.backend_type = "numpy";
  EXPECT_EQ(complete_metadata(&bad, PoolLimits{}).code(), StatusCode::kInvalidArgument);
  bad.device = "tpu:0";
  bad.backend_type = "";
  EXPECT_EQ(complete_metadata(&bad, PoolLimits{}).code(), StatusCode::kInvalidArgument);
}

TEST(Validate, RejectsBadInputWithoutChangingIt) {
  // An unknown dtype cannot be represented here; proto/wire.h refuses it
  // (tests/proto/wire_test.cc).
  struct Case {
    const char* what;
    void (*mutate)(PoolMetadata*);
    StatusCode code;
  };
  const Case cases[] = {
      {"history_len 0", [](PoolMetadata* m) { m->history_len = 0; }, StatusCode::kInvalidArgument},
      {"history_len huge", [](PoolMetadata* m) { m->history_len = 1u << 30; },
       StatusCode::kInvalidArgument},
      {"zero dim", [](PoolMetadata* m) { m->shape[1] = 0; }, StatusCode::kInvalidArgument},
      {"negative dim", [](PoolMetadata* m) { m->shape[0] = -3; }, StatusCode::kInvalidArgument},
      {"overflowing shape",
       [](PoolMetadata* m) {
         m->shape[0] = int64_t{1} << 40;
         m->shape[1] = int64_t{1} << 40;
       },
       StatusCode::kInvalidArgument},
      {"10^12 elements", [](PoolMetadata* m) { m->shape = {1000000000000}; },
       StatusCode::kResourceExhausted},
      {"too many dims",
       [](PoolMetadata* m) {
         for (int i = 0; i < 40; ++i) m->shape.push_back(1);
       },
       StatusCode::kInvalidArgument},
      {"bad backend", [](PoolMetadata* m) { m->backend_type = "jax"; },
       StatusCode::kInvalidArgument},
  };
  for (const auto& c : cases) {
    PoolMetadata md = camera();
    c.mutate(&md);
    const PoolMetadata before = md;
    Status s = complete_metadata(&md, PoolLimits{});
    EXPECT_EQ(s.code(), c.code) << c.what << ": " << s.message();
    EXPECT_NE(s.message().find("camera_feed"), std::string::npos) << c.what << ": " << s.message();
    EXPECT_TRUE(same_fields(md, before)) << c.what;
  }
}

TEST(Validate, SizeLimitNamesTheFlag) {
  PoolMetadata md = camera(100);
  Status s = complete_metadata(&md, PoolLimits{1 << 20});
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(s.message().find("--max-pool-bytes"), std::string::npos) << s.message();
}

TEST(Identity, IgnoresBackendAndPidComparesTheRest) {
  PoolMetadata a = camera();
  ASSERT_TRUE(complete_metadata(&a, PoolLimits{}).ok());
  PoolMetadata b = a;
  b.backend_type = "torch";
  b.creator_pid = 1234;
  EXPECT_TRUE(same_identity(a, b));
  EXPECT_EQ(identity_digest(a), identity_digest(b));

  b.shape[2] = 4;
  EXPECT_FALSE(same_identity(a, b));
  EXPECT_NE(identity_digest(a), identity_digest(b));
  const std::string why = describe_identity_mismatch(a, b);
  EXPECT_NE(why.find("shape: expected [480, 640, 3], pool has [480, 640, 4]"), std::string::npos)
      << why;

  PoolMetadata c = a;
  c.history_len = 5;
  c.dtype = DType::kUInt8;
  const std::string why2 = describe_identity_mismatch(a, c);
  EXPECT_NE(why2.find("dtype: expected float32, pool has uint8"), std::string::npos) << why2;
  EXPECT_NE(why2.find("history_len: expected 4, pool has 5"), std::string::npos) << why2;
}

TEST(MemoryLabel, PrefixPlusNameWithoutALeadingSlash) {
  EXPECT_EQ(memory_label("tensoripc.", "camera"), "tensoripc.camera");
  EXPECT_EQ(memory_label("t1.", "cam:0"), "t1.cam:0");
}

TEST(KeepLast, DefaultsAndBounds) {
  EXPECT_EQ(keep_last_or_default(0), kDefaultKeepLast);
  EXPECT_EQ(keep_last_or_default(3), 3u);
  EXPECT_EQ(*effective_keep_last(0), kDefaultKeepLast);
  EXPECT_EQ(*effective_keep_last(kMaxKeepLast), kMaxKeepLast);
  EXPECT_EQ(effective_keep_last(kMaxKeepLast + 1).status().code(), StatusCode::kInvalidArgument);
}

TEST(Identity, DigestIsStableAcrossVersions) {
  // Stored in segment headers: a new build must compute the same digest as
  // the one that wrote them, or it could not adopt or open them.
  PoolMetadata md = camera();
  ASSERT_TRUE(complete_metadata(&md, PoolLimits{}).ok());
  EXPECT_EQ(identity_digest(md), 0xeedb23de04296840ULL) << std::hex << identity_digest(md);
}

}  // namespace
}  // namespace tensoripc
