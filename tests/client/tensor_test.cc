// Tensor, TensorView, Shape and DLPack: round trips without copies.
#include "tensoripc/tensor.h"

#include <gtest/gtest.h>

#include <cstring>
#include <numeric>

#include "tensoripc/error.h"

namespace tensoripc {
namespace {

TEST(ClientShapeTest, BasicsAndLimits) {
  Shape s{480, 640, 3};
  EXPECT_EQ(s.ndim(), 3u);
  EXPECT_EQ(s.numel(), 480u * 640 * 3);
  EXPECT_EQ(s.to_string(), "[480, 640, 3]");
  EXPECT_EQ(s.prepend(5).to_string(), "[5, 480, 640, 3]");
  EXPECT_EQ(Shape().numel(), 1u);  // a scalar
  EXPECT_EQ(Shape(std::vector<int64_t>{2, 3}), (Shape{2, 3}));
  EXPECT_NE((Shape{2, 3}), (Shape{3, 2}));
  std::vector<int64_t> too_many(33, 1);
  EXPECT_THROW(Shape{too_many}, InvalidArgumentError);
}

// Shapes copy only their dimensions (the room past ndim is never read): a
// copy, an assignment over a longer shape and a moved-from tensor's shape
// are all exactly their dimensions.
TEST(ClientShapeTest, CopiesAndAssignmentsAreExact) {
  const Shape four{7, 6, 5, 4};
  Shape copy(four);
  EXPECT_EQ(copy, four);
  EXPECT_EQ(copy.to_vector(), (std::vector<int64_t>{7, 6, 5, 4}));
  Shape shorter{9};
  copy = shorter;
  EXPECT_EQ(copy.ndim(), 1u);
  EXPECT_EQ(copy, shorter);
  EXPECT_EQ(copy.numel(), 9u);
  copy = copy;  // NOLINT: self-assignment on purpose
  EXPECT_EQ(copy, shorter);
  Shape scalar;
  EXPECT_EQ(scalar.ndim(), 0u);
  EXPECT_EQ(scalar, Shape());
  EXPECT_EQ(scalar.to_string(), "[]");
  std::vector<int64_t> max_dims(Shape::kMaxDims);
  std::iota(max_dims.begin(), max_dims.end(), 1);
  const Shape full(max_dims);
  EXPECT_EQ(Shape(full).to_vector(), max_dims);
  EXPECT_THROW(full.prepend(1), InvalidArgumentError);
  Tensor t(DType::kUInt8, {2, 3});
  Tensor moved = std::move(t);
  EXPECT_EQ(moved.shape(), (Shape{2, 3}));
  EXPECT_EQ(t.shape(), Shape());  // NOLINT: the moved-from state on purpose
}

TEST(ClientTensorTest, ZeroFilledOwningAndClone) {
  Tensor t(DType::kFloat32, {4, 5});
  ASSERT_FALSE(t.empty());
  EXPECT_EQ(t.nbytes(), 80u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data()) % 64, 0u);
  for (size_t i = 0; i < t.numel(); ++i) EXPECT_EQ(t.data_as<float>()[i], 0.0f);
  t.data_as<float>()[3] = 7.5f;
  Tensor c = t.clone();
  EXPECT_NE(c.data(), t.data());
  EXPECT_EQ(c.data_as<float>()[3], 7.5f);
  Tensor moved = std::move(t);
  EXPECT_TRUE(t.empty());  // NOLINT: checking the moved-from state on purpose
  EXPECT_EQ(moved.data_as<float>()[3], 7.5f);
}

TEST(ClientTensorTest, CopyOfViewIsIndependent) {
  std::vector<int16_t> src(12);
  std::iota(src.begin(), src.end(), 1);
  TensorView v(src.data(), DType::kInt16, {3, 4});
  EXPECT_EQ(v.nbytes(), 24u);
  Tensor t = Tensor::copy_of(v);
  src[0] = 99;
  EXPECT_EQ(t.data_as<int16_t>()[0], 1);
  EXPECT_EQ(t.shape(), (Shape{3, 4}));
  EXPECT_THROW(Tensor::copy_of(TensorView(src.data(), DType::kInt16, {12}, Device::cuda(0))),
               InvalidArgumentError);
}

TEST(ClientDLPackTest, TensorExportSharesTheBufferAndOutlivesTheTensor) {
  DLManagedTensor* managed;
  const void* data;
  {
    Tensor t(DType::kUInt8, {2, 3});
    t.data_as<uint8_t>()[5] = 42;
    data = t.data();
    managed = t.to_dlpack();
  }  // the tensor is gone; the DLPack capsule keeps the buffer
  const DLTensor& dl = managed->dl_tensor;
  EXPECT_EQ(dl.data, data);
  EXPECT_EQ(dl.device.device_type, kDLCPU);
  EXPECT_EQ(dl.ndim, 2);
  EXPECT_EQ(dl.shape[0], 2);
  EXPECT_EQ(dl.shape[1], 3);
  EXPECT_EQ(dl.strides, nullptr);
  EXPECT_EQ(dl.dtype.code, kDLUInt);
  EXPECT_EQ(dl.dtype.bits, 8);
  EXPECT_EQ(dl.dtype.lanes, 1);
  EXPECT_EQ(static_cast<uint8_t*>(dl.data)[5], 42);

  // And back: a view of the same memory, no copy.
  TensorView back = TensorView::from_dlpack(dl);
  EXPECT_EQ(back.data(), data);
  EXPECT_EQ(back.dtype(), DType::kUInt8);
  EXPECT_EQ(back.shape(), (Shape{2, 3}));
  managed->deleter(managed);
}

TEST(ClientDLPackTest, EveryDTypeRoundTrips) {
  for (const DTypeInfo& info : detail::kDTypes) {
    Tensor t(info.dtype, {3});
    DLManagedTensor* m = t.to_dlpack();
    EXPECT_EQ(m->dl_tensor.dtype.bits, info.itemsize * 8) << info.name;
    TensorView v = TensorView::from_dlpack(m->dl_tensor);
    EXPECT_EQ(v.dtype(), info.dtype) << info.name;
    EXPECT_EQ(v.nbytes(), 3 * info.itemsize) << info.name;
    m->deleter(m);
  }
}

TEST(ClientDLPackTest, ViewExportKeepsItsKeepAlive) {
  auto owner = std::make_shared<std::vector<double>>(6, 1.5);
  TensorView v(owner->data(), DType::kFloat64, {2, 3});
  DLManagedTensor* m = v.to_dlpack(owner);
  std::weak_ptr<std::vector<double>> weak = owner;
  owner.reset();
  EXPECT_FALSE(weak.expired());
  EXPECT_EQ(static_cast<double*>(m->dl_tensor.data)[4], 1.5);
  m->deleter(m);
  EXPECT_TRUE(weak.expired());
}

DLTensor make_dl(void* data, int64_t* shape, int64_t* strides, int ndim, DLDataType dtype) {
  DLTensor t{};
  t.data = data;
  t.device = {kDLCPU, 0};
  t.ndim = ndim;
  t.dtype = dtype;
  t.shape = shape;
  t.strides = strides;
  return t;
}

TEST(ClientDLPackTest, ImportChecksLayoutTypeAndDevice) {
  float buf[24] = {};
  int64_t shape[2] = {4, 6};
  int64_t compact[2] = {6, 1};
  int64_t transposed[2] = {1, 4};
  const DLDataType f32{kDLFloat, 32, 1};

  DLTensor ok = make_dl(buf, shape, compact, 2, f32);
  ok.byte_offset = 8;
  TensorView v = TensorView::from_dlpack(ok);
  EXPECT_EQ(v.data(), buf + 2);
  EXPECT_EQ(v.dtype(), DType::kFloat32);

  DLTensor strided = make_dl(buf, shape, transposed, 2, f32);
  try {
    TensorView::from_dlpack(strided);
    FAIL() << "a transposed tensor must be refused";
  } catch (const InvalidArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find("not contiguous"), std::string::npos) << e.what();
  }

  DLTensor vec = make_dl(buf, shape, nullptr, 2, DLDataType{kDLFloat, 32, 4});
  EXPECT_THROW(TensorView::from_dlpack(vec), InvalidArgumentError);

  DLTensor gpu = make_dl(buf, shape, nullptr, 2, f32);
  gpu.device = {kDLCUDA, 1};
  EXPECT_EQ(TensorView::from_dlpack(gpu).device(), Device::cuda(1));

  DLTensor opencl = make_dl(buf, shape, nullptr, 2, f32);
  opencl.device = {kDLOpenCL, 0};
  EXPECT_THROW(TensorView::from_dlpack(opencl), InvalidArgumentError);

  // A size-1 dimension may carry any stride (torch does this).
  int64_t shape1[2] = {1, 6};
  int64_t odd_strides[2] = {999, 1};
  EXPECT_NO_THROW(TensorView::from_dlpack(make_dl(buf, shape1, odd_strides, 2, f32)));
}

}  // namespace
}  // namespace tensoripc
