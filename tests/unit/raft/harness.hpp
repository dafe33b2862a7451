// tests/unit/raft/harness.hpp - a deterministic in-test cluster for the pure Raft core:
// seeded network with loss, reordering and duplication, crashes that restore from what
// was persisted, and invariant checks after every step (including: has_ready() says exactly
// whether ready() has work).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "weft/consensus/raft/raft.hpp"

namespace raft_test {

using namespace weft::raft;
using weft::byte_view;

/// "<prefix><a>:<b>" without std::string operator+ (g++ 12 -Wrestrict false positive).
inline std::string label(const char* prefix, std::uint64_t a, std::uint64_t b = 0) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%s%llu:%llu", prefix, static_cast<unsigned long long>(a),
                static_cast<unsigned long long>(b));
  return buffer;
}

/// A message with owned copies of everything its views point to.
struct owned_message {
  message m;
  std::vector<entry_ref> refs;
  std::vector<std::vector<std::uint8_t>> payloads;
  configuration config;
  std::vector<std::uint8_t> data;

  owned_message() = default;
  explicit owned_message(const message& source) : m(source) {
    for (std::size_t i = 0; i < source.entries.size(); ++i) {
      const entry_ref e = source.entries.at(i);
      payloads.emplace_back(e.payload.begin(), e.payload.end());
      refs.push_back(e);
    }
    if (source.snapshot_config != nullptr) config = *source.snapshot_config;
  }
  owned_message(const owned_message& o) : m(o.m), refs(o.refs), payloads(o.payloads), config(o.config), data(o.data) {}
  owned_message& operator=(const owned_message& o) {
    m = o.m; refs = o.refs; payloads = o.payloads; config = o.config; data = o.data;
    return *this;
  }
  /// The message with its views pointing into this object.
  message view() {
    for (std::size_t i = 0; i < refs.size(); ++i) refs[i].payload = byte_view(payloads[i]);
    message out = m;
    out.entries = entry_range(std::span<const entry_ref>(refs));
    if (m.snapshot_config != nullptr) out.snapshot_config = &config;
    out.data = byte_view(data);
    return out;
  }
};

struct stored_entry {
  index_t index;
  term_t term;
  entry_type type;
  std::vector<std::uint8_t> payload;
};

inline options default_options(node_id id) {
  options o;
  o.id = id;
  o.election_timeout_ticks_min = 10;
  o.election_timeout_ticks_max = 20;
  o.heartbeat_interval_ticks = 2;
  o.max_log_entries_in_memory = 1024;
  o.max_log_bytes_in_memory = 1u << 16;
  o.max_bytes_per_entry = 256;
  o.max_bytes_per_message = 4096;
  o.max_inflight_bytes = 1u << 14;
  o.max_entries_per_message = 8;
  o.max_inflight_messages = 4;
  o.max_committed_per_ready = 16;
  o.max_snapshot_chunk_bytes = 64;
  o.max_snapshot_chunks_inflight = 2;
  o.max_uncommitted_entries = 256;
  o.follower_reads = true;
  return o;
}

inline configuration voters(std::initializer_list<node_id> ids) {
  configuration c;
  for (node_id id : ids) {
    member m;
    m.id = id;
    (void)c.members.push_back(m);
  }
  return c;
}

/// Deterministic snapshot content: byte i of the snapshot at `index` (tests only check
/// that chunks arrive complete and in order).
inline std::uint8_t snapshot_byte(index_t index, std::uint64_t offset) {
  return static_cast<std::uint8_t>((index * 131 + offset * 7) & 0xff);
}

struct node_env {
  node_id id = 0;
  std::unique_ptr<core> c;
  bool up = true;
  // durable state
  hard_state hs{};
  snapshot_metadata snap{};
  std::vector<stored_entry> log;  // entries after snap.index
  index_t applied = 0;            // the state machine's applied index (volatile)
  std::vector<std::uint8_t> snapshot_building;
  std::vector<read_state> reads;
  std::vector<index_t> applied_at_read;  // the state machine's applied index at each read
};

class cluster {
 public:
  cluster(std::size_t n, std::uint64_t seed, options (*make_options)(node_id) = &default_options)
      : random_(seed), make_options_(make_options) {
    std::vector<node_id> ids;
    for (std::size_t i = 1; i <= n; ++i) ids.push_back(i);
    configuration config;
    for (node_id id : ids) {
      member m;
      m.id = id;
      (void)config.members.push_back(m);
    }
    for (node_id id : ids) add_node(id, &config);
  }

  /// Creates a node: bootstrapped with `config`, or empty (joins through the leader).
  void add_node(node_id id, const configuration* config) {
    auto env = std::make_unique<node_env>();
    env->id = id;
    auto created = core::create(make_options_(id), random_.fork());
    REQUIRE(created.has_value());
    env->c = std::make_unique<core>(std::move(*created));
    if (config != nullptr) {
      REQUIRE(env->c->bootstrap(*config).has_value());
      env->snap.config = *config;
    }
    nodes_[id] = std::move(env);
  }

  node_env& env(node_id id) { return *nodes_.at(id); }
  core& node(node_id id) { return *nodes_.at(id)->c; }
  std::map<node_id, std::unique_ptr<node_env>>& nodes() { return nodes_; }
  std::vector<owned_message>& network() { return network_; }
  weft::xoshiro256& random() { return random_; }
  const std::map<index_t, std::pair<term_t, std::vector<std::uint8_t>>>& applied_oracle() const {
    return oracle_;
  }

  double loss = 0.0;
  double duplicate = 0.0;
  bool reorder = false;
  std::map<std::pair<node_id, node_id>, bool> cut;  // directed links that drop everything
  std::vector<std::string> violations;
  bool (*drop_if)(const message&) = nullptr;  // a filter on the network, for scenarios

  /// Runs one ready/advance cycle on `id` (synchronous persistence).
  void process(node_id id) {
    node_env& e = env(id);
    if (!e.up) return;
    for (int guard = 0; guard < 64; ++guard) {
      // has_ready() must say exactly whether ready() has work: a driver calls ready() while
      // it holds, so an empty batch is a busy loop, and work it hides waits for the next
      // input. When it says no, ready() is asked anyway (that costs nothing then).
      const bool promised = e.c->has_ready();
      ready_batch rb = e.c->ready();
      if (promised && rb.empty())
        violations.push_back(label("has_ready() but an empty ready(): node:term ", id, e.c->term()));
      if (!promised && !rb.empty())
        violations.push_back(label("ready() with work has_ready() hid: node:term ", id, e.c->term()));
      if (!promised && rb.empty()) {
        e.c->advance();
        break;
      }
      for (const message& m : rb.send_now) post(m);
      persist(e, rb);
      for (const message& m : rb.send_after_persist) post(m);
      if (rb.snapshot_to_restore != nullptr) e.applied = rb.snapshot_to_restore->index;
      for (std::size_t i = 0; i < rb.committed.size(); ++i) apply(e, rb.committed.at(i));
      for (const read_state& r : rb.read_states) {
        e.reads.push_back(r);
        e.applied_at_read.push_back(e.applied);
      }
      e.c->advance();
      check();
      maybe_compact(e);
    }
  }

  /// When set, members compact their in-memory log every `compact_every` applied entries.
  std::uint64_t compact_every = 0;
  std::uint64_t snapshot_size_bytes = 150;

  void maybe_compact(node_env& e) {
    if (compact_every == 0) return;
    const index_t applied = e.c->applied_index();
    if (applied < e.c->log().snapshot_index() + compact_every) return;
    if (!e.c->compact(applied, snapshot_size_bytes)) return;  // e.g. a config entry in flight
    e.snap = e.c->snapshot();
    std::vector<stored_entry> kept;
    for (stored_entry& s : e.log)
      if (s.index > e.snap.index) kept.push_back(std::move(s));
    e.log = std::move(kept);
  }

  void process_all() {
    for (auto& [id, e] : nodes_) process(id);
  }

  /// Delivers one message (the oldest, or a random one when reordering). False if none.
  bool deliver_one() {
    if (network_.empty()) return false;
    std::size_t at = reorder ? static_cast<std::size_t>(weft::uniform_below(random_, network_.size())) : 0;
    owned_message om = network_[at];
    network_.erase(network_.begin() + static_cast<std::ptrdiff_t>(at));
    auto it = nodes_.find(om.m.to);
    if (it == nodes_.end() || !it->second->up) return true;
    if (cut.count({om.m.from, om.m.to}) != 0 || cut.count({0, om.m.to}) != 0 ||
        cut.count({om.m.from, 0}) != 0)
      return true;
    it->second->c->step(om.view());
    check();
    process(om.m.to);
    return true;
  }

  /// Delivers everything until the network is quiet (bounded).
  void settle(std::size_t max_messages = 100000) {
    process_all();
    for (std::size_t i = 0; i < max_messages && deliver_one(); ++i) {}
  }

  void tick_all(int ticks = 1) {
    for (int t = 0; t < ticks; ++t) {
      for (auto& [id, e] : nodes_)
        if (e->up) e->c->tick();
      check();
      process_all();
    }
  }

  /// Ticks and delivers until some member leads (bounded); returns it or 0.
  node_id elect(int max_rounds = 400) {
    for (int i = 0; i < max_rounds; ++i) {
      settle();
      if (node_id l = leader(); l != 0) return l;
      tick_all();
    }
    return 0;
  }

  node_id leader() {
    node_id found = 0;
    term_t best = 0;
    for (auto& [id, e] : nodes_)
      if (e->up && e->c->current_role() == role::leader && e->c->term() >= best) {
        best = e->c->term();
        found = id;
      }
    return found;
  }

  /// Moves `target` one step through the membership cycle the swarms exercise: absent →
  /// learner → voter → removed, proposed at the current leader (a refusal is fine).
  void cycle_membership(node_id target) {
    const node_id l = leader();
    if (l == 0 || target == l) return;
    const member* m = node(l).config().find(target);
    if (m == nullptr) (void)node(l).change_membership(change_kind::add_learner, target);
    else if (m->role == member_role::learner) (void)node(l).change_membership(change_kind::promote_learner, target);
    else (void)node(l).change_membership(change_kind::remove, target);
  }

  void crash(node_id id) {
    node_env& e = env(id);
    e.up = false;
    network_.erase(std::remove_if(network_.begin(), network_.end(),
                                  [&](const owned_message& om) { return om.m.to == id; }),
                   network_.end());
  }

  /// Restarts `id` from what it persisted.
  void restart(node_id id) {
    node_env& e = env(id);
    auto created = core::create(make_options_(id), random_.fork());
    REQUIRE(created.has_value());
    e.c = std::make_unique<core>(std::move(*created));
    std::vector<entry_ref> refs;
    for (const stored_entry& s : e.log) refs.push_back(entry_ref{s.index, s.term, s.type, byte_view(s.payload)});
    if (e.snap.config.members.empty()) {
      e.up = true;  // never bootstrapped: stays empty until a leader reaches it
      e.applied = 0;
      return;
    }
    auto restored = e.c->restore(e.hs, e.snap, refs, e.snap.index);
    if (!restored) {
      std::string why = std::string("restore failed: ") + restored.error().where();
      why += label(" hs.term:snap.index ", e.hs.term, e.snap.index);
      for (const stored_entry& s : e.log) why += label(" i:t ", s.index, s.term);
      violations.push_back(why);
      return;
    }
    e.applied = e.snap.index;
    e.up = true;
  }

  /// Checks the safety invariants; records violations (tests REQUIRE none).
  void check() {
    for (auto& [id, e] : nodes_) {
      if (!e->up) continue;
      const core& c = *e->c;
      if (c.current_role() == role::leader) {
        auto [it, inserted] = leaders_.emplace(c.term(), id);
        if (!inserted && it->second != id)
          violations.push_back(label("two leaders in term ", c.term()));
        if (inserted) check_leader_completeness(c);
      }
      if (c.applied_index() > c.commit_index())
        violations.push_back(label("applied past commit on ", id));
    }
  }

  void post(const message& m) {
    if (weft::chance(random_, loss) || (drop_if != nullptr && drop_if(m))) return;
    network_.emplace_back(m);
    if (m.type == message_type::install_snapshot) fill_snapshot(network_.back());
    if (weft::chance(random_, duplicate)) network_.push_back(network_.back());
  }

  /// Called for every applied entry (a state machine for scenario tests).
  void (*on_apply)(void* context, node_id id, const entry_ref& entry) = nullptr;
  void* on_apply_context = nullptr;

 private:
  void fill_snapshot(owned_message& om) {
    om.data.resize(static_cast<std::size_t>(om.m.data_size));
    for (std::size_t i = 0; i < om.data.size(); ++i)
      om.data[i] = snapshot_byte(om.m.snapshot_index, om.m.snapshot_offset + i);
  }

  void persist(node_env& e, const ready_batch& rb) {
    if (rb.must_persist.hard_state_changed) e.hs = rb.must_persist.state;
    const entry_range& entries = rb.must_persist.entries;
    for (const snapshot_chunk& chunk : rb.must_persist.snapshot_chunks) {
      if (chunk.offset == 0) e.snapshot_building.clear();
      if (chunk.offset != e.snapshot_building.size()) violations.push_back("snapshot chunk gap");
      for (std::size_t i = 0; i < chunk.data.size(); ++i)
        if (chunk.data[i] != snapshot_byte(chunk.index, chunk.offset + i))
          violations.push_back("snapshot chunk corrupted");
      e.snapshot_building.insert(e.snapshot_building.end(), chunk.data.begin(), chunk.data.end());
    }
    if (rb.snapshot_to_restore != nullptr) {
      if (e.snapshot_building.size() != rb.snapshot_to_restore->size_bytes)
        violations.push_back("snapshot incomplete");
      e.snap = *rb.snapshot_to_restore;
      // Raft §7: keep the durable suffix only if it continues the snapshot (the entry at
      // the snapshot's index has the snapshot's term); otherwise discard the whole log.
      bool continues = false;
      for (const stored_entry& s : e.log) continues |= s.index == e.snap.index && s.term == e.snap.term;
      std::vector<stored_entry> kept;
      for (stored_entry& s : e.log)
        if (continues && s.index > e.snap.index) kept.push_back(std::move(s));
      e.log = std::move(kept);
      // a restored state machine: it holds exactly the committed prefix
    }
    if (!entries.empty()) {
      const index_t first = entries.at(0).index;
      while (!e.log.empty() && e.log.back().index >= first) e.log.pop_back();
      for (std::size_t i = 0; i < entries.size(); ++i) {
        const entry_ref r = entries.at(i);
        e.log.push_back(stored_entry{r.index, r.term, r.type, {r.payload.begin(), r.payload.end()}});
      }
      e.c->persisted(entries.at(entries.size() - 1).index, entries.at(entries.size() - 1).term);
    }
    if (rb.snapshot_to_restore != nullptr) {
      // the snapshot itself is the durable prefix now
      if (!e.log.empty() && e.log.front().index != e.snap.index + 1) e.log.clear();
    }
  }

  void apply(node_env& e, const entry_ref& r) {
    if (on_apply != nullptr) on_apply(on_apply_context, e.id, r);
    if (r.index != e.applied + 1)
      violations.push_back(label("apply gap on node:index ", e.id, r.index));
    e.applied = r.index;
    std::vector<std::uint8_t> bytes(r.payload.begin(), r.payload.end());
    auto [it, inserted] = oracle_.emplace(r.index, std::make_pair(r.term, bytes));
    if (!inserted && (it->second.first != r.term || it->second.second != bytes))
      violations.push_back(label("state machine safety: index:node ", r.index, e.id));
  }

  void check_leader_completeness(const core& c) {
    for (const auto& [index, value] : oracle_) {
      if (index <= c.log().snapshot_index()) continue;
      if (c.log().term_at(index) != value.first)
        violations.push_back(label("leader completeness: term:missing index ", c.term(), index));
    }
  }

  weft::xoshiro256 random_;
  options (*make_options_)(node_id);
  std::map<node_id, std::unique_ptr<node_env>> nodes_;
  std::vector<owned_message> network_;
  std::map<term_t, node_id> leaders_;
  std::map<index_t, std::pair<term_t, std::vector<std::uint8_t>>> oracle_;
};

inline byte_view bytes_of(const std::string& s) { return weft::as_bytes(s); }


}  // namespace raft_test
