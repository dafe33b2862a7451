// bench/raft_inprocess.cpp - 3 or 5 Raft cores in one process, in-memory storage, instant
// delivery. The leader proposes N entries of S bytes in rounds of B; after each round every
// member processes until the leader applied the round and no member has work left (as a
// driver under load: the next round starts once the previous one is committed). Followers
// learn the last commit from the next round's append, or after commit_only_delay_ticks.
//   raft_inprocess --nodes 3 --entries 2000000 --size 64 --batch 256 [--commit-delay-ticks D]
// prints one line:
//   weft-raft nodes=N size=S batch=B commit_delay_ticks=D committed=C seconds=T
//   entries_per_s=R cpu_ns_per_entry=U messages_per_round=M allocs_per_entry=A
// U is the process's CPU time (getrusage) per committed entry; M counts every Raft message
// delivered per round of B proposals; A counts heap allocations (global operator new,
// below) per committed entry after warm-up.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

#include <sys/resource.h>

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
  std::uint64_t delivered = 0;
  void deliver(std::span<const message> out) {
    delivered += out.size();
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
  void tick_all() {
    for (member_slot& m : members) m.node->tick();
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

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

}  // namespace

int main(int argc, char** argv) {
  const std::uint64_t nodes = flag(argc, argv, "--nodes", 3);
  const std::uint64_t entries = flag(argc, argv, "--entries", 1000000);
  const std::uint64_t size = flag(argc, argv, "--size", 64);
  const std::uint64_t batch = flag(argc, argv, "--batch", 1);
  const std::uint64_t commit_delay_ticks =
      flag(argc, argv, "--commit-delay-ticks", options{}.commit_only_delay_ticks);
  if (nodes < 1 || nodes > 9 || batch == 0 || batch > 4096 || size > 4096 || entries == 0 ||
      commit_delay_ticks > 8) {
    std::fprintf(stderr, "error: need 1<=nodes<=9, 1<=batch<=4096, size<=4096, entries>0, "
                         "commit-delay-ticks<=8\n");
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
    o.commit_only_delay_ticks = static_cast<std::uint32_t>(commit_delay_ticks);
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
    while (leader.applied_index() < target)
      if (!cluster.process()) return false;
    while (cluster.process()) {}
    cluster.compact_all();
    return true;
  };
  // After the last round the followers learn the final commit within the delay bound.
  const auto finish = [&]() -> bool {
    for (std::uint64_t t = 0; t <= commit_delay_ticks; ++t) {
      cluster.tick_all();
      while (cluster.process()) {}
    }
    return cluster.all_applied(leader.commit_index());
  };
  // warm-up: fill every buffer once
  for (std::uint64_t done = 0; done < 20000; done += batch)
    if (!run_round(batch)) return 1;
  const index_t start = leader.commit_index();
  const std::uint64_t allocations_before = g_allocations;
  const std::uint64_t delivered_before = cluster.delivered;
  const double cpu_before = cpu_seconds();
  const auto t0 = std::chrono::steady_clock::now();
  std::uint64_t proposed = 0;
  std::uint64_t rounds = 0;
  while (proposed < entries) {
    const std::uint64_t count = std::min(batch, entries - proposed);
    if (!run_round(count)) {
      std::fprintf(stderr, "error: round failed at %llu\n", static_cast<unsigned long long>(proposed));
      return 1;
    }
    proposed += count;
    ++rounds;
  }
  const auto t1 = std::chrono::steady_clock::now();
  const double cpu = cpu_seconds() - cpu_before;
  const std::uint64_t allocations = g_allocations - allocations_before;
  const std::uint64_t messages = cluster.delivered - delivered_before;
  const std::uint64_t committed = leader.commit_index() - start;
  if (!finish()) {
    std::fprintf(stderr, "error: followers did not apply the last commit within the delay\n");
    return 1;
  }
  const double seconds = std::chrono::duration<double>(t1 - t0).count();
  const double per_entry = 1.0 / static_cast<double>(committed == 0 ? 1 : committed);
  std::printf("weft-raft nodes=%llu size=%llu batch=%llu commit_delay_ticks=%llu committed=%llu "
              "seconds=%.3f entries_per_s=%.0f cpu_ns_per_entry=%.0f messages_per_round=%.2f "
              "allocs_per_entry=%.4f\n",
              static_cast<unsigned long long>(nodes), static_cast<unsigned long long>(size),
              static_cast<unsigned long long>(batch),
              static_cast<unsigned long long>(commit_delay_ticks),
              static_cast<unsigned long long>(committed), seconds,
              static_cast<double>(committed) / seconds, cpu * 1e9 * per_entry,
              static_cast<double>(messages) / static_cast<double>(rounds == 0 ? 1 : rounds),
              static_cast<double>(allocations) * per_entry);
  return 0;
}
