#include <catch2/catch.hpp>

#include <memory>
#include <string>

#include "weft/core/ring_buffer.hpp"
#include "weft/core/static_vector.hpp"

TEST_CASE("static_vector refuses to grow past its capacity", "[core][static_vector]") {
  weft::static_vector<std::string, 3> v;
  CHECK(v.empty());
  CHECK(v.push_back("a").has_value());
  CHECK(v.emplace_back(2, 'b').has_value());
  CHECK(v.push_back("c").has_value());
  CHECK(v.full());
  const auto refused = v.push_back("d");
  REQUIRE_FALSE(refused);
  CHECK(refused.error().is(weft::core_errc::capacity_exceeded));
  CHECK(v.size() == 3);
  CHECK(v[1] == "bb");
  v.erase(v.begin());
  CHECK(v.size() == 2);
  CHECK(v.front() == "bb");
  CHECK(v.back() == "c");
  auto copy = v;
  CHECK(copy == v);
  v.truncate(1);
  CHECK(v.size() == 1);
  CHECK_FALSE(copy == v);
}

TEST_CASE("static_vector destroys what it holds", "[core][static_vector]") {
  auto token = std::make_shared<int>(7);
  {
    weft::static_vector<std::shared_ptr<int>, 4> v;
    REQUIRE(v.push_back(token));
    REQUIRE(v.push_back(token));
    CHECK(token.use_count() == 3);
    auto moved = std::move(v);
    CHECK(v.empty());
    CHECK(token.use_count() == 3);
  }
  CHECK(token.use_count() == 1);
}

TEST_CASE("ring_buffer is a bounded FIFO that wraps", "[core][ring_buffer]") {
  weft::ring_buffer<int, 3> ring;
  for (int round = 0; round < 5; ++round) {
    REQUIRE(ring.push_back(round * 10));
    REQUIRE(ring.push_back(round * 10 + 1));
    CHECK(ring.front() == round * 10);
    CHECK(ring.back() == round * 10 + 1);
    ring.pop_front();
    ring.pop_front();
  }
  REQUIRE(ring.push_back(1));
  REQUIRE(ring.push_back(2));
  REQUIRE(ring.push_back(3));
  CHECK(ring.push_back(4).error().is(weft::core_errc::capacity_exceeded));
  CHECK(ring[0] == 1);
  CHECK(ring[2] == 3);
  ring.pop_back();
  CHECK(ring.back() == 2);
}

TEST_CASE("dynamic_ring allocates once from a run-time capacity", "[core][ring_buffer]") {
  CHECK(weft::dynamic_ring<int>::create(0).error().is(weft::core_errc::invalid_argument));
  auto created = weft::dynamic_ring<std::string>::create(2);
  REQUIRE(created);
  auto ring = std::move(*created);
  CHECK(ring.capacity() == 2);
  REQUIRE(ring.push_back("x"));
  REQUIRE(ring.push_back("y"));
  CHECK_FALSE(ring.push_back("z"));
  CHECK(ring.front() == "x");
}
