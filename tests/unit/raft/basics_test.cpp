// tests/unit/raft/basics_test.cpp - options, the in-memory log, the configuration codec.
#include <catch2/catch.hpp>

#include "harness.hpp"

using namespace raft_test;

TEST_CASE("raft options: validate refuses every inconsistent limit", "[raft][options]") {
  options o = default_options(1);
  REQUIRE(o.validate().has_value());
  options bad = o;
  bad.id = 0;
  CHECK(bad.validate().error() == raft_errc::invalid_options);
  bad = o;
  bad.election_timeout_ticks_max = bad.election_timeout_ticks_min - 1;
  CHECK(!bad.validate());
  bad = o;
  bad.heartbeat_interval_ticks = bad.election_timeout_ticks_min;
  CHECK(!bad.validate());
  bad = o;
  bad.lease_reads = true;
  bad.lease_clock_drift_bound_ticks = bad.election_timeout_ticks_min;
  CHECK(!bad.validate());
  bad = o;
  bad.max_bytes_per_entry = bad.max_bytes_per_message + 1;
  CHECK(!bad.validate());
  bad = o;
  bad.max_inflight_messages = 0;
  CHECK(!bad.validate());
  CHECK(!core::create(bad, weft::xoshiro256(1)).has_value());
}

TEST_CASE("raft memory_log: append, wrap, truncate, compact without allocation", "[raft][log]") {
  memory_log log(8, 64);
  const std::uint8_t payload[20] = {1, 2, 3};
  for (int i = 0; i < 3; ++i) REQUIRE(log.append(1, entry_type::normal, byte_view(payload, 20)));
  CHECK(log.last_index() == 3);
  CHECK(!log.fits(20));  // 60 of 64 bytes used
  CHECK(!log.append(1, entry_type::normal, byte_view(payload, 20)));
  CHECK(log.last_index() == 3);
  log.compact_to(2, 1);
  CHECK(log.first_index() == 3);
  CHECK(log.term_at(2) == 1);  // the snapshot's term is remembered
  CHECK(log.term_at(1) == 0);  // compacted away
  REQUIRE(log.append(2, entry_type::normal, byte_view(payload, 20)));  // wraps to the start
  REQUIRE(log.append(2, entry_type::normal, byte_view(payload, 20)));
  CHECK(log.at(5).payload[1] == 2);
  CHECK(log.at(5).term == 2);
  log.truncate_after(3);
  CHECK(log.last_index() == 3);
  CHECK(log.at(3).payload.size() == 20);
  REQUIRE(log.append(3, entry_type::empty, {}));
  CHECK(log.term_at(4) == 3);
  // the slot ring is bounded too
  memory_log small(4, 1024);
  for (int i = 0; i < 4; ++i) REQUIRE(small.append(1, entry_type::normal, {}));
  CHECK(!small.append(1, entry_type::normal, {}));
  small.compact_to(4, 1);
  CHECK(small.size() == 0);
  CHECK(small.append(1, entry_type::normal, {}));
}

TEST_CASE("raft configuration codec: round trip and hostile input", "[raft][codec]") {
  configuration c = voters({1, 2, 3});
  c.members[2].role = member_role::witness;
  c.members[1].outgoing = true;
  std::uint8_t buffer[max_config_encoded_bytes];
  auto size = encode_configuration(c, buffer);
  REQUIRE(size.has_value());
  auto back = decode_configuration(byte_view(buffer, *size));
  REQUIRE(back.has_value());
  CHECK(*back == c);
  CHECK(back->joint());
  // every truncation is refused with a typed error
  for (std::size_t n = 0; n < *size; ++n) CHECK(!decode_configuration(byte_view(buffer, n)));
  std::uint8_t bad[max_config_encoded_bytes];
  std::memcpy(bad, buffer, *size);
  bad[0] = 2;  // unknown version
  CHECK(decode_configuration(byte_view(bad, *size)).error() == raft_errc::config_change_invalid);
  std::memcpy(bad, buffer, *size);
  bad[2 + 10 + 7] = 1;  // duplicate id 1
  CHECK(!decode_configuration(byte_view(bad, *size)));
  std::memcpy(bad, buffer, *size);
  bad[2 + 8] = 9;  // unknown role
  CHECK(!decode_configuration(byte_view(bad, *size)));
  std::memcpy(bad, buffer, *size);
  bad[1] = 200;  // too many members
  CHECK(!decode_configuration(byte_view(bad, *size)));
}
