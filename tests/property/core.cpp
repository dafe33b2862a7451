// Property tests for the core vocabulary, against naive models.
#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include <cstdint>
#include <deque>
#include <vector>

#include "weft/core/bytes.hpp"
#include "weft/core/crc32c.hpp"
#include "weft/core/random.hpp"
#include "weft/core/ring_buffer.hpp"
#include "weft/core/static_vector.hpp"

namespace {
// Bitwise CRC-32C, the slowest correct definition, as the model.
std::uint32_t crc32c_bitwise(const std::vector<std::uint8_t>& data) {
  std::uint32_t crc = 0xffffffffu;
  for (std::uint8_t b : data) {
    crc ^= b;
    for (int k = 0; k < 8; ++k) crc = (crc & 1u) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
  }
  return ~crc;
}
}  // namespace

TEST_CASE("crc32c properties", "[core][crc32c][property]") {
  rc::prop("hardware, table and bitwise CRC agree",
           [](const std::vector<std::uint8_t>& data) {
             const auto expected = crc32c_bitwise(data);
             RC_ASSERT(weft::crc32c(data) == expected);
             RC_ASSERT(weft::crc32c_portable(data) == expected);
           });
  rc::prop("extending over a split equals one pass", [](const std::vector<std::uint8_t>& data) {
    const auto cut = *rc::gen::inRange<std::size_t>(0, data.size() + 1);
    const weft::byte_view all(data);
    const auto first = weft::crc32c(all.first(cut));
    RC_ASSERT(weft::crc32c_extend(first, all.subspan(cut)) == weft::crc32c(all));
  });
}

TEST_CASE("hex properties", "[core][bytes][property]") {
  rc::prop("from_hex(to_hex(b)) == b", [](const std::vector<std::uint8_t>& data) {
    std::vector<std::uint8_t> out(data.size());
    const auto n = weft::from_hex(weft::to_hex(data), out);
    RC_ASSERT(n.has_value());
    RC_ASSERT(*n == data.size());
    RC_ASSERT(out == data);
  });
}

TEST_CASE("ring_buffer behaves like a bounded deque", "[core][ring_buffer][property]") {
  rc::prop("random push/pop sequences", [](const std::vector<std::int8_t>& ops) {
    weft::ring_buffer<int, 5> ring;
    std::deque<int> model;
    int next = 0;
    for (const auto op : ops) {
      if (op >= 0) {
        const bool accepted = ring.push_back(next).has_value();
        RC_ASSERT(accepted == (model.size() < 5));
        if (accepted) model.push_back(next);
        ++next;
      } else if (!model.empty()) {
        RC_ASSERT(ring.front() == model.front());
        ring.pop_front();
        model.pop_front();
      }
      RC_ASSERT(ring.size() == model.size());
      for (std::size_t i = 0; i < model.size(); ++i) RC_ASSERT(ring[i] == model[i]);
    }
  });
}

TEST_CASE("static_vector behaves like a bounded vector", "[core][static_vector][property]") {
  rc::prop("push, erase, truncate", [](const std::vector<int>& values) {
    weft::static_vector<int, 8> v;
    std::vector<int> model;
    for (const int x : values) {
      if (x % 5 == 0 && !model.empty()) {
        const auto at = static_cast<std::size_t>(x < 0 ? -x : x) % model.size();
        v.erase(v.begin() + static_cast<std::ptrdiff_t>(at));
        model.erase(model.begin() + static_cast<std::ptrdiff_t>(at));
      } else {
        const bool accepted = v.push_back(x).has_value();
        RC_ASSERT(accepted == (model.size() < 8));
        if (accepted) model.push_back(x);
      }
      RC_ASSERT(std::vector<int>(v.begin(), v.end()) == model);
    }
  });
}

TEST_CASE("uniform_below never leaves its range", "[core][random][property]") {
  rc::prop("any seed, any bound", [](std::uint64_t seed, std::uint64_t bound) {
    weft::xoshiro256 r(seed);
    const auto v = weft::uniform_below(r, bound);
    const bool in_range = bound == 0 ? v == 0 : v < bound;
    RC_ASSERT(in_range);
  });
}
