#include "common/shm.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

namespace tensoripc {
namespace {

std::string errno_text(int err) { return std::strerror(err); }

Status errno_status(const std::string& what, int err) {
  const StatusCode code = err == ENOSPC || err == ENOMEM || err == EMFILE || err == ENFILE
                              ? StatusCode::kResourceExhausted
                          : err == ENOENT ? StatusCode::kNotFound
                          : err == EACCES || err == EPERM ? StatusCode::kPermissionDenied
                          : err == EEXIST ? StatusCode::kAlreadyExists
                                          : StatusCode::kInternal;
  return Status(code, what + ": " + errno_text(err));
}

}  // namespace

ShmFile::~ShmFile() {
  if (fd_ >= 0) ::close(fd_);
}

ShmFile::ShmFile(ShmFile&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), name_(std::move(other.name_)) {}

ShmFile& ShmFile::operator=(ShmFile&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    name_ = std::move(other.name_);
  }
  return *this;
}

StatusOr<ShmFile> ShmFile::create(const std::string& name, size_t size, mode_t mode) {
  const int fd = ::shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return errno_status("cannot create shared memory " + name, errno);
  ShmFile file;
  file.fd_ = fd;
  file.name_ = name;
  auto fail = [&](const std::string& what, int err) {
    ::shm_unlink(name.c_str());
    return errno_status(what, err);
  };
  if (::fchmod(fd, mode) != 0) return fail("cannot set the mode of " + name, errno);
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
    return fail("cannot size " + name + " to " + std::to_string(size) + " bytes", errno);
  }
  // posix_fallocate returns the error instead of setting errno.
  if (int err = ::posix_fallocate(fd, 0, static_cast<off_t>(size)); err != 0) {
    if (err == ENOSPC) {
      ::shm_unlink(name.c_str());
      return resource_exhausted("not enough space in /dev/shm for " + name + " (" +
                                std::to_string(size) +
                                " bytes); free some or raise the tmpfs size");
    }
    return fail("cannot reserve " + std::to_string(size) + " bytes for " + name, err);
  }
  return file;
}

StatusOr<ShmFile> ShmFile::open(const std::string& name, bool writable) {
  const int fd = ::shm_open(name.c_str(), (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC, 0);
  if (fd < 0) return errno_status("cannot open shared memory " + name, errno);
  ShmFile file;
  file.fd_ = fd;
  file.name_ = name;
  return file;
}

StatusOr<ShmFile> ShmFile::create_sealed(const std::string& label, size_t size) {
  const int fd = ::memfd_create(label.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return errno_status("cannot create memory file " + label, errno);
  ShmFile file = adopt_fd(fd, "memfd:" + label);
  // memfds are born 0777: a process that got a read-only fd could reopen it
  // writable through /proc/PID/fd. Only the creator's user may, now.
  if (::fchmod(fd, 0600) != 0) return errno_status("cannot set the mode of " + file.name_, errno);
  // fallocate both sizes the file and reserves its pages: a full tmpfs (or
  // memory cgroup) is RESOURCE_EXHAUSTED now, not a SIGBUS at first touch.
  if (::fallocate(fd, 0, 0, static_cast<off_t>(size)) != 0) {
    if (errno == ENOSPC || errno == ENOMEM) {
      return resource_exhausted("not enough memory for " + file.name_ + " (" +
                                std::to_string(size) + " bytes)");
    }
    return errno_status("cannot reserve " + std::to_string(size) + " bytes for " + file.name_,
                        errno);
  }
  if (::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
    return errno_status("cannot seal " + file.name_, errno);
  }
  return file;
}

ShmFile ShmFile::adopt_fd(int fd, std::string label) {
  ShmFile file;
  file.fd_ = fd;
  file.name_ = std::move(label);
  return file;
}

StatusOr<ShmFile> ShmFile::reopen_read_only() const {
  const std::string path = "/proc/self/fd/" + std::to_string(fd_);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno_status("cannot reopen " + name_ + " read-only", errno);
  return adopt_fd(fd, name_);
}

bool ShmFile::sealed_against_resize() const {
  const int seals = ::fcntl(fd_, F_GET_SEALS);
  return seals >= 0 && (seals & (F_SEAL_SHRINK | F_SEAL_GROW)) == (F_SEAL_SHRINK | F_SEAL_GROW);
}

bool ShmFile::writable() const {
  const int flags = ::fcntl(fd_, F_GETFL);
  return flags >= 0 && (flags & O_ACCMODE) == O_RDWR;
}

StatusOr<FileIdentity> ShmFile::identity() const {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) return errno_status("cannot stat " + name_, errno);
  return FileIdentity{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)};
}

bool ShmFile::unlink(const std::string& name) { return ::shm_unlink(name.c_str()) == 0; }

StatusOr<size_t> ShmFile::size() const {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) return errno_status("cannot stat " + name_, errno);
  return static_cast<size_t>(st.st_size);
}

Mapping::~Mapping() {
  if (data_) ::munmap(data_, size_);
}

Mapping::Mapping(Mapping&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

Mapping& Mapping::operator=(Mapping&& other) noexcept {
  if (this != &other) {
    if (data_) ::munmap(data_, size_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

StatusOr<Mapping> Mapping::map(const ShmFile& file, uint64_t offset, size_t length, Access access,
                               bool prefault) {
  if (length == 0) return invalid_argument("cannot map 0 bytes of " + file.name());
  const int prot = access == Access::kReadWrite ? PROT_READ | PROT_WRITE : PROT_READ;
  void* p = ::mmap(nullptr, length, prot, MAP_SHARED, file.fd(), static_cast<off_t>(offset));
  if (p == MAP_FAILED) {
    return errno_status("cannot map " + std::to_string(length) + " bytes of " + file.name(), errno);
  }
  Mapping m;
  m.data_ = p;
  m.size_ = length;
  if (prefault) {
    const int advice = access == Access::kReadWrite ? MADV_POPULATE_WRITE : MADV_POPULATE_READ;
    if (::madvise(p, length, advice) != 0) {
      // Kernels before 5.14: fault each page in by hand.
      volatile const char* bytes = static_cast<const char*>(p);
      long page = ::sysconf(_SC_PAGESIZE);
      char sink = 0;
      for (size_t i = 0; i < length; i += static_cast<size_t>(page)) sink ^= bytes[i];
      (void)sink;
    }
  }
  return m;
}

}  // namespace tensoripc
