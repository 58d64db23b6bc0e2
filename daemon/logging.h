// The daemon's logging: spdlog to stderr. Under systemd the lines carry
// sd-daemon priority prefixes ("<6>...") and no timestamp, because journald
// stamps and classifies each line itself; by hand they carry a timestamp.
#pragma once

#include <string>

namespace tensoripc::daemon {

// True when systemd started us (it sets JOURNAL_STREAM or INVOCATION_ID).
bool under_systemd();

// Installs the default logger. `level` is one of spdlog's level names
// (trace ... critical, off), already validated.
void setup_logging(const std::string& level, bool systemd);

}  // namespace tensoripc::daemon
