// Shared memory behind two small RAII types: a file descriptor (a sealed
// memfd, as pools use, or a named POSIX segment, as benchmarks and tests use)
// and a mapping. The only place that calls memfd_create/shm_open/mmap.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/status.h"

namespace tensoripc {

// Which file an fd refers to: equal for two fds of the same memfd or
// segment, whoever opened them and however they travelled.
struct FileIdentity {
  uint64_t dev = 0;
  uint64_t ino = 0;
  bool operator==(const FileIdentity& o) const { return dev == o.dev && ino == o.ino; }
  bool operator!=(const FileIdentity& o) const { return !(*this == o); }
};

// An open shared-memory file. Owns the fd; movable, not copyable; not
// thread-safe.
class ShmFile {
 public:
  ShmFile() = default;
  ~ShmFile();
  ShmFile(ShmFile&& other) noexcept;
  ShmFile& operator=(ShmFile&& other) noexcept;
  ShmFile(const ShmFile&) = delete;
  ShmFile& operator=(const ShmFile&) = delete;

  // Creates `name` exclusively with `mode` (not filtered by the umask) and
  // reserves `size` bytes up front with posix_fallocate, so a full /dev/shm
  // is RESOURCE_EXHAUSTED now instead of a SIGBUS later. On any error the
  // segment is unlinked again: nothing is left behind.
  static StatusOr<ShmFile> create(const std::string& name, size_t size, mode_t mode);

  // Opens an existing segment for reading, or reading and writing.
  static StatusOr<ShmFile> open(const std::string& name, bool writable);

  // An anonymous memfd of `size` bytes (`label` shows in /proc/PID/maps as
  // "memfd:<label>"), reserved up front like create(), mode 0600 so that
  // only this process's user can reopen it through /proc/PID/fd, and sealed
  // against shrinking and growing: no one holding it, however they got it,
  // can truncate it under another process's mapping (a SIGBUS there).
  static StatusOr<ShmFile> create_sealed(const std::string& label, size_t size);

  // Takes ownership of `fd` (one received from another process, say).
  static ShmFile adopt_fd(int fd, std::string label);

  // A new, read-only open file description of the same file (through
  // /proc/self/fd): whoever receives it can map it for reading only, and
  // cannot make that mapping writable with mprotect.
  StatusOr<ShmFile> reopen_read_only() const;

  // Whether the file is sealed against shrinking and growing (a memfd made
  // by create_sealed). Anything else might be truncated under a mapping.
  bool sealed_against_resize() const;
  // Whether this fd allows writing (O_RDWR).
  bool writable() const;
  StatusOr<FileIdentity> identity() const;

  static bool unlink(const std::string& name);

  int fd() const { return fd_; }
  const std::string& name() const { return name_; }
  StatusOr<size_t> size() const;

 private:
  int fd_ = -1;
  std::string name_;
};

// A mapping of part of a segment. Owns the mapping; movable; not thread-safe.
class Mapping {
 public:
  enum class Access { kRead, kReadWrite };

  Mapping() = default;
  ~Mapping();
  Mapping(Mapping&& other) noexcept;
  Mapping& operator=(Mapping&& other) noexcept;
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;

  // Maps [offset, offset+length) of `file` (offset page-aligned). With
  // `prefault` every page is faulted in now (MADV_POPULATE_*, or a touch per
  // page on older kernels): a page fault costs microseconds, so the hot path
  // must never take one.
  static StatusOr<Mapping> map(const ShmFile& file, uint64_t offset, size_t length, Access access,
                               bool prefault);

  void* data() const { return data_; }
  size_t size() const { return size_; }
  explicit operator bool() const { return data_ != nullptr; }

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};


}  // namespace tensoripc
