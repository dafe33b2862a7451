// Typed messages (weft/wire/schema.hpp): round trips, exact bytes, and every typed error.
#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hex_bytes.hpp"
#include "weft/core/static_vector.hpp"
#include "weft/wire/schema.hpp"

namespace wire = weft::wire;

namespace {

using weft_test::hex;

template <class T>
std::string encode_hex(const T& value) {
  std::array<std::uint8_t, 4096> buffer{};
  auto written = wire::encode(value, weft::mutable_byte_view(buffer));
  REQUIRE(written);
  CHECK(written->size() == wire::encoded_size(value));
  return weft::to_hex(*written);
}

enum class role : std::uint8_t { follower = 0, candidate = 1, leader = 2 };

struct entry {
  std::uint64_t term = 0;
  std::uint64_t index = 0;
  weft::byte_view payload{};
  static constexpr void fields(auto& v, auto& self) {
    v(1, self.term);
    v(2, self.index);
    v(3, self.payload);
  }
  friend bool operator==(const entry& a, const entry& b) {
    return a.term == b.term && a.index == b.index && weft::equal_bytes(a.payload, b.payload);
  }
};

struct append {
  std::uint64_t term = 0;
  std::int32_t delta = 0;
  bool urgent = false;
  role sender = role::follower;
  std::string_view note{};
  std::array<std::uint8_t, 4> id{};
  weft::static_vector<std::uint8_t, 8> tag;
  weft::static_vector<entry, 4> entries;
  std::optional<std::uint64_t> commit;
  double ratio = 0.0;
  std::int64_t label = 0;  // under a negative key
  static constexpr void fields(auto& v, auto& self) {
    v(0, self.term);
    v(1, self.delta);
    v(2, self.urgent);
    v(3, self.sender);
    v(4, self.note);
    v(5, self.id);
    v(6, self.tag);
    v(7, self.entries);
    v(24, self.commit);
    v(25, self.ratio);
    v(-1, self.label);
  }
};

struct small {
  std::uint8_t a = 0;
  std::optional<std::int8_t> b;
  static constexpr void fields(auto& v, auto& self) {
    v(1, self.a);
    v(2, self.b);
  }
};

struct small_v2_tolerant {
  std::uint8_t a = 0;
  static constexpr wire::unknown_keys unknown_key_policy = wire::unknown_keys::skip;
  static constexpr void fields(auto& v, auto& self) { v(1, self.a); }
};

struct small_strict {
  std::uint8_t a = 0;
  static constexpr void fields(auto& v, auto& self) { v(1, self.a); }
};

struct tool_record {
  std::string name;
  std::vector<std::uint8_t> blob;
  std::vector<small> items;
  wire::encoded_item extra;
  static constexpr void fields(auto& v, auto& self) {
    v(1, self.name);
    v(2, self.blob);
    v(3, self.items);
    v(4, self.extra);
  }
};

struct holder {
  std::array<std::uint8_t, 2> id{};
  weft::static_vector<std::uint8_t, 2> tag;
  weft::static_vector<std::uint8_t, 1> one;
  static constexpr void fields(auto& v, auto& self) {
    v(1, self.id);
    v(2, self.tag);
    v(3, self.one);
  }
};

struct list {
  weft::static_vector<std::uint16_t, 2> values;
  static constexpr void fields(auto& v, auto& self) { v(1, self.values); }
};

// A type with its own CBOR shape: a point as the array [x, y].
struct point {
  std::int32_t x = 0;
  std::int32_t y = 0;
};

struct shape {
  point origin;
  std::array<std::uint16_t, 3> sides{};
  float scale = 0.0f;
  static constexpr void fields(auto& v, auto& self) {
    v(1, self.origin);
    v(2, self.sides);
    v(3, self.scale);
  }
};

}  // namespace

template <>
struct weft::wire::codec<point> {
  static weft::result<void> encode(weft::wire::cbor_writer& w, const point& p) noexcept {
    WEFT_TRY(w.begin_array(2));
    WEFT_TRY(w.put_int(p.x));
    return w.put_int(p.y);
  }
  static weft::result<void> decode(weft::wire::cbor_reader& r, point& p) noexcept {
    WEFT_TRY_ASSIGN(const weft::wire::cbor_item head, r.next());
    if (head.type != weft::wire::cbor_type::array || head.argument != 2)
      return weft::error(weft::wire::cbor_errc::type_mismatch, "point");
    WEFT_TRY(weft::wire::decode_from(r, p.x));
    return weft::wire::decode_from(r, p.y);
  }
};

TEST_CASE("codec<T>, fixed arrays and float fields", "[wire][schema]") {
  shape s{{-3, 4}, {1, 2, 300}, 0.5f};
  CHECK(encode_hex(s) == "a3018222040283010219012c03f93800");
  auto back = wire::decode<shape>(hex("a3018222040283010219012c03f93800"));
  REQUIRE(back);
  CHECK(back->origin.x == -3);
  CHECK(back->origin.y == 4);
  CHECK(back->sides == s.sides);
  CHECK(back->scale == 0.5f);
  // The codec's own error comes through unchanged.
  CHECK(wire::decode<shape>(hex("a301830102030283010203" "03f93800"))
            .error()
            .is(wire::cbor_errc::type_mismatch));
  // Three sides exactly; a float field refuses a double it cannot hold.
  CHECK(wire::decode<shape>(hex("a30182010202820102" "03f93800"))
            .error()
            .is(wire::cbor_errc::length_mismatch));
  CHECK(wire::decode<shape>(hex("a3018201020283010203" "03fb3ff199999999999a"))
            .error()
            .is(wire::cbor_errc::not_representable));
}

TEST_CASE("a message encodes to a sorted deterministic map", "[wire][schema]") {
  small s{.a = 7, .b = std::int8_t{-2}};
  CHECK(encode_hex(s) == "a2010702" "21");
  s.b.reset();
  CHECK(encode_hex(s) == "a10107");
}

TEST_CASE("a message with every field type round-trips", "[wire][schema]") {
  const std::array<std::uint8_t, 3> payload{9, 8, 7};
  append m;
  m.term = 300;
  m.delta = -500;
  m.urgent = true;
  m.sender = role::leader;
  m.note = "h\xc3\xa9llo";
  m.id = {1, 2, 3, 4};
  REQUIRE(m.tag.push_back(0xaa));
  REQUIRE(m.entries.push_back(entry{1, 2, payload}));
  REQUIRE(m.entries.push_back(entry{1, 3, {}}));
  m.commit = 2;
  m.ratio = 1.5;
  m.label = -7;

  std::array<std::uint8_t, 512> buffer{};
  const auto bytes = wire::encode(m, weft::mutable_byte_view(buffer));
  REQUIRE(bytes);
  REQUIRE(wire::validate_cbor(*bytes));
  auto back = wire::decode<append>(*bytes);
  REQUIRE(back);
  CHECK(back->term == 300);
  CHECK(back->delta == -500);
  CHECK(back->urgent);
  CHECK(back->sender == role::leader);
  CHECK(back->note == m.note);
  CHECK(back->id == m.id);
  CHECK(back->tag == m.tag);
  CHECK(back->entries == m.entries);
  CHECK(back->commit == std::optional<std::uint64_t>{2});
  CHECK(back->ratio == 1.5);
  CHECK(back->label == -7);
  // Borrowed fields point into the input buffer: zero copy.
  CHECK(back->entries[0].payload.data() >= bytes->data());
  CHECK(back->entries[0].payload.data() < bytes->data() + bytes->size());
}

TEST_CASE("typed decoding refuses what the schema does not allow", "[wire][schema]") {
  using wire::cbor_errc;
  auto code_of = [](auto decoded) { return decoded.error(); };
  // {1: 256} does not fit std::uint8_t
  CHECK(code_of(wire::decode<small>(hex("a1011901" "00"))).is(cbor_errc::integer_out_of_range));
  // {1: -1} is negative for an unsigned field
  CHECK(code_of(wire::decode<small>(hex("a10120"))).is(cbor_errc::type_mismatch));
  // {2: 1}: key 1 is required
  CHECK(code_of(wire::decode<small>(hex("a10201"))).is(cbor_errc::missing_key));
  // {1: 1, 3: 0}: unknown key rejected by default, skipped when the schema says so
  CHECK(code_of(wire::decode<small>(hex("a201010300"))).is(cbor_errc::unknown_key));
  CHECK(code_of(wire::decode<small_strict>(hex("a2010163787878" "00"))).is(cbor_errc::unknown_key));
  auto tolerant = wire::decode<small_v2_tolerant>(hex("a3010102820102637878780f"));
  REQUIRE(tolerant);
  CHECK(tolerant->a == 1);
  // not a map; trailing bytes; a map with unsorted keys
  CHECK(code_of(wire::decode<small>(hex("80"))).is(cbor_errc::type_mismatch));
  CHECK(code_of(wire::decode<small>(hex("a1010100"))).is(cbor_errc::trailing_bytes));
  CHECK(code_of(wire::decode<small>(hex("a3010102000100"))).is(cbor_errc::unsorted_map_keys));
  // {2: -129} does not fit std::int8_t
  CHECK(code_of(wire::decode<small>(hex("a2010102388" "0"))).is(cbor_errc::integer_out_of_range));
}

TEST_CASE("fixed-capacity fields refuse oversized input", "[wire][schema]") {
  using wire::cbor_errc;
  CHECK(wire::decode<holder>(hex("a301420102024101034100")));
  CHECK(wire::decode<holder>(hex("a3014101024101034100")).error().is(cbor_errc::length_mismatch));
  CHECK(wire::decode<holder>(hex("a30142010202430101010341" "00"))
            .error()
            .is(cbor_errc::capacity_exceeded));
  CHECK(wire::decode<list>(hex("a101820102")));
  CHECK(wire::decode<list>(hex("a10183010203")).error().is(cbor_errc::capacity_exceeded));
}

TEST_CASE("tool types allocate and round-trip", "[wire][schema]") {
  const auto raw = hex("c11a5f5e1000");  // 1(1600000000): any deterministic item
  tool_record r;
  r.name = "node-1";
  r.blob = {1, 2, 3};
  r.items = {small{1, {}}, small{2, std::int8_t{3}}};
  r.extra.bytes = raw;
  std::vector<std::uint8_t> buffer(wire::encoded_size(r));
  auto bytes = wire::encode(r, weft::mutable_byte_view(buffer));
  REQUIRE(bytes);
  CHECK(bytes->size() == buffer.size());
  auto back = wire::decode<tool_record>(*bytes);
  REQUIRE(back);
  CHECK(back->name == "node-1");
  CHECK(back->blob == r.blob);
  REQUIRE(back->items.size() == 2);
  CHECK(back->items[1].b == std::optional<std::int8_t>{3});
  CHECK(back->extra == r.extra);
}

TEST_CASE("encoding into a full buffer fails cleanly", "[wire][schema]") {
  small s{.a = 7, .b = std::int8_t{-2}};
  std::array<std::uint8_t, 4> buffer{};
  CHECK(wire::encode(s, weft::mutable_byte_view(buffer)).error().is(wire::cbor_errc::output_full));
}
