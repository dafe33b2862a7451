// bench/raft_inprocess.cpp - 3 or 5 Raft cores in one process, in-memory storage, instant
// delivery. The leader proposes N entries of S bytes in rounds of B; after each round every
// member processes until all entries are committed and applied everywhere.
//   raft_inprocess --nodes 3 --entries 2000000 --size 64 --batch 256
// prints one line:
//   weft-raft nodes=N size=S batch=B committed=C seconds=T entries_per_s=R allocs_per_entry=A
// A counts heap allocations (global operator new, below) per committed entry after warm-up.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

#include "weft/consensus/raft/raft.hpp"

namespace {
std::uint64_t g_allocations = 0;
}  // namespace

void* operator new(std::size_t size) {
  ++g_allocations;
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) {
  ++g_allocations;
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace {

using namespace weft::raft;

/// In-memory "durable" storage: hard state plus a preallocated ring of entry bytes.
struct memory_storage {
  hard_state state{};
  std::vector<std::uint8_t> ring = std::vector<std::uint8_t>(std::size_t{64} << 20);
  std::size_t at = 0;
  index_t last = 0;
  void write(const ready_batch::persist_part& part) {
    if (part.hard_state_changed) state = part.state;
    for (std::size_t i = 0; i < part.entries.size(); ++i) {
      const entry_ref e = part.entries.at(i);
      const std::size_t need = e.payload.size() + 16;
      if (at + need > ring.size()) at = 0;
      std::memcpy(ring.data() + at, &e.index, 8);
      std::memcpy(ring.data() + at + 8, &e.term, 8);
      if (!e.payload.empty()) std::memcpy(ring.data() + at + 16, e.payload.data(), e.payload.size());
      at += need;
      last = e.index;
    }
  }
};

struct member_slot {
  std::unique_ptr<core> node;
  memory_storage storage;
  std::uint64_t applied_bytes = 0;
};

struct bench_cluster {
  std::vector<member_slot> members;

  core* find(node_id id) {
    for (member_slot& m : members)
      if (m.node->id() == id) return m.node.get();
    return nullptr;
  }
  void deliver(std::span<const message> out) {
    for (const message& m : out)
      if (core* to = find(m.to)) to->step(m);
  }
  /// One ready/advance cycle on every member that has work; false when all were idle.
  bool process() {
    bool any = false;
    for (member_slot& m : members) {
      core& n = *m.node;
      if (!n.has_ready()) continue;
      any = true;
      ready_batch rb = n.ready();
      deliver(rb.send_now);
      m.storage.write(rb.must_persist);
      if (!rb.must_persist.entries.empty()) {
        const entry_ref last = rb.must_persist.entries.at(rb.must_persist.entries.size() - 1);
        n.persisted(last.index, last.term);
      }
      deliver(rb.send_after_persist);
      for (std::size_t i = 0; i < rb.committed.size(); ++i)
        m.applied_bytes += rb.committed.at(i).payload.size();
      n.advance();
    }
    return any;
  }
  bool all_applied(index_t index) {
    for (member_slot& m : members)
      if (m.node->applied_index() < index) return false;
    return true;
  }
  void compact_all() {
    for (member_slot& m : members) {
      core& n = *m.node;
      if (n.applied_index() > n.log().snapshot_index() + 8192) (void)n.compact(n.applied_index(), 0);
    }
  }
};

std::uint64_t flag(int argc, char** argv, const char* name, std::uint64_t fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return std::strtoull(argv[i + 1], nullptr, 10);
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  const std::uint64_t nodes = flag(argc, argv, "--nodes", 3);
  const std::uint64_t entries = flag(argc, argv, "--entries", 1000000);
  const std::uint64_t size = flag(argc, argv, "--size", 64);
  const std::uint64_t batch = flag(argc, argv, "--batch", 1);
  if (nodes < 1 || nodes > 9 || batch == 0 || batch > 4096 || size > 4096 || entries == 0) {
    std::fprintf(stderr, "error: need 1<=nodes<=9, 1<=batch<=4096, size<=4096, entries>0\n");
    return 2;
  }
  bench_cluster cluster;
  configuration config;
  for (node_id id = 1; id <= nodes; ++id) {
    member m;
    m.id = id;
    (void)config.members.push_back(m);
  }
  for (node_id id = 1; id <= nodes; ++id) {
    options o;
    o.id = id;
    o.max_entries_per_message = max_entries_per_append;
    o.max_inflight_messages = 64;
    o.max_committed_per_ready = 8192;
    o.max_uncommitted_entries = 1u << 15;
    o.max_log_entries_in_memory = 1u << 16;
    o.max_log_bytes_in_memory = std::uint64_t{64} << 20;
    o.max_bytes_per_message = 4u << 20;
    o.max_inflight_bytes = 64u << 20;
    auto created = core::create(o, weft::xoshiro256(id));
    if (!created) {
      std::fprintf(stderr, "error: %s\n", created.error().where());
      return 2;
    }
    member_slot slot;
    slot.node = std::make_unique<core>(std::move(*created));
    if (!slot.node->bootstrap(config)) return 2;
    cluster.members.push_back(std::move(slot));
  }
  core& leader = *cluster.members[0].node;
  for (int t = 0; t < 1000 && leader.current_role() != role::leader; ++t) {
    leader.tick();
    while (cluster.process()) {}
  }
  if (leader.current_role() != role::leader) {
    std::fprintf(stderr, "error: no leader\n");
    return 2;
  }
  std::vector<std::uint8_t> payload(static_cast<std::size_t>(size), 0xab);
  const auto run_round = [&](std::uint64_t count) -> bool {
    for (std::uint64_t i = 0; i < count; ++i) {
      payload[0] = static_cast<std::uint8_t>(i);
      if (!leader.propose(weft::byte_view(payload))) return false;
    }
    const index_t target = leader.last_index();
    while (!cluster.all_applied(target))
      if (!cluster.process()) return false;
    cluster.compact_all();
    return true;
  };
  // warm-up: fill every buffer once
  for (std::uint64_t done = 0; done < 20000; done += batch)
    if (!run_round(batch)) return 1;
  const index_t start = leader.commit_index();
  const std::uint64_t allocations_before = g_allocations;
  const auto t0 = std::chrono::steady_clock::now();
  std::uint64_t proposed = 0;
  while (proposed < entries) {
    const std::uint64_t count = std::min(batch, entries - proposed);
    if (!run_round(count)) {
      std::fprintf(stderr, "error: round failed at %llu\n", static_cast<unsigned long long>(proposed));
      return 1;
    }
    proposed += count;
  }
  const auto t1 = std::chrono::steady_clock::now();
  const std::uint64_t allocations = g_allocations - allocations_before;
  const std::uint64_t committed = leader.commit_index() - start;
  const double seconds = std::chrono::duration<double>(t1 - t0).count();
  std::printf("weft-raft nodes=%llu size=%llu batch=%llu committed=%llu seconds=%.3f "
              "entries_per_s=%.0f allocs_per_entry=%.4f\n",
              static_cast<unsigned long long>(nodes), static_cast<unsigned long long>(size),
              static_cast<unsigned long long>(batch), static_cast<unsigned long long>(committed),
              seconds, static_cast<double>(committed) / seconds,
              static_cast<double>(allocations) / static_cast<double>(committed == 0 ? 1 : committed));
  return 0;
}
