// tests/unit/raft/replication_test.cpp - log replication, commitment (Raft §5.3, §5.4.2),
// persistence ordering, flow control and bounded batches.
#include <catch2/catch.hpp>

#include "harness.hpp"

using namespace raft_test;

namespace {
std::vector<entry_ref> make_entries(std::initializer_list<term_t> terms, std::vector<std::string>& store) {
  std::vector<entry_ref> out;
  index_t index = 1;
  store.reserve(64);
  for (term_t t : terms) {
    store.push_back(label("t", t, index));
    out.push_back(entry_ref{index++, t, entry_type::normal, weft::as_bytes(store.back())});
  }
  return out;
}
}  // namespace

TEST_CASE("raft replication: entries commit on a majority and apply everywhere",
          "[raft][replication]") {
  cluster c(3, 3);
  const node_id l = c.elect();
  REQUIRE(l != 0);
  for (int i = 0; i < 50; ++i)
    REQUIRE(c.node(l).propose(bytes_of(label("v", static_cast<std::uint64_t>(i)))).has_value());
  c.settle();
  c.tick_all(3);
  c.settle();
  for (auto& [id, e] : c.nodes()) {
    CHECK(e->c->commit_index() == 51);
    CHECK(e->applied == 51);
  }
  CHECK(c.violations.empty());
}

TEST_CASE("raft log matching: a follower rejects an append whose previous entry differs",
          "[raft][replication]") {
  auto created = core::create(default_options(2), weft::xoshiro256(1));
  REQUIRE(created.has_value());
  core f = std::move(*created);
  std::vector<std::string> store;
  auto entries = make_entries({1, 1, 2}, store);
  snapshot_metadata snap;
  snap.config = voters({1, 2, 3});
  REQUIRE(f.restore(hard_state{2, 0, 0}, snap, entries, 0).has_value());
  message m;
  m.type = message_type::append;
  m.from = 1;
  m.to = 2;
  m.term = 3;
  m.log_index = 3;
  m.log_term = 3;  // the follower has term 2 at index 3
  f.step(m);
  ready_batch rb = f.ready();
  REQUIRE(rb.send_after_persist.size() == 1);
  CHECK(rb.send_after_persist[0].reject);
  CHECK(rb.send_now.empty());  // a follower's answers wait for persistence
  f.advance();
  CHECK(f.last_index() == 3);
  CHECK(f.stats().rejected_appends == 1);
}

TEST_CASE("raft Figure 7: a new leader forces divergent followers' logs to match its own",
          "[raft][replication][figure7]") {
  // Figure 7 of the Raft paper: leader for term 8 with log 1 1 1 4 4 5 5 6 6 6, and
  // followers (a)-(f) with missing, extra and conflicting entries.
  const std::vector<std::vector<term_t>> logs = {
      {1, 1, 1, 4, 4, 5, 5, 6, 6, 6},        // leader
      {1, 1, 1, 4, 4, 5, 5, 6, 6},           // (a)
      {1, 1, 1, 4},                          // (b)
      {1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6},     // (c)
      {1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7},  // (d)
      {1, 1, 1, 4, 4, 4, 4},                 // (e)
      {1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3},     // (f)
  };
  for (std::size_t follower = 1; follower < logs.size(); ++follower) {
    // member 1 has the leader's log, member 2 the follower's, member 3 a copy of the
    // leader's log (the vote that elects member 1 even when 2 refuses).
    cluster c(3, 100 + follower);
    std::vector<std::string> store;
    store.reserve(200);
    for (node_id id = 1; id <= 3; ++id) {
      const auto& terms = logs[id == 2 ? follower : 0];
      std::vector<entry_ref> entries;
      for (std::size_t i = 0; i < terms.size(); ++i) {
        store.push_back(label("t", terms[i], i));
        entries.push_back(entry_ref{i + 1, terms[i], entry_type::normal, weft::as_bytes(store.back())});
      }
      snapshot_metadata snap;
      snap.config = voters({1, 2, 3});
      node_env& e = c.env(id);
      auto created = core::create(default_options(id), weft::xoshiro256(id));
      REQUIRE(created.has_value());
      e.c = std::make_unique<core>(std::move(*created));
      const term_t term = id == 2 ? logs[follower].back() : 7;
      REQUIRE(e.c->restore(hard_state{term, 0, 0}, snap, entries, 0).has_value());
      e.log.clear();
      for (const entry_ref& r : entries) e.log.push_back(stored_entry{r.index, r.term, r.type, {r.payload.begin(), r.payload.end()}});
      e.snap = snap;
      e.hs = e.c->state();
    }
    for (int i = 0; i < 40 && c.leader() != 1; ++i) {  // only member 1's timer runs
      c.env(1).c->tick();
      c.settle();
    }
    INFO("follower (" << char('a' + follower - 1) << ")");
    REQUIRE(c.leader() == 1);
    CHECK(c.node(1).term() == 8);
    c.tick_all(2);
    c.settle();
    // the follower's log now equals the leader's (its own term-8 empty entry included):
    // missing entries were added, extra and conflicting uncommitted ones were replaced
    core& leader = c.node(1);
    core& other = c.node(2);
    REQUIRE(other.last_index() == leader.last_index());
    for (index_t i = 1; i <= leader.last_index(); ++i) CHECK(other.log().term_at(i) == leader.log().term_at(i));
    CHECK(other.commit_index() == leader.last_index());
    for (const auto& v : c.violations) UNSCOPED_INFO(v);
    CHECK(c.violations.empty());
  }
}

TEST_CASE("raft Figure 8: a leader never commits an earlier term's entry by counting replicas",
          "[raft][replication][figure8]") {
  // S1 leads term 2 and replicates index 2 (term 2) to S2 only; S5 leads term 3 with its
  // own index 2; S1 leads term 4 and replicates its term-2 entry to S3. Index 2 is then on a
  // majority but must NOT be committed until an entry of term 4 is.
  cluster c(5, 21);
  std::vector<std::string> store;
  store.reserve(8);
  const auto install = [&](node_id id, hard_state hs, std::vector<std::pair<term_t, const char*>> ents) {
    std::vector<entry_ref> entries;
    index_t index = 1;
    for (auto& [term, text] : ents) {
      store.emplace_back(text);
      entries.push_back(entry_ref{index++, term, entry_type::normal, weft::as_bytes(store.back())});
    }
    snapshot_metadata snap;
    snap.config = voters({1, 2, 3, 4, 5});
    auto created = core::create(default_options(id), weft::xoshiro256(id));
    REQUIRE(created.has_value());
    c.env(id).c = std::make_unique<core>(std::move(*created));
    REQUIRE(c.env(id).c->restore(hs, snap, entries, 0).has_value());
  };
  // state (c) of Figure 8, with S1 about to lead term 4
  install(1, {3, 1, 1}, {{1, "a"}, {2, "b"}});
  install(2, {3, 0, 1}, {{1, "a"}, {2, "b"}});
  install(3, {3, 0, 1}, {{1, "a"}});
  install(4, {3, 0, 1}, {{1, "a"}});
  install(5, {3, 5, 1}, {{1, "a"}, {3, "c"}});
  c.crash(5);
  c.crash(4);
  // S1 campaigns and wins term 4 with S2 and S3; no append is ever acknowledged by itself
  c.drop_if = [](const message& m) { return m.type == message_type::append_response; };
  for (int i = 0; i < 40 && c.leader() != 1; ++i) {
    c.env(1).c->tick();
    c.settle();
  }
  REQUIRE(c.leader() == 1);
  core& s1 = c.node(1);
  CHECK(s1.term() == 4);
  c.settle();
  CHECK(s1.commit_index() == 1);
  // now acknowledgements for index 2 (term 2) from S2 and S3 arrive — but the term-4 empty
  // entry at index 3 is what they acknowledge, and only then may index 2 commit with it
  message ack;
  ack.type = message_type::append_response;
  ack.from = 2;
  ack.to = 1;
  ack.term = 4;
  ack.log_index = 2;  // matched up to index 2 (term 2) only
  s1.step(ack);
  ack.from = 3;
  s1.step(ack);
  CHECK(s1.commit_index() == 1);  // a majority holds index 2, but it is from term 2: no commit
  ack.log_index = 3;
  s1.step(ack);
  ack.from = 2;
  s1.step(ack);
  CHECK(s1.commit_index() == 3);  // a term-4 entry on a majority commits everything before it
}

TEST_CASE("raft persistence order: the leader sends before it persists, counts itself after",
          "[raft][persistence]") {
  cluster c(3, 17);
  const node_id l = c.elect();
  REQUIRE(l != 0);
  c.settle();
  core& leader = c.node(l);
  const index_t before = leader.commit_index();
  auto idx = leader.propose(bytes_of("p"));
  REQUIRE(idx.has_value());
  ready_batch rb = leader.ready();
  CHECK(rb.must_persist.entries.size() == 1);
  CHECK(rb.send_now.size() == 2);  // appends leave in parallel with the leader's write
  for (const message& m : rb.send_now) CHECK(m.type == message_type::append);
  leader.advance();  // the driver handed the write to storage; it completes later
  // both followers acknowledge before the leader's own write completes: a majority of
  // two followers commits even though the leader has not persisted (thesis §10.2.1)...
  message ack;
  ack.type = message_type::append_response;
  ack.to = l;
  ack.term = leader.term();
  ack.log_index = *idx;
  ack.from = l == 1 ? 2 : 1;
  leader.step(ack);
  CHECK(leader.commit_index() == before);  // one follower + an unpersisted leader: no quorum
  ack.from = 6 - l - ack.from;
  leader.step(ack);
  CHECK(leader.commit_index() == *idx);
  // ...but the leader does not hand out the entry for applying before its own write is durable
  CHECK(leader.persisted_index() < *idx);
  ready_batch rb2 = leader.ready();
  CHECK(rb2.committed.empty());
  leader.advance();
  leader.persisted(*idx, leader.term());
  ready_batch rb3 = leader.ready();
  REQUIRE(rb3.committed.size() == 1);
  CHECK(rb3.committed.at(0).index == *idx);
  leader.advance();
}

TEST_CASE("raft persistence order: votes and append responses wait for persistence",
          "[raft][persistence]") {
  auto created = core::create(default_options(2), weft::xoshiro256(1));
  REQUIRE(created.has_value());
  core f = std::move(*created);
  REQUIRE(f.bootstrap(voters({1, 2, 3})).has_value());
  message vote;
  vote.type = message_type::vote;
  vote.from = 1;
  vote.to = 2;
  vote.term = 1;
  f.step(vote);
  ready_batch rb = f.ready();
  CHECK(rb.must_persist.hard_state_changed);
  CHECK(rb.must_persist.state.vote == 1);
  CHECK(rb.must_persist.state.term == 1);
  REQUIRE(rb.send_after_persist.size() == 1);
  CHECK(rb.send_after_persist[0].type == message_type::vote_response);
  CHECK(!rb.send_after_persist[0].reject);
  CHECK(rb.send_now.empty());
  f.advance();
  CHECK(!f.has_ready());
}

TEST_CASE("raft async persistence: stale completions after a truncation are ignored",
          "[raft][persistence]") {
  auto created = core::create(default_options(2), weft::xoshiro256(1));
  REQUIRE(created.has_value());
  core f = std::move(*created);
  REQUIRE(f.bootstrap(voters({1, 2, 3})).has_value());
  std::string a = "a", b = "b";
  entry_ref e1[] = {{1, 1, entry_type::normal, weft::as_bytes(a)}, {2, 1, entry_type::normal, weft::as_bytes(a)}};
  message m;
  m.type = message_type::append;
  m.from = 1;
  m.to = 2;
  m.term = 1;
  m.entries = entry_range(e1);
  f.step(m);
  (void)f.ready();
  f.advance();  // the write of 1..2 (term 1) is in flight
  entry_ref e2[] = {{2, 2, entry_type::normal, weft::as_bytes(b)}};
  m.term = 2;
  m.log_index = 1;
  m.log_term = 1;
  m.entries = entry_range(e2);
  f.step(m);  // index 2 is replaced by a term-2 entry
  f.persisted(2, 1);  // the old write completes: it no longer describes the log
  CHECK(f.persisted_index() == 0);
  ready_batch rb = f.ready();
  REQUIRE(rb.must_persist.entries.size() == 1);
  CHECK(rb.must_persist.entries.at(0).index == 2);
  CHECK(rb.must_persist.entries.at(0).term == 2);
  f.persisted(2, 2);
  CHECK(f.persisted_index() == 2);
  f.advance();
}

TEST_CASE("raft flow control: the inflight window bounds pipelined appends",
          "[raft][flowcontrol]") {
  cluster c(2, 19);
  const node_id l = c.elect();
  REQUIRE(l != 0);
  c.settle();
  core& leader = c.node(l);
  for (int i = 0; i < 100; ++i) REQUIRE(leader.propose(bytes_of("0123456789")).has_value());
  ready_batch rb = leader.ready();
  // window: 4 messages of at most 8 entries
  CHECK(rb.send_now.size() == 4);
  for (const message& m : rb.send_now) CHECK(m.entries.size() == 8);
  leader.persisted(leader.last_index(), leader.term());
  leader.advance();
  CHECK(!leader.ready().send_now.size());  // window full: nothing more until acks
  leader.advance();
  // those four messages were never handed to the network: they are lost. Heartbeats
  // notice that the follower made no progress and replication resumes from its match.
  for (int i = 0; i < 20; ++i) {
    c.tick_all();
    c.settle();
  }
  CHECK(c.node(l == 1 ? 2 : 1).commit_index() == leader.last_index());
  CHECK(c.violations.empty());
}

TEST_CASE("raft bounded apply: committed entries come in batches of max_committed_per_ready",
          "[raft][apply]") {
  cluster c(1, 23);
  REQUIRE(c.elect() == 1);
  c.settle();
  core& n = c.node(1);
  for (int i = 0; i < 40; ++i) REQUIRE(n.propose(bytes_of("z")).has_value());
  ready_batch rb = n.ready();
  REQUIRE(rb.must_persist.entries.size() == 40);
  n.persisted(n.last_index(), n.term());
  n.advance();
  std::size_t batches = 0, total = 0;
  while (n.has_ready()) {
    ready_batch r = n.ready();
    CHECK(r.committed.size() <= 16);
    total += r.committed.size();
    ++batches;
    n.advance();
  }
  CHECK(total == 40);
  CHECK(batches >= 3);
}
