// tests/unit/storage/test_fs.hpp - file_system models for storage tests: an in-memory
// directory, and a wrapper that injects failures (ENOSPC on writes, EIO on reads or syncs).
#pragma once

#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "weft/storage/file_system.hpp"

namespace weft_test {
namespace st = weft::storage;

class mem_fs {
 public:
  std::map<std::string, std::vector<std::uint8_t>> files;

  weft::result<st::file_handle> open(std::string_view name, st::open_mode mode) noexcept {
    const std::string key(name);
    const bool exists = files.count(key) != 0;
    if (!exists && mode == st::open_mode::open_existing) return st::fs_errc::not_found;
    if (exists && mode == st::open_mode::create_exclusive) return st::fs_errc::already_exists;
    if (!exists) files[key];
    handles_.push_back(key);
    return st::file_handle{static_cast<std::uint32_t>(handles_.size())};
  }
  weft::result<void> close(st::file_handle h) noexcept {
    if (!valid(h)) return st::fs_errc::bad_handle;
    handles_[h.value - 1].clear();
    return weft::ok();
  }
  weft::result<std::size_t> read(st::file_handle h, std::uint64_t offset,
                                 weft::mutable_byte_view out) noexcept {
    if (!valid(h)) return st::fs_errc::bad_handle;
    auto& f = files[handles_[h.value - 1]];
    if (offset >= f.size()) return std::size_t{0};
    const std::size_t n = std::min<std::size_t>(out.size(), f.size() - offset);
    std::memcpy(out.data(), f.data() + offset, n);
    return n;
  }
  weft::result<void> write(st::file_handle h, std::uint64_t offset, weft::byte_view data) noexcept {
    if (!valid(h)) return st::fs_errc::bad_handle;
    auto& f = files[handles_[h.value - 1]];
    if (f.size() < offset + data.size()) f.resize(offset + data.size());
    if (!data.empty()) std::memcpy(f.data() + offset, data.data(), data.size());
    return weft::ok();
  }
  weft::result<void> sync(st::file_handle h) noexcept {
    if (!valid(h)) return st::fs_errc::bad_handle;
    ++syncs;
    return weft::ok();
  }
  weft::result<std::uint64_t> size(st::file_handle h) noexcept {
    if (!valid(h)) return st::fs_errc::bad_handle;
    return static_cast<std::uint64_t>(files[handles_[h.value - 1]].size());
  }
  weft::result<void> truncate(st::file_handle h, std::uint64_t n) noexcept {
    if (!valid(h)) return st::fs_errc::bad_handle;
    files[handles_[h.value - 1]].resize(n);
    return weft::ok();
  }
  weft::result<void> rename(std::string_view from, std::string_view to) noexcept {
    auto it = files.find(std::string(from));
    if (it == files.end()) return st::fs_errc::not_found;
    auto data = std::move(it->second);
    files.erase(it);
    files[std::string(to)] = std::move(data);
    for (auto& name : handles_)
      if (name == from) name = std::string(to);
    return weft::ok();
  }
  weft::result<void> remove(std::string_view name) noexcept {
    if (files.erase(std::string(name)) == 0) return st::fs_errc::not_found;
    return weft::ok();
  }
  weft::result<void> sync_directory() noexcept {
    ++directory_syncs;
    return weft::ok();
  }
  weft::result<void> list(void (*visit)(void*, std::string_view) noexcept, void* context) noexcept {
    for (const auto& [name, data] : files) visit(context, name);
    return weft::ok();
  }

  int syncs = 0;
  int directory_syncs = 0;

 private:
  bool valid(st::file_handle h) const noexcept {
    return h.value > 0 && h.value <= handles_.size() && !handles_[h.value - 1].empty();
  }
  std::vector<std::string> handles_;
};

/// Forwards to `Inner`, failing on command: writes with no_space after `write_budget`
/// successful writes, reads with io_error, syncs with io_error.
template <class Inner>
class faulty_fs {
 public:
  explicit faulty_fs(Inner& inner) noexcept : inner_(inner) {}
  long write_budget = -1;  // -1: unlimited
  bool fail_reads = false;
  bool fail_syncs = false;

  auto open(std::string_view n, st::open_mode m) noexcept { return inner_.open(n, m); }
  auto close(st::file_handle h) noexcept { return inner_.close(h); }
  weft::result<std::size_t> read(st::file_handle h, std::uint64_t o, weft::mutable_byte_view out) noexcept {
    if (fail_reads) return weft::error(st::fs_errc::io_error, "faulty_fs: read");
    return inner_.read(h, o, out);
  }
  weft::result<void> write(st::file_handle h, std::uint64_t o, weft::byte_view d) noexcept {
    if (write_budget == 0) return weft::error(st::fs_errc::no_space, "faulty_fs: write");
    if (write_budget > 0) --write_budget;
    return inner_.write(h, o, d);
  }
  weft::result<void> sync(st::file_handle h) noexcept {
    if (fail_syncs) return weft::error(st::fs_errc::io_error, "faulty_fs: sync");
    return inner_.sync(h);
  }
  auto size(st::file_handle h) noexcept { return inner_.size(h); }
  auto truncate(st::file_handle h, std::uint64_t n) noexcept { return inner_.truncate(h, n); }
  auto rename(std::string_view a, std::string_view b) noexcept { return inner_.rename(a, b); }
  auto remove(std::string_view n) noexcept { return inner_.remove(n); }
  auto sync_directory() noexcept { return inner_.sync_directory(); }
  auto list(void (*v)(void*, std::string_view) noexcept, void* c) noexcept { return inner_.list(v, c); }

 private:
  Inner& inner_;
};

static_assert(st::file_system<mem_fs>);
static_assert(st::file_system<faulty_fs<mem_fs>>);

}  // namespace weft_test
