// weft/storage/snapshot.hpp - snapshot files over any file_system: streamed into a temp
// file, checksummed, then synced, renamed into place and the directory synced (atomic
// install); served back in chunks for install-snapshot streaming; the last N kept.
//
// File "snap-<16 hex index>-<16 hex term>.snap": a 64-byte header, then the bytes.
//   0 magic "weftsnap" | 8 u32 version | 12 u32 zero | 16 u64 index | 24 u64 term
//   32 u64 size | 40 u32 CRC-32C of the bytes | 44..60 zero | 60 u32 masked CRC of 0..60
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "weft/config.hpp"
#include "weft/core/bytes.hpp"
#include "weft/core/crc32c.hpp"
#include "weft/core/endian.hpp"
#include "weft/core/result.hpp"
#include "weft/storage/concepts.hpp"
#include "weft/storage/file_system.hpp"

WEFT_BEGIN
namespace storage {

struct snapshot_options {
  std::size_t keep_count = 2;                                // installed snapshots retained
  std::uint64_t max_snapshot_size_bytes = std::uint64_t{1} << 34;
  std::size_t verify_buffer_size_bytes = std::size_t{1} << 16;  // checksum pass on open
  std::size_t max_files = 4096;                                 // names listed at once

  [[nodiscard]] result<void> validate() const noexcept {
    if (keep_count == 0 || max_snapshot_size_bytes == 0 || verify_buffer_size_bytes == 0 ||
        max_files == 0)
      return error(core_errc::invalid_options, "snapshot_options");
    return ok();
  }
};

namespace detail {
inline constexpr std::uint8_t snapshot_magic[8] = {'w', 'e', 'f', 't', 's', 'n', 'a', 'p'};
inline constexpr std::uint32_t snapshot_version = 1;
inline constexpr std::size_t snapshot_header_size = 64;
inline constexpr std::size_t snapshot_name_size = 43;  // snap-<16>-<16>.snap

inline void format_snapshot_name(std::uint64_t index, std::uint64_t term, bool temporary,
                                 char (&out)[snapshot_name_size + 1]) noexcept {
  static constexpr char digits[] = "0123456789abcdef";
  std::memcpy(out, "snap-", 5);
  for (int i = 0; i < 16; ++i) out[5 + i] = digits[(index >> (60 - 4 * i)) & 0xfu];
  out[21] = '-';
  for (int i = 0; i < 16; ++i) out[22 + i] = digits[(term >> (60 - 4 * i)) & 0xfu];
  std::memcpy(out + 38, temporary ? ".tmp\0" : ".snap", 5);
  out[snapshot_name_size] = '\0';
}

/// Parses a snapshot or temp name; `temporary` tells which.
inline bool parse_snapshot_name(std::string_view name, std::uint64_t& index, std::uint64_t& term,
                                bool& temporary) noexcept {
  if (name.size() == snapshot_name_size && name.substr(38) == ".snap") temporary = false;
  else if (name.size() == snapshot_name_size - 1 && name.substr(38) == ".tmp") temporary = true;
  else return false;
  if (name.substr(0, 5) != "snap-" || name[21] != '-') return false;
  auto hex = [&](std::size_t from, std::uint64_t& out) noexcept {
    out = 0;
    for (std::size_t i = from; i < from + 16; ++i) {
      const char c = name[i];
      int v = -1;
      if (c >= '0' && c <= '9') v = c - '0';
      if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
      if (v < 0) return false;
      out = (out << 4) | static_cast<std::uint64_t>(v);
    }
    return true;
  };
  return hex(5, index) && hex(22, term);
}

inline void encode_snapshot_header(const snapshot_meta& m, std::uint8_t* out) noexcept {
  std::memset(out, 0, snapshot_header_size);
  std::memcpy(out, snapshot_magic, 8);
  store_le<std::uint32_t>(out + 8, snapshot_version);
  store_le<std::uint64_t>(out + 16, m.index);
  store_le<std::uint64_t>(out + 24, m.term);
  store_le<std::uint64_t>(out + 32, m.size_bytes);
  store_le<std::uint32_t>(out + 40, m.checksum);
  store_le<std::uint32_t>(out + 60, crc32c_mask(crc32c(byte_view(out, 60))));
}

inline result<snapshot_meta> decode_snapshot_header(byte_view in) noexcept {
  if (in.size() < snapshot_header_size)
    return error(storage_errc::corrupt_snapshot, "snapshot: short header");
  if (std::memcmp(in.data(), snapshot_magic, 8) != 0)
    return error(storage_errc::bad_magic, "snapshot: unknown magic");
  if (load_le<std::uint32_t>(in.data() + 8) > snapshot_version)
    return error(storage_errc::unsupported_version, "snapshot: newer format version");
  if (crc32c_unmask(load_le<std::uint32_t>(in.data() + 60)) != crc32c(in.first(60)))
    return error(storage_errc::corrupt_header, "snapshot: header checksum");
  return snapshot_meta{load_le<std::uint64_t>(in.data() + 16),
                       load_le<std::uint64_t>(in.data() + 24),
                       load_le<std::uint64_t>(in.data() + 32), load_le<std::uint32_t>(in.data() + 40)};
}
}  // namespace detail

template <class FS>
class file_snapshot_store {
  static_assert(file_system<FS>, "file_snapshot_store<FS>: see docs/requirements/file_system.md");

 public:
  explicit file_snapshot_store(FS& fs, const snapshot_options& options = {}) noexcept
      : fs_(fs), options_(options) {}
  file_snapshot_store(const file_snapshot_store&) = delete;
  file_snapshot_store& operator=(const file_snapshot_store&) = delete;
  ~file_snapshot_store() {
    discard();
    if (has_installed_) (void)fs_.close(installed_handle_);
  }

  /// Removes stale temp files, then opens and fully verifies the newest snapshot. A damaged
  /// newest snapshot is a hard error naming the file (problem_file()), never a fallback.
  [[nodiscard]] result<void> open() noexcept {
    WEFT_TRY(options_.validate());
    buffer_.assign(options_.verify_buffer_size_bytes, 0);
    names_.reserve(options_.max_files);
    if (has_installed_) (void)fs_.close(installed_handle_);
    has_installed_ = false;
    WEFT_TRY(scan());
    bool removed = false;
    for (const name_entry& n : names_) {
      if (!n.temporary) continue;
      char name[detail::snapshot_name_size + 1];
      detail::format_snapshot_name(n.index, n.term, true, name);
      WEFT_TRY(fs_.remove(name));
      removed = true;
    }
    if (removed) WEFT_TRY(fs_.sync_directory());
    const name_entry* newest = nullptr;
    for (const name_entry& n : names_)
      if (!n.temporary && (newest == nullptr || n.index > newest->index)) newest = &n;
    if (newest == nullptr) return ok();
    return load_installed(newest->index, newest->term);
  }

  [[nodiscard]] result<void> begin(std::uint64_t index, std::uint64_t term) noexcept {
    if (writing_) return error(storage_errc::snapshot_state, "snapshot: begin twice");
    if (has_installed_ && index <= installed_.index)
      return error(storage_errc::stale_snapshot, "snapshot: begin");
    if (buffer_.empty()) return error(storage_errc::not_open, "snapshot: begin before open");
    detail::format_snapshot_name(index, term, true, pending_name_);
    WEFT_TRY_ASSIGN(pending_handle_, fs_.open(pending_name_, open_mode::create_or_open));
    writing_ = true;
    pending_ = {index, term, 0, 0};
    if (auto cut = fs_.truncate(pending_handle_, 0); !cut) return fail_pending(cut.error());
    std::uint8_t zeros[detail::snapshot_header_size] = {};
    if (auto wrote = fs_.write(pending_handle_, 0, byte_view(zeros)); !wrote)
      return fail_pending(wrote.error());
    return ok();
  }

  [[nodiscard]] result<void> write(byte_view chunk) noexcept {
    if (!writing_) return error(storage_errc::snapshot_state, "snapshot: write without begin");
    if (pending_.size_bytes + chunk.size() > options_.max_snapshot_size_bytes)
      return fail_pending(error(core_errc::capacity_exceeded, "snapshot: max_snapshot_size_bytes"));
    const std::uint64_t at = detail::snapshot_header_size + pending_.size_bytes;
    if (auto wrote = fs_.write(pending_handle_, at, chunk); !wrote)
      return fail_pending(wrote.error());
    pending_.size_bytes += chunk.size();
    pending_.checksum = crc32c_extend(pending_.checksum, chunk);
    return ok();
  }

  /// Header, sync, rename into place, directory sync; then retention. Durable on return.
  [[nodiscard]] result<snapshot_meta> install() noexcept {
    if (!writing_) return error(storage_errc::snapshot_state, "snapshot: install without begin");
    std::uint8_t header[detail::snapshot_header_size];
    detail::encode_snapshot_header(pending_, header);
    if (auto wrote = fs_.write(pending_handle_, 0, byte_view(header)); !wrote)
      return fail_pending(wrote.error());
    if (auto synced = fs_.sync(pending_handle_); !synced) return fail_pending(synced.error());
    char final_name[detail::snapshot_name_size + 1];
    detail::format_snapshot_name(pending_.index, pending_.term, false, final_name);
    if (auto moved = fs_.rename(pending_name_, final_name); !moved) return fail_pending(moved.error());
    WEFT_TRY(fs_.sync_directory());
    if (has_installed_) (void)fs_.close(installed_handle_);
    installed_handle_ = pending_handle_;
    installed_ = pending_;
    has_installed_ = true;
    writing_ = false;
    WEFT_TRY(apply_retention());
    return installed_;
  }

  void discard() noexcept {
    if (!writing_) return;
    writing_ = false;
    (void)fs_.close(pending_handle_);
    (void)fs_.remove(pending_name_);
  }

  [[nodiscard]] result<snapshot_meta> latest() const noexcept {
    if (!has_installed_) return error(storage_errc::no_snapshot, "snapshot: latest");
    return installed_;
  }

  /// Up to out.size() bytes of the installed snapshot from `offset`; 0 at the end.
  [[nodiscard]] result<std::size_t> read(std::uint64_t offset, mutable_byte_view out) noexcept {
    if (!has_installed_) return error(storage_errc::no_snapshot, "snapshot: read");
    if (offset > installed_.size_bytes) return error(storage_errc::out_of_range, "snapshot: read");
    const auto n = static_cast<std::size_t>(
        std::min<std::uint64_t>(out.size(), installed_.size_bytes - offset));
    WEFT_TRY_ASSIGN(const std::size_t got,
                    fs_.read(installed_handle_, detail::snapshot_header_size + offset, out.first(n)));
    if (got != n) return error(storage_errc::corrupt_snapshot, "snapshot: file shorter than header says");
    return got;
  }

  /// The file the last hard error of open() concerned (empty when none).
  [[nodiscard]] std::string_view problem_file() const noexcept { return {problem_}; }

 private:
  struct name_entry {
    std::uint64_t index;
    std::uint64_t term;
    bool temporary;
  };

  [[nodiscard]] result<void> scan() noexcept {
    names_.clear();
    struct collector {
      std::vector<name_entry>* names;
      std::size_t max;
      bool overflow = false;
    } c{&names_, options_.max_files};
    WEFT_TRY(fs_.list(
        [](void* context, std::string_view name) noexcept {
          auto* self = static_cast<collector*>(context);
          name_entry e{};
          if (!detail::parse_snapshot_name(name, e.index, e.term, e.temporary)) return;
          if (self->names->size() == self->max) {
            self->overflow = true;
            return;
          }
          self->names->push_back(e);
        },
        &c));
    if (c.overflow) return error(core_errc::capacity_exceeded, "snapshot: more files than max_files");
    return ok();
  }

  [[nodiscard]] result<void> load_installed(std::uint64_t index, std::uint64_t term) noexcept {
    detail::format_snapshot_name(index, term, false, problem_);
    WEFT_TRY_ASSIGN(const file_handle handle, fs_.open(problem_, open_mode::open_existing));
    auto verified = verify(handle, index, term);
    if (!verified) {
      (void)fs_.close(handle);
      return verified.error();
    }
    installed_ = *verified;
    installed_handle_ = handle;
    has_installed_ = true;
    problem_[0] = '\0';
    return ok();
  }

  [[nodiscard]] result<snapshot_meta> verify(file_handle handle, std::uint64_t index,
                                             std::uint64_t term) noexcept {
    std::uint8_t header[detail::snapshot_header_size];
    WEFT_TRY_ASSIGN(const std::size_t got, fs_.read(handle, 0, mutable_byte_view(header)));
    WEFT_TRY_ASSIGN(const snapshot_meta meta, detail::decode_snapshot_header(byte_view(header, got)));
    if (meta.index != index || meta.term != term)
      return error(storage_errc::corrupt_header, "snapshot: header disagrees with file name");
    WEFT_TRY_ASSIGN(const std::uint64_t size, fs_.size(handle));
    if (size != detail::snapshot_header_size + meta.size_bytes)
      return error(storage_errc::corrupt_snapshot, "snapshot: file size disagrees with header");
    std::uint32_t crc = 0;
    for (std::uint64_t at = 0; at < meta.size_bytes;) {
      const auto n = static_cast<std::size_t>(
          std::min<std::uint64_t>(buffer_.size(), meta.size_bytes - at));
      WEFT_TRY_ASSIGN(const std::size_t read_bytes,
                      fs_.read(handle, detail::snapshot_header_size + at,
                               mutable_byte_view(buffer_.data(), n)));
      if (read_bytes != n) return error(storage_errc::corrupt_snapshot, "snapshot: short read");
      crc = crc32c_extend(crc, byte_view(buffer_.data(), n));
      at += n;
    }
    if (crc != meta.checksum) return error(storage_errc::corrupt_snapshot, "snapshot: data checksum");
    return meta;
  }

  [[nodiscard]] result<void> apply_retention() noexcept {
    WEFT_TRY(scan());
    std::sort(names_.begin(), names_.end(),
              [](const name_entry& a, const name_entry& b) { return a.index > b.index; });
    std::size_t kept = 0;
    bool removed = false;
    for (const name_entry& n : names_) {
      if (n.temporary) continue;
      if (++kept <= options_.keep_count) continue;
      char name[detail::snapshot_name_size + 1];
      detail::format_snapshot_name(n.index, n.term, false, name);
      WEFT_TRY(fs_.remove(name));
      removed = true;
    }
    if (removed) WEFT_TRY(fs_.sync_directory());
    return ok();
  }

  error fail_pending(const error& failure) noexcept {
    discard();
    return failure;
  }

  FS& fs_;
  snapshot_options options_;
  std::vector<std::uint8_t> buffer_;
  std::vector<name_entry> names_;
  snapshot_meta installed_{};
  snapshot_meta pending_{};
  file_handle installed_handle_{};
  file_handle pending_handle_{};
  char pending_name_[detail::snapshot_name_size + 1] = {};
  char problem_[detail::snapshot_name_size + 1] = {};
  bool has_installed_ = false;
  bool writing_ = false;
};

}  // namespace storage
WEFT_END
