// weftd's key-value state machine (examples/weftd/kv.hpp): puts, deletes, request ids
// applied once, the bounded ring of remembered ids, and snapshots that load back into the
// same table and the same remembered ids in the same order.
#include <catch2/catch.hpp>

#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "../../../examples/weftd/kv.hpp"

namespace {

using weftd::kv_op;
using weftd::kv_store;

std::vector<std::uint8_t> entry(kv_op op, const std::string& key, const std::string& value,
                                const std::string& request_id) {
  weftd::kv_entry e;
  e.op = static_cast<std::uint8_t>(op);
  e.key = weftd::as_view(key);
  e.value = weftd::as_view(value);
  e.origin = 1;
  e.request_id = weftd::as_view(request_id);
  std::vector<std::uint8_t> bytes(weft::wire::encoded_size(e));
  auto encoded = weft::wire::encode(e, weft::mutable_byte_view(bytes));
  REQUIRE(encoded);
  bytes.resize(encoded->size());
  return bytes;
}

std::optional<weftd::applied_entry> apply(kv_store& kv, std::uint64_t index, kv_op op, const std::string& key,
                                          const std::string& value, const std::string& request_id) {
  const auto bytes = entry(op, key, value, request_id);
  return kv.apply(index, weft::byte_view(bytes));
}

/// The snapshot bytes `from` saves.
std::vector<std::uint8_t> kv_snapshot_bytes(const kv_store& from) {
  std::vector<std::uint8_t> saved;
  std::vector<std::uint8_t> buffer(64);  // small: values cross buffer refills
  weft::runtime::snapshot_writer out(
      weft::mutable_byte_view(buffer),
      [](void* context, weft::byte_view bytes) noexcept -> weft::result<void> {
        auto* into = static_cast<std::vector<std::uint8_t>*>(context);
        into->insert(into->end(), bytes.begin(), bytes.end());
        return weft::ok();
      },
      &saved);
  REQUIRE(from.save(out));
  REQUIRE(out.flush());
  return saved;
}

/// Loads snapshot bytes into `to`.
weft::result<void> load_kv_snapshot(kv_store& to, const std::vector<std::uint8_t>& saved) {
  std::vector<std::uint8_t> buffer(64);
  weft::runtime::snapshot_reader in(
      weft::mutable_byte_view(buffer), saved.size(),
      [](void* context, std::uint64_t offset, weft::mutable_byte_view into) noexcept -> weft::result<std::size_t> {
        const auto* bytes = static_cast<const std::vector<std::uint8_t>*>(context);
        const std::size_t n = std::min<std::size_t>(into.size(), bytes->size() - offset);
        std::memcpy(into.data(), bytes->data() + offset, n);
        return n;
      },
      const_cast<std::vector<std::uint8_t>*>(&saved));
  return to.load(in);
}

/// Saves `from` into memory and loads it into `to`.
void copy_by_snapshot(const kv_store& from, kv_store& to) { REQUIRE(load_kv_snapshot(to, kv_snapshot_bytes(from))); }

std::map<std::string, std::string> kv_pairs(const kv_store& kv) {
  std::map<std::string, std::string> pairs;
  kv.for_each([&](std::string_view key, std::string_view value) { pairs.emplace(key, value); });
  return pairs;
}

}  // namespace

TEST_CASE("weftd kv: put, overwrite, delete, and the answer's key and request id", "[weftd][kv]") {
  kv_store kv;
  const std::string value_a(256, 'a'), value_b(256, 'b');
  const auto bytes = entry(kv_op::put, "k1", value_a, "r1");
  auto a = kv.apply(1, weft::byte_view(bytes));  // its views point into `bytes`
  REQUIRE(a);
  CHECK(a->index == 1);
  CHECK(a->key == "k1");
  CHECK(a->request_id == "r1");
  CHECK_FALSE(a->duplicate);
  CHECK(kv.get("k1") == value_a);
  REQUIRE(apply(kv, 2, kv_op::put, "k1", value_b, "r2"));
  CHECK(kv.get("k1") == value_b);
  REQUIRE(apply(kv, 3, kv_op::put, "k2", "short", "r3"));
  CHECK(kv.size() == 2);
  REQUIRE(apply(kv, 4, kv_op::del, "k1", "", "r4"));
  CHECK_FALSE(kv.get("k1"));
  CHECK(kv.get("k2") == "short");
  const std::vector<std::uint8_t> junk{0xff, 0x00, 0x13};
  CHECK_FALSE(kv.apply(5, weft::byte_view(junk)));
  CHECK(kv.malformed() == 1);
}

TEST_CASE("weftd kv: a request id applies once; the oldest ids are forgotten beyond the bound", "[weftd][kv]") {
  kv_store kv;
  REQUIRE(apply(kv, 1, kv_op::put, "k", "first", "id-0"));
  auto again = apply(kv, 2, kv_op::put, "k", "second", "id-0");
  REQUIRE(again);
  CHECK(again->duplicate);
  CHECK(kv.get("k") == "first");
  CHECK(kv.duplicates() == 1);
  // Fill the ring past its bound: the first two ids (id-0, id-1) fall out, id-2 stays.
  std::uint64_t index = 3;
  for (std::size_t i = 1; i <= kv_store::max_remembered_requests + 1; ++i)
    REQUIRE(apply(kv, index++, kv_op::put, "other", "v", "id-" + std::to_string(i)));
  CHECK(apply(kv, index++, kv_op::put, "k", "late", "id-2")->duplicate);
  CHECK(kv.get("k") == "first");
  CHECK_FALSE(apply(kv, index++, kv_op::put, "k", "retried", "id-0")->duplicate);
  CHECK(kv.get("k") == "retried");
}

TEST_CASE("weftd kv: a snapshot loads back into the same table and remembered ids", "[weftd][kv]") {
  kv_store kv;
  std::uint64_t index = 1;
  // Long ids (no small-string storage) and short ones; enough to wrap the ring once.
  for (std::size_t i = 0; i < kv_store::max_remembered_requests + 50; ++i) {
    const std::string id = (i % 2 == 0 ? "n1.1700000000000." : "") + std::to_string(i);
    REQUIRE(apply(kv, index++, kv_op::put, "key-" + std::to_string(i % 300), std::string(256, char('a' + i % 26)), id));
  }
  REQUIRE(apply(kv, index++, kv_op::del, "key-7", "", "deleted"));
  kv_store copy;
  copy_by_snapshot(kv, copy);
  CHECK(kv_pairs(copy) == kv_pairs(kv));
  CHECK(copy.size() == 299);
  // The newest id is remembered in both; the oldest remembered one is the next evicted.
  CHECK(apply(copy, index, kv_op::put, "x", "y", "deleted")->duplicate);
  CHECK(apply(kv, index, kv_op::put, "x", "y", "deleted")->duplicate);
  const std::string oldest = "51";  // 100,051 ids were remembered: 0..50 were evicted
  CHECK(apply(copy, index, kv_op::put, "x", "y", oldest)->duplicate);
  REQUIRE(apply(copy, index + 1, kv_op::put, "x", "y", "evicts-the-oldest"));
  REQUIRE(apply(kv, index + 1, kv_op::put, "x", "y", "evicts-the-oldest"));
  CHECK_FALSE(apply(copy, index + 2, kv_op::put, "x", "z", oldest)->duplicate);
  CHECK_FALSE(apply(kv, index + 2, kv_op::put, "x", "z", oldest)->duplicate);
  // Re-applying "51" evicted the next oldest ("n1.1700000000000.52"); "53" is still there.
  CHECK(apply(copy, index + 3, kv_op::put, "x", "z", "53")->duplicate);
  CHECK_FALSE(apply(copy, index + 4, kv_op::put, "x", "z", "n1.1700000000000.52")->duplicate);
}

TEST_CASE("weftd kv: random puts, overwrites and deletes match a model table", "[weftd][kv]") {
  // Seeds 0 and 1 hash alike-length keys differently: the index's probe runs and
  // backward shifts differ, the contents must not.
  for (const std::uint64_t seed : {std::uint64_t{0}, std::uint64_t{1}}) {
    kv_store kv(seed);
    std::map<std::string, std::string> model;
    std::uint64_t state = 0x2545f4914f6cdd1dull + seed;
    const auto next = [&state] {
      state ^= state << 13;
      state ^= state >> 7;
      state ^= state << 17;
      return state;
    };
    for (std::uint64_t index = 1; index <= 20000; ++index) {
      const std::string key = "k" + std::to_string(next() % 3000);  // many repeats, some long keys
      const std::string full_key = next() % 8 == 0 ? key + std::string(40, 'x') : key;
      if (next() % 3 == 0) {
        REQUIRE(apply(kv, index, kv_op::del, full_key, "", ""));
        model.erase(full_key);
      } else {
        const std::string value = std::to_string(index) + std::string(next() % 300, 'v');
        REQUIRE(apply(kv, index, kv_op::put, full_key, value, ""));
        model[full_key] = value;
      }
    }
    CHECK(kv.size() == model.size());
    CHECK(kv_pairs(kv) == model);
    for (const auto& [key, value] : model) REQUIRE(kv.get(key) == value);
    CHECK_FALSE(kv.get("k3000"));
  }
}

TEST_CASE("weftd kv: long request ids are remembered, evicted and saved like short ones", "[weftd][kv]") {
  kv_store kv;
  const std::string long_prefix(100, 'L');  // longer than the inline bytes of a slot
  std::uint64_t index = 1;
  for (std::size_t i = 0; i < kv_store::max_remembered_requests + 10; ++i) {
    const std::string id = (i % 3 == 0 ? long_prefix : std::string()) + std::to_string(i);
    REQUIRE_FALSE(apply(kv, index++, kv_op::put, "k", "v", id)->duplicate);
  }
  CHECK_FALSE(apply(kv, index++, kv_op::put, "k", "v", long_prefix + "9")->duplicate);  // evicted
  CHECK(apply(kv, index++, kv_op::put, "k", "v", long_prefix + "12")->duplicate);
  CHECK(apply(kv, index++, kv_op::put, "k", "v", "13")->duplicate);
  kv_store copy(7);  // another seed: nothing hashed is saved
  copy_by_snapshot(kv, copy);
  CHECK(kv_snapshot_bytes(copy) == kv_snapshot_bytes(kv));
  // id 100,008 is a long one (a multiple of 3), the newest long id.
  CHECK(apply(copy, index, kv_op::put, "k", "v", long_prefix + std::to_string(kv_store::max_remembered_requests + 8))
            ->duplicate);
}

TEST_CASE("weftd kv: the wkv1 snapshot format, byte for byte", "[weftd][kv]") {
  std::vector<std::uint8_t> bytes;
  const auto u32 = [&](std::uint32_t v) {
    for (int i = 0; i < 4; ++i) bytes.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  };
  const auto u64 = [&](std::uint64_t v) {
    for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  };
  const auto text = [&](std::string_view s) {
    u32(static_cast<std::uint32_t>(s.size()));
    bytes.insert(bytes.end(), s.begin(), s.end());
  };
  bytes = {'w', 'k', 'v', '1'};
  u64(1);
  text("key");
  text("value");
  u64(2);
  text("older");
  u64(5);
  text("newer");
  u64(6);
  kv_store kv;
  REQUIRE(load_kv_snapshot(kv, bytes));
  CHECK(kv.get("key") == "value");
  CHECK(kv.size() == 1);
  CHECK(kv_snapshot_bytes(kv) == bytes);
  CHECK(apply(kv, 7, kv_op::put, "key", "x", "older")->duplicate);
  CHECK(kv.get("key") == "value");
}

TEST_CASE("weftd kv: a damaged snapshot is refused and the state stays as it was", "[weftd][kv]") {
  kv_store source;
  for (std::uint64_t i = 1; i <= 20; ++i)
    REQUIRE(apply(source, i, kv_op::put, "key-" + std::to_string(i), std::string(i * 3, 'v'), "id-" + std::to_string(i)));
  const std::vector<std::uint8_t> good = kv_snapshot_bytes(source);
  kv_store kv;
  REQUIRE(apply(kv, 1, kv_op::put, "mine", "kept", "my-id"));
  const auto unchanged = [&kv] {
    CHECK(kv.get("mine") == "kept");
    CHECK(kv.size() == 1);
  };
  for (std::size_t cut = 0; cut < good.size(); cut += 7) {  // every truncation is refused
    const std::vector<std::uint8_t> truncated(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(cut));
    REQUIRE_FALSE(load_kv_snapshot(kv, truncated));
    unchanged();
  }
  std::vector<std::uint8_t> trailing = good;
  trailing.push_back(0);
  CHECK_FALSE(load_kv_snapshot(kv, trailing));
  std::vector<std::uint8_t> huge_count = good;
  for (std::size_t i = 4; i < 12; ++i) huge_count[i] = 0xff;  // the pair count
  const auto refused = load_kv_snapshot(kv, huge_count);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().is(weft::runtime::runtime_errc::snapshot_malformed));
  std::vector<std::uint8_t> bad_magic = good;
  bad_magic[0] = 'x';
  CHECK_FALSE(load_kv_snapshot(kv, bad_magic));
  unchanged();
  CHECK_FALSE(apply(kv, 2, kv_op::put, "k", "v", "id-3")->duplicate);  // source's ids not taken
  REQUIRE(load_kv_snapshot(kv, good));
  CHECK(kv.get("key-20") == std::string(60, 'v'));
  CHECK_FALSE(kv.get("mine"));
  CHECK(apply(kv, 21, kv_op::put, "k", "v", "id-3")->duplicate);
}
