// Hex text to bytes for test tables; bad hex fails the test case rather than passing
// an empty buffer on.
#pragma once

#include <catch2/catch.hpp>

#include <cstdint>
#include <string_view>
#include <vector>

#include "weft/core/bytes.hpp"

namespace weft_test {

inline std::vector<std::uint8_t> hex(std::string_view text) {
  std::vector<std::uint8_t> out(text.size() / 2);
  REQUIRE(weft::from_hex(text, out));
  return out;
}

}  // namespace weft_test
