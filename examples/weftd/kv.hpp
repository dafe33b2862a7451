// weftd key-value state machine: entries are weft/wire CBOR maps
// {1: op, 2: key, 3: value, 4: origin node, 5: request id}; a bounded table of applied
// request ids makes a retried write apply once (on every replica alike). Snapshots hold
// the table and the remembered request ids (docs/weftd.md, "Snapshot format").
#pragma once

#include <cstdint>
#include <deque>
#include <utility>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>

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

inline weft::byte_view as_view(const std::string& s) noexcept {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
inline std::string as_string(weft::byte_view v) { return {v.begin(), v.end()}; }

/// What happened to one applied entry, for the daemon to answer its waiting request.
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

  std::optional<std::string> get(const std::string& key) const {
    const auto it = data_.find(key);
    if (it == data_.end()) return std::nullopt;
    return it->second;
  }
  std::size_t size() const noexcept { return data_.size(); }
  std::uint64_t malformed() const noexcept { return malformed_; }
  std::uint64_t duplicates() const noexcept { return duplicates_; }

  /// Applies one committed entry; returns what the daemon needs to answer (nullopt when
  /// the entry did not decode, which is counted).
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
    last_request_ = as_string(e.request_id);
    last_key_ = as_string(e.key);
    out.request_id = last_request_;
    out.key = last_key_;
    if (out.op != kv_op::read_barrier && !last_request_.empty()) {
      if (seen_.count(last_request_) != 0) {
        ++duplicates_;
        out.duplicate = true;
        return out;
      }
      seen_.emplace(last_request_, index);
      order_.emplace_back(last_request_, index);
      if (order_.size() > max_remembered_requests) {
        seen_.erase(order_.front().first);
        order_.pop_front();
      }
    }
    if (out.op == kv_op::put) data_[last_key_] = as_string(e.value);
    else if (out.op == kv_op::del) data_.erase(last_key_);
    return out;
  }

  /// Writes "wkv1", the pairs (u64 count, then u32 length + key, u32 length + value each),
  /// then the remembered request ids oldest first (u64 count, then u32 length + id, u64
  /// index each); integers little-endian.
  weft::result<void> save(weft::runtime::snapshot_writer& out) const noexcept {
    WEFT_TRY(out.write_u32(snapshot_magic));
    WEFT_TRY(out.write_u64(data_.size()));
    for (const auto& [key, value] : data_) {
      WEFT_TRY(write_string(out, key));
      WEFT_TRY(write_string(out, value));
    }
    WEFT_TRY(out.write_u64(order_.size()));
    for (const auto& [id, index] : order_) {  // no table lookups: a snapshot walks 100,000
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
    std::map<std::string, std::string> data;
    WEFT_TRY_ASSIGN(const std::uint64_t pairs, in.read_u64());
    if (pairs > in.remaining() / 8) return malformed("kv snapshot: pair count");
    for (std::uint64_t i = 0; i < pairs; ++i) {
      std::string key, value;
      WEFT_TRY(read_string(in, key));
      WEFT_TRY(read_string(in, value));
      data.emplace_hint(data.end(), std::move(key), std::move(value));
    }
    std::unordered_map<std::string, std::uint64_t> seen;
    std::deque<std::pair<std::string, std::uint64_t>> order;
    WEFT_TRY_ASSIGN(const std::uint64_t ids, in.read_u64());
    if (ids > in.remaining() / 12 || ids > max_remembered_requests) return malformed("kv snapshot: id count");
    for (std::uint64_t i = 0; i < ids; ++i) {
      std::string id;
      WEFT_TRY(read_string(in, id));
      WEFT_TRY_ASSIGN(const std::uint64_t index, in.read_u64());
      seen.emplace(id, index);
      order.emplace_back(std::move(id), index);
    }
    if (in.remaining() != 0) return malformed("kv snapshot: trailing bytes");
    data_ = std::move(data);
    seen_ = std::move(seen);
    order_ = std::move(order);
    return weft::ok();
  }

 private:
  static constexpr std::uint32_t snapshot_magic = 0x31766b77;  // "wkv1" little-endian

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

  std::map<std::string, std::string> data_;
  std::unordered_map<std::string, std::uint64_t> seen_;
  std::deque<std::pair<std::string, std::uint64_t>> order_;  // request id, index, oldest first
  std::string last_request_;
  std::string last_key_;
  std::uint64_t malformed_ = 0;
  std::uint64_t duplicates_ = 0;
};

}  // namespace weftd
