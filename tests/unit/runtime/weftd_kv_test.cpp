// weftd's key-value state machine (examples/weftd/kv.hpp): puts, deletes, request ids
// applied once, the bounded ring of remembered ids, and snapshots that load back into the
// same table and the same remembered ids in the same order.
#include <catch2/catch.hpp>

#include <cstring>
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

/// Saves `from` into memory and loads it into `to`.
void copy_by_snapshot(const kv_store& from, kv_store& to) {
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
  weft::runtime::snapshot_reader in(
      weft::mutable_byte_view(buffer), saved.size(),
      [](void* context, std::uint64_t offset, weft::mutable_byte_view into) noexcept -> weft::result<std::size_t> {
        const auto* bytes = static_cast<const std::vector<std::uint8_t>*>(context);
        const std::size_t n = std::min<std::size_t>(into.size(), bytes->size() - offset);
        std::memcpy(into.data(), bytes->data() + offset, n);
        return n;
      },
      &saved);
  REQUIRE(to.load(in));
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
  CHECK(copy.data() == kv.data());
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
