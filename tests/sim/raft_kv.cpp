// tests/sim/raft_kv.cpp - a replicated key-value store on the Raft core, driven by clients
// over the seeded in-test network (loss, duplication, reordering, partitions, crashes
// with restart from persisted state, leadership transfers, membership changes). Gets go
// through the log or through ReadIndex (leader reads and follower reads). Every
// client history is checked for linearizability with weft::sim's checker (kv_model).
//
// The same store on sim::world, sim::network and the file WAL on sim::disk (disk faults,
// pauses, clock jumps) is the `raft` scenario: tests/sim/raft_wal_swarm.cpp.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <map>

#include "../unit/raft/harness.hpp"
#include "weft/sim/linearizability.hpp"

using namespace raft_test;
namespace sim = weft::sim;

namespace {

struct command {
  std::uint8_t kind = 0;  // kv_model::kind
  std::int64_t key = 0;
  std::int64_t value = 0;
  std::uint64_t op = 0;  // history id + 1
};

std::array<std::uint8_t, 25> encode(const command& c) {
  std::array<std::uint8_t, 25> out{};
  out[0] = c.kind;
  weft::store_be<std::uint64_t>(out.data() + 1, static_cast<std::uint64_t>(c.key));
  weft::store_be<std::uint64_t>(out.data() + 9, static_cast<std::uint64_t>(c.value));
  weft::store_be<std::uint64_t>(out.data() + 17, c.op);
  return out;
}

struct pending_op {
  std::size_t id = 0;
  node_id node = 0;  // the member that accepted the proposal answers when it applies it
  index_t index = 0;
  term_t term = 0;
  std::int64_t deadline = 0;
};

/// A get served by ReadIndex (on the leader, or a follower read) instead of the log.
struct pending_read {
  std::size_t id = 0;
  node_id node = 0;
  std::int64_t key = 0;
  std::int64_t deadline = 0;
};

struct kv_world {
  std::map<node_id, std::map<std::int64_t, std::int64_t>> stores;
  std::map<std::uint64_t, pending_op> pending;  // by op
  std::map<std::uint64_t, pending_read> reads;  // by op (the read's context)
  std::uint64_t reads_served = 0;
  sim::history<sim::kv_model> history;
  std::int64_t now = 0;
  std::uint64_t completed = 0;
  std::vector<std::string> errors;

  static void on_apply(void* self, node_id id, const entry_ref& e) {
    auto& w = *static_cast<kv_world*>(self);
    if (e.type != entry_type::normal || e.payload.size() != 25) return;
    command c;
    c.kind = e.payload[0];
    c.key = static_cast<std::int64_t>(weft::load_be<std::uint64_t>(e.payload.data() + 1));
    c.value = static_cast<std::int64_t>(weft::load_be<std::uint64_t>(e.payload.data() + 9));
    c.op = weft::load_be<std::uint64_t>(e.payload.data() + 17);
    auto& store = w.stores[id];
    sim::kv_model::output out;
    if (auto it = store.find(c.key); it != store.end()) {
      out.found = true;
      out.value = it->second;
    }
    if (c.kind == static_cast<std::uint8_t>(sim::kv_model::kind::put)) store[c.key] = c.value;
    if (c.kind == static_cast<std::uint8_t>(sim::kv_model::kind::remove)) store.erase(c.key);
    auto p = w.pending.find(c.op);
    if (p == w.pending.end() || p->second.node != id) return;
    if (p->second.index != e.index || p->second.term != e.term) {
      w.errors.push_back("op applied at another index than it was accepted at");
      return;
    }
    w.history.ok(p->second.id, out, w.now);
    ++w.completed;
    w.pending.erase(p);
  }
};

/// Serves every read state whose index the member has applied, from that member's store:
/// the answer reflects at least every write that completed before the read began.
void serve_reads(cluster& c, kv_world& w, std::size_t members) {
  for (node_id id = 1; id <= members; ++id) {
    node_env& e = c.env(id);
    for (std::size_t i = 0; i < e.reads.size();) {
      const read_state rs = e.reads[i];
      auto p = w.reads.find(rs.context);
      const bool mine = p != w.reads.end() && p->second.node == id;
      if (mine && !rs.refused && e.applied < rs.index) { ++i; continue; }
      if (mine && rs.refused) w.history.fail(p->second.id, w.now);  // a read has no effect
      if (mine && !rs.refused) {
        sim::kv_model::output out;
        const auto& store = w.stores[id];
        if (auto it = store.find(p->second.key); it != store.end()) out = {true, it->second};
        w.history.ok(p->second.id, out, w.now);
        ++w.reads_served;
      }
      if (mine) w.reads.erase(p);
      e.reads.erase(e.reads.begin() + static_cast<std::ptrdiff_t>(i));
      e.applied_at_read.erase(e.applied_at_read.begin() + static_cast<std::ptrdiff_t>(i));
    }
  }
}

/// Clients give up on operations that take too long or whose member crashed: a write's
/// outcome is unknown, a read certainly had no effect.
void expire_operations(cluster& c, kv_world& w, std::vector<std::uint64_t>& busy) {
  for (std::uint64_t& op : busy) {
    if (op == 0) continue;
    if (auto p = w.pending.find(op); p != w.pending.end()) {
      if (p->second.deadline >= w.now && c.env(p->second.node).up) continue;
      w.history.info(p->second.id, w.now);
      w.pending.erase(p);
    } else if (auto q = w.reads.find(op); q != w.reads.end()) {
      if (q->second.deadline >= w.now && c.env(q->second.node).up) continue;
      w.history.fail(q->second.id, w.now);
      w.reads.erase(q);
    }
    op = 0;
  }
}

/// `undecided`: the checker ran out of its state budget (many unknown-outcome operations,
/// e.g. proposals forwarded by learners); neither a pass nor a violation.
enum class seed_outcome { linearizable, undecided, violation };

seed_outcome run_seed(std::uint64_t seed, std::string& report, std::uint64_t& completed,
                      std::uint64_t& reads_served) {
  const std::size_t members = seed % 2 == 0 ? 3 : 5;
  cluster c(members, seed);
  kv_world w;
  c.on_apply = &kv_world::on_apply;
  c.on_apply_context = &w;
  c.loss = 0.05;
  c.duplicate = 0.03;
  c.reorder = true;
  auto& r = c.random();
  constexpr std::uint32_t clients = 4;
  std::vector<std::uint64_t> busy(clients, 0);  // op in flight per client (0: idle)
  for (int step = 0; step < 3000; ++step) {
    ++w.now;
    const std::uint64_t action = weft::uniform_below(r, 100);
    if (action < 30) {
      c.tick_all();
    } else if (action < 70) {
      for (int i = 0; i < 6 && c.deliver_one(); ++i) {}
    } else if (action < 90) {  // a client invokes an operation at a random member
      const auto client = static_cast<std::uint32_t>(weft::uniform_below(r, clients));
      if (busy[client] != 0) continue;
      sim::kv_model::input in;
      in.op = static_cast<sim::kv_model::kind>(weft::uniform_below(r, 3));
      in.key = static_cast<std::int64_t>(weft::uniform_below(r, 3));
      in.value = static_cast<std::int64_t>(w.now);
      const std::size_t id = w.history.invoke(client, in, w.now);
      const node_id target = 1 + weft::uniform_below(r, members);
      if (!c.env(target).up) { w.history.fail(id, w.now); continue; }
      if (in.op == sim::kv_model::kind::get && weft::uniform_below(r, 2) == 0) {
        if (!c.node(target).read_index(id + 1)) { w.history.fail(id, w.now); continue; }
        w.reads[id + 1] = pending_read{id, target, in.key, w.now + 400};
        busy[client] = id + 1;
        c.process(target);
        continue;
      }
      command cmd{static_cast<std::uint8_t>(in.op), in.key, in.value, id + 1};
      const auto bytes = encode(cmd);
      auto accepted = c.node(target).propose(weft::byte_view(bytes));
      if (!accepted) {
        w.history.fail(id, w.now);  // refused: certainly no effect
        continue;
      }
      if (c.node(target).current_role() != role::leader) {
        w.history.info(id, w.now);  // forwarded to the leader: may or may not take effect
        c.process(target);
        continue;
      }
      w.pending[id + 1] = pending_op{id, target, *accepted, c.node(target).term(), w.now + 400};
      busy[client] = id + 1;
      c.process(target);
    } else if (action < 95) {
      const node_id target = 1 + weft::uniform_below(r, members);
      switch (weft::uniform_below(r, 5)) {
        case 0:
          if (c.env(target).up) {
            c.crash(target);
            c.env(target).reads.clear();  // read states die with the process
            c.env(target).applied_at_read.clear();
          } else {
            c.restart(target);
            w.stores[target].clear();
          }
          break;
        case 1:
          c.cut.clear();
          c.cut[{0, target}] = c.cut[{target, 0}] = true;
          break;
        case 2: c.cut.clear(); break;
        case 3: c.cycle_membership(target); break;
        default:
          if (node_id l = c.leader(); l != 0) (void)c.node(l).transfer_leadership(target);
      }
    }
    serve_reads(c, w, members);
    expire_operations(c, w, busy);
  }
  for (auto& [op, p] : w.pending) w.history.info(p.id, w.now);
  for (auto& [op, p] : w.reads) w.history.fail(p.id, w.now);
  completed += w.completed;
  reads_served += w.reads_served;
  if (!c.violations.empty()) { report = c.violations.front(); return seed_outcome::violation; }
  if (!w.errors.empty()) { report = w.errors.front(); return seed_outcome::violation; }
  sim::check_result result = sim::check(w.history);
  report = result.report;
  switch (result.answer) {
    case sim::verdict::linearizable: return seed_outcome::linearizable;
    case sim::verdict::unknown: return seed_outcome::undecided;
    default: return seed_outcome::violation;
  }
}

}  // namespace

TEST_CASE("raft kv: client histories are linearizable under network faults, crashes and membership changes",
          "[raft][sim][linearizability]") {
  std::uint64_t seeds = 200;
  if (const char* env = std::getenv("RAFT_KV_SEEDS")) seeds = std::strtoull(env, nullptr, 10);
  std::uint64_t first = 1;
  if (const char* env = std::getenv("RAFT_SEED_FIRST")) first = std::strtoull(env, nullptr, 10);
  std::uint64_t completed = 0, undecided = 0, reads_served = 0;
  for (std::uint64_t seed = first; seed < first + seeds; ++seed) {
    std::string report;
    const seed_outcome outcome = run_seed(seed, report, completed, reads_served);
    INFO("seed " << seed << ": " << report);
    REQUIRE(outcome != seed_outcome::violation);
    if (outcome == seed_outcome::undecided) ++undecided;
  }
  INFO(undecided << " of " << seeds << " histories undecided (checker state budget)");
  CHECK(undecided * 50 <= seeds);  // the checker decides at least 98% of them
  CHECK(completed > seeds * 20);   // histories hold real completed operations
  INFO(reads_served << " reads served by ReadIndex, " << completed << " operations through the log");
  CHECK(reads_served > seeds * 5); // and reads served by ReadIndex, on leaders and followers
}
