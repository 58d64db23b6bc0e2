// tensor-ipc: look at and manage the pools of tensor-ipcd from a shell, as
// `ros2 topic` does for topics. Every command takes --json.
//
//   tensor-ipc ls | info POOL | hz POOL | bw POOL | echo POOL | watch
//   tensor-ipc rm POOL [--force] | snapshot POOL -o FILE | socket | doctor
//
// An application of the public API (libtensoripc-client), like python/.
#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>
#include <new>

#include "commands.h"
#include "tensoripc/tensoripc.h"

namespace tensoripc::cli {

std::atomic<bool> g_stop{false};

namespace {

void on_signal(int) { g_stop.store(true); }

std::optional<std::pair<double, double>> parse_range(const std::string& text) {
  const auto colon = text.find(':');
  if (colon == std::string::npos) return std::nullopt;
  try {
    size_t used = 0;
    const double lo = std::stod(text.substr(0, colon), &used);
    if (used != colon) return std::nullopt;
    const std::string rest = text.substr(colon + 1);
    const double hi = std::stod(rest, &used);
    if (used != rest.size() || !(hi > lo)) return std::nullopt;
    return std::make_pair(lo, hi);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace
}  // namespace tensoripc::cli

int main(int argc, char** argv) {
  using namespace tensoripc::cli;
  CLI::App app{"tensor-ipc: the pools of tensor-ipcd, from a shell", "tensor-ipc"};
  app.set_version_flag("--version", std::string("tensor-ipc ") + TENSORIPC_VERSION);
  app.require_subcommand(1);
  app.fallthrough();  // --json, --socket and --timeout-ms after the subcommand too
  app.footer(
      "The socket is found as every client finds it ($TENSOR_IPC_SOCKET, the system service's, "
      "your own); `tensor-ipc socket` says which. Exit status: 0 done, 1 failed, 2 bad usage.");
  Common common;
  app.add_option("--socket", common.socket, "the daemon's socket (default: found as clients do)");
  app.add_flag("--json", common.json, "one JSON document per line instead of text");
  app.add_option("--timeout-ms", common.timeout_ms, "how long to wait for the daemon")
      ->capture_default_str();

  std::string pool;
  auto* ls = app.add_subcommand("ls", "every pool: shape, dtype, history, device, producer, rate, "
                                      "subscribers, drops");
  auto* info = app.add_subcommand("info", "one pool: metadata, layout, stats, each subscriber");
  info->add_option("POOL", pool, "the pool's name")->required();

  // hz and bw: the same sampling, reported as frames or bytes per second.
  auto add_rate = [&](const char* name, const char* what, RateOptions& o) {
    CLI::App* cmd = app.add_subcommand(name, what);
    cmd->add_option("POOL", pool, "the pool's name")->required();
    cmd->add_option("-w,--window", o.window, "intervals the statistics cover")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    cmd->add_option("-n,--count", o.count, "stop after N reports (0: on Ctrl-C)");
    cmd->add_option("--period", o.period_s, "seconds between reports")
        ->capture_default_str()
        ->check(CLI::Range(0.01, 3600.0));
    return cmd;
  };
  RateOptions hz_options;
  auto* hz = add_rate("hz", "a pool's frame rate: mean, min/max/std of the interval", hz_options);
  RateOptions bw_options;
  bw_options.bandwidth = true;
  auto* bw = add_rate("bw", "a pool's bandwidth: bytes per second it publishes", bw_options);

  EchoOptions echo_options;
  auto* echo = app.add_subcommand(
      "echo", "each new frame: seq, time, latency, and min/max/mean of its data");
  echo->add_option("POOL", pool, "the pool's name")->required();
  echo->add_flag("--once", echo_options.once, "the latest frame (or the first to come), then exit");
  echo->add_option("-n,--count", echo_options.count, "stop after N frames (0: on Ctrl-C)");

  WatchOptions watch_options;
  auto* watch = app.add_subcommand(
      "watch", "pools appearing, producers joining and leaving, pools removed, live");
  watch->add_option("--interval-ms", watch_options.interval_ms, "how often the pools are read")
      ->capture_default_str()
      ->check(CLI::Range(10, 60000));
  watch->add_option("-n,--count", watch_options.count, "stop after N changes (0: on Ctrl-C)");

  bool force = false;
  auto* rm = app.add_subcommand("rm", "delete a pool (its owner, root or the admin group)");
  rm->add_option("POOL", pool, "the pool's name")->required();
  rm->add_flag("-f,--force", force, "also end the lease of the producer that holds it");

  SnapshotOptions snap_options;
  std::string range_text;
  auto* snapshot = app.add_subcommand(
      "snapshot", "the latest frame to a file: .npy (any pool) or .png (image-shaped pools)");
  snapshot->add_option("POOL", pool, "the pool's name")->required();
  snapshot->add_option("-o,--output", snap_options.output, "the file: NAME.npy or NAME.png")
      ->required();
  snapshot->add_option("--format", snap_options.format, "npy or png (default: the extension)")
      ->check(CLI::IsMember({"npy", "png"}));
  snapshot->add_option("--range", range_text,
                       "LO:HI: the values that become black and white in a PNG of a pool "
                       "other than uint8/uint16, which are written as they are (default: 0:1 "
                       "when the frame's values lie in it, else their 0.1st to 99.9th "
                       "percentile)");

  auto* socket = app.add_subcommand(
      "socket", "which socket a client here would use, and whether a daemon answers on it");
  auto* doctor = app.add_subcommand(
      "doctor", "check socket, permissions, group, daemon and memory; each problem with its fix");

  CLI11_PARSE(app, argc, argv);
  if (!range_text.empty()) {
    snap_options.range = parse_range(range_text);
    if (!snap_options.range) {
      std::fprintf(stderr, "tensor-ipc: --range wants LO:HI with LO < HI, e.g. 0:1, not '%s'\n",
                   range_text.c_str());
      return 2;
    }
  }

  // The commands that run until stopped stop cleanly on Ctrl-C; the others
  // keep the default (a Ctrl-C while a daemon does not answer ends them).
  if (*hz || *bw || *echo || *watch) {
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
  }
  try {
    if (*ls) return run_ls(common);
    if (*info) return run_info(common, pool);
    if (*hz) return run_rate(common, pool, hz_options);
    if (*bw) return run_rate(common, pool, bw_options);
    if (*echo) return run_echo(common, pool, echo_options);
    if (*watch) return run_watch(common, watch_options);
    if (*rm) return run_rm(common, pool, force);
    if (*snapshot) return run_snapshot(common, pool, snap_options);
    if (*socket) return run_socket(common);
    if (*doctor) return run_doctor(common);
  } catch (const tensoripc::Error& e) {
    std::fprintf(stderr, "tensor-ipc: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "tensor-ipc: out of memory (a frame too large for this machine?)\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tensor-ipc: %s\n", e.what());
    return 1;
  }
  return 2;
}
