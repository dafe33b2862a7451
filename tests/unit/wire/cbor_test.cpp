// The CBOR codec against RFC 8949: every example of Appendix A, every malformed example of
// Appendix F, the strictness rules of core deterministic encoding (§4.2.1), the limits,
// and diagnostic notation (§8).
#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "hex_bytes.hpp"
#include "weft/wire/cbor.hpp"
#include "weft/wire/cbor_value.hpp"
#include "weft/wire/diagnostic.hpp"

namespace wire = weft::wire;
using wire::cbor_errc;

namespace {

using weft_test::hex;

std::string one_to_25() {
  std::string s = "[";
  for (int i = 1; i <= 25; ++i) s += (i > 1 ? ", " : "") + std::to_string(i);
  return s + "]";
}

struct example {
  std::string diagnostic;  // as printed in RFC 8949 Appendix A
  std::string_view encoded;
};

// Appendix A rows whose encoding is core deterministic: they must decode, match the
// diagnostic, and re-encode to exactly the same bytes.
std::vector<example> deterministic_examples() {
  return {
      {"0", "00"},
      {"1", "01"},
      {"10", "0a"},
      {"23", "17"},
      {"24", "1818"},
      {"25", "1819"},
      {"100", "1864"},
      {"1000", "1903e8"},
      {"1000000", "1a000f4240"},
      {"1000000000000", "1b000000e8d4a51000"},
      {"18446744073709551615", "1bffffffffffffffff"},
      {"18446744073709551616", "c249010000000000000000"},
      {"-18446744073709551616", "3bffffffffffffffff"},
      {"-18446744073709551617", "c349010000000000000000"},
      {"-1", "20"},
      {"-10", "29"},
      {"-100", "3863"},
      {"-1000", "3903e7"},
      {"0.0", "f90000"},
      {"-0.0", "f98000"},
      {"1.0", "f93c00"},
      {"1.1", "fb3ff199999999999a"},
      {"1.5", "f93e00"},
      {"65504.0", "f97bff"},
      {"100000.0", "fa47c35000"},
      {"3.4028234663852886e+38", "fa7f7fffff"},
      {"1.0e+300", "fb7e37e43c8800759c"},
      {"5.960464477539063e-8", "f90001"},
      {"0.00006103515625", "f90400"},
      {"-4.0", "f9c400"},
      {"-4.1", "fbc010666666666666"},
      {"Infinity", "f97c00"},
      {"NaN", "f97e00"},
      {"-Infinity", "f9fc00"},
      {"false", "f4"},
      {"true", "f5"},
      {"null", "f6"},
      {"undefined", "f7"},
      {"simple(16)", "f0"},
      {"simple(255)", "f8ff"},
      {"0(\"2013-03-21T20:04:00Z\")", "c074323031332d30332d32315432303a30343a30305a"},
      {"1(1363896240)", "c11a514b67b0"},
      {"1(1363896240.5)", "c1fb41d452d9ec200000"},
      {"23(h'01020304')", "d74401020304"},
      {"24(h'6449455446')", "d818456449455446"},
      {"32(\"http://www.example.com\")",
       "d82076687474703a2f2f7777772e6578616d706c652e636f6d"},
      {"h''", "40"},
      {"h'01020304'", "4401020304"},
      {"\"\"", "60"},
      {"\"a\"", "6161"},
      {"\"IETF\"", "6449455446"},
      {"\"\\\"\\\\\"", "62225c"},
      {"\"\\u00fc\"", "62c3bc"},
      {"\"\\u6c34\"", "63e6b0b4"},
      {"\"\\ud800\\udd51\"", "64f0908591"},
      {"[]", "80"},
      {"[1, 2, 3]", "83010203"},
      {"[1, [2, 3], [4, 5]]", "8301820203820405"},
      {one_to_25(), "98190102030405060708090a0b0c0d0e0f101112131415161718181819"},
      {"{}", "a0"},
      {"{1: 2, 3: 4}", "a201020304"},
      {"{\"a\": 1, \"b\": [2, 3]}", "a26161016162820203"},
      {"[\"a\", {\"b\": \"c\"}]", "826161a161626163"},
      {"{\"a\": \"A\", \"b\": \"B\", \"c\": \"C\", \"d\": \"D\", \"e\": \"E\"}",
       "a56161614161626142616361436164614461656145"},
  };
}

struct rejected {
  std::string_view encoded;
  cbor_errc code;
};

cbor_errc code_of(std::string_view encoded, const wire::decode_limits& limits = {}) {
  const auto bytes = hex(encoded);
  const auto checked = wire::validate_cbor(bytes, limits);
  REQUIRE_FALSE(checked);
  // The value-tree decoder goes through the same reader: same verdict.
  const auto tree = wire::decode_value(bytes, limits);
  REQUIRE_FALSE(tree);
  CHECK(tree.error() == checked.error());
  for (std::uint16_t c = 1; c <= 26; ++c)
    if (checked.error().is(static_cast<cbor_errc>(c))) return static_cast<cbor_errc>(c);
  FAIL("not a cbor_errc: " << checked.error().message());
  return cbor_errc::ok;
}

}  // namespace

TEST_CASE("RFC 8949 Appendix A: deterministic examples decode and re-encode exactly",
          "[wire][cbor][rfc8949]") {
  const auto examples = deterministic_examples();
  CHECK(examples.size() == 64);
  for (const auto& e : examples) {
    INFO(e.diagnostic << " = " << e.encoded);
    const auto bytes = hex(e.encoded);
    REQUIRE(wire::validate_cbor(bytes));
    const auto decoded = wire::decode_value(bytes);
    REQUIRE(decoded);
    const auto parsed = wire::parse_diagnostic(e.diagnostic);
    REQUIRE(parsed);
    CHECK(*decoded == *parsed);
    const auto reencoded = wire::to_cbor(*parsed);
    REQUIRE(reencoded);
    CHECK(weft::to_hex(*reencoded) == e.encoded);
    // Our own diagnostic output parses back to the same value.
    const auto printed = wire::parse_diagnostic(wire::to_diagnostic(*decoded));
    REQUIRE(printed);
    CHECK(*printed == *decoded);
  }
}

TEST_CASE("RFC 8949 Appendix A: non-deterministic examples are rejected", "[wire][cbor][rfc8949]") {
  // Floats not in preferred serialization (the same values have a shorter exact form).
  CHECK(code_of("fa7f800000") == cbor_errc::non_preferred_float);          // Infinity
  CHECK(code_of("fa7fc00000") == cbor_errc::non_preferred_float);          // NaN
  CHECK(code_of("faff800000") == cbor_errc::non_preferred_float);          // -Infinity
  CHECK(code_of("fb7ff0000000000000") == cbor_errc::non_preferred_float);  // Infinity
  CHECK(code_of("fb7ff8000000000000") == cbor_errc::non_preferred_float);  // NaN
  CHECK(code_of("fbfff0000000000000") == cbor_errc::non_preferred_float);  // -Infinity
  // Indefinite-length items.
  for (const std::string_view indefinite :
       {"5f42010243030405ff", "7f657374726561646d696e67ff", "9fff", "9f018202039f0405ffff",
        "9f01820203820405ff", "83018202039f0405ff", "83019f0203ff820405",
        "9f0102030405060708090a0b0c0d0e0f101112131415161718181819ff", "bf61610161629f0203ffff",
        "826161bf61626163ff", "bf6346756ef563416d7421ff"}) {
    INFO(indefinite);
    CHECK(code_of(indefinite) == cbor_errc::indefinite_length);
  }
  // Their deterministic forms are what the encoder writes for the same values.
  CHECK(*wire::hex_from_diagnostic("Infinity") == "f97c00");
  CHECK(*wire::hex_from_diagnostic("[\"a\", {\"b\": \"c\"}]") == "826161a161626163");
  CHECK(*wire::hex_from_diagnostic("{\"Fun\": true, \"Amt\": -2}") == "a263416d74216346756ef5");
}

TEST_CASE("RFC 8949 Appendix F: every malformed example is rejected", "[wire][cbor][rfc8949]") {
  const std::vector<rejected> cases = {
      // F.1 end of input in a head
      {"18", cbor_errc::truncated}, {"19", cbor_errc::truncated}, {"1a", cbor_errc::truncated},
      {"1b", cbor_errc::truncated}, {"1901", cbor_errc::truncated},
      {"1a0102", cbor_errc::truncated}, {"1b01020304050607", cbor_errc::truncated},
      {"38", cbor_errc::truncated}, {"58", cbor_errc::truncated}, {"78", cbor_errc::truncated},
      {"98", cbor_errc::truncated}, {"9a01ff00", cbor_errc::truncated},
      {"b8", cbor_errc::truncated}, {"d8", cbor_errc::truncated}, {"f8", cbor_errc::truncated},
      {"f900", cbor_errc::truncated}, {"fa0000", cbor_errc::truncated},
      {"fb000000", cbor_errc::truncated},
      // definite-length strings with short data
      {"41", cbor_errc::truncated}, {"61", cbor_errc::truncated},
      {"5affffffff00", cbor_errc::truncated}, {"5bffffffffffffffff010203", cbor_errc::truncated},
      {"7affffffff00", cbor_errc::truncated}, {"7b7fffffffffffffff010203", cbor_errc::truncated},
      // definite-length maps and arrays not closed with enough items
      {"81", cbor_errc::truncated}, {"818181818181818181", cbor_errc::truncated},
      {"8200", cbor_errc::truncated}, {"a1", cbor_errc::truncated},
      {"a20102", cbor_errc::truncated}, {"a100", cbor_errc::truncated},
      {"a2000000", cbor_errc::truncated},
      // tag number not followed by tag content
      {"c0", cbor_errc::truncated},
      // indefinite-length strings, maps and arrays not closed by a break
      {"5f4100", cbor_errc::indefinite_length}, {"7f6100", cbor_errc::indefinite_length},
      {"9f", cbor_errc::indefinite_length}, {"9f0102", cbor_errc::indefinite_length},
      {"bf", cbor_errc::indefinite_length}, {"bf01020102", cbor_errc::indefinite_length},
      {"819f", cbor_errc::indefinite_length}, {"9f8000", cbor_errc::indefinite_length},
      {"9f9f9f9f9fffffffff", cbor_errc::indefinite_length},
      {"9f819f819f9fffffff", cbor_errc::indefinite_length},
      // F.2 reserved additional information values
      {"1c", cbor_errc::reserved_additional_info}, {"1d", cbor_errc::reserved_additional_info},
      {"1e", cbor_errc::reserved_additional_info}, {"3c", cbor_errc::reserved_additional_info},
      {"3d", cbor_errc::reserved_additional_info}, {"3e", cbor_errc::reserved_additional_info},
      {"5c", cbor_errc::reserved_additional_info}, {"5d", cbor_errc::reserved_additional_info},
      {"5e", cbor_errc::reserved_additional_info}, {"7c", cbor_errc::reserved_additional_info},
      {"7d", cbor_errc::reserved_additional_info}, {"7e", cbor_errc::reserved_additional_info},
      {"9c", cbor_errc::reserved_additional_info}, {"9d", cbor_errc::reserved_additional_info},
      {"9e", cbor_errc::reserved_additional_info}, {"bc", cbor_errc::reserved_additional_info},
      {"bd", cbor_errc::reserved_additional_info}, {"be", cbor_errc::reserved_additional_info},
      {"dc", cbor_errc::reserved_additional_info}, {"dd", cbor_errc::reserved_additional_info},
      {"de", cbor_errc::reserved_additional_info}, {"fc", cbor_errc::reserved_additional_info},
      {"fd", cbor_errc::reserved_additional_info}, {"fe", cbor_errc::reserved_additional_info},
      // reserved two-byte encodings of simple values
      {"f800", cbor_errc::invalid_simple_value}, {"f801", cbor_errc::invalid_simple_value},
      {"f818", cbor_errc::invalid_simple_value}, {"f81f", cbor_errc::invalid_simple_value},
      // indefinite-length string chunks of the wrong type or not definite
      {"5f00ff", cbor_errc::indefinite_length}, {"5f21ff", cbor_errc::indefinite_length},
      {"5f6100ff", cbor_errc::indefinite_length}, {"5f80ff", cbor_errc::indefinite_length},
      {"5fa0ff", cbor_errc::indefinite_length}, {"5fc000ff", cbor_errc::indefinite_length},
      {"5fe0ff", cbor_errc::indefinite_length}, {"7f4100ff", cbor_errc::indefinite_length},
      {"5f5f4100ffff", cbor_errc::indefinite_length},
      {"7f7f6100ffff", cbor_errc::indefinite_length},
      // break on its own, or inside a definite-length array, map or tag
      {"ff", cbor_errc::unexpected_break}, {"81ff", cbor_errc::unexpected_break},
      {"8200ff", cbor_errc::unexpected_break},
      {"a1ff", cbor_errc::truncated},  // one pair needs two items; only one byte is left
      {"a1ff00", cbor_errc::unexpected_break}, {"a100ff", cbor_errc::unexpected_break},
      {"a20000ff", cbor_errc::truncated},  // two pairs need four items; three bytes are left
      {"9f81ff", cbor_errc::indefinite_length},
      {"9f829f819f9fffffffff", cbor_errc::indefinite_length},
      // break in an indefinite-length map at a value position
      {"bf00ff", cbor_errc::indefinite_length}, {"bf000000ff", cbor_errc::indefinite_length},
      // major types 0, 1 and 6 with additional information 31
      {"1f", cbor_errc::indefinite_length}, {"3f", cbor_errc::indefinite_length},
      {"df", cbor_errc::indefinite_length},
  };
  CHECK(cases.size() == 94);
  for (const auto& c : cases) {
    INFO(c.encoded);
    CHECK(code_of(c.encoded) == c.code);
  }
}

TEST_CASE("strict decoding: shortest forms, preferred floats, key order, UTF-8",
          "[wire][cbor]") {
  const std::vector<rejected> cases = {
      {"1817", cbor_errc::non_shortest_argument},
      {"1900ff", cbor_errc::non_shortest_argument},
      {"1a0000ffff", cbor_errc::non_shortest_argument},
      {"1b00000000ffffffff", cbor_errc::non_shortest_argument},
      {"3817", cbor_errc::non_shortest_argument},
      {"580100", cbor_errc::non_shortest_argument},
      {"78016161", cbor_errc::non_shortest_argument},
      {"980100", cbor_errc::non_shortest_argument},
      {"b8010000", cbor_errc::non_shortest_argument},
      {"d80000", cbor_errc::non_shortest_argument},
      {"f97c01", cbor_errc::non_preferred_float},   // NaN with a payload
      {"f9fe00", cbor_errc::non_preferred_float},   // negative NaN
      {"fa3fc00000", cbor_errc::non_preferred_float},  // 1.5 fits a half
      {"fb3ff8000000000000", cbor_errc::non_preferred_float},  // 1.5 fits a half
      {"fb40f86a0000000000", cbor_errc::non_preferred_float},  // 100000.0 fits a single
      {"fa33800000", cbor_errc::non_preferred_float},  // 2^-24 is a half subnormal
      {"a202000100", cbor_errc::unsorted_map_keys},
      {"a201000100", cbor_errc::duplicate_map_key},
      {"a22000181800", cbor_errc::unsorted_map_keys},  // -1 (0x20) after 24 (0x1818)
      // length-first (RFC 7049 canonical) order is not bytewise order
      {"a2616100420000" "00", cbor_errc::unsorted_map_keys},
      {"a2810000810000", cbor_errc::duplicate_map_key},  // [0] twice, as nested keys
      // keys whose first bytes agree are ordered by the bytes after
      {"a2181900181800", cbor_errc::unsorted_map_keys},  // 25 (0x1819) before 24 (0x1818)
      {"a2181800181800", cbor_errc::duplicate_map_key},
      {"a30001181900181800", cbor_errc::unsorted_map_keys},
      {"61ff", cbor_errc::invalid_utf8},
      {"61c3", cbor_errc::invalid_utf8},
      {"62c0af", cbor_errc::invalid_utf8},      // overlong '/'
      {"63eda080", cbor_errc::invalid_utf8},    // surrogate U+D800
      {"64f4908080", cbor_errc::invalid_utf8},  // above U+10FFFF
      {"0000", cbor_errc::trailing_bytes},
      {"", cbor_errc::truncated},
  };
  for (const auto& c : cases) {
    INFO(c.encoded);
    CHECK(code_of(c.encoded) == c.code);
  }
  // Sorted bytewise (not length-first), half subnormals and single-only values are fine.
  for (const std::string_view good :
       {"a2420000006161" "00", "a21818002000", "a30001181800181900", "f90001", "fa33000000", "fa47c35000",
        "a2008101810000", "c0c0c000"}) {
    INFO(good);
    CHECK(wire::validate_cbor(hex(good)));
  }
}

TEST_CASE("decode limits bound depth, items, strings and input", "[wire][cbor][limits]") {
  wire::decode_limits limits;
  std::string deep(2 * 33, '8');
  for (std::size_t i = 1; i < deep.size(); i += 2) deep[i] = '1';
  CHECK(code_of(deep + "00", limits) == cbor_errc::depth_limit_exceeded);
  std::string tags;
  for (int i = 0; i < 33; ++i) tags += "c0";
  CHECK(code_of(tags + "00", limits) == cbor_errc::depth_limit_exceeded);
  CHECK(wire::validate_cbor(hex(deep.substr(2) + "00"), limits));  // 32 levels are fine

  limits.max_items = 3;
  CHECK(code_of("83010203", limits) == cbor_errc::item_limit_exceeded);
  CHECK(wire::validate_cbor(hex("820102"), limits));
  limits = {};
  limits.max_string_bytes = 3;
  CHECK(code_of("4401020304", limits) == cbor_errc::string_limit_exceeded);
  CHECK(code_of("6461626364", limits) == cbor_errc::string_limit_exceeded);
  CHECK(wire::validate_cbor(hex("43010203"), limits));
  limits = {};
  limits.max_total_bytes = 2;
  CHECK(code_of("1903e8", limits) == cbor_errc::input_limit_exceeded);
  limits = {};
  limits.max_depth = 0;
  CHECK(code_of("00", limits) == cbor_errc::invalid_limits);
  limits.max_depth = 65;
  CHECK(code_of("00", limits) == cbor_errc::invalid_limits);
  // A huge claimed count is refused before anything is reserved for it.
  CHECK(code_of("9bffffffffffffffff00") == cbor_errc::truncated);
}

TEST_CASE("the writer produces shortest heads and preferred floats", "[wire][cbor]") {
  std::array<std::uint8_t, 64> buffer{};
  auto encode_with = [&](auto&& write) {
    weft::byte_writer out(buffer);
    wire::cbor_writer w(out);
    REQUIRE(write(w));
    return weft::to_hex(out.written());
  };
  CHECK(encode_with([](auto& w) { return w.put_uint(23); }) == "17");
  CHECK(encode_with([](auto& w) { return w.put_uint(255); }) == "18ff");
  CHECK(encode_with([](auto& w) { return w.put_uint(256); }) == "190100");
  CHECK(encode_with([](auto& w) { return w.put_uint(65536); }) == "1a00010000");
  CHECK(encode_with([](auto& w) { return w.put_uint(1ull << 32); }) == "1b0000000100000000");
  CHECK(encode_with([](auto& w) { return w.put_int(std::numeric_limits<std::int64_t>::min()); }) ==
        "3b7fffffffffffffff");
  CHECK(encode_with([](auto& w) { return w.put_float(0.1f); }) == "fa3dcccccd");
  CHECK(encode_with([](auto& w) { return w.put_float(-0.0); }) == "f98000");
  CHECK(encode_with([](auto& w) { return w.put_float(std::numeric_limits<double>::quiet_NaN()); }) ==
        "f97e00");
  CHECK(encode_with([](auto& w) { return w.put_float(1.0 / (1 << 24)); }) == "f90001");
  CHECK(encode_with([](auto& w) { return w.put_float(1.0 / (1 << 25)); }) == "fa33000000");
  CHECK(encode_with([](auto& w) { return w.put_float(65520.0); }) == "fa477ff000");
  CHECK(encode_with([](auto& w) { return w.put_simple(32); }) == "f820");

  weft::byte_writer out(buffer);
  wire::cbor_writer w(out);
  CHECK(w.put_simple(24).error().is(cbor_errc::invalid_simple_value));
  // The first failure sticks: later writes report it and write nothing.
  CHECK(w.put_uint(1).error().is(cbor_errc::invalid_simple_value));
  CHECK(w.status().error().is(cbor_errc::invalid_simple_value));
  CHECK(out.size() == 0);
  wire::cbor_writer text_writer(out);
  CHECK(text_writer.put_text("\xff").error().is(cbor_errc::invalid_utf8));
  CHECK(wire::cbor_writer().put_text("\xc3").error().is(cbor_errc::invalid_utf8));
  std::array<std::uint8_t, 2> tiny{};
  weft::byte_writer small_out(tiny);
  wire::cbor_writer small(small_out);
  CHECK(small.put_uint(1000).error().is(cbor_errc::output_full));
}

TEST_CASE("the pull reader walks, skips and captures items", "[wire][cbor]") {
  const auto bytes = hex("a2018202030243010203");  // {1: [2, 3], 2: h'010203'}
  wire::cbor_reader reader(bytes);
  auto head = reader.next();
  REQUIRE(head);
  CHECK(head->type == wire::cbor_type::map);
  CHECK(head->argument == 2);
  CHECK(reader.next()->argument == 1);
  auto captured = reader.next_encoded();
  REQUIRE(captured);
  CHECK(weft::to_hex(*captured) == "820203");
  CHECK(reader.next()->argument == 2);
  auto payload = reader.next();
  REQUIRE(payload);
  CHECK(payload->type == wire::cbor_type::bytes);
  CHECK(payload->content.data() == bytes.data() + 7);  // a view into the input
  CHECK(reader.complete());
  CHECK(reader.finish());
  CHECK(reader.next().error().is(cbor_errc::no_more_items));
  CHECK(reader.next().error().is(cbor_errc::no_more_items));  // errors are sticky
}

TEST_CASE("diagnostic notation prints and parses", "[wire][diagnostic]") {
  CHECK(*wire::diagnostic_from_hex("a201020304") == "{1: 2, 3: 4}");
  CHECK(*wire::diagnostic_from_hex("83 01 82 02 03 82 04 05") == "[1, [2, 3], [4, 5]]");
  CHECK(*wire::diagnostic_from_hex("c249010000000000000000") == "2(h'010000000000000000')");
  CHECK(*wire::diagnostic_from_hex("3bffffffffffffffff") == "-18446744073709551616");
  CHECK(*wire::diagnostic_from_hex("fb7e37e43c8800759c") == "1.0e+300");
  CHECK(*wire::diagnostic_from_hex("f90001") == "5.960464477539063e-8");
  CHECK(*wire::diagnostic_from_hex("f97c00") == "Infinity");
  CHECK(*wire::diagnostic_from_hex("62225c") == "\"\\\"\\\\\"");
  CHECK(*wire::diagnostic_from_hex("6101") == "\"\\u0001\"");
  CHECK(*wire::diagnostic_from_hex("f820") == "simple(32)");
  CHECK(*wire::hex_from_diagnostic("{\"b\": 1, \"a\": 2, 10: h'ff', -1: []}") ==
        "a40a41ff20806161026162" "01");
  CHECK(*wire::hex_from_diagnostic(" [ 1 ,\n2 ] ") == "820102");
  CHECK(*wire::hex_from_diagnostic("-0") == "00");
  CHECK(*wire::hex_from_diagnostic("1.0") == "f93c00");

  auto diag_error = [](std::string_view text) { return wire::hex_from_diagnostic(text).error(); };
  CHECK(diag_error("[1, 2").is(cbor_errc::invalid_diagnostic));
  CHECK(diag_error("{1: 2, 1: 3}").is(cbor_errc::duplicate_map_key));
  CHECK(diag_error("[_ 1]").is(cbor_errc::invalid_diagnostic));
  CHECK(diag_error("h'0'").is(cbor_errc::invalid_diagnostic));
  CHECK(diag_error("\"\\ud800\"").is(cbor_errc::invalid_diagnostic));
  CHECK(diag_error("simple(24)").is(cbor_errc::invalid_simple_value));
  CHECK(diag_error("1 2").is(cbor_errc::invalid_diagnostic));
  CHECK(diag_error("nope").is(cbor_errc::invalid_diagnostic));
  CHECK(diag_error(std::string(100, '[')).is(cbor_errc::depth_limit_exceeded));
  CHECK(wire::diagnostic_from_hex("zz").error().is(weft::core_errc::invalid_hex));
  CHECK(wire::diagnostic_from_hex("1817").error().is(cbor_errc::non_shortest_argument));
}
