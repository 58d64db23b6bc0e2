// Publishes a few frames and reads them back through tensor-ipcd (found via
// TENSOR_IPC_SOCKET), using only the installed headers and library. Prints
// "install_app OK" and exits 0 when everything behaved.
#include <tensoripc/tensoripc.h>

#include <cstdio>
#include <vector>

namespace {

int fail(const char* what) {
  std::printf("install_app FAILED: %s\n", what);
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace tensoripc;
  const char* name = argc > 1 ? argv[1] : "install_app";
  try {
    const PoolMetadata md = PoolMetadata::create(name, {4, 8}, DType::kFloat32, 3);
    Producer producer(md);
    Consumer consumer(md);
    std::vector<float> frame(32);
    for (int i = 1; i <= 5; ++i) {
      for (float& x : frame) x = static_cast<float>(i);
      const PutResult r = producer.put(TensorView(frame.data(), DType::kFloat32, {4, 8}));
      if (r.seq != static_cast<uint64_t>(i)) return fail("seq");
    }
    auto history = consumer.read(3);
    if (!history || history->seqs != std::vector<uint64_t>{5, 4, 3}) return fail("history");
    if (history->tensor.data_as<float>()[32] != 4.0f) return fail("history data");

    auto latest = consumer.get();
    if (!latest) return fail("get");
    DLManagedTensor* dl = latest->to_dlpack();
    const bool dl_ok = dl->dl_tensor.ndim == 2 && dl->dl_tensor.shape[1] == 8 &&
                       static_cast<float*>(dl->dl_tensor.data)[0] == 5.0f;
    dl->deleter(dl);
    if (!dl_ok) return fail("dlpack");

    // Typed exceptions cross the shared-library boundary.
    try {
      Producer second(md);
      return fail("a second producer was accepted");
    } catch (const TopicTakenError& e) {
      if (e.holder_pid() <= 0) return fail("holder pid");
    }
    try {
      producer.put(TensorView(frame.data(), DType::kFloat64, {4, 4}));
      return fail("a wrong put was accepted");
    } catch (const InvalidArgumentError&) {
    }
  } catch (const Error& e) {
    std::printf("install_app FAILED: %s\n", e.what());
    return 1;
  }
  std::printf("install_app OK\n");
  return 0;
}
