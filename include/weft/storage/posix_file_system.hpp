// weft/storage/posix_file_system.hpp - the file_system policy on a POSIX directory:
// weft:hosted (openat/pwrite/pread/fdatasync/renameat, fsync on the directory descriptor).
// Handles index a fixed table sized at construction; errno values map onto fs_errc.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "weft/config.hpp"
#include "weft/core/bytes.hpp"
#include "weft/core/result.hpp"
#include "weft/storage/file_system.hpp"

WEFT_BEGIN
namespace storage {

struct posix_file_system_options {
  std::size_t max_open_files = 256;
  bool create_directory = true;  // mkdir the directory (one level) when absent

  [[nodiscard]] result<void> validate() const noexcept {
    if (max_open_files == 0 || max_open_files > 65535)
      return error(core_errc::invalid_options, "posix_file_system_options: max_open_files");
    return ok();
  }
};

namespace detail {
inline fs_errc errno_to_fs(int code) noexcept {
  switch (code) {
    case ENOENT: return fs_errc::not_found;
    case EEXIST: return fs_errc::already_exists;
    case ENOSPC: return fs_errc::no_space;
#ifdef EDQUOT
    case EDQUOT: return fs_errc::no_space;
#endif
    case EBADF: return fs_errc::bad_handle;
    case ENAMETOOLONG: return fs_errc::name_too_long;
    case EMFILE: return fs_errc::too_many_open_files;
    case ENFILE: return fs_errc::too_many_open_files;
    case EACCES: return fs_errc::permission_denied;
    case EPERM: return fs_errc::permission_denied;
    case EROFS: return fs_errc::permission_denied;
    default: return fs_errc::io_error;
  }
}

/// A file name as a NUL-terminated string on the stack; refuses paths and over-long names.
class c_name {
 public:
  explicit c_name(std::string_view name) noexcept {
    if (name.empty() || name == "." || name == ".." ||
        name.find('/') != std::string_view::npos || name.find('\0') != std::string_view::npos) {
      status_ = fs_errc::not_found;
    } else if (name.size() >= sizeof(text_)) {
      status_ = fs_errc::name_too_long;
    } else {
      std::memcpy(text_, name.data(), name.size());
      text_[name.size()] = '\0';
    }
  }
  [[nodiscard]] fs_errc status() const noexcept { return status_; }
  [[nodiscard]] const char* get() const noexcept { return text_; }

 private:
  char text_[256] = {};
  fs_errc status_ = fs_errc::ok;
};
}  // namespace detail

/// One directory of a POSIX file system. Not thread-safe; one owner at a time.
class posix_file_system {
 public:
  explicit posix_file_system(const posix_file_system_options& options = {}) noexcept
      : options_(options) {
    fds_.assign(options.max_open_files, -1);
  }
  posix_file_system(const posix_file_system&) = delete;
  posix_file_system& operator=(const posix_file_system&) = delete;
  ~posix_file_system() { detach(); }

  /// Binds to `directory` (creating it when allowed); must succeed before any other call.
  [[nodiscard]] result<void> attach(const char* directory) noexcept {
    detach();
    WEFT_TRY(options_.validate());
    if (options_.create_directory && ::mkdir(directory, 0755) != 0 && errno != EEXIST)
      return error(detail::errno_to_fs(errno), "posix: mkdir");
    directory_fd_ = ::open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (directory_fd_ < 0) return error(detail::errno_to_fs(errno), "posix: open directory");
    return ok();
  }

  void detach() noexcept {
    for (int& fd : fds_) {
      if (fd >= 0) ::close(fd);
      fd = -1;
    }
    if (directory_fd_ >= 0) ::close(directory_fd_);
    directory_fd_ = -1;
  }

  [[nodiscard]] result<file_handle> open(std::string_view name, open_mode mode) noexcept {
    const detail::c_name path(name);
    if (path.status() != fs_errc::ok) return error(path.status(), "posix: open name");
    std::size_t slot = 0;
    while (slot < fds_.size() && fds_[slot] >= 0) ++slot;
    if (slot == fds_.size()) return error(fs_errc::too_many_open_files, "posix: max_open_files");
    int flags = O_RDWR | O_CLOEXEC;
    if (mode == open_mode::create_or_open) flags |= O_CREAT;
    if (mode == open_mode::create_exclusive) flags |= O_CREAT | O_EXCL;
    const int fd = ::openat(directory_fd_, path.get(), flags, 0644);
    if (fd < 0) return error(detail::errno_to_fs(errno), "posix: open");
    fds_[slot] = fd;
    return file_handle{static_cast<std::uint32_t>(slot + 1)};
  }

  [[nodiscard]] result<void> close(file_handle file) noexcept {
    const int fd = fd_of(file);
    if (fd < 0) return error(fs_errc::bad_handle, "posix: close");
    fds_[file.value - 1] = -1;
    if (::close(fd) != 0 && errno != EINTR) return error(detail::errno_to_fs(errno), "posix: close");
    return ok();
  }

  [[nodiscard]] result<std::size_t> read(file_handle file, std::uint64_t offset,
                                         mutable_byte_view out) noexcept {
    const int fd = fd_of(file);
    if (fd < 0) return error(fs_errc::bad_handle, "posix: read");
    std::size_t done = 0;
    while (done < out.size()) {
      const ssize_t n = ::pread(fd, out.data() + done, out.size() - done,
                                static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return error(detail::errno_to_fs(errno), "posix: pread");
      if (n == 0) break;
      done += static_cast<std::size_t>(n);
    }
    return done;
  }

  [[nodiscard]] result<void> write(file_handle file, std::uint64_t offset,
                                   byte_view data) noexcept {
    const int fd = fd_of(file);
    if (fd < 0) return error(fs_errc::bad_handle, "posix: write");
    std::size_t done = 0;
    while (done < data.size()) {
      const ssize_t n = ::pwrite(fd, data.data() + done, data.size() - done,
                                 static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return error(detail::errno_to_fs(errno), "posix: pwrite");
      if (n == 0) return error(fs_errc::io_error, "posix: pwrite wrote nothing");
      done += static_cast<std::size_t>(n);
    }
    return ok();
  }

  [[nodiscard]] result<void> sync(file_handle file) noexcept {
    const int fd = fd_of(file);
    if (fd < 0) return error(fs_errc::bad_handle, "posix: sync");
    // A failed fdatasync may have dropped the dirty pages: the caller must not retry and
    // assume durability (the WAL poisons itself instead).
    if (::fdatasync(fd) != 0) return error(detail::errno_to_fs(errno), "posix: fdatasync");
    return ok();
  }

  [[nodiscard]] result<std::uint64_t> size(file_handle file) noexcept {
    const int fd = fd_of(file);
    if (fd < 0) return error(fs_errc::bad_handle, "posix: size");
    struct stat st {};
    if (::fstat(fd, &st) != 0) return error(detail::errno_to_fs(errno), "posix: fstat");
    return static_cast<std::uint64_t>(st.st_size);
  }

  [[nodiscard]] result<void> truncate(file_handle file, std::uint64_t new_size) noexcept {
    const int fd = fd_of(file);
    if (fd < 0) return error(fs_errc::bad_handle, "posix: truncate");
    if (::ftruncate(fd, static_cast<off_t>(new_size)) != 0)
      return error(detail::errno_to_fs(errno), "posix: ftruncate");
    return ok();
  }

  /// Optional extension the WAL uses when present: reserves [0, size) so later writes
  /// inside it change no file size (fallocate; reads of unwritten space return zeros).
  /// fs_errc::io_error when the file system cannot do it; the caller then zero-fills.
  [[nodiscard]] result<void> preallocate(file_handle file, std::uint64_t size) noexcept {
    const int fd = fd_of(file);
    if (fd < 0) return error(fs_errc::bad_handle, "posix: preallocate");
#if defined(__linux__)
    if (::fallocate(fd, 0, 0, static_cast<off_t>(size)) == 0) return ok();
    if (errno == ENOSPC) return error(fs_errc::no_space, "posix: fallocate");
    return error(fs_errc::io_error, "posix: fallocate unsupported");
#else
    (void)size;
    return error(fs_errc::io_error, "posix: preallocate unsupported");
#endif
  }

  [[nodiscard]] result<void> rename(std::string_view from, std::string_view to) noexcept {
    const detail::c_name a(from);
    const detail::c_name b(to);
    if (a.status() != fs_errc::ok) return error(a.status(), "posix: rename from");
    if (b.status() != fs_errc::ok) return error(b.status(), "posix: rename to");
    if (::renameat(directory_fd_, a.get(), directory_fd_, b.get()) != 0)
      return error(detail::errno_to_fs(errno), "posix: renameat");
    return ok();
  }

  [[nodiscard]] result<void> remove(std::string_view name) noexcept {
    const detail::c_name path(name);
    if (path.status() != fs_errc::ok) return error(path.status(), "posix: remove name");
    if (::unlinkat(directory_fd_, path.get(), 0) != 0)
      return error(detail::errno_to_fs(errno), "posix: unlinkat");
    return ok();
  }

  [[nodiscard]] result<void> sync_directory() noexcept {
    if (directory_fd_ < 0) return error(fs_errc::bad_handle, "posix: sync_directory");
    if (::fsync(directory_fd_) != 0) return error(detail::errno_to_fs(errno), "posix: fsync dir");
    return ok();
  }

  [[nodiscard]] result<void> list(void (*visit)(void*, std::string_view) noexcept,
                                  void* context) noexcept {
    if (directory_fd_ < 0) return error(fs_errc::bad_handle, "posix: list");
    const int fd = ::dup(directory_fd_);
    if (fd < 0) return error(detail::errno_to_fs(errno), "posix: dup");
    DIR* dir = ::fdopendir(fd);
    if (dir == nullptr) {
      ::close(fd);
      return error(detail::errno_to_fs(errno), "posix: fdopendir");
    }
    ::rewinddir(dir);
    while (const dirent* entry = ::readdir(dir)) {
      const std::string_view name(entry->d_name);
      if (name == "." || name == "..") continue;
      if (entry->d_type != DT_REG && entry->d_type != DT_UNKNOWN) continue;
      visit(context, name);
    }
    ::closedir(dir);
    return ok();
  }

 private:
  [[nodiscard]] int fd_of(file_handle file) const noexcept {
    if (file.value == 0 || file.value > fds_.size()) return -1;
    return fds_[file.value - 1];
  }

  posix_file_system_options options_;
  std::vector<int> fds_;
  int directory_fd_ = -1;
};

static_assert(file_system<posix_file_system>,
              "posix_file_system: see docs/requirements/file_system.md");

}  // namespace storage
WEFT_END
