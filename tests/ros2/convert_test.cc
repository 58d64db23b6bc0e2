// Image encodings and MultiArray layouts <-> tensor shapes (ros2/convert.h).
#include "ros2/convert.h"

#include <gtest/gtest.h>

#include "tensoripc/error.h"

namespace tensoripc::ros2 {
namespace {

struct EncodingCase {
  const char* name;
  DType dtype;
  int channels;
};

TEST(Ros2ImageEncoding, ParsesTheEncodingsROSNames) {
  const EncodingCase cases[] = {
      {"rgb8", DType::kUInt8, 3},    {"bgr8", DType::kUInt8, 3},    {"rgba8", DType::kUInt8, 4},
      {"bgra8", DType::kUInt8, 4},   {"mono8", DType::kUInt8, 1},   {"mono16", DType::kUInt16, 1},
      {"8UC1", DType::kUInt8, 1},    {"8UC2", DType::kUInt8, 2},    {"8UC3", DType::kUInt8, 3},
      {"8UC4", DType::kUInt8, 4},    {"16UC1", DType::kUInt16, 1},  {"16SC1", DType::kInt16, 1},
      {"32FC1", DType::kFloat32, 1}, {"32FC3", DType::kFloat32, 3}, {"64FC1", DType::kFloat64, 1},
      {"rgb16", DType::kUInt16, 3},  {"32SC1", DType::kInt32, 1},   {"8SC1", DType::kInt8, 1},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const auto enc = parse_image_encoding(c.name);
    ASSERT_TRUE(enc.has_value());
    EXPECT_EQ(enc->name, c.name);
    EXPECT_EQ(enc->dtype, c.dtype);
    EXPECT_EQ(enc->channels, c.channels);
  }
}

TEST(Ros2ImageEncoding, RefusesEncodingsWithoutAPlainPixelLayout) {
  for (const char* name : {"", "bayer_rggb8", "yuv422", "RGB8", "8UC", "8UC5", "8UC0", "12UC1"}) {
    EXPECT_FALSE(parse_image_encoding(name).has_value()) << name;
  }
}

TEST(Ros2ImageGeometry, PackedRowsInHostOrder) {
  const auto rgb = image_geometry({480, 640, 3}, DType::kUInt8, "rgb8");
  EXPECT_EQ(rgb.height, 480u);
  EXPECT_EQ(rgb.width, 640u);
  EXPECT_EQ(rgb.step, 640u * 3);
  EXPECT_EQ(rgb.is_bigendian, 0);  // x86 and ARM

  const auto depth = image_geometry({480, 640}, DType::kUInt16, "mono16");
  EXPECT_EQ(depth.step, 640u * 2);
  const auto depth1 = image_geometry({480, 640, 1}, DType::kFloat32, "32FC1");
  EXPECT_EQ(depth1.step, 640u * 4);
  const auto xyz = image_geometry({2, 5, 3}, DType::kFloat32, "32FC3");
  EXPECT_EQ(xyz.step, 5u * 3 * 4);
  EXPECT_EQ(image_geometry({3, 7}, DType::kFloat64, "64FC1").step, 7u * 8);
  EXPECT_EQ(image_geometry({3, 7, 4}, DType::kUInt8, "bgra8").step, 7u * 4);
}

TEST(Ros2ImageGeometry, RefusesATensorThatIsNotThatEncoding) {
  EXPECT_THROW(image_geometry({480, 640, 3}, DType::kUInt8, "rgba8"), InvalidArgumentError);
  EXPECT_THROW(image_geometry({480, 640, 3}, DType::kFloat32, "rgb8"), InvalidArgumentError);
  EXPECT_THROW(image_geometry({480, 640}, DType::kUInt8, "rgb8"), InvalidArgumentError);
  EXPECT_THROW(image_geometry({480, 640, 3, 1}, DType::kUInt8, "rgb8"), InvalidArgumentError);
  EXPECT_THROW(image_geometry({480, 640}, DType::kUInt8, "yuv422"), InvalidArgumentError);
  try {
    image_geometry({480, 640, 3}, DType::kFloat32, "rgb8");
    FAIL();
  } catch (const InvalidArgumentError& e) {
    // Names what was given and what the encoding needs.
    EXPECT_NE(std::string(e.what()).find("float32"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("[h, w, 3] uint8"), std::string::npos) << e.what();
  }
}

TEST(Ros2ImageEncoding, DefaultForATensor) {
  EXPECT_EQ(default_image_encoding({4, 5}, DType::kUInt8), "mono8");
  EXPECT_EQ(default_image_encoding({4, 5, 3}, DType::kUInt8), "rgb8");
  EXPECT_EQ(default_image_encoding({4, 5, 4}, DType::kUInt8), "rgba8");
  EXPECT_EQ(default_image_encoding({4, 5, 2}, DType::kUInt8), "8UC2");
  EXPECT_EQ(default_image_encoding({4, 5}, DType::kUInt16), "mono16");
  EXPECT_EQ(default_image_encoding({4, 5}, DType::kInt16), "16SC1");
  EXPECT_EQ(default_image_encoding({4, 5}, DType::kFloat32), "32FC1");
  EXPECT_EQ(default_image_encoding({4, 5, 3}, DType::kFloat32), "32FC3");
  EXPECT_EQ(default_image_encoding({4, 5}, DType::kFloat64), "64FC1");
  EXPECT_THROW(default_image_encoding({4}, DType::kUInt8), InvalidArgumentError);
  EXPECT_THROW(default_image_encoding({4, 5, 5}, DType::kUInt8), InvalidArgumentError);
  EXPECT_THROW(default_image_encoding({4, 5}, DType::kFloat16), InvalidArgumentError);
  EXPECT_THROW(default_image_encoding({4, 5}, DType::kUInt64), InvalidArgumentError);
}

TEST(Ros2ImageTensorLayout, RoundTripsEveryEncoding) {
  for (const char* name : {"rgb8", "bgr8", "rgba8", "bgra8", "mono8", "mono16", "8UC1", "8UC2",
                           "8UC3", "8UC4", "16UC1", "16SC1", "32FC1", "32FC3", "64FC1"}) {
    SCOPED_TRACE(name);
    const auto enc = *parse_image_encoding(name);
    const Shape shape = enc.channels == 1 ? Shape{6, 10} : Shape{6, 10, enc.channels};
    const auto g = image_geometry(shape, enc.dtype, name);
    const auto layout = image_tensor_layout(g.height, g.width, name, g.is_bigendian, g.step,
                                            size_t{g.step} * g.height);
    EXPECT_EQ(Shape(layout.shape), shape);
    EXPECT_EQ(layout.dtype, enc.dtype);
  }
}

TEST(Ros2ImageTensorLayout, RefusesWhatIsNotAPackedTensor) {
  // Padded rows.
  EXPECT_THROW(image_tensor_layout(4, 5, "rgb8", 0, 16, 64), InvalidArgumentError);
  // step too small for the width.
  EXPECT_THROW(image_tensor_layout(4, 5, "rgb8", 0, 14, 56), InvalidArgumentError);
  // Big-endian 16-bit pixels on a little-endian host; 8-bit ones do not care.
  EXPECT_THROW(image_tensor_layout(4, 5, "mono16", 1, 10, 40), InvalidArgumentError);
  EXPECT_NO_THROW(image_tensor_layout(4, 5, "mono8", 1, 5, 20));
  // data shorter than step * height.
  EXPECT_THROW(image_tensor_layout(4, 5, "mono8", 0, 5, 19), InvalidArgumentError);
  EXPECT_THROW(image_tensor_layout(4, 5, "bayer_rggb8", 0, 5, 20), InvalidArgumentError);
}

TEST(Ros2MultiArrayLayout, StridesAsStdMsgsDefinesThem) {
  // std_msgs/MultiArrayLayout's own example: a 3x3x3 image.
  const auto dims = multi_array_layout({3, 3, 3}, {"height", "width", "channel"});
  ASSERT_EQ(dims.size(), 3u);
  EXPECT_EQ(dims[0].label, "height");
  EXPECT_EQ(dims[0].size, 3u);
  EXPECT_EQ(dims[0].stride, 27u);
  EXPECT_EQ(dims[1].stride, 9u);
  EXPECT_EQ(dims[2].label, "channel");
  EXPECT_EQ(dims[2].stride, 3u);

  const auto plain = multi_array_layout({2, 5});
  EXPECT_EQ(plain[0].label, "dim0");
  EXPECT_EQ(plain[1].label, "dim1");
  EXPECT_EQ(plain[0].stride, 10u);
  EXPECT_EQ(plain[1].stride, 5u);
  EXPECT_TRUE(multi_array_layout(Shape{}).empty());
  EXPECT_THROW(multi_array_layout({2, 5}, {"a"}), InvalidArgumentError);
  EXPECT_THROW(multi_array_layout({1 << 20, 1 << 20}), InvalidArgumentError);
}

TEST(Ros2MultiArrayLayout, ShapeRoundTrips) {
  for (const Shape& shape : {Shape{7}, Shape{2, 5}, Shape{3, 1, 4}, Shape{2, 0, 3}}) {
    SCOPED_TRACE(shape.to_string());
    EXPECT_EQ(Shape(multi_array_shape(multi_array_layout(shape), 0, shape.numel())), shape);
  }
  // No layout: a flat array, as many publishers send it.
  EXPECT_EQ(multi_array_shape({}, 0, 12), std::vector<int64_t>{12});
}

TEST(Ros2MultiArrayLayout, RefusesWhatIsNotPacked) {
  auto dims = multi_array_layout({2, 5});
  EXPECT_THROW(multi_array_shape(dims, 1, 10), InvalidArgumentError);  // data_offset
  EXPECT_THROW(multi_array_shape(dims, 0, 11), InvalidArgumentError);  // element count
  dims[1].stride = 6;                                                  // padded rows
  EXPECT_THROW(multi_array_shape(dims, 0, 12), InvalidArgumentError);
}

}  // namespace
}  // namespace tensoripc::ros2
