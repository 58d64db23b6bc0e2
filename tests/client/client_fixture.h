// What the client's multi-process tests share: a real tensor-ipcd per test,
// the helper processes (test_producer, test_consumer) and their reports.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "tensoripc/tensoripc.h"
#include "tests/support/process.h"

namespace tensoripc::testing {

using std::chrono::milliseconds;
using std::chrono::seconds;

// "RESULT a=1 b=2 c=x" -> {a:1, b:2}: the numeric fields (up to 19 digits).
inline std::map<std::string, uint64_t> parse_result(const std::string& line) {
  std::map<std::string, uint64_t> out;
  std::istringstream in(line);
  std::string word;
  while (in >> word) {
    const auto eq = word.find('=');
    if (eq == std::string::npos || eq + 1 == word.size()) continue;
    const std::string value = word.substr(eq + 1);
    if (value.size() < 20 && value.find_first_not_of("0123456789") == std::string::npos) {
      out[word.substr(0, eq)] = std::stoull(value);
    }
  }
  return out;
}

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override { daemon_ = std::make_unique<DaemonProcess>(); }
  void TearDown() override {
    daemon_.reset();  // SIGTERM; its segments are unlinked
  }

  ProducerOptions producer_options() const {
    ProducerOptions o;
    o.socket_path = daemon_->socket_path();
    return o;
  }
  ConsumerOptions consumer_options() const {
    ConsumerOptions o;
    o.socket_path = daemon_->socket_path();
    return o;
  }

  // A test_producer process; waits for its READY line (or ERROR).
  std::unique_ptr<ChildProcess> start_producer(const std::string& name, int64_t bytes,
                                               uint32_t history,
                                               std::vector<std::string> extra = {},
                                               std::string* first_line = nullptr) {
    std::vector<std::string> argv = {
        TIPC_TEST_PRODUCER,     "--name", name, "--bytes", std::to_string(bytes), "--history",
        std::to_string(history)};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto child = std::make_unique<ChildProcess>(argv, daemon_->client_env());
    auto line = child->read_line(seconds(20));
    if (first_line) *first_line = line.value_or("");
    if (!first_line) {
      EXPECT_TRUE(line && line->rfind("READY", 0) == 0) << line.value_or("(no output)");
    }
    return child;
  }

  // A test_consumer process in `mode`; waits for READY.
  std::unique_ptr<ChildProcess> start_consumer(const std::string& name, int64_t bytes,
                                               uint32_t history, const std::string& mode,
                                               std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {
        TIPC_TEST_CONSUMER,      "--name", name, "--bytes", std::to_string(bytes), "--history",
        std::to_string(history), "--mode", mode};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto child = std::make_unique<ChildProcess>(argv, daemon_->client_env());
    auto line = child->read_line(seconds(20));
    EXPECT_TRUE(line && line->rfind("READY", 0) == 0) << line.value_or("(no output)");
    return child;
  }

  // SIGTERM to a test_consumer, then its RESULT.
  static std::map<std::string, uint64_t> finish_consumer(ChildProcess& c) {
    c.signal(SIGTERM);
    auto line = c.wait_for_line("RESULT", seconds(20));
    EXPECT_TRUE(line.has_value()) << "consumer " << c.pid() << " gave no RESULT";
    expect_clean_exit(c);
    return line ? parse_result(*line) : std::map<std::string, uint64_t>{};
  }

  // Exit status 0: under ASan/UBSan a finding (or a leak) fails the test.
  static void expect_clean_exit(ChildProcess& c) {
    const auto status = c.wait(seconds(20));
    ASSERT_TRUE(status.has_value()) << "process " << c.pid() << " did not exit";
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
        << "process " << c.pid() << " ended with wait status " << *status;
  }

  std::unique_ptr<DaemonProcess> daemon_;
};

}  // namespace tensoripc::testing
