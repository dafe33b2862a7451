#include <catch2/catch.hpp>

#include <array>
#include <cstdint>

#include "weft/core/bytes.hpp"
#include "weft/core/crc32c.hpp"
#include "weft/core/endian.hpp"

TEST_CASE("hex round-trips and rejects bad digits", "[core][bytes]") {
  std::array<std::uint8_t, 4> out{};
  const auto n = weft::from_hex("00fFa5", out);
  REQUIRE(n);
  CHECK(*n == 3);
  CHECK(weft::to_hex(weft::byte_view(out).first(3)) == "00ffa5");
  CHECK(weft::from_hex("abc", out).error().is(weft::core_errc::invalid_hex));
  CHECK(weft::from_hex("zz", out).error().is(weft::core_errc::invalid_hex));
  CHECK(weft::from_hex("0011223344", out).error().is(weft::core_errc::capacity_exceeded));
}

TEST_CASE("byte_writer and byte_reader stop at the end", "[core][bytes]") {
  std::array<std::uint8_t, 7> buffer{};
  weft::byte_writer w(buffer);
  REQUIRE(w.put_be<std::uint32_t>(0x01020304u));
  REQUIRE(w.put_le<std::uint16_t>(0x0506u));
  CHECK(w.put_be<std::uint16_t>(1).error().is(weft::core_errc::capacity_exceeded));
  REQUIRE(w.put(std::uint8_t{0xff}));
  CHECK_FALSE(w.put(std::uint8_t{0}));
  CHECK(weft::to_hex(w.written()) == "010203040605ff");

  weft::byte_reader r(w.written());
  CHECK(*r.get_be<std::uint32_t>() == 0x01020304u);
  CHECK(*r.get_le<std::uint16_t>() == 0x0506u);
  CHECK(r.get_be<std::uint16_t>().error().is(weft::core_errc::truncated));
  CHECK(*r.get() == 0xff);
  CHECK(r.empty());
  CHECK(r.get().error().is(weft::core_errc::truncated));
  CHECK(r.take(1).error().is(weft::core_errc::truncated));
}

TEST_CASE("crc32c matches published check values", "[core][crc32c]") {
  // RFC 3720 (iSCSI) appendix B.4 and the CRC catalogue check value.
  CHECK(weft::crc32c(weft::as_bytes("123456789")) == 0xE3069283u);
  std::array<std::uint8_t, 32> zeros{};
  CHECK(weft::crc32c(zeros) == 0x8A9136AAu);
  std::array<std::uint8_t, 32> ones{};
  ones.fill(0xff);
  CHECK(weft::crc32c(ones) == 0x62A8AB43u);
  std::array<std::uint8_t, 32> ascending{};
  for (std::size_t i = 0; i < 32; ++i) ascending[i] = static_cast<std::uint8_t>(i);
  CHECK(weft::crc32c(ascending) == 0x46DD794Eu);
  CHECK(weft::crc32c({}) == 0u);
  static_assert(weft::crc32c_portable(weft::byte_view{}) == 0u);
}

TEST_CASE("crc32c masking is invertible", "[core][crc32c]") {
  for (std::uint32_t v : {0u, 1u, 0xE3069283u, 0xffffffffu})
    CHECK(weft::crc32c_unmask(weft::crc32c_mask(v)) == v);
  CHECK(weft::crc32c_mask(0xE3069283u) != 0xE3069283u);
}

TEST_CASE("endian helpers store and load in the stated order", "[core][endian]") {
  std::array<std::uint8_t, 8> b{};
  weft::store_be<std::uint64_t>(b.data(), 0x0102030405060708ull);
  CHECK(b[0] == 1);
  CHECK(b[7] == 8);
  CHECK(weft::load_be<std::uint64_t>(b.data()) == 0x0102030405060708ull);
  CHECK(weft::load_le<std::uint64_t>(b.data()) == 0x0807060504030201ull);
  weft::store_le<std::uint32_t>(b.data(), 0xa1b2c3d4u);
  CHECK(b[0] == 0xd4);
  static_assert(weft::load_be<std::uint16_t>(std::array<std::uint8_t, 2>{0x12, 0x34}.data()) ==
                0x1234);
}
