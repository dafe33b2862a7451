// weft/sim/reference_blocks.hpp - a reference scenario for disk faults: every node keeps a
// copy of a few checksummed blocks on its simulated disk. A writer acknowledges a new
// version of a block only once max_faulty_disks + 1 copies read back intact (so at least
// one sits on a disk the fault budget keeps clean); every node scrubs its copies and
// repairs bad or stale ones from the best copy among its peers. At the end, with faults
// off, every acknowledged version must survive on every disk. It relies on the
// disk_fault_budget: a budget that leaves no clean disk is refused before the run.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "weft/config.hpp"
#include "weft/core/bytes.hpp"
#include "weft/core/crc32c.hpp"
#include "weft/core/random.hpp"
#include "weft/sim/disk.hpp"
#include "weft/sim/swarm.hpp"
#include "weft/sim/world.hpp"

WEFT_BEGIN
namespace sim {
namespace reference {

class block_cluster {
 public:
  static constexpr std::uint32_t blocks = 8;
  static constexpr std::size_t block_size = 512;  // one sector: [version u64][id u32][fill][crc u32]

  block_cluster(std::uint64_t seed, const run_options& run)
      : world_({.seed = seed, .nodes = run.nodes}),
        mix_(fault_mix::generate(seed, run.faults)),
        max_faulty_(run.max_faulty_disks),
        latest_(blocks, 0),
        attempted_(blocks, 0) {
    for (node_id n = 0; n < run.nodes; ++n) {
      disks_.push_back(std::make_unique<disk>(world_, n, disk_options{}));
      disk_pointers_.push_back(disks_.back().get());
    }
    nemesis::options nemo;
    nemo.max_down = 1;
    nemo.disk_budget = {run.max_faulty_disks, 1};
    nemesis_ = std::make_unique<nemesis>(world_, nullptr, disk_pointers_, mix_, nemo);
    world_.set_trace(run.trace, run.trace_context);
    (void)world_.add_listener(&block_cluster::on_lifecycle, this);
    scrub_kind_ = world_.event_kind("scrub", "", "").value_or(0);
    write_kind_ = world_.event_kind("write_block", "", "").value_or(0);
  }

  outcome run() {
    for (node_id n = 0; n < world_.node_count(); ++n) {
      for (std::uint32_t b = 0; b < blocks; ++b)
        if (!store(n, b, 0)) return failed("setup: cannot write the initial blocks");
      (void)world_.after(n, milliseconds(2), &block_cluster::scrub_thunk, this, 0, scrub_kind_);
    }
    if (auto started = nemesis_->start(); !started)
      return failed(std::string(started.error().message()));
    (void)world_.at(time_point_from_ns(1'000'000), &block_cluster::write_thunk, this, 0,
                    write_kind_);
    world_.run_until(time_point_from_ns(500'000'000));
    stopping_ = true;
    nemesis_->stop();
    world_.run_until(time_point_from_ns(600'000'000));  // scrubs repair the rest
    outcome out;
    out.events = world_.events_processed();
    out.trace_hash = world_.trace_hash();
    out.simulated_ns = world_.now_ns();
    for (std::uint32_t b = 0; b < blocks; ++b)
      for (node_id n = 0; n < world_.node_count(); ++n) {
        // An unacknowledged later version may legitimately win; an older one is data loss.
        const std::int64_t version = read_version(n, b);
        if (version < static_cast<std::int64_t>(latest_[b])) {
          char why[160];
          std::snprintf(why, sizeof why,
                        "block %u on node %u holds version %lld, acknowledged %llu (faults %s)",
                        b, n, static_cast<long long>(version),
                        static_cast<unsigned long long>(latest_[b]),
                        format_faults(mix_.on).c_str());
          out.passed = false;
          out.message = why;
          return out;
        }
      }
    char note[128];
    std::snprintf(note, sizeof note, "%llu acknowledged writes, %llu repairs, faults %s",
                  static_cast<unsigned long long>(acknowledged_),
                  static_cast<unsigned long long>(repairs_), format_faults(mix_.on).c_str());
    out.message = note;
    return out;
  }

 private:
  outcome failed(std::string why) {
    outcome out;
    out.passed = false;
    out.message = std::move(why);
    return out;
  }
  /// The record for (block, version): deterministic fill, so any copy can be verified.
  static void record(std::uint32_t block, std::uint64_t version, std::uint8_t (&out)[block_size]) {
    byte_writer w(out);
    (void)w.put_le<std::uint64_t>(version);
    (void)w.put_le<std::uint32_t>(block);
    xoshiro256 fill(version * 0x9e3779b97f4a7c15ull ^ block);
    while (w.remaining() > 4) (void)w.put(static_cast<std::uint8_t>(fill.next_u64()));
    (void)w.put_le<std::uint32_t>(crc32c(byte_view(out, block_size - 4)));
  }
  bool store(node_id n, std::uint32_t block, std::uint64_t version) {
    std::uint8_t bytes[block_size];
    record(block, version, bytes);
    disk& d = *disks_[n];
    auto file = d.open("blocks", storage::open_mode::create_or_open);
    if (!file) return false;
    const bool done = d.write(*file, std::uint64_t{block} * block_size, bytes) && d.sync(*file);
    (void)d.close(*file);
    return done && d.sync_directory();
  }
  /// The version of a verified copy, or -1 when unreadable, corrupt or misplaced.
  std::int64_t read_version(node_id n, std::uint32_t block) {
    disk& d = *disks_[n];
    auto file = d.open("blocks", storage::open_mode::open_existing);
    if (!file) return -1;
    std::uint8_t bytes[block_size];
    auto got = d.read(*file, std::uint64_t{block} * block_size, bytes);
    (void)d.close(*file);
    if (!got || *got != block_size) return -1;
    byte_reader r(bytes);
    const std::uint64_t version = *r.get_le<std::uint64_t>();
    if (*r.get_le<std::uint32_t>() != block) return -1;
    std::uint8_t expected[block_size];
    record(block, version, expected);
    if (!equal_bytes(bytes, expected)) return -1;
    return static_cast<std::int64_t>(version);
  }

  static void on_lifecycle(void* context, node_id n, lifecycle what) noexcept {
    auto* self = static_cast<block_cluster*>(context);
    if (what == lifecycle::restarted)  // the crash killed its scrub timer
      (void)self->world_.after(n, milliseconds(2), &block_cluster::scrub_thunk, self, 0,
                               self->scrub_kind_);
  }
  static void write_thunk(void* context, const event&) noexcept {
    static_cast<block_cluster*>(context)->write_step();
  }
  void write_step() {
    if (stopping_) return;
    auto& r = world_.random();
    const auto block = static_cast<std::uint32_t>(uniform_below(r, blocks));
    const std::uint64_t version = ++attempted_[block];  // unacknowledged versions count too
    std::uint32_t verified = 0;
    for (node_id n = 0; n < world_.node_count(); ++n)
      if (world_.is_up(n) && store(n, block, version) &&
          read_version(n, block) == static_cast<std::int64_t>(version))
        ++verified;
    if (verified >= max_faulty_ + 1) {  // one copy is on a disk the budget keeps clean
      latest_[block] = version;
      ++acknowledged_;
      world_.note(no_node, "acknowledged", version);
    }
    const auto gap = static_cast<std::int64_t>(exponential(r, 3e6)) + 1;
    (void)world_.at(time_point_from_ns(world_.now_ns() + gap), &block_cluster::write_thunk, this,
                    0, write_kind_);
  }

  static void scrub_thunk(void* context, const event& e) noexcept {
    static_cast<block_cluster*>(context)->scrub(e.node);
  }
  /// Repairs this node's bad or stale copies from the best verified copy among peers.
  void scrub(node_id self) {
    for (std::uint32_t b = 0; b < blocks; ++b) {
      const std::int64_t mine = read_version(self, b);
      std::int64_t best = -1;
      for (node_id peer = 0; peer < world_.node_count(); ++peer)
        if (peer != self && world_.is_up(peer)) best = std::max(best, read_version(peer, b));
      if (best > mine && store(self, b, static_cast<std::uint64_t>(best))) {
        ++repairs_;
        world_.note(self, "repair", b);
      }
    }
    (void)world_.after(self, milliseconds(2), &block_cluster::scrub_thunk, this, 0, scrub_kind_);
  }

  world world_;
  fault_mix mix_;
  std::uint32_t max_faulty_;
  std::vector<std::uint64_t> latest_;     // highest acknowledged version per block
  std::vector<std::uint64_t> attempted_;  // highest version written per block
  std::vector<std::unique_ptr<disk>> disks_;
  std::vector<disk*> disk_pointers_;
  std::unique_ptr<nemesis> nemesis_;
  std::uint64_t acknowledged_ = 0;
  std::uint64_t repairs_ = 0;
  bool stopping_ = false;
  std::uint16_t scrub_kind_ = 0;
  std::uint16_t write_kind_ = 0;
};

inline constexpr fault_set block_faults() noexcept {
  fault_set s;
  s.add(fault::crash).add(fault::pause).add(fault::clock).add(fault::disk_loss);
  s.add(fault::disk_corruption);
  return s;
}

inline outcome run_blocks(std::uint64_t seed, const run_options& run) {
  block_cluster cluster(seed, run);
  return cluster.run();
}

inline constexpr scenario blocks_scenario{
    "blocks", "checksummed block copies on every disk, scrubbed and repaired under disk faults",
    &run_blocks, 2, 15, 3, block_faults(), 1};

}  // namespace reference
}  // namespace sim
WEFT_END
