// weftd's pending requests (examples/weftd/pending.hpp): found by request id, freed slots
// reused without reviving old ids or read contexts, deadlines oldest first, read barriers
// by request counter, and the bound.
#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

#include "../../../examples/weftd/pending.hpp"

namespace {

struct pending_test_session {
  int number = 0;
};
using pending_test_table = weftd::pending_table<pending_test_session>;
using pending_test_clock = std::chrono::steady_clock;

/// The slots on the deadline list, oldest first.
std::vector<std::uint32_t> pending_in_deadline_order(pending_test_table& table) {
  std::vector<std::uint32_t> slots;
  table.for_each([&](std::uint32_t slot) { slots.push_back(slot); });
  return slots;
}

}  // namespace

TEST_CASE("weftd pending: requests are found by id until removed; slots are reused", "[weftd][pending]") {
  pending_test_table table(4, 11);
  const auto session = std::make_shared<pending_test_session>();
  const auto t0 = pending_test_clock::now();
  const std::uint32_t a = table.add("id-a", weftd::pending_kind::write, session, t0, t0);
  const std::uint32_t b = table.add("id-b", weftd::pending_kind::read, session, t0, t0);
  REQUIRE(a != pending_test_table::none);
  REQUIRE(b != pending_test_table::none);
  CHECK(table.find("id-a") == a);
  CHECK(table.find("id-b") == b);
  CHECK(table.find("id-c") == pending_test_table::none);
  CHECK(table.find("") == pending_test_table::none);
  CHECK(table.at(b).what == weftd::pending_kind::read);
  CHECK(session.use_count() == 3);
  table.remove(a);
  CHECK(session.use_count() == 2);  // the session is let go with the slot
  CHECK(table.find("id-a") == pending_test_table::none);
  CHECK(table.find("id-b") == b);
  const std::uint32_t c = table.add("id-c", weftd::pending_kind::write, session, t0, t0);
  CHECK(c == a);  // the freed slot, under its new id only
  CHECK(table.find("id-c") == c);
  CHECK(table.find("id-a") == pending_test_table::none);
  table.rename(b, "id-b2");
  CHECK(table.find("id-b") == pending_test_table::none);
  CHECK(table.find("id-b2") == b);
  CHECK(table.at(b).request_id() == "id-b2");
  CHECK(table.size() == 2);
  const std::string longest(pending_test_table::max_request_id_bytes, 'x');
  CHECK(table.add(longest + "x", weftd::pending_kind::write, session, t0, t0) == pending_test_table::none);
  REQUIRE(table.add(longest, weftd::pending_kind::write, session, t0, t0) != pending_test_table::none);
  REQUIRE(table.add("id-d", weftd::pending_kind::write, session, t0, t0) != pending_test_table::none);
  CHECK(table.full());
  CHECK(table.add("id-e", weftd::pending_kind::write, session, t0, t0) == pending_test_table::none);
  CHECK(table.find(longest) != pending_test_table::none);
}

TEST_CASE("weftd pending: a read context names one use of a slot", "[weftd][pending]") {
  pending_test_table table(2, 0);
  const auto t0 = pending_test_clock::now();
  const std::uint32_t read = table.add({}, weftd::pending_kind::read, nullptr, t0, t0);
  const std::uint64_t context = table.context_of(read);
  CHECK(context != 0);
  CHECK(table.slot_of_context(context) == read);
  CHECK(table.slot_of_context(context + 1) == pending_test_table::none);  // no such slot
  table.remove(read);
  CHECK(table.slot_of_context(context) == pending_test_table::none);
  const std::uint32_t again = table.add({}, weftd::pending_kind::read, nullptr, t0, t0);
  REQUIRE(again == read);
  CHECK(table.slot_of_context(context) == pending_test_table::none);  // answered already
  CHECK(table.slot_of_context(table.context_of(again)) == again);
  const std::uint32_t write = table.add("w", weftd::pending_kind::write, nullptr, t0, t0);
  CHECK(table.slot_of_context(table.context_of(write)) == pending_test_table::none);  // not a ReadIndex read
}

TEST_CASE("weftd pending: deadlines oldest first, barriers by request counter", "[weftd][pending]") {
  pending_test_table table(8, 3);
  const auto t0 = pending_test_clock::now();
  std::vector<std::uint32_t> slots;
  for (int i = 0; i < 5; ++i)
    slots.push_back(table.add("r" + std::to_string(i), weftd::pending_kind::read, nullptr, t0,
                              t0 + std::chrono::milliseconds(i)));
  CHECK(table.oldest() == slots[0]);
  table.remove(slots[0]);
  table.remove(slots[2]);
  CHECK(pending_in_deadline_order(table) == std::vector<std::uint32_t>{slots[1], slots[3], slots[4]});
  const std::uint32_t late = table.add("late", weftd::pending_kind::write, nullptr, t0, t0);
  CHECK(pending_in_deadline_order(table) == std::vector<std::uint32_t>{slots[1], slots[3], slots[4], late});

  CHECK(table.oldest_barrier() == pending_test_table::none);
  table.push_barrier(slots[3], 10);
  table.push_barrier(slots[1], 11);
  table.push_barrier(slots[4], 12);
  CHECK(table.oldest_barrier() == slots[3]);
  table.push_barrier(slots[3], 13);  // re-issued: now the newest
  CHECK(table.oldest_barrier() == slots[1]);
  CHECK(table.at(slots[3]).sequence == 13);
  table.remove(slots[1]);
  CHECK(table.oldest_barrier() == slots[4]);
  table.remove(slots[4]);
  CHECK(table.oldest_barrier() == slots[3]);
  CHECK(table.oldest() == slots[3]);  // still first by deadline: a re-issue keeps its place

  table.for_each([&](std::uint32_t slot) { table.remove(slot); });  // shutdown: every slot freed
  CHECK(table.size() == 0);
  CHECK(table.oldest() == pending_test_table::none);
  CHECK(table.oldest_barrier() == pending_test_table::none);
  CHECK(table.find("late") == pending_test_table::none);
}
