// weftd key-value state machine: entries are weft/wire CBOR maps
// {1: op, 2: key, 3: value, 4: origin node, 5: request id}; a bounded table of applied
// request ids makes a retried write apply once (on every replica alike). Snapshots hold
// the table and the remembered request ids (docs/weftd.md, "Snapshot format"). Both tables
// are flat (flat_index.hpp): a write to a known key allocates nothing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "flat_index.hpp"
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

/// The KV pairs: records {hash, key, value} in one array (keys up to 15 bytes inline in the
/// record, values in a string whose storage an overwrite reuses) reached through a flat
/// index, so that a put of a known key costs the index cell, the record and the value's
/// bytes, and no allocation. A delete moves the last record into the hole.
class kv_table {
 public:
  static constexpr std::size_t max_keys = std::size_t{1} << 30;  // references are 32-bit

  explicit kv_table(std::uint64_t hash_seed = 0) : seed_(hash_seed) {}

  [[nodiscard]] const std::string* find(std::string_view key) const noexcept {
    const std::uint32_t at = locate(key, hash_bytes(key, seed_));
    return at == flat_index::none ? nullptr : &records_[at].value;
  }
  [[nodiscard]] std::size_t size() const noexcept { return records_.size(); }

  /// Inserts or overwrites; false (nothing changed) when a new key would pass max_keys.
  bool put(std::string_view key, std::string_view value) {
    const std::uint64_t hash = hash_bytes(key, seed_);
    if (const std::uint32_t at = locate(key, hash); at != flat_index::none) {
      records_[at].value.assign(value);  // same-size or smaller values: no allocation
      return true;
    }
    if (records_.size() >= max_keys) return false;
    if ((records_.size() + 1) * 2 > index_.capacity()) rebuild(index_.capacity() * 2);
    records_.push_back(record{hash, std::string(key), std::string(value)});
    index_.insert(hash, static_cast<std::uint32_t>(records_.size() - 1));
    return true;
  }

  void erase(std::string_view key) noexcept {
    const std::uint64_t hash = hash_bytes(key, seed_);
    const std::uint32_t at = locate(key, hash);
    if (at == flat_index::none) return;
    index_.erase(hash, at);
    const auto last = static_cast<std::uint32_t>(records_.size() - 1);
    if (at != last) {
      index_.move(records_[last].hash, last, at);
      records_[at] = std::move(records_[last]);
    }
    records_.pop_back();
  }

  /// Room for `keys` without growing (snapshot load).
  void reserve(std::size_t keys) {
    records_.reserve(keys);
    if (keys * 2 > index_.capacity()) rebuild(keys * 2);
  }

  /// Calls f(key, value) for every pair, in the array's order (not the same on replicas).
  template <class F>
  void for_each(F&& f) const {
    for (const record& r : records_) f(std::string_view(r.key), std::string_view(r.value));
  }

 private:
  struct record {
    std::uint64_t hash = 0;
    std::string key;
    std::string value;
  };

  [[nodiscard]] std::uint32_t locate(std::string_view key, std::uint64_t hash) const noexcept {
    return index_.find(hash, [&](std::uint32_t at) { return records_[at].hash == hash && records_[at].key == key; });
  }
  void rebuild(std::size_t cells) {
    index_.reset(cells);
    for (std::size_t i = 0; i < records_.size(); ++i) index_.insert(records_[i].hash, static_cast<std::uint32_t>(i));
  }

  std::uint64_t seed_;
  std::vector<record> records_;
  flat_index index_;
};

/// Applied request ids, the newest `capacity` of them: a ring of one-cache-line slots (the
/// id inline up to inline_id_bytes, longer ones in a per-slot string kept for reuse) and a
/// flat index over it sized at least twice the ring. A lookup costs the index cell and the
/// slot; remembering a new id evicts the oldest in place. Allocates only at construction
/// (and for the first long id in a slot).
class remembered_ids {
 public:
  static constexpr std::size_t inline_id_bytes = 44;

  remembered_ids(std::size_t capacity, std::uint64_t hash_seed)
      : seed_(hash_seed), slots_(capacity), index_(capacity * 2) {}

  [[nodiscard]] bool contains(std::string_view id) const noexcept { return contains(id, hash_bytes(id, seed_)); }

  /// Adds `id` as the newest, forgetting the oldest when the ring is full; false (and
  /// nothing changes) when `id` is remembered already. One hash for both.
  bool remember_once(std::string_view id, std::uint64_t index) {
    const std::uint64_t hash = hash_bytes(id, seed_);
    if (contains(id, hash)) return false;
    remember(id, hash, index);
    return true;
  }

  /// Adds `id` as the newest, forgetting the oldest when the ring is full.
  void remember(std::string_view id, std::uint64_t index) { remember(id, hash_bytes(id, seed_), index); }

  [[nodiscard]] std::size_t size() const noexcept { return count_; }

  /// Calls f(id, index) for each remembered id, oldest first.
  template <class F>
  void for_each_oldest_first(F&& f) const {
    for (std::size_t i = 0; i < count_; ++i) {
      const std::size_t at = (oldest_ + i) % slots_.size();
      f(id_at(at), slots_[at].index);
    }
  }

 private:
  [[nodiscard]] bool contains(std::string_view id, std::uint64_t hash) const noexcept {
    return index_.find(hash, [&](std::uint32_t at) { return slots_[at].hash == hash && id_at(at) == id; }) !=
           flat_index::none;
  }

  void remember(std::string_view id, std::uint64_t hash, std::uint64_t index) {
    std::size_t at = (oldest_ + count_) % slots_.size();
    if (count_ == slots_.size()) {
      at = oldest_;
      index_.erase(slots_[at].hash, static_cast<std::uint32_t>(at));
      oldest_ = (oldest_ + 1) % slots_.size();
    } else {
      ++count_;
    }
    slot& s = slots_[at];
    s.index = index;
    s.hash = hash;
    s.size = static_cast<std::uint32_t>(id.size());
    if (id.size() <= inline_id_bytes) {
      std::memcpy(s.bytes, id.data(), id.size());
    } else {
      if (long_ids_.empty()) long_ids_.resize(slots_.size());
      long_ids_[at].assign(id);
    }
    index_.insert(s.hash, static_cast<std::uint32_t>(at));
  }

  struct alignas(64) slot {
    std::uint64_t index = 0;
    std::uint64_t hash = 0;
    std::uint32_t size = 0;
    char bytes[inline_id_bytes] = {};
  };
  static_assert(sizeof(slot) == 64, "one cache line per remembered id");

  [[nodiscard]] std::string_view id_at(std::size_t at) const noexcept {
    const slot& s = slots_[at];
    return s.size <= inline_id_bytes ? std::string_view(s.bytes, s.size) : std::string_view(long_ids_[at]);
  }

  std::uint64_t seed_;
  std::vector<slot> slots_;
  std::vector<std::string> long_ids_;  // by slot, for ids longer than inline_id_bytes
  flat_index index_;
  std::size_t oldest_ = 0;  // the oldest id's slot once the ring is full (before: 0)
  std::size_t count_ = 0;
};

class kv_store {
 public:
  static constexpr std::size_t max_remembered_requests = 100000;
  static constexpr std::size_t max_key_bytes = 1024;

  /// `hash_seed` keys the tables' hashes (per process; replicas need not agree: nothing
  /// hashed is replicated or saved).
  explicit kv_store(std::uint64_t hash_seed = 0)
      : seed_(hash_seed), data_(hash_seed), remembered_(max_remembered_requests, hash_seed) {}
  kv_store(const kv_store&) = delete;  // megabytes: never copied by accident
  kv_store& operator=(const kv_store&) = delete;

  std::optional<std::string> get(std::string_view key) const {
    const std::string* value = data_.find(key);
    if (value == nullptr) return std::nullopt;
    return *value;
  }
  std::size_t size() const noexcept { return data_.size(); }
  std::uint64_t malformed() const noexcept { return malformed_; }
  std::uint64_t duplicates() const noexcept { return duplicates_; }
  /// Puts of a new key refused because the table holds kv_table::max_keys.
  std::uint64_t refused() const noexcept { return refused_; }
  /// Calls f(key, value) for every pair, in no particular order.
  template <class F>
  void for_each(F&& f) const {
    data_.for_each(std::forward<F>(f));
  }

  /// Applies one committed entry; returns what the daemon needs to answer (nullopt when
  /// the entry did not decode, which is counted). Overwriting a key reuses its value's
  /// storage and a remembered request id takes the slot of the one it evicts, so a steady
  /// stream of writes to known keys allocates nothing here.
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
      if (!remembered_.remember_once(out.request_id, index)) {
        ++duplicates_;
        out.duplicate = true;
        return out;
      }
    }
    if (out.op == kv_op::put && !data_.put(out.key, as_chars(e.value))) ++refused_;
    else if (out.op == kv_op::del) data_.erase(out.key);
    return out;
  }

  /// Writes "wkv1", the pairs (u64 count, then u32 length + key, u32 length + value each,
  /// in no particular order), then the remembered request ids oldest first (u64 count, then
  /// u32 length + id, u64 index each); integers little-endian.
  weft::result<void> save(weft::runtime::snapshot_writer& out) const noexcept {
    WEFT_TRY(out.write_u32(snapshot_magic));
    WEFT_TRY(out.write_u64(data_.size()));
    weft::result<void> written = weft::ok();
    data_.for_each([&](std::string_view key, std::string_view value) noexcept {
      if (written) written = write_string(out, key);
      if (written) written = write_string(out, value);
    });
    WEFT_TRY(written);
    WEFT_TRY(out.write_u64(remembered_.size()));
    remembered_.for_each_oldest_first([&](std::string_view id, std::uint64_t index) noexcept {
      if (written) written = write_string(out, id);
      if (written) written = out.write_u64(index);
    });
    return written;
  }

  /// Replaces the whole state with a snapshot's (or leaves it as it was when the snapshot is
  /// refused); lengths are checked against what is left of the snapshot before anything is
  /// allocated. May throw std::bad_alloc.
  weft::result<void> load(weft::runtime::snapshot_reader& in) {
    const auto malformed = [](const char* where) {
      return weft::result<void>(weft::error(weft::runtime::runtime_errc::snapshot_malformed, where));
    };
    WEFT_TRY_ASSIGN(const std::uint32_t magic, in.read_u32());
    if (magic != snapshot_magic) return malformed("kv snapshot: magic");
    kv_table data(seed_);
    WEFT_TRY_ASSIGN(const std::uint64_t pairs, in.read_u64());
    if (pairs > in.remaining() / 8 || pairs > kv_table::max_keys) return malformed("kv snapshot: pair count");
    data.reserve(static_cast<std::size_t>(pairs));
    std::string key, value;
    for (std::uint64_t i = 0; i < pairs; ++i) {
      WEFT_TRY(read_string(in, key));
      WEFT_TRY(read_string(in, value));
      data.put(key, value);
    }
    WEFT_TRY_ASSIGN(const std::uint64_t ids, in.read_u64());
    if (ids > in.remaining() / 12 || ids > max_remembered_requests) return malformed("kv snapshot: id count");
    remembered_ids remembered(max_remembered_requests, seed_);
    for (std::uint64_t i = 0; i < ids; ++i) {
      WEFT_TRY(read_string(in, key));
      WEFT_TRY_ASSIGN(const std::uint64_t index, in.read_u64());
      remembered.remember(key, index);
    }
    if (in.remaining() != 0) return malformed("kv snapshot: trailing bytes");
    data_ = std::move(data);
    remembered_ = std::move(remembered);
    return weft::ok();
  }

 private:
  static constexpr std::uint32_t snapshot_magic = 0x31766b77;  // "wkv1" little-endian

  static weft::result<void> write_string(weft::runtime::snapshot_writer& out, std::string_view s) noexcept {
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

  std::uint64_t seed_;
  kv_table data_;
  remembered_ids remembered_;
  std::uint64_t malformed_ = 0;
  std::uint64_t duplicates_ = 0;
  std::uint64_t refused_ = 0;
};

}  // namespace weftd
