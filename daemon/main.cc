// tensor-ipcd: the tensor-ipc broker daemon. See docs/protocol.md for what it
// does on the wire and docs/daemon.md for how to run it.
#include <signal.h>
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <cstdlib>
#include <exception>
#include <memory>

#include "common/process.h"
#include "daemon/config.h"
#include "daemon/logging.h"
#include "daemon/registry.h"
#include "daemon/server.h"

namespace tensoripc::daemon {
namespace {

int run(const Config& config) {
  // Before any thread exists: every thread gRPC starts inherits this mask, so
  // SIGTERM and SIGINT reach only the sigwait below.
  const sigset_t stop_signals = block_stop_signals();
  ::signal(SIGPIPE, SIG_IGN);

  const bool systemd = under_systemd();
  setup_logging(config.log_level, systemd);
  spdlog::info("tensor-ipcd starting: {}", describe(config));

  Registry registry(config.registry);

  auto server = Server::start(config, registry);
  if (!server.ok()) {
    spdlog::critical("{}", server.status().message());
    return 1;
  }
  spdlog::info("serving on {}", config.socket_path);
  sd_notifyf(0, "READY=1\nSTATUS=serving on %s", config.socket_path.c_str());

  int sig = 0;
  while (sigwait(&stop_signals, &sig) != 0) {
  }
  spdlog::info("{} received: shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
  sd_notify(0, "STOPPING=1");
  const bool clean = (*server)->shutdown();
  spdlog::info("stopped");
  if (!clean) {
    // gRPC is still stopping on another thread; destructors must not race it.
    spdlog::default_logger()->flush();
    std::_Exit(0);
  }
  return 0;
}

}  // namespace
}  // namespace tensoripc::daemon

int main(int argc, char** argv) {
  using namespace tensoripc::daemon;
  ParseOutcome parsed = parse_config(argc, argv);
  if (!parsed.config) return parsed.exit_code;
  try {
    return run(*parsed.config);
  } catch (const std::exception& e) {
    spdlog::critical("tensor-ipcd failed: {}", e.what());
    return 1;
  }
}
