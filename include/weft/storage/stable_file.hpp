// weft/storage/stable_file.hpp - Raft's hard state (term, vote, commit) in one small file
// over any file_system. Each save writes the state to slot A, syncs, then to slot B, syncs:
// after a save returns both slots agree, so a torn write or bit rot in one slot always
// leaves the other holding the latest acknowledged state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "weft/config.hpp"
#include "weft/core/bytes.hpp"
#include "weft/core/crc32c.hpp"
#include "weft/core/endian.hpp"
#include "weft/core/result.hpp"
#include "weft/storage/concepts.hpp"
#include "weft/storage/file_system.hpp"

WEFT_BEGIN
namespace storage {

namespace detail {
inline constexpr std::uint8_t state_magic[8] = {'w', 'e', 'f', 't', 's', 't', 'a', 't'};
inline constexpr std::uint32_t state_version = 1;
inline constexpr std::size_t state_slot_size = 64;
inline constexpr std::uint64_t state_slot_offsets[2] = {0, 512};  // separate sectors

// Slot layout: 0 magic | 8 u32 version | 12 u32 zero | 16 u64 counter | 24 u64 term
// | 32 u64 vote | 40 u64 commit | 48..60 zero | 60 u32 masked CRC-32C of bytes 0..60.
inline void encode_state_slot(const hard_state& s, std::uint64_t counter,
                              std::uint8_t* out) noexcept {
  std::memset(out, 0, state_slot_size);
  std::memcpy(out, state_magic, 8);
  store_le<std::uint32_t>(out + 8, state_version);
  store_le<std::uint64_t>(out + 16, counter);
  store_le<std::uint64_t>(out + 24, s.term);
  store_le<std::uint64_t>(out + 32, s.vote);
  store_le<std::uint64_t>(out + 40, s.commit);
  store_le<std::uint32_t>(out + 60, crc32c_mask(crc32c(byte_view(out, 60))));
}

enum class slot_verdict : std::uint8_t { ok, empty, damaged, bad_magic, future_version };

inline slot_verdict decode_state_slot(byte_view in, hard_state& s, std::uint64_t& counter) noexcept {
  if (in.size() < state_slot_size) {
    for (const std::uint8_t b : in)
      if (b != 0) return slot_verdict::damaged;
    return slot_verdict::empty;
  }
  bool zero = true;
  for (std::size_t i = 0; i < state_slot_size; ++i) zero = zero && in[i] == 0;
  if (zero) return slot_verdict::empty;
  if (std::memcmp(in.data(), state_magic, 8) != 0) return slot_verdict::bad_magic;
  if (load_le<std::uint32_t>(in.data() + 8) > state_version) return slot_verdict::future_version;
  if (crc32c_unmask(load_le<std::uint32_t>(in.data() + 60)) != crc32c(in.first(60)))
    return slot_verdict::damaged;
  counter = load_le<std::uint64_t>(in.data() + 16);
  s = {load_le<std::uint64_t>(in.data() + 24), load_le<std::uint64_t>(in.data() + 32),
       load_le<std::uint64_t>(in.data() + 40)};
  return slot_verdict::ok;
}
}  // namespace detail

/// A stable_store in the file `name` (default "weft-state") of a file_system.
template <class FS>
class file_stable_store {
  static_assert(file_system<FS>, "file_stable_store<FS>: see docs/requirements/file_system.md");

 public:
  explicit file_stable_store(FS& fs, std::string_view name = "weft-state") noexcept
      : fs_(fs), name_(name) {}
  file_stable_store(const file_stable_store&) = delete;
  file_stable_store& operator=(const file_stable_store&) = delete;
  ~file_stable_store() {
    if (open_) (void)fs_.close(handle_);
  }

  /// Opens (creating when absent) and reads the latest state.
  [[nodiscard]] result<void> open() noexcept {
    if (open_) (void)fs_.close(handle_);
    open_ = false;
    WEFT_TRY_ASSIGN(handle_, fs_.open(name_, open_mode::create_or_open));
    open_ = true;
    WEFT_TRY_ASSIGN(const std::uint64_t size, fs_.size(handle_));
    if (size == 0) {  // new: make the file's existence durable before relying on it
      WEFT_TRY(fs_.sync(handle_));
      WEFT_TRY(fs_.sync_directory());
    }
    hard_state states[2];
    std::uint64_t counters[2] = {0, 0};
    detail::slot_verdict verdicts[2];
    for (int i = 0; i < 2; ++i) {
      std::uint8_t raw[detail::state_slot_size];
      WEFT_TRY_ASSIGN(const std::size_t got,
                      fs_.read(handle_, detail::state_slot_offsets[i], mutable_byte_view(raw)));
      verdicts[i] = detail::decode_state_slot(byte_view(raw, got), states[i], counters[i]);
      if (verdicts[i] == detail::slot_verdict::bad_magic)
        return fail(storage_errc::bad_magic, "stable_file: unknown magic");
      if (verdicts[i] == detail::slot_verdict::future_version)
        return fail(storage_errc::unsupported_version, "stable_file: newer format version");
    }
    const bool a = verdicts[0] == detail::slot_verdict::ok;
    const bool b = verdicts[1] == detail::slot_verdict::ok;
    const bool a_empty = verdicts[0] == detail::slot_verdict::empty;
    const bool b_empty = verdicts[1] == detail::slot_verdict::empty;
    if (a && (!b || counters[0] >= counters[1])) {
      state_ = states[0];
      counter_ = counters[0];
    } else if (b) {
      state_ = states[1];
      counter_ = counters[1];
    } else if (a_empty && b_empty) {
      state_ = {};
      counter_ = 0;
    } else if (a_empty && size < detail::state_slot_offsets[1]) {
      state_ = {};  // the very first save was torn in slot A: nothing was acknowledged
      counter_ = 0;
    } else {
      return fail(storage_errc::corrupt_state, "stable_file: both slots damaged");
    }
    return ok();
  }

  /// Durable when it returns: both slots written and synced, one after the other.
  [[nodiscard]] result<void> save(const hard_state& state) noexcept {
    if (!open_) return error(storage_errc::not_open, "stable_file: save");
    std::uint8_t raw[detail::state_slot_size];
    detail::encode_state_slot(state, counter_ + 1, raw);
    for (const std::uint64_t offset : detail::state_slot_offsets) {
      WEFT_TRY(fs_.write(handle_, offset, byte_view(raw)));
      WEFT_TRY(fs_.sync(handle_));
    }
    ++counter_;
    state_ = state;
    return ok();
  }

  [[nodiscard]] result<hard_state> load() const noexcept {
    if (!open_) return error(storage_errc::not_open, "stable_file: load");
    return state_;
  }

 private:
  error fail(storage_errc code, const char* where) noexcept {
    (void)fs_.close(handle_);
    open_ = false;
    return error(code, where);
  }

  FS& fs_;
  std::string_view name_;
  file_handle handle_{};
  hard_state state_{};
  std::uint64_t counter_ = 0;
  bool open_ = false;
};

}  // namespace storage
WEFT_END
