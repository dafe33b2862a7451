// tests/unit/raft/codec_test.cpp - the CBOR schema of Raft messages: round trips of every
// message a core produces, hostile input refused with typed errors.
#include <catch2/catch.hpp>

#include "harness.hpp"
#include "weft/consensus/raft/codec.hpp"

using namespace raft_test;

namespace {
std::vector<owned_message> g_seen;  // every message the cluster posts (drop_if hook)
bool same(const message& a, const message& b) {
  if (a.type != b.type || a.from != b.from || a.to != b.to || a.term != b.term ||
      a.log_index != b.log_index || a.log_term != b.log_term || a.commit != b.commit ||
      a.reject != b.reject || a.transfer != b.transfer || a.round != b.round ||
      a.stamp_tick != b.stamp_tick || a.entries.size() != b.entries.size())
    return false;
  for (std::size_t i = 0; i < a.entries.size(); ++i) {
    const entry_ref x = a.entries.at(i), y = b.entries.at(i);
    if (x.index != y.index || x.term != y.term || x.type != y.type || !weft::equal_bytes(x.payload, y.payload))
      return false;
  }
  if (a.type == message_type::install_snapshot) {
    if (a.snapshot_index != b.snapshot_index || a.snapshot_offset != b.snapshot_offset ||
        a.snapshot_size_bytes != b.snapshot_size_bytes || a.snapshot_done != b.snapshot_done ||
        !weft::equal_bytes(a.data, b.data) || b.snapshot_config == nullptr ||
        !(*a.snapshot_config == *b.snapshot_config))
      return false;
  }
  return true;
}
}  // namespace

namespace {
/// The schema's append with a larger entries array than it allows.
struct oversized_append {
  std::uint64_t version = wire_version;
  std::uint8_t type = static_cast<std::uint8_t>(message_type::append);
  std::uint64_t from = 1, to = 2, term = 1, log_index = 0, log_term = 0, commit = 0;
  bool reject = false, transfer = false;
  std::uint64_t round = 0, stamp_tick = 0;
  std::vector<detail::wire_entry> entries;
  static constexpr void fields(auto& v, auto& self) {
    v(0, self.version);
    v(1, self.type);
    v(2, self.from);
    v(3, self.to);
    v(4, self.term);
    v(5, self.log_index);
    v(6, self.log_term);
    v(7, self.commit);
    v(8, self.reject);
    v(9, self.transfer);
    v(10, self.round);
    v(11, self.stamp_tick);
    v(12, self.entries);
  }
};
}  // namespace

TEST_CASE("raft codec: at most 256 entries per message; more is message_too_large",
          "[raft][codec]") {
  for (const std::size_t count : {std::size_t{256}, std::size_t{257}}) {
    oversized_append big;
    for (std::size_t i = 0; i < count; ++i) big.entries.push_back({i + 1, 1, 0, {}});
    std::vector<std::uint8_t> buffer(64 * 1024);
    auto encoded = weft::wire::encode(big, buffer);
    REQUIRE(encoded.has_value());
    message_codec codec;
    auto decoded = codec.decode(*encoded);
    if (count == max_entries_per_append) {
      INFO((decoded ? "" : decoded.error().where()));
      REQUIRE(decoded.has_value());
      CHECK(decoded->entries.size() == 256);
    } else {
      REQUIRE(!decoded.has_value());
      CHECK(decoded.error() == raft_errc::message_too_large);
    }
  }
  options o = default_options(1);
  o.max_entries_per_message = 257;
  CHECK(o.validate().error() == raft_errc::invalid_options);
}

TEST_CASE("raft codec: every message of a busy cluster round-trips", "[raft][codec]") {
  cluster c(3, 211);
  c.compact_every = 8;
  g_seen.clear();
  c.drop_if = [](const message& m) {
    if (g_seen.size() < 4000) g_seen.emplace_back(m);
    return false;
  };
  const node_id l = c.elect();
  REQUIRE(l != 0);
  const node_id lagging = l == 1 ? 2 : 1;
  c.crash(lagging);
  for (int i = 0; i < 30; ++i) {
    REQUIRE(c.node(l).propose(bytes_of(label("c", static_cast<std::uint64_t>(i)))).has_value());
    c.settle();
  }
  c.restart(lagging);
  for (int i = 0; i < 10; ++i) c.tick_all();
  message_codec encoder, decoder;
  std::vector<std::uint8_t> buffer(1 << 16);
  std::size_t checked = 0;
  std::map<message_type, int> kinds;
  for (int round = 0; round < 40; ++round) {
    c.tick_all();
    c.settle();
  }
  for (owned_message& om : g_seen) {
    message m = om.view();
    auto bytes = encoder.encode(m, buffer);
    REQUIRE(bytes.has_value());
    auto back = decoder.decode(*bytes);
    REQUIRE(back.has_value());
    CHECK(same(m, *back));
    ++kinds[m.type];
    ++checked;
    // deterministic: the same message encodes to the same bytes
    std::vector<std::uint8_t> again(buffer.size());
    auto bytes2 = encoder.encode(*back, again);
    REQUIRE(bytes2.has_value());
    CHECK(weft::equal_bytes(*bytes, *bytes2));
  }
  CHECK(checked > 50);
  CHECK(kinds.count(message_type::append) == 1);
  CHECK(kinds.count(message_type::install_snapshot) == 1);
}

TEST_CASE("raft codec: hostile bytes are refused with typed errors", "[raft][codec]") {
  message m;
  m.type = message_type::append;
  m.from = 1;
  m.to = 2;
  m.term = 3;
  std::string a = "payload";
  entry_ref refs[] = {{1, 3, entry_type::normal, weft::as_bytes(a)}};
  m.entries = entry_range(refs);
  message_codec codec;
  std::vector<std::uint8_t> buffer(4096);
  auto bytes = codec.encode(m, buffer);
  REQUIRE(bytes.has_value());
  std::vector<std::uint8_t> copy(bytes->begin(), bytes->end());
  // every truncation fails
  for (std::size_t n = 0; n < copy.size(); ++n) CHECK(!codec.decode(weft::byte_view(copy.data(), n)));
  // a trailing byte fails
  copy.push_back(0);
  CHECK(!codec.decode(copy));
  copy.pop_back();
  // version 2 is refused with its own code (key 0 is the first pair: a1? 00 01)
  REQUIRE(copy[1] == 0x00);
  REQUIRE(copy[2] == 0x01);
  copy[2] = 0x02;
  CHECK(codec.decode(copy).error() == raft_errc::unsupported_version);
  copy[2] = 0x01;
  // an unknown message type
  REQUIRE(copy[3] == 0x01);
  copy[4] = 0x17;
  CHECK(codec.decode(copy).error() == raft_errc::bad_message);
  // a snapshot type without its snapshot field (it would not re-encode to these bytes;
  // found by fuzz_raft_message)
  copy[4] = static_cast<std::uint8_t>(message_type::install_snapshot);
  CHECK(codec.decode(copy).error() == raft_errc::bad_message);
  copy[4] = static_cast<std::uint8_t>(message_type::install_snapshot_response);
  CHECK(codec.decode(copy).error() == raft_errc::bad_message);
  copy[4] = static_cast<std::uint8_t>(message_type::append);
  CHECK(codec.decode(copy).has_value());
  // random mutations never crash and never yield an out-of-range type
  weft::xoshiro256 r(5);
  for (int i = 0; i < 5000; ++i) {
    std::vector<std::uint8_t> mutated(bytes->begin(), bytes->end());
    mutated[weft::uniform_below(r, mutated.size())] = static_cast<std::uint8_t>(r.next_u64());
    auto d = codec.decode(mutated);
    if (d) CHECK(static_cast<std::uint8_t>(d->type) <= max_message_type);
  }
}
