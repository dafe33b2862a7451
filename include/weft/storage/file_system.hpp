// weft/storage/file_system.hpp - the file-system policy durable storage is written against.
// The POSIX implementation (storage/posix_file_system.hpp) and the simulator's faulty disk
// (sim/disk.hpp) both model it, so the WAL runs unchanged on either.
// Requirements table: docs/requirements/file_system.md.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "weft/config.hpp"
#include "weft/core/bytes.hpp"
#include "weft/core/result.hpp"

WEFT_BEGIN
namespace storage {

/// An open file, valid until close(). Opaque to callers.
struct file_handle {
  std::uint32_t value = 0;
  friend constexpr bool operator==(file_handle, file_handle) noexcept = default;
};

enum class open_mode : std::uint8_t {
  open_existing,    // fail with not_found when absent
  create_or_open,   // create empty when absent
  create_exclusive  // fail with already_exists when present
};

/// Errors every file_system model reports (POSIX errno values map onto these).
enum class fs_errc : std::uint16_t {
  ok = 0,
  not_found = 1,
  already_exists = 2,
  io_error = 3,        // a read or write failed (EIO, latent sector error)
  no_space = 4,        // ENOSPC / EDQUOT
  bad_handle = 5,
  name_too_long = 6,
  too_many_open_files = 7,
  permission_denied = 8,
  crashed = 9,         // the simulated machine is down
};

constexpr std::string_view describe(fs_errc code) noexcept {
  switch (code) {
    case fs_errc::ok: return "ok";
    case fs_errc::not_found: return "file not found";
    case fs_errc::already_exists: return "file already exists";
    case fs_errc::io_error: return "I/O error";
    case fs_errc::no_space: return "no space left on device";
    case fs_errc::bad_handle: return "bad file handle";
    case fs_errc::name_too_long: return "file name too long";
    case fs_errc::too_many_open_files: return "too many open files";
    case fs_errc::permission_denied: return "permission denied";
    case fs_errc::crashed: return "machine crashed";
  }
  return "unknown file-system error";
}

/// A flat directory of named files. Durability: bytes written reach stable storage only
/// after sync(file); a create, rename or remove becomes durable only after sync_directory().
/// A crash may lose anything not yet durable and may tear the last unsynced write.
template <class FS>
concept file_system = requires(FS& fs, std::string_view name, open_mode mode, file_handle file,
                               std::uint64_t offset, byte_view data, mutable_byte_view out,
                               void (*visit)(void*, std::string_view) noexcept, void* context) {
  { fs.open(name, mode) } noexcept -> std::same_as<result<file_handle>>;
  { fs.close(file) } noexcept -> std::same_as<result<void>>;
  { fs.read(file, offset, out) } noexcept -> std::same_as<result<std::size_t>>;  // short at EOF
  { fs.write(file, offset, data) } noexcept -> std::same_as<result<void>>;
  { fs.sync(file) } noexcept -> std::same_as<result<void>>;
  { fs.size(file) } noexcept -> std::same_as<result<std::uint64_t>>;
  { fs.truncate(file, offset) } noexcept -> std::same_as<result<void>>;
  { fs.rename(name, name) } noexcept -> std::same_as<result<void>>;  // atomic replace
  { fs.remove(name) } noexcept -> std::same_as<result<void>>;
  { fs.sync_directory() } noexcept -> std::same_as<result<void>>;
  { fs.list(visit, context) } noexcept -> std::same_as<result<void>>;
};

}  // namespace storage
WEFT_END
WEFT_ERROR_DOMAIN(weft::storage::fs_errc, "fs")
