// weftd key-value state machine: entries are weft/wire CBOR maps
// {1: op, 2: key, 3: value, 4: origin node, 5: request id}; a bounded table of applied
// request ids makes a retried write apply once (on every replica alike). Snapshots hold
// the table and the remembered request ids (docs/weftd.md, "Snapshot format").
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "weft/core/bytes.hpp"
#include "weft/runtime/snapshot_stream.hpp"
#include "weft/wire/schema.hpp"

namespace weftd {

enum class kv_op : std::uint8_t { put = 1, del = 2, read_barrier = 3 };

struct kv_entry {
  std::uint8_t op = 0;
  weft::byte_view key{};
  weft::byte_view value{};
  std::uint64_t origin = 0;
  weft::byte_view request_id{};
  static constexpr void fields(auto& v, auto& self) {
    v(1, self.op);
    v(2, self.key);
    v(3, self.value);
    v(4, self.origin);
    v(5, self.request_id);
  }
};

inline weft::byte_view as_view(std::string_view s) noexcept {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
inline std::string as_string(weft::byte_view v) { return {v.begin(), v.end()}; }
inline std::string_view as_chars(weft::byte_view v) noexcept {
  return {reinterpret_cast<const char*>(v.data()), v.size()};
}

/// Hashes std::string and std::string_view alike, so that lookups by a view into an
/// entry's payload build no std::string.
struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

/// What happened to one applied entry, for the daemon to answer its waiting request. The
/// views point into the applied payload: valid until apply() returns to its caller's caller.
struct applied_entry {
  std::uint64_t index = 0;
  kv_op op = kv_op::put;
  std::uint64_t origin = 0;
  std::string_view request_id{};
  std::string_view key{};
  bool duplicate = false;  // the request id had been applied before: no effect this time
};

class kv_store {
 public:
  static constexpr std::size_t max_remembered_requests = 100000;
  static constexpr std::size_t max_key_bytes = 1024;
  using table = std::unordered_map<std::string, std::string, string_hash, std::equal_to<>>;

  kv_store() = default;
  kv_store(const kv_store&) = delete;  // seen_ holds views into the store's own ring
  kv_store& operator=(const kv_store&) = delete;

  std::optional<std::string> get(std::string_view key) const {
    const auto it = data_.find(key);
    if (it == data_.end()) return std::nullopt;
    return it->second;
  }
  std::size_t size() const noexcept { return data_.size(); }
  std::uint64_t malformed() const noexcept { return malformed_; }
  std::uint64_t duplicates() const noexcept { return duplicates_; }
  [[nodiscard]] const table& data() const noexcept { return data_; }

  /// Applies one committed entry; returns what the daemon needs to answer (nullopt when
  /// the entry did not decode, which is counted). Overwriting a key reuses its value's
  /// storage, and a remembered request id reuses the slot of the one it evicts, so a
  /// steady stream of writes to known keys allocates only a hash node per request id.
  std::optional<applied_entry> apply(std::uint64_t index, weft::byte_view payload) {
    weft::wire::decode_limits limits;
    limits.max_depth = 2;
    limits.max_items = 16;
    limits.max_string_bytes = 1u << 20;
    auto decoded = weft::wire::decode<kv_entry>(payload, limits);
    if (!decoded || decoded->op < 1 || decoded->op > 3) {
      ++malformed_;
      return std::nullopt;
    }
    const kv_entry& e = *decoded;
    applied_entry out;
    out.index = index;
    out.op = static_cast<kv_op>(e.op);
    out.origin = e.origin;
    out.request_id = as_chars(e.request_id);
    out.key = as_chars(e.key);
    if (out.op != kv_op::read_barrier && !out.request_id.empty()) {
      if (seen_.find(out.request_id) != seen_.end()) {
        ++duplicates_;
        out.duplicate = true;
        return out;
      }
      remember(out.request_id, index);
    }
    if (out.op == kv_op::put) put(out.key, as_chars(e.value));
    else if (out.op == kv_op::del) erase(out.key);
    return out;
  }

  /// Writes "wkv1", the pairs (u64 count, then u32 length + key, u32 length + value each,
  /// in no particular order), then the remembered request ids oldest first (u64 count, then
  /// u32 length + id, u64 index each); integers little-endian.
  weft::result<void> save(weft::runtime::snapshot_writer& out) const noexcept {
    WEFT_TRY(out.write_u32(snapshot_magic));
    WEFT_TRY(out.write_u64(data_.size()));
    for (const auto& [key, value] : data_) {
      WEFT_TRY(write_string(out, key));
      WEFT_TRY(write_string(out, value));
    }
    WEFT_TRY(out.write_u64(remembered_.size()));
    for (std::size_t i = 0; i < remembered_.size(); ++i) {  // oldest first; no lookups
      const auto& [id, index] = remembered_[(oldest_ + i) % remembered_.size()];
      WEFT_TRY(write_string(out, id));
      WEFT_TRY(out.write_u64(index));
    }
    return weft::ok();
  }

  /// Replaces the whole state with a snapshot's; lengths are checked against what is left
  /// of the snapshot before anything is allocated. May throw std::bad_alloc.
  weft::result<void> load(weft::runtime::snapshot_reader& in) {
    const auto malformed = [](const char* where) {
      return weft::result<void>(weft::error(weft::runtime::runtime_errc::snapshot_malformed, where));
    };
    WEFT_TRY_ASSIGN(const std::uint32_t magic, in.read_u32());
    if (magic != snapshot_magic) return malformed("kv snapshot: magic");
    table data;
    WEFT_TRY_ASSIGN(const std::uint64_t pairs, in.read_u64());
    if (pairs > in.remaining() / 8) return malformed("kv snapshot: pair count");
    data.reserve(static_cast<std::size_t>(pairs));
    for (std::uint64_t i = 0; i < pairs; ++i) {
      std::string key, value;
      WEFT_TRY(read_string(in, key));
      WEFT_TRY(read_string(in, value));
      data.insert_or_assign(std::move(key), std::move(value));
    }
    WEFT_TRY_ASSIGN(const std::uint64_t ids, in.read_u64());
    if (ids > in.remaining() / 12 || ids > max_remembered_requests) return malformed("kv snapshot: id count");
    std::vector<std::pair<std::string, std::uint64_t>> remembered;
    remembered.reserve(max_remembered_requests);  // the views in seen_ never move
    remembered.resize(static_cast<std::size_t>(ids));
    for (auto& [id, index] : remembered) {
      WEFT_TRY(read_string(in, id));
      WEFT_TRY_ASSIGN(index, in.read_u64());
    }
    if (in.remaining() != 0) return malformed("kv snapshot: trailing bytes");
    data_ = std::move(data);
    remembered_ = std::move(remembered);
    oldest_ = 0;
    seen_.clear();
    for (const auto& [id, index] : remembered_) seen_.insert_or_assign(std::string_view(id), index);
    return weft::ok();
  }

 private:
  static constexpr std::uint32_t snapshot_magic = 0x31766b77;  // "wkv1" little-endian

  void put(std::string_view key, std::string_view value) {
    const auto it = data_.find(key);
    if (it != data_.end()) it->second.assign(value);  // same-size values: no allocation
    else data_.emplace(std::string(key), std::string(value));
  }
  void erase(std::string_view key) {
    const auto it = data_.find(key);
    if (it != data_.end()) data_.erase(it);
  }

  /// Adds a request id, evicting the oldest beyond max_remembered_requests; seen_ holds
  /// views of the ring's strings (reserved whole, so they never move): an id is stored once.
  void remember(std::string_view id, std::uint64_t index) {
    if (remembered_.size() < max_remembered_requests) {
      remembered_.reserve(max_remembered_requests);  // once: the views in seen_ never move
      remembered_.emplace_back(std::string(id), index);
      seen_.emplace(std::string_view(remembered_.back().first), index);
      return;
    }
    auto& [slot_id, slot_index] = remembered_[oldest_];
    seen_.erase(std::string_view(slot_id));
    slot_id.assign(id);
    slot_index = index;
    seen_.emplace(std::string_view(slot_id), index);
    oldest_ = (oldest_ + 1) % remembered_.size();
  }

  static weft::result<void> write_string(weft::runtime::snapshot_writer& out, const std::string& s) noexcept {
    WEFT_TRY(out.write_u32(static_cast<std::uint32_t>(s.size())));
    return out.write(as_view(s));
  }
  static weft::result<void> read_string(weft::runtime::snapshot_reader& in, std::string& s) {
    WEFT_TRY_ASSIGN(const std::uint32_t size, in.read_u32());
    if (size > in.remaining())
      return weft::error(weft::runtime::runtime_errc::snapshot_malformed, "kv snapshot: length");
    s.resize(size);
    return in.read(weft::mutable_byte_view(reinterpret_cast<std::uint8_t*>(s.data()), size));
  }

  table data_;
  // Remembered request ids: a ring, oldest at oldest_ once full (before that, in order).
  std::vector<std::pair<std::string, std::uint64_t>> remembered_;
  std::size_t oldest_ = 0;
  std::unordered_map<std::string_view, std::uint64_t> seen_;  // views into remembered_
  std::uint64_t malformed_ = 0;
  std::uint64_t duplicates_ = 0;
};

}  // namespace weftd
