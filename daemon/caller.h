// Who made a call, as the kernel says: the credentials of the connection it
// came on (SO_PEERCRED), never what a request claims.
#pragma once

#include <cstdint>
#include <string>

namespace tensoripc::daemon {

struct Caller {
  int32_t pid = 0;
  uint32_t uid = UINT32_MAX;
  // root, or a member of the daemon's admin group (--admin-group).
  bool admin = false;

  // Whether this caller may resume, replace or delete a pool of `owner_uid`.
  bool may_manage(uint32_t owner_uid) const { return admin || uid == 0 || uid == owner_uid; }
  std::string to_string() const {
    return "pid " + std::to_string(pid) + " (uid " + std::to_string(uid) + ")";
  }
};

}  // namespace tensoripc::daemon
