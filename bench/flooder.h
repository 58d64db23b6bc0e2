// Subscribers that never read, for the benchmarks that flood tensor-ipcd
// (tipc_bench_neighbours, tipc_soak): `streams` Subscribe calls on pool
// `name` with `keep_last`, spread over connections of 100 (as separate
// clients would be), each sending its request and never reading. Prints
// "ready" once every call has started, then holds them until SIGTERM or
// SIGINT. Returns an exit status.
#pragma once

#include <cstdint>
#include <string>

namespace tensoripc::bench {

int run_flooder(const std::string& socket, const std::string& name, int streams,
                uint32_t keep_last);

}  // namespace tensoripc::bench
