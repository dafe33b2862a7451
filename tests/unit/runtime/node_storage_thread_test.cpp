// The node's storage thread (docs/runtime.md, "Storage thread"): a member's WAL syncs run off
// the event loop, and nothing that depends on a batch (its append responses, persisted())
// is reported before that batch's sync returned. A test file system holds, slows or fails
// the syncs of one member's WAL; the held-batch ring is checked on its own as well.
#include <catch2/catch.hpp>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "weft/runtime/node.hpp"

#include "cluster_fixture.hpp"

namespace {

using namespace weft;

/// What the gated file system does to the syncs in directory `gated_dir` (process-wide:
/// the storage thread reads it, hence the mutex).
struct wal_sync_gate {
  std::mutex mutex;
  std::condition_variable changed;
  std::string gated_dir;  // only file systems attached here are gated
  bool held = false;      // syncs wait until released (at most 5 s)
  bool failing = false;   // syncs fail with io_error
  int delay_ms = 0;       // each sync sleeps first
  std::uint64_t syncs = 0;          // syncs that returned success
  bool written_since_sync = false;  // a write not yet covered by a successful sync

  void reset(const std::string& dir) {
    std::lock_guard<std::mutex> lock(mutex);
    gated_dir = dir;
    held = failing = false;
    delay_ms = 0;
    syncs = 0;
    written_since_sync = false;
  }
  template <class F>
  void change(F&& f) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      f(*this);
    }
    changed.notify_all();
  }
  template <class F>
  auto read(F&& f) {
    std::lock_guard<std::mutex> lock(mutex);
    return f(*this);
  }
};

wal_sync_gate& sync_gate() {
  static wal_sync_gate gate;
  return gate;
}

/// posix_file_system whose syncs follow sync_gate() when attached to its gated_dir.
class gated_file_system : public storage::posix_file_system {
 public:
  result<void> attach(const char* directory) noexcept {
    gated_ = sync_gate().read([&](wal_sync_gate& g) { return g.gated_dir == directory; });
    return posix_file_system::attach(directory);
  }
  result<void> write(storage::file_handle file, std::uint64_t offset, byte_view data) noexcept {
    if (gated_) sync_gate().change([](wal_sync_gate& g) { g.written_since_sync = true; });
    return posix_file_system::write(file, offset, data);
  }
  result<void> sync(storage::file_handle file) noexcept {
    if (!gated_) return posix_file_system::sync(file);
    wal_sync_gate& g = sync_gate();
    int delay_ms = 0;
    {
      std::unique_lock<std::mutex> lock(g.mutex);
      g.changed.wait_for(lock, std::chrono::seconds(5), [&] { return !g.held; });
      if (g.failing) return error(storage::fs_errc::io_error, "test: sync");
      delay_ms = g.delay_ms;
      g.written_since_sync = false;  // what was written before this sync is covered by it
    }
    if (delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    auto synced = posix_file_system::sync(file);
    if (synced) g.change([](wal_sync_gate& gate) { ++gate.syncs; });
    return synced;
  }

 private:
  bool gated_ = false;
};

struct gated_stack : runtime::default_stack {
  using file_system = gated_file_system;
  using telemetry = runtime::null_node_telemetry;
};
using gated_node = runtime::basic_node<gated_stack, weft_test::counting_sm>;

struct gated_cluster : weft_test::loopback_cluster<gated_node, weft_test::counting_sm, 3> {
  // Every batch goes to the thread: a small one synced on the loop would block it in a
  // held sync.
  gated_cluster() {
    adjust_options = [](runtime::node_options& o) { o.sync_on_loop_below_entries = 0; };
  }
  /// Elects a leader and commits one entry; returns the leader's slot.
  int settle() {
    for (int i = 0; i < 3; ++i) start(i);
    REQUIRE(run_until([&] { return leader() >= 0; }));
    const int l = leader();
    REQUIRE(run_until([&] { return nodes[l]->propose(payload()).has_value(); }));
    REQUIRE(run_until([&] {
      for (int i = 0; i < 3; ++i)
        if (sms[i].applied == 0) return false;
      return true;
    }));
    return l;
  }
  std::string gated_dir(int i, const char* sub = "/wal") const { return root + "/" + std::to_string(i + 1) + sub; }
  raft::index_t match_of(int leader_slot, int member) const {
    for (const auto& m : nodes[leader_slot]->members())
      if (m.id == static_cast<std::uint64_t>(member + 1)) return m.match_index;
    return 0;
  }
  static byte_view payload() {
    static const std::uint8_t bytes[] = {'g', 'a', 't', 'e', 'd'};
    return byte_view(bytes, sizeof bytes);
  }
};

}  // namespace

TEST_CASE("node: a follower acknowledges a batch only after the storage thread synced it",
          "[runtime][node][storage]") {
  gated_cluster c;
  sync_gate().reset("");
  const int l = c.settle();
  const int f = (l + 1) % 3;
  c.stop(f);  // restarted with its WAL's syncs gated (a file system is gated at attach)
  sync_gate().reset(c.gated_dir(f));
  c.start(f);
  REQUIRE(c.run_until([&] { return c.match_of(l, f) == c.nodes[l]->status().last_index; }));

  sync_gate().change([](wal_sync_gate& g) { g.held = true; });
  const raft::index_t before = c.nodes[l]->status().last_index;
  for (int k = 0; k < 5; ++k) REQUIRE(c.nodes[l]->propose(gated_cluster::payload()));
  const raft::index_t target = before + 5;
  // The follower receives and writes the entries, but its sync is held: no acknowledgement
  // leaves and its core hears of no durability, while the other two commit without it.
  REQUIRE(c.run_until([&] { return c.nodes[f]->status().last_index == target; }));
  REQUIRE(c.run_until([&] { return c.nodes[l]->status().commit_index >= target; }));
  (void)c.run_until([] { return false; }, 200);
  CHECK(c.match_of(l, f) == before);
  CHECK(c.nodes[f]->core()->persisted_index() == before);
  CHECK(c.nodes[f]->status().applied_index <= before);
  CHECK(sync_gate().read([](wal_sync_gate& g) { return g.written_since_sync; }));
  CHECK_FALSE(c.nodes[f]->status().failed);

  // Released: the sync completes, then the acknowledgement leaves and the entries apply.
  const std::uint64_t syncs_before = c.nodes[f]->counters().wal_syncs;
  sync_gate().change([](wal_sync_gate& g) { g.held = false; });
  REQUIRE(c.run_until([&] { return c.match_of(l, f) == target; }));
  CHECK(c.nodes[f]->core()->persisted_index() == target);
  CHECK(c.nodes[f]->counters().wal_syncs > syncs_before);
  REQUIRE(c.run_until([&] { return c.nodes[f]->status().applied_index == target; }));
}

TEST_CASE("node: a failed WAL sync on the storage thread stops the member, never acknowledged",
          "[runtime][node][storage]") {
  gated_cluster c;
  sync_gate().reset("");
  const int l = c.settle();
  const int f = (l + 1) % 3;
  c.stop(f);
  sync_gate().reset(c.gated_dir(f));
  c.start(f);
  REQUIRE(c.run_until([&] { return c.match_of(l, f) == c.nodes[l]->status().last_index; }));

  sync_gate().change([](wal_sync_gate& g) { g.failing = true; });
  const raft::index_t before = c.nodes[l]->status().last_index;
  REQUIRE(c.nodes[l]->propose(gated_cluster::payload()));
  REQUIRE(c.run_until([&] { return c.nodes[f]->status().failed; }));
  const std::uint64_t sent = c.nodes[f]->counters().raft_messages_sent;
  REQUIRE(c.run_until([&] { return c.nodes[l]->status().commit_index > before; }));
  (void)c.run_until([] { return false; }, 200);
  CHECK(c.match_of(l, f) == before);
  CHECK(c.nodes[f]->core()->persisted_index() == before);
  CHECK(c.nodes[f]->counters().raft_messages_sent == sent);  // a failed member says nothing
  CHECK(c.nodes[f]->propose(gated_cluster::payload()).error().is(runtime::runtime_errc::stopped));
  c.stop(f);  // closing a failed member does not hang on its storage thread
}

TEST_CASE("node: shutdown with syncs in flight drains the storage thread and leaves the WAL synced",
          "[runtime][node][storage]") {
  gated_cluster c;
  sync_gate().reset("");
  const int l = c.settle();
  c.stop(l);
  sync_gate().reset(c.gated_dir(l));
  sync_gate().change([](wal_sync_gate& g) { g.delay_ms = 30; });  // syncs pile up behind each other
  c.start(l);
  REQUIRE(c.run_until([&] { return c.leader() >= 0; }));
  const int now_leading = c.leader();
  raft::index_t written = 0;
  for (int k = 0; k < 40; ++k) {
    (void)c.nodes[now_leading]->propose(gated_cluster::payload());
    (void)c.loop.run_once(milliseconds(1));
  }
  REQUIRE(c.run_until([&] { return c.nodes[l]->status().last_index > 3; }));
  written = c.nodes[l]->status().last_index;
  c.stop(l);  // while the delayed syncs are queued
  CHECK_FALSE(sync_gate().read([](wal_sync_gate& g) { return g.written_since_sync; }));
  CHECK(sync_gate().read([](wal_sync_gate& g) { return g.syncs; }) > 0);
  sync_gate().reset("");
  c.start(l);
  CHECK(c.nodes[l]->status().last_index >= written);
  CHECK(c.nodes[l]->wal_recovery().torn_tails_repaired == 0);
}

TEST_CASE("node: storage_thread = false persists every batch on the loop", "[runtime][node][storage]") {
  gated_cluster c;
  sync_gate().reset("");
  c.adjust_options = [](runtime::node_options& o) {
    o.storage_thread = false;
    o.sync_on_loop_below_entries = 0;
  };
  const int l = c.settle();
  for (int k = 0; k < 10; ++k) REQUIRE(c.nodes[l]->propose(gated_cluster::payload()));
  REQUIRE(c.run_until([&] {
    for (int i = 0; i < 3; ++i)
      if (c.sms[i].applied < 11) return false;
    return true;
  }));
  for (int i = 0; i < 3; ++i) {
    CHECK(c.nodes[i]->counters().wal_syncs > 0);
    CHECK(c.nodes[i]->counters().wal_syncs_on_loop == c.nodes[i]->counters().wal_syncs);
  }
}

TEST_CASE("node: held batches release their messages oldest first across the byte ring's wrap",
          "[runtime][node][storage]") {
  runtime::detail::held_batches held;
  held.allocate(4, 8, 64);
  std::uint8_t bytes[64];
  for (std::size_t i = 0; i < sizeof bytes; ++i) bytes[i] = static_cast<std::uint8_t>(i);
  std::string sent;
  const auto record = [&](transport::peer_id to, byte_view frame) noexcept {
    sent += std::to_string(to) + ":" + std::to_string(frame.size()) + ":" + std::to_string(frame[0]) + " ";
  };
  held.push_batch({10, 5, 1, true, 0});
  REQUIRE(held.push_message(1, byte_view(bytes, 30)));
  REQUIRE(held.push_message(2, byte_view(bytes + 1, 20)));
  CHECK_FALSE(held.push_message(3, byte_view(bytes, 20)));  // 50 of 64 used, no room at the end
  held.push_batch({11, 6, 1, true, 0});
  held.release_oldest(record);
  CHECK(sent == "1:30:0 2:20:1 ");
  // Empty again: the ring starts over at 0.
  REQUIRE(held.push_message(3, byte_view(bytes + 2, 40)));
  held.push_batch({12, 7, 1, true, 0});
  REQUIRE(held.push_message(4, byte_view(bytes + 3, 20)));   // 40..60
  CHECK_FALSE(held.push_message(5, byte_view(bytes, 10)));   // no room at the end, none before 40
  sent.clear();
  held.release_oldest(record);                               // batch 11 (message 3)
  REQUIRE(held.push_message(5, byte_view(bytes + 4, 10)));   // wraps to 0..10
  REQUIRE(held.push_message(6, byte_view(bytes + 5, 20)));   // 10..30
  CHECK_FALSE(held.push_message(7, byte_view(bytes, 10)));   // would reach the live bytes at 40
  CHECK(held.size() == 1);
  CHECK(held.oldest().sequence == 12);
  held.release_oldest(record);
  CHECK(sent == "3:40:2 4:20:3 5:10:4 6:20:5 ");
  CHECK(held.empty());
  // Batches are bounded too.
  for (int k = 0; k < 4; ++k) held.push_batch({static_cast<std::uint64_t>(20 + k), 0, 0, false, 0});
  CHECK(held.batches_full());
}

TEST_CASE("node: a local snapshot is written by a thread while the member keeps committing",
          "[runtime][node][storage]") {
  gated_cluster c;
  sync_gate().reset("");
  c.snapshot_interval_entries = 20;
  const int l = c.settle();
  const int f = (l + 1) % 3;
  c.stop(f);
  sync_gate().reset(c.gated_dir(f, "/snap"));
  sync_gate().change([](wal_sync_gate& g) { g.held = true; });  // its snapshot's sync waits
  c.start(f);
  REQUIRE(c.run_until([&] { return c.match_of(l, f) == c.nodes[l]->status().last_index; }));
  // Enough entries for a snapshot: its file's sync is held, yet the member (on the one loop
  // all three share) goes on applying what commits after it.
  for (int k = 0; k < 25; ++k) REQUIRE(c.nodes[l]->propose(gated_cluster::payload()));
  REQUIRE(c.run_until([&] { return c.nodes[f]->status().applied_index >= 22; }));
  const raft::index_t applied_at_hold = c.nodes[f]->status().applied_index;
  for (int k = 0; k < 10; ++k) REQUIRE(c.nodes[l]->propose(gated_cluster::payload()));
  REQUIRE(c.run_until([&] { return c.nodes[f]->status().applied_index >= applied_at_hold + 10; }, 3000));
  CHECK(c.nodes[f]->counters().snapshots_taken == 0);
  CHECK(c.nodes[f]->core()->snapshot().index == 0);
  // Released: the file is installed, then the log and the WAL are compacted to it.
  sync_gate().change([](wal_sync_gate& g) { g.held = false; });
  REQUIRE(c.run_until([&] { return c.nodes[f]->counters().snapshots_taken >= 1; }));
  CHECK(c.nodes[f]->core()->snapshot().index >= 20);
  CHECK_FALSE(c.nodes[f]->status().failed);
  // A restart loads that snapshot and replays the rest.
  const raft::index_t last = c.nodes[f]->status().last_index;
  c.stop(f);
  sync_gate().reset("");
  c.start(f);
  CHECK(c.nodes[f]->status().last_index == last);
  CHECK(c.nodes[f]->core()->snapshot().index >= 20);
}

TEST_CASE("node: a small batch with nothing awaiting a sync is synced on the loop, a large one by the thread",
          "[runtime][node][storage]") {
  gated_cluster c;
  sync_gate().reset("");
  c.adjust_options = [](runtime::node_options& o) { o.sync_on_loop_below_entries = 4; };
  const int l = c.settle();
  const auto applied_everywhere = [&](std::uint64_t n) {
    return c.run_until([&] {
      for (int i = 0; i < 3; ++i)
        if (c.sms[i].applied < n) return false;
      return true;
    });
  };
  // One entry: the leader syncs it on the loop.
  const std::uint64_t loop_before = c.nodes[l]->counters().wal_syncs_on_loop;
  REQUIRE(c.nodes[l]->propose(gated_cluster::payload()));
  REQUIRE(applied_everywhere(2));
  CHECK(c.nodes[l]->counters().wal_syncs_on_loop == loop_before + 1);
  // Fifty entries proposed in one turn: one batch, synced by the thread.
  const std::uint64_t loop_mid = c.nodes[l]->counters().wal_syncs_on_loop;
  const std::uint64_t syncs_mid = c.nodes[l]->counters().wal_syncs;
  for (int k = 0; k < 50; ++k) REQUIRE(c.nodes[l]->propose(gated_cluster::payload()));
  REQUIRE(applied_everywhere(52));
  CHECK(c.nodes[l]->counters().wal_syncs_on_loop == loop_mid);
  CHECK(c.nodes[l]->counters().wal_syncs > syncs_mid);
}
