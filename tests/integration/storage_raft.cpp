// tests/integration/storage_raft.cpp - weft::raft on the file WAL and hard-state file:
// a member persists its ready batches through storage::persist_ready on real files, is torn
// down, and a new core restored from disk has the same term, vote and log (types and bytes),
// then carries on: elected again in a later term, appending after what it recovered. The
// second case adds a snapshot (file_snapshot_store) and a compacted WAL: the restored core
// starts from the snapshot and the entries after it.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>
#include <vector>

#include "weft/consensus/raft/raft.hpp"
#include "weft/storage/posix_file_system.hpp"
#include "weft/storage/raft_bridge.hpp"
#include "weft/storage/snapshot.hpp"
#include "weft/storage/stable_file.hpp"
#include "weft/storage/wal.hpp"

namespace st = weft::storage;
namespace raft = weft::raft;

namespace {
raft::configuration solo() {
  raft::configuration c;
  raft::member m;
  m.id = 1;
  REQUIRE(c.members.push_back(m));
  return c;
}

struct member_on_disk {
  st::posix_file_system fs;
  std::unique_ptr<st::wal<st::posix_file_system>> log;
  std::unique_ptr<st::file_stable_store<st::posix_file_system>> stable;
  st::hard_state saved{};
  std::vector<std::uint8_t> scratch = std::vector<std::uint8_t>(70 * 1024);
  std::vector<std::string> applied;

  void open(const std::string& dir) {
    REQUIRE(fs.attach(dir.c_str()));
    st::wal_options o;
    o.segment_size_bytes = 1 << 20;
    o.max_record_size_bytes = 96 * 1024;
    o.max_entries = 1 << 14;
    log = std::make_unique<st::wal<st::posix_file_system>>(fs, o);
    st::recovery_report report;
    REQUIRE(log->open(report));
    stable = std::make_unique<st::file_stable_store<st::posix_file_system>>(fs);
    REQUIRE(stable->open());
    saved = *stable->load();
  }

  void drive(raft::core& c) {
    for (int guard = 0; guard < 64 && c.has_ready(); ++guard) {
      raft::ready_batch rb = c.ready();
      auto done = st::persist_ready(rb.must_persist, *log, *stable, saved,
                                    weft::mutable_byte_view(scratch));
      REQUIRE(done);
      if (done->wrote_entries) c.persisted(done->last_index, done->last_term);
      for (std::size_t i = 0; i < rb.committed.size(); ++i) {
        const raft::entry_ref e = rb.committed.at(i);
        if (e.type == raft::entry_type::normal) applied.emplace_back(weft::as_chars(e.payload));
      }
      c.advance();
    }
  }

  void elect(raft::core& c) {
    for (int t = 0; t < 200 && c.current_role() != raft::role::leader; ++t) {
      c.tick();
      drive(c);
    }
    REQUIRE(c.current_role() == raft::role::leader);
  }
};

// Reads the WAL back into entry_refs for raft::core::restore (the bytes live in `arena`).
std::vector<raft::entry_ref> load_entries(member_on_disk& m, std::vector<std::vector<std::uint8_t>>& arena) {
  arena.clear();
  REQUIRE(m.log->read_range(m.log->first_index(), m.log->last_index() + 1,
                            [](void* ctx, const st::log_entry_view& record) noexcept {
                              auto* a = static_cast<std::vector<std::vector<std::uint8_t>>*>(ctx);
                              a->emplace_back(record.payload.begin(), record.payload.end());
                              return true;
                            },
                            &arena));
  std::vector<raft::entry_ref> refs;
  for (std::size_t i = 0; i < arena.size(); ++i) {
    const std::uint64_t index = m.log->first_index() + i;
    st::stored_entry_view e;
    REQUIRE(st::decode_stored_entry({index, *m.log->term_at(index), weft::byte_view(arena[i])}, e));
    refs.push_back({e.index, e.term, static_cast<raft::entry_type>(e.type), e.payload});
  }
  return refs;
}

std::string command(char prefix, int i) {
  std::string out(1, prefix);
  out += std::to_string(i);
  return out;
}

std::string joined(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) {
    out += p;
    out += ';';
  }
  return out;
}

raft::options opts() {
  raft::options o;
  o.id = 1;
  o.max_log_entries_in_memory = 1024;
  return o;
}
}  // namespace

TEST_CASE("raft on the file WAL recovers term, vote and log after a restart", "[storage][raft]") {
  char pattern[] = "/tmp/weft-raft-XXXXXX";
  REQUIRE(::mkdtemp(pattern) != nullptr);
  const std::string dir = pattern;

  raft::term_t term_before = 0;
  raft::index_t last_before = 0;
  std::vector<std::pair<raft::entry_type, std::string>> log_before;
  {
    member_on_disk m;
    m.open(dir);
    auto created = raft::core::create(opts(), weft::xoshiro256(7));
    REQUIRE(created);
    raft::core c = std::move(*created);
    REQUIRE(c.bootstrap(solo()));
    m.elect(c);
    for (int i = 0; i < 60; ++i) {
      const std::string cmd = "set k" + std::to_string(i) + "=" + std::string(static_cast<std::size_t>(i), 'v');
      REQUIRE(c.propose(weft::as_bytes(cmd)));
      if (i % 7 == 0) m.drive(c);  // several proposals per ready: one sync for them
    }
    m.drive(c);
    CHECK(m.applied.size() == 60);
    term_before = c.term();
    last_before = c.last_index();
    REQUIRE(m.log->last_index() == last_before);
    for (raft::index_t i = c.log().first_index(); i <= c.last_index(); ++i)
      log_before.emplace_back(c.log().at(i).type, std::string(weft::as_chars(c.log().at(i).payload)));
    REQUIRE(m.log->close());
  }

  // Restart: everything the new core knows comes from the files.
  member_on_disk m;
  m.open(dir);
  CHECK(m.saved.term == term_before);
  CHECK(m.saved.vote == 1);
  std::vector<std::vector<std::uint8_t>> arena;
  std::vector<raft::entry_ref> refs;
  REQUIRE(m.log->read_range(m.log->first_index(), m.log->last_index() + 1,
                            [](void* ctx, const st::log_entry_view& record) noexcept {
                              auto* a = static_cast<std::vector<std::vector<std::uint8_t>>*>(ctx);
                              a->emplace_back(record.payload.begin(), record.payload.end());
                              a->back().push_back(static_cast<std::uint8_t>(record.index));  // guard byte
                              return true;
                            },
                            &arena));
  REQUIRE(arena.size() == log_before.size());
  for (std::size_t i = 0; i < arena.size(); ++i) {
    REQUIRE(arena[i].back() == static_cast<std::uint8_t>(m.log->first_index() + i));
    arena[i].pop_back();
    st::stored_entry_view e;
    REQUIRE(st::decode_stored_entry({m.log->first_index() + i, *m.log->term_at(m.log->first_index() + i),
                                     weft::byte_view(arena[i])},
                                    e));
    refs.push_back({e.index, e.term, static_cast<raft::entry_type>(e.type), e.payload});
  }
  auto created = raft::core::create(opts(), weft::xoshiro256(8));
  REQUIRE(created);
  raft::core c = std::move(*created);
  raft::snapshot_metadata genesis;
  genesis.config = solo();
  REQUIRE(c.restore({m.saved.term, m.saved.vote, m.saved.commit}, genesis, refs, 0));
  CHECK(c.term() == term_before);
  CHECK(c.vote() == 1);
  CHECK(c.last_index() == last_before);
  for (std::size_t i = 0; i < log_before.size(); ++i) {
    const raft::entry_ref e = c.log().at(c.log().first_index() + i);
    CHECK(e.type == log_before[i].first);
    CHECK(std::string(weft::as_chars(e.payload)) == log_before[i].second);
  }
  // It carries on: a new election in a later term, new entries after the recovered ones.
  m.elect(c);
  CHECK(c.term() > term_before);
  REQUIRE(c.propose(weft::as_bytes("after restart")));
  m.drive(c);
  CHECK(m.log->last_index() == c.last_index());
  CHECK(m.saved.term == c.term());
  CHECK(m.applied.back() == "after restart");
  CHECK(m.applied.size() == 61);  // the 60 old commands are re-applied from the log, then the new one
  REQUIRE(m.log->close());
  const std::string cleanup = "rm -rf " + dir;
  CHECK(std::system(cleanup.c_str()) == 0);
}

TEST_CASE("raft on the file WAL recovers from a snapshot and the entries after it", "[storage][raft]") {
  char pattern[] = "/tmp/weft-raft-snap-XXXXXX";
  REQUIRE(::mkdtemp(pattern) != nullptr);
  const std::string dir = pattern;
  raft::term_t term_before = 0;
  raft::index_t snap_index = 0, last_before = 0;
  std::string state_at_snapshot;
  std::vector<std::string> applied_after_snapshot;
  {
    member_on_disk m;
    m.open(dir);
    st::file_snapshot_store<st::posix_file_system> snaps(m.fs);
    REQUIRE(snaps.open());
    auto created = raft::core::create(opts(), weft::xoshiro256(9));
    REQUIRE(created);
    raft::core c = std::move(*created);
    REQUIRE(c.bootstrap(solo()));
    m.elect(c);
    for (int i = 0; i < 40; ++i) REQUIRE(c.propose(weft::as_bytes(command('a', i))));
    m.drive(c);
    REQUIRE(m.applied.size() == 40);
    // Snapshot the state machine at the applied index, then compact the log and the core.
    snap_index = c.last_index();
    state_at_snapshot = joined(m.applied);
    REQUIRE(snaps.begin(snap_index, *m.log->term_at(snap_index)));
    REQUIRE(snaps.write(weft::as_bytes(state_at_snapshot)));
    REQUIRE(snaps.install());
    REQUIRE(c.compact(snap_index, state_at_snapshot.size()));
    REQUIRE(m.log->compact_prefix(snap_index + 1));
    m.applied.clear();
    for (int i = 0; i < 12; ++i) REQUIRE(c.propose(weft::as_bytes(command('b', i))));
    m.drive(c);
    applied_after_snapshot = m.applied;
    REQUIRE(applied_after_snapshot.size() == 12);
    term_before = c.term();
    last_before = c.last_index();
    REQUIRE(m.log->close());
  }

  member_on_disk m;
  m.open(dir);
  CHECK(m.log->first_index() == snap_index + 1);
  st::file_snapshot_store<st::posix_file_system> snaps(m.fs);
  REQUIRE(snaps.open());
  auto meta = snaps.latest();
  REQUIRE(meta);
  CHECK(meta->index == snap_index);
  std::string state;
  std::uint8_t chunk[16];  // chunked reads, as install-snapshot streaming does
  for (std::uint64_t at = 0;;) {
    auto got = snaps.read(at, weft::mutable_byte_view(chunk, sizeof chunk));
    REQUIRE(got);
    if (*got == 0) break;
    state.append(reinterpret_cast<const char*>(chunk), *got);
    at += *got;
  }
  CHECK(state == state_at_snapshot);
  std::vector<std::vector<std::uint8_t>> arena;
  const std::vector<raft::entry_ref> refs = load_entries(m, arena);
  auto created = raft::core::create(opts(), weft::xoshiro256(10));
  REQUIRE(created);
  raft::core c = std::move(*created);
  raft::snapshot_metadata snap;
  snap.index = meta->index;
  snap.term = meta->term;
  snap.config = solo();  // the driver keeps the configuration with its snapshot
  snap.size_bytes = meta->size_bytes;
  REQUIRE(c.restore({m.saved.term, m.saved.vote, m.saved.commit}, snap, refs, snap_index));
  CHECK(c.term() == term_before);
  CHECK(c.vote() == 1);
  CHECK(c.last_index() == last_before);
  m.elect(c);
  REQUIRE(c.propose(weft::as_bytes("after restart")));
  m.drive(c);
  // Only the entries after the snapshot are applied again, then the new one.
  REQUIRE(m.applied.size() == applied_after_snapshot.size() + 1);
  CHECK(std::vector<std::string>(m.applied.begin(), m.applied.end() - 1) == applied_after_snapshot);
  CHECK(m.applied.back() == "after restart");
  REQUIRE(m.log->close());
  const std::string cleanup = "rm -rf " + dir;
  CHECK(std::system(cleanup.c_str()) == 0);
}
