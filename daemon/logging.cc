#include "daemon/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <cstdlib>
#include <memory>

namespace tensoripc::daemon {
namespace {

// "%*": the sd-daemon(3) priority prefix of the message's level.
class SdPriorityFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm& /*tm*/,
              spdlog::memory_buf_t& dest) override {
    const char* prefix = SD_INFO;
    switch (msg.level) {
      case spdlog::level::trace:
      case spdlog::level::debug:
        prefix = SD_DEBUG;
        break;
      case spdlog::level::info:
        prefix = SD_INFO;
        break;
      case spdlog::level::warn:
        prefix = SD_WARNING;
        break;
      case spdlog::level::err:
        prefix = SD_ERR;
        break;
      case spdlog::level::critical:
        prefix = SD_CRIT;
        break;
      default:
        break;
    }
    dest.append(prefix, prefix + std::char_traits<char>::length(prefix));
  }

  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<SdPriorityFlag>();
  }
};

}  // namespace

bool under_systemd() {
  return std::getenv("JOURNAL_STREAM") != nullptr || std::getenv("INVOCATION_ID") != nullptr;
}

void setup_logging(const std::string& level, bool systemd) {
  auto logger = std::make_shared<spdlog::logger>("tensor-ipcd",
                                                 std::make_shared<spdlog::sinks::stderr_sink_mt>());
  if (systemd) {
    auto formatter = std::make_unique<spdlog::pattern_formatter>();
    formatter->add_flag<SdPriorityFlag>('*').set_pattern("%*%v");
    logger->set_formatter(std::move(formatter));
  } else {
    logger->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%l] %v");
  }
  logger->set_level(spdlog::level::from_str(level));
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(std::move(logger));
}

}  // namespace tensoripc::daemon
