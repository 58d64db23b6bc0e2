#include "pool_query.h"

#include <future>
#include <thread>

namespace tensoripc::bench {

PoolQuerier::PoolQuerier(const std::string& socket_path)
    : channel_(grpc::CreateChannel("unix:" + socket_path, grpc::InsecureChannelCredentials())),
      stub_(channel_) {}

std::optional<PoolStatsSubset> PoolQuerier::stats(const std::string& pool) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(1));
  PoolQuery request;
  request.set_name(pool);
  PoolInfoSubset info;
  std::promise<grpc::Status> done;
  stub_.UnaryCall(&context, "/tensoripc.v1.Broker/GetPool", grpc::StubOptions(), &request, &info,
                  [&done](grpc::Status status) { done.set_value(std::move(status)); });
  if (!done.get_future().get().ok()) return std::nullopt;
  return info.stats();
}

std::optional<std::chrono::milliseconds> PoolQuerier::wait_for_subscribers(
    const std::string& pool, uint32_t subscribers, std::chrono::milliseconds timeout) {
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start);
    const auto s = stats(pool);
    if (s && s->subscribers() == subscribers) return waited;
    if (waited > timeout) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace tensoripc::bench
