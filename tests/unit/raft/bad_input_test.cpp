// tests/unit/raft/bad_input_test.cpp - hostile and mistaken input is refused with a typed
// error or ignored with a counter; never an assert, never a stuck group.
#include <catch2/catch.hpp>

#include "harness.hpp"

using namespace raft_test;

TEST_CASE("raft bad input: unknown senders, malformed and stale messages are counted",
          "[raft][badinput]") {
  cluster c(3, 107);
  const node_id l = c.elect();
  REQUIRE(l != 0);
  c.settle();
  core& leader = c.node(l);
  const term_t term = leader.term();
  message m;
  m.type = message_type::append_response;
  m.from = 77;  // not a member
  m.to = l;
  m.term = term;
  m.log_index = 1000;
  leader.step(m);
  CHECK(leader.stats().dropped_unknown_sender == 1);
  CHECK(leader.commit_index() < 1000);
  m.from = 0;  // no sender
  leader.step(m);
  m.from = l;  // from itself
  leader.step(m);
  m.from = 2;
  m.type = static_cast<message_type>(200);  // unknown type
  leader.step(m);
  CHECK(leader.stats().dropped_malformed == 3);
  m.type = message_type::append;
  m.from = l == 1 ? 2 : 1;
  m.term = term - 1;  // stale term
  leader.step(m);
  CHECK(leader.stats().dropped_stale_term == 1);
  CHECK(leader.current_role() == role::leader);
  // a future-term heartbeat demotes the leader (that is the protocol), nothing else breaks
  m.type = message_type::heartbeat;
  m.term = term + 3;
  m.commit = 1000000;  // far beyond the log: clamped, not trusted
  leader.step(m);
  CHECK(leader.current_role() == role::follower);
  CHECK(leader.term() == term + 3);
  CHECK(leader.commit_index() <= leader.last_index());
  c.process_all();
  CHECK(c.violations.empty());
}

TEST_CASE("raft bad input: malformed and oversized appends are dropped", "[raft][badinput]") {
  auto created = core::create(default_options(2), weft::xoshiro256(1));
  REQUIRE(created.has_value());
  core f = std::move(*created);
  REQUIRE(f.bootstrap(voters({1, 2, 3})).has_value());
  std::string small = "s";
  std::string big(300, 'b');  // above max_bytes_per_entry (256) but within a message
  entry_ref gap[] = {{1, 1, entry_type::normal, weft::as_bytes(small)},
                     {3, 1, entry_type::normal, weft::as_bytes(small)}};  // not contiguous
  message m;
  m.type = message_type::append;
  m.from = 1;
  m.to = 2;
  m.term = 1;
  m.entries = entry_range(gap);
  f.step(m);
  CHECK(f.last_index() == 0);
  entry_ref future[] = {{1, 5, entry_type::normal, weft::as_bytes(small)}};  // term > message
  m.entries = entry_range(future);
  f.step(m);
  CHECK(f.last_index() == 0);
  entry_ref bad_type[] = {{1, 1, static_cast<entry_type>(9), weft::as_bytes(small)}};
  m.entries = entry_range(bad_type);
  f.step(m);
  CHECK(f.last_index() == 0);
  std::vector<entry_ref> many;
  for (index_t i = 1; i <= 20; ++i) many.push_back({i, 1, entry_type::normal, weft::as_bytes(small)});
  m.entries = entry_range(many);  // more than max_entries_per_message (8)
  f.step(m);
  CHECK(f.last_index() == 0);
  CHECK(f.stats().dropped_oversize == 4);
  // a bad configuration entry that commits is ignored with a counter
  std::string garbage = "\x07garbage";
  entry_ref config[] = {{1, 1, entry_type::config, weft::as_bytes(garbage)}};
  m.entries = entry_range(config);
  m.commit = 1;
  f.step(m);
  CHECK(f.commit_index() == 1);
  CHECK(f.stats().ignored_config_entries == 1);
  CHECK(f.config().members.size() == 3);
  (void)big;
}

TEST_CASE("raft bad input: a committed entry is never rewritten by a conflicting append",
          "[raft][badinput]") {
  auto created = core::create(default_options(2), weft::xoshiro256(1));
  REQUIRE(created.has_value());
  core f = std::move(*created);
  REQUIRE(f.bootstrap(voters({1, 2, 3})).has_value());
  std::string a = "a";
  entry_ref good[] = {{1, 1, entry_type::normal, weft::as_bytes(a)}, {2, 1, entry_type::normal, weft::as_bytes(a)}};
  message m;
  m.type = message_type::append;
  m.from = 1;
  m.to = 2;
  m.term = 1;
  m.commit = 2;
  m.entries = entry_range(good);
  f.step(m);
  REQUIRE(f.commit_index() == 2);
  entry_ref evil[] = {{2, 2, entry_type::normal, weft::as_bytes(a)}};
  m.term = 2;
  m.log_index = 1;
  m.log_term = 1;
  m.entries = entry_range(evil);
  f.step(m);  // log_index 1 < commit 2: answered as stale, nothing rewritten
  CHECK(f.log().term_at(2) == 1);
}

TEST_CASE("raft bad input: proposals beyond the limits are refused with typed errors",
          "[raft][badinput]") {
  cluster c(3, 109);
  const node_id l = c.elect();
  REQUIRE(l != 0);
  c.settle();
  core& leader = c.node(l);
  std::string big(257, 'x');
  CHECK(leader.propose(weft::as_bytes(big)).error() == raft_errc::entry_too_large);
  // nobody acknowledges: uncommitted proposals hit max_uncommitted_entries (256)
  c.cut[{0, l}] = true;
  int accepted = 0;
  weft::result<index_t> last = index_t{0};
  for (int i = 0; i < 400; ++i) {
    last = leader.propose(bytes_of("u"));
    if (!last) break;
    ++accepted;
  }
  CHECK(accepted == 256);  // exactly max_uncommitted_entries
  CHECK(last.error() == raft_errc::too_many_uncommitted);
  // the group recovers once the partition heals
  c.cut.clear();
  for (int i = 0; i < 30; ++i) {
    c.tick_all();
    c.settle();
  }
  CHECK(c.node(c.leader()).commit_index() == c.node(c.leader()).last_index());
  CHECK(c.violations.empty());
}

TEST_CASE("raft bad input: a full in-memory log refuses proposals until compaction",
          "[raft][badinput]") {
  cluster c(1, 113, [](node_id id) {
    options o = default_options(id);
    o.max_log_entries_in_memory = 16;
    return o;
  });
  REQUIRE(c.elect() == 1);
  c.settle();
  core& n = c.node(1);
  int accepted = 0;
  weft::result<index_t> r = index_t{0};
  while ((r = n.propose(bytes_of("f"))) && accepted < 100) {
    ++accepted;
    c.settle();
  }
  CHECK(accepted == 15);  // 16 slots minus the empty entry
  CHECK(r.error() == raft_errc::log_full);
  REQUIRE(n.compact(n.applied_index(), 10).has_value());
  CHECK(n.propose(bytes_of("f")).has_value());
}

TEST_CASE("raft bad input: restore refuses inconsistent durable state", "[raft][badinput]") {
  auto created = core::create(default_options(1), weft::xoshiro256(1));
  REQUIRE(created.has_value());
  core n = std::move(*created);
  snapshot_metadata snap;
  CHECK(n.restore({}, snap, {}, 0).error() == raft_errc::restore_invalid);  // no voters
  snap.config = voters({1});
  std::string a = "a";
  entry_ref gap[] = {{2, 1, entry_type::normal, weft::as_bytes(a)}};
  CHECK(n.restore({1, 0, 0}, snap, gap, 0).error() == raft_errc::restore_invalid);
  entry_ref future[] = {{1, 9, entry_type::normal, weft::as_bytes(a)}};
  CHECK(n.restore({1, 0, 0}, snap, future, 0).error() == raft_errc::restore_invalid);
  // a member never bootstrapped ignores everything but a leader's messages
  auto created2 = core::create(default_options(2), weft::xoshiro256(2));
  REQUIRE(created2.has_value());
  core empty = std::move(*created2);
  for (int t = 0; t < 100; ++t) empty.tick();
  CHECK(empty.current_role() == role::follower);
  CHECK(empty.propose(bytes_of("x")).error() == raft_errc::not_bootstrapped);
  CHECK(empty.read_index(1).error() == raft_errc::not_bootstrapped);
}
