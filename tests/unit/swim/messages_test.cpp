// The SWIM wire schema: deterministic encoding and hostile-input refusals.
#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <vector>

#include "weft/membership/swim/messages.hpp"

using namespace weft;
using namespace weft::swim;

namespace {
std::vector<std::uint8_t> ping_packet(std::uint64_t version = wire_version) {
  std::array<std::uint8_t, 256> buf{};
  byte_writer w(buf);
  packet_header h;
  h.version = version;
  h.kind = packet_kind::ping;
  h.sender = 7;
  h.seq = 300;
  h.target = 9;
  REQUIRE(encode_header(w, h));
  REQUIRE(encode_array_head(w, 0));
  return {w.written().begin(), w.written().end()};
}
}  // namespace

TEST_CASE("swim header encodes as shortest-form CBOR and decodes back", "[swim][wire]") {
  const auto bytes = ping_packet();
  // [2, 1, 7, 300, 9, []]: 0x86 02 01 07 19 012c 09 80
  const std::vector<std::uint8_t> want = {0x86, 0x02, 0x01, 0x07, 0x19, 0x01, 0x2c, 0x09, 0x80};
  CHECK(bytes == want);
  byte_reader r(bytes);
  packet_header h;
  auto items = decode_header(r, h, 8);
  REQUIRE(items);
  CHECK(*items == 0);
  CHECK(h.kind == packet_kind::ping);
  CHECK(h.sender == 7);
  CHECK(h.seq == 300);
  CHECK(h.target == 9);
}

TEST_CASE("swim decoder refuses hostile input with typed errors", "[swim][wire]") {
  packet_header h;
  SECTION("unknown version (version 1 had no admission epoch)") {
    const auto bytes = ping_packet(1);
    byte_reader r(bytes);
    CHECK(decode_header(r, h, 8).error().is(swim_errc::unsupported_version));
  }
  SECTION("non-shortest integer") {
    const std::vector<std::uint8_t> bytes = {0x86, 0x02, 0x01, 0x18, 0x07, 0x01, 0x02, 0x80};
    byte_reader r(bytes);
    CHECK(decode_header(r, h, 8).error().is(swim_errc::malformed_message));
  }
  SECTION("indefinite array") {
    const std::vector<std::uint8_t> bytes = {0x9f, 0x01, 0x01, 0x07, 0xff};
    byte_reader r(bytes);
    CHECK(decode_header(r, h, 8).error().is(swim_errc::malformed_message));
  }
  SECTION("truncated at every length") {
    const auto bytes = ping_packet();
    for (std::size_t n = 0; n + 1 < bytes.size(); ++n) {
      byte_reader r(byte_view(bytes).first(n));
      CHECK(decode_header(r, h, 8).error().is(swim_errc::malformed_message));
    }
  }
  SECTION("too many items") {
    auto bytes = ping_packet();
    bytes.back() = 0x98;  // array of 200 items
    bytes.push_back(200);
    byte_reader r(bytes);
    CHECK(decode_header(r, h, 64).error().is(swim_errc::message_too_large));
  }
  SECTION("wrong field count and unknown kinds") {
    const std::vector<std::uint8_t> bytes = {0x83, 0x02, 0x01, 0x07};
    byte_reader r(bytes);
    CHECK(decode_header(r, h, 8).error().is(swim_errc::malformed_message));
    const std::vector<std::uint8_t> kind9 = {0x84, 0x02, 0x09, 0x07, 0x80};
    byte_reader r2(kind9);
    CHECK(decode_header(r2, h, 8).error().is(swim_errc::malformed_message));
  }
  SECTION("oversized byte string in an item") {
    std::vector<std::uint8_t> bytes = {0x85, 0x02, 0x05, 0x01, 0x02, 0x59, 0x10, 0x00};
    bytes.resize(bytes.size() + 0x1000, 0xaa);
    byte_reader r(bytes);
    gossip_item item;
    CHECK(decode_item(r, item).error().is(swim_errc::malformed_message));
  }
}

TEST_CASE("swim payload items round-trip", "[swim][wire]") {
  payload_item p;
  p.kind = item_kind::query;
  p.origin = 42;
  p.id = 1u << 20;
  p.origin_addr = 77;
  p.timeout_ms = 1500;
  REQUIRE(p.name.assign(as_bytes("deploy")));
  REQUIRE(p.payload.assign(as_bytes("v1.2.3")));
  REQUIRE(p.signature.assign(as_bytes("0123456789abcdef")));
  std::array<std::uint8_t, 256> buf{};
  byte_writer w(buf);
  REQUIRE(encode_payload_item(w, p));
  byte_reader r(w.written());
  gossip_item out;
  REQUIRE(decode_item(r, out));
  CHECK(out.kind == item_kind::query);
  CHECK(out.payload.origin == 42);
  CHECK(out.payload.id == p.id);
  CHECK(out.payload.origin_addr == 77);
  CHECK(out.payload.timeout_ms == 1500);
  CHECK(as_chars(out.payload.name.view()) == "deploy");
  CHECK(as_chars(out.payload.payload.view()) == "v1.2.3");
}

// The schema is plain deterministic CBOR: the house codec (weft/wire) accepts every packet
// a running cluster sends, and packets written in diagnostic notation decode here.
#include "swim_harness.hpp"
#include "weft/wire/cbor.hpp"
#include "weft/wire/diagnostic.hpp"

TEST_CASE("swim packets are strict deterministic CBOR for weft::wire", "[swim][wire]") {
  const auto ping = ping_packet();
  auto diag = wire::diagnostic_from_hex(to_hex(ping));
  REQUIRE(diag);
  CHECK(*diag == "[2, 1, 7, 300, 9, []]");

  auto hex = wire::hex_from_diagnostic("[2, 3, 2, 77, [[4, 2, 5, h'00112233445566778899aabbccddeeff']]]");
  REQUIRE(hex);
  std::vector<std::uint8_t> bytes(hex->size() / 2);
  REQUIRE(from_hex(*hex, bytes));
  byte_reader r(bytes);
  packet_header h;
  auto n = decode_header(r, h, 8);
  REQUIRE(n);
  CHECK(h.kind == packet_kind::ack);
  CHECK(h.seq == 77);
  gossip_item item;
  REQUIRE(decode_item(r, item));
  CHECK(item.kind == item_kind::leave);
  CHECK(item.claim.subject == 2);
  CHECK(item.claim.incarnation == 5);

  swim_test::options o = swim_test::sim_options(8);
  swim_test::cluster c(8, o, 21);
  std::size_t checked = 0;
  for (int step = 0; step < 30; ++step) {
    c.now += std::chrono::milliseconds(100);
    for (auto& k : c.cores) {
      k.tick(c.now);
      for (const outgoing& out : k.sends()) {
        CHECK(wire::validate_cbor(out.bytes));
        ++checked;
      }
      k.clear_outputs();
    }
  }
  CHECK(checked > 50);
}
