// weft/sim/disk.hpp - a per-node simulated disk modelling weft::storage::file_system, with
// sector-granular contents and the faults real disks have: fsync is the only durability
// point; a crash loses unsynced writes and may tear the last one at a sector boundary;
// unsynced creates/renames/removes are lost unless sync_directory() ran; latent sector
// errors, bit rot and misdirected writes; and a fault budget across members.
// Latency is simulated time the driver consults (busy_until()), see docs/sim.md.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "weft/config.hpp"
#include "weft/core/bytes.hpp"
#include "weft/core/random.hpp"
#include "weft/core/result.hpp"
#include "weft/sim/world.hpp"
#include "weft/storage/file_system.hpp"

WEFT_BEGIN
namespace sim {

/// Limits, latencies and fault rates of one simulated disk.
struct disk_options {
  std::uint32_t sector_size_bytes = 512;
  std::uint32_t max_files = 64;
  std::uint32_t max_open_files = 64;
  std::uint32_t max_name_size_bytes = 128;
  std::uint64_t capacity_bytes = 64ull << 20;      // sum of file sizes
  std::int64_t read_latency_min_ns = 20'000;
  std::int64_t read_latency_mean_ns = 50'000;       // exponential above the minimum
  std::int64_t write_latency_min_ns = 20'000;
  std::int64_t write_latency_mean_ns = 50'000;
  std::int64_t sync_latency_min_ns = 500'000;
  std::int64_t sync_latency_mean_ns = 1'500'000;
  // Faults, applied only while faults_enabled() (see disk_fault_budget).
  double torn_write_probability = 0.5;     // at a crash, the last surviving write is torn
  double unsynced_survival_probability = 0.5;  // at a crash, each unsynced write in order
  double latent_error_probability = 0.0;   // per read: a sector of it goes bad
  double bit_rot_probability = 0.0;        // per read: a stored bit flips
  double misdirect_probability = 0.0;      // per write: it lands at another sector

  [[nodiscard]] result<void> validate() const noexcept {
    auto bad = [](const char* where) { return error(sim_errc::invalid_options, where); };
    if (sector_size_bytes == 0 || (sector_size_bytes & (sector_size_bytes - 1)) != 0)
      return bad("disk_options: sector_size_bytes must be a power of two");
    if (max_files == 0 || max_open_files == 0 || max_name_size_bytes == 0)
      return bad("disk_options: zero limit");
    if (max_open_files > 0xffffu) return bad("disk_options: max_open_files > 65535");
    if (read_latency_min_ns < 0 || read_latency_mean_ns < 0 || write_latency_min_ns < 0 ||
        write_latency_mean_ns < 0 || sync_latency_min_ns < 0 || sync_latency_mean_ns < 0)
      return bad("disk_options: negative latency");
    for (double p : {torn_write_probability, unsynced_survival_probability,
                     latent_error_probability, bit_rot_probability, misdirect_probability})
      if (!(p >= 0.0 && p <= 1.0)) return bad("disk_options: probability not in [0, 1]");
    return ok();
  }
};

/// How many members' disks may misbehave at once so that each block keeps a clean copy.
/// A quorum protocol writing to q of n members needs max_faulty_disks <= q - 1, i.e.
/// min_clean_disks = n - q + 1.
struct disk_fault_budget {
  std::uint32_t max_faulty_disks = 0;
  std::uint32_t min_clean_disks = 1;
  /// Refuses a budget that cannot hold on `members` disks.
  [[nodiscard]] result<void> validate(std::uint32_t members) const noexcept {
    if (min_clean_disks > members || max_faulty_disks > members - min_clean_disks)
      return error(sim_errc::impossible_fault_budget, "disk_fault_budget::validate");
    return ok();
  }
};

struct disk_stats {
  std::uint64_t reads = 0, writes = 0, syncs = 0, crashes = 0;
  std::uint64_t latent_errors = 0, bit_rots = 0, misdirected = 0, torn = 0, lost_writes = 0;
};

class disk {
 public:
  disk(world& w, node_id owner, const disk_options& options) noexcept
      : world_(w), owner_(owner), options_(options) {
    status_ = options.validate();
    if (!status_) return;
    random_ = w.random().fork();
    handles_.resize(options.max_open_files);
    status_ = w.add_listener(&disk::on_lifecycle, this);
  }
  disk(const disk&) = delete;
  disk& operator=(const disk&) = delete;

  [[nodiscard]] const result<void>& status() const noexcept { return status_; }
  [[nodiscard]] const disk_stats& stats() const noexcept { return stats_; }
  [[nodiscard]] node_id owner() const noexcept { return owner_; }
  /// When the disk finishes the operations issued so far (simulated time). A driver
  /// schedules an operation's completion at busy_until() to model its latency.
  [[nodiscard]] time_point busy_until() const noexcept { return time_point_from_ns(busy_ns_); }
  void enable_faults(bool on) noexcept { faults_ = on; }
  [[nodiscard]] bool faults_enabled() const noexcept { return faults_; }
  [[nodiscard]] bool is_up() const noexcept { return up_; }
  /// Sets the latent-error, bit-rot and misdirected-write probabilities at once (swarms).
  void set_error_probability(double p) noexcept {
    p = std::clamp(p, 0.0, 1.0);
    options_.latent_error_probability = p;
    options_.bit_rot_probability = p;
    options_.misdirect_probability = p;
  }
  /// Off: a crash keeps every write issued (a power-safe cache); on (default): unsynced
  /// writes may be lost and the first lost one torn.
  void set_crash_loss(bool on) noexcept { crash_loss_ = on; }

  // ---- the file_system concept ---------------------------------------------------------
  result<storage::file_handle> open(std::string_view name, storage::open_mode mode) noexcept {
    WEFT_TRY(usable());
    if (name.empty() || name.size() > options_.max_name_size_bytes)
      return error(storage::fs_errc::name_too_long, "sim::disk::open");
    std::int64_t node = find(live_dir_, name);
    if (node >= 0 && mode == storage::open_mode::create_exclusive)
      return error(storage::fs_errc::already_exists, "sim::disk::open");
    if (node < 0 && mode == storage::open_mode::open_existing)
      return error(storage::fs_errc::not_found, "sim::disk::open");
    std::size_t free_handle = handles_.size();
    for (std::size_t i = 0; i < handles_.size(); ++i)
      if (!handles_[i].open) { free_handle = i; break; }
    if (free_handle == handles_.size())
      return error(storage::fs_errc::too_many_open_files, "sim::disk::open");
    if (node < 0) {
      if (live_dir_.size() >= options_.max_files)
        return error(storage::fs_errc::no_space, "sim::disk::open: max_files");
      node = static_cast<std::int64_t>(inodes_.size());
      inodes_.emplace_back();
      live_dir_.push_back({std::string(name), static_cast<std::uint32_t>(node)});
    }
    handles_[free_handle] = {static_cast<std::uint32_t>(node), true};
    return storage::file_handle{static_cast<std::uint32_t>(free_handle + 1) |
                                (generation_ << 16)};
  }
  result<void> close(storage::file_handle h) noexcept {
    WEFT_TRY(usable());
    WEFT_TRY_ASSIGN(std::size_t index, handle_index(h));
    handles_[index].open = false;
    return ok();
  }
  result<std::size_t> read(storage::file_handle h, std::uint64_t offset,
                           mutable_byte_view out) noexcept {
    WEFT_TRY(usable());
    WEFT_TRY_ASSIGN(std::size_t index, handle_index(h));
    inode& f = inodes_[handles_[index].node];
    ++stats_.reads;
    charge(options_.read_latency_min_ns, options_.read_latency_mean_ns);
    if (offset >= f.live.size() || out.empty()) return std::size_t{0};
    const std::size_t count =
        static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), f.live.size() - offset));
    inject_read_faults(f, offset, count);
    const std::uint64_t first = offset / options_.sector_size_bytes;
    const std::uint64_t last = (offset + count - 1) / options_.sector_size_bytes;
    for (std::uint64_t bad : f.bad_sectors)
      if (bad >= first && bad <= last)
        return error(storage::fs_errc::io_error, "sim::disk::read: latent sector error");
    std::memcpy(out.data(), f.live.data() + offset, count);
    return count;
  }
  result<void> write(storage::file_handle h, std::uint64_t offset, byte_view data) noexcept {
    WEFT_TRY(usable());
    WEFT_TRY_ASSIGN(std::size_t index, handle_index(h));
    inode& f = inodes_[handles_[index].node];
    if (offset + data.size() > options_.capacity_bytes || offset + data.size() < offset)
      return error(storage::fs_errc::no_space, "sim::disk::write");
    ++stats_.writes;
    charge(options_.write_latency_min_ns, options_.write_latency_mean_ns);
    if (data.empty()) return ok();
    std::uint64_t at = offset;
    if (faults_ && chance(random_, options_.misdirect_probability)) {
      // Lands a whole number of sectors away (never before 0): the target stays stale.
      const std::uint64_t shift = options_.sector_size_bytes * (1 + uniform_below(random_, 4));
      at = offset >= shift && chance(random_, 0.5) ? offset - shift : offset + shift;
      ++stats_.misdirected;
    }
    apply(f.live, at, data);
    clear_bad(f, at, data.size());
    f.pending.push_back({at, std::vector<std::uint8_t>(data.begin(), data.end()), false});
    return ok();
  }
  result<void> sync(storage::file_handle h) noexcept {
    WEFT_TRY(usable());
    WEFT_TRY_ASSIGN(std::size_t index, handle_index(h));
    inode& f = inodes_[handles_[index].node];
    ++stats_.syncs;
    charge(options_.sync_latency_min_ns, options_.sync_latency_mean_ns);
    f.durable = f.live;
    f.pending.clear();
    return ok();
  }
  result<std::uint64_t> size(storage::file_handle h) noexcept {
    WEFT_TRY(usable());
    WEFT_TRY_ASSIGN(std::size_t index, handle_index(h));
    return static_cast<std::uint64_t>(inodes_[handles_[index].node].live.size());
  }
  result<void> truncate(storage::file_handle h, std::uint64_t new_size) noexcept {
    WEFT_TRY(usable());
    WEFT_TRY_ASSIGN(std::size_t index, handle_index(h));
    if (new_size > options_.capacity_bytes)
      return error(storage::fs_errc::no_space, "sim::disk::truncate");
    inode& f = inodes_[handles_[index].node];
    f.live.resize(static_cast<std::size_t>(new_size), 0);
    f.pending.push_back({new_size, {}, true});
    return ok();
  }
  result<void> rename(std::string_view from, std::string_view to) noexcept {
    WEFT_TRY(usable());
    if (to.empty() || to.size() > options_.max_name_size_bytes)
      return error(storage::fs_errc::name_too_long, "sim::disk::rename");
    if (find(live_dir_, from) < 0) return error(storage::fs_errc::not_found, "sim::disk::rename");
    if (from == to) return ok();
    erase(live_dir_, to);
    live_dir_[index_of(live_dir_, from)].name.assign(to);
    return ok();
  }
  result<void> remove(std::string_view name) noexcept {
    WEFT_TRY(usable());
    if (find(live_dir_, name) < 0) return error(storage::fs_errc::not_found, "sim::disk::remove");
    erase(live_dir_, name);
    return ok();
  }
  result<void> sync_directory() noexcept {
    WEFT_TRY(usable());
    charge(options_.sync_latency_min_ns, options_.sync_latency_mean_ns);
    durable_dir_ = live_dir_;
    return ok();
  }
  result<void> list(void (*visit)(void*, std::string_view) noexcept, void* context) noexcept {
    WEFT_TRY(usable());
    for (const auto& entry : live_dir_) visit(context, entry.name);
    return ok();
  }

  // ---- faults --------------------------------------------------------------------------
  /// Power loss: volatile state goes, unsynced writes are lost in order from a random
  /// point (the first lost one may be torn at a sector boundary), the directory reverts
  /// to its last sync_directory(). Handles become invalid. Called by world::crash().
  void crash() noexcept {
    if (!up_) return;
    up_ = false;
    ++stats_.crashes;
    ++generation_;
    for (auto& h : handles_) h.open = false;
    for (auto& f : inodes_) settle_after_crash(f);
    live_dir_ = durable_dir_;
  }
  void restart() noexcept { up_ = true; }
  /// Corrupts one stored bit of `name` at `offset` now (a targeted bit-rot fault for tests).
  result<void> flip_bit(std::string_view name, std::uint64_t offset, unsigned bit) noexcept {
    const std::int64_t node = find(live_dir_, name);
    if (node < 0) return error(storage::fs_errc::not_found, "sim::disk::flip_bit");
    inode& f = inodes_[static_cast<std::size_t>(node)];
    if (offset >= f.live.size()) return error(core_errc::out_of_range, "sim::disk::flip_bit");
    f.live[offset] = static_cast<std::uint8_t>(f.live[offset] ^ (1u << (bit & 7u)));
    if (offset < f.durable.size())
      f.durable[offset] = static_cast<std::uint8_t>(f.durable[offset] ^ (1u << (bit & 7u)));
    return ok();
  }

 private:
  struct pending_write {
    std::uint64_t offset;
    std::vector<std::uint8_t> data;
    bool truncate;  // offset is the new size
  };
  struct inode {
    std::vector<std::uint8_t> live;     // what reads see
    std::vector<std::uint8_t> durable;  // what survives a crash
    std::vector<pending_write> pending;  // writes since the last sync, in order
    std::vector<std::uint64_t> bad_sectors;
  };
  struct dir_entry {
    std::string name;
    std::uint32_t node;
  };
  struct handle_slot {
    std::uint32_t node = 0;
    bool open = false;
  };

  result<void> usable() const noexcept {
    if (!status_) return status_.error();
    if (!up_) return error(storage::fs_errc::crashed, "sim::disk");
    return ok();
  }
  result<std::size_t> handle_index(storage::file_handle h) const noexcept {
    const std::uint32_t index = (h.value & 0xffffu);
    if (index == 0 || index > handles_.size() || (h.value >> 16) != (generation_ & 0xffffu) ||
        !handles_[index - 1].open)
      return error(storage::fs_errc::bad_handle, "sim::disk");
    return static_cast<std::size_t>(index - 1);
  }
  static std::int64_t find(const std::vector<dir_entry>& dir, std::string_view name) noexcept {
    for (const auto& e : dir)
      if (e.name == name) return static_cast<std::int64_t>(e.node);
    return -1;
  }
  static std::size_t index_of(const std::vector<dir_entry>& dir, std::string_view name) noexcept {
    for (std::size_t i = 0; i < dir.size(); ++i)
      if (dir[i].name == name) return i;
    return dir.size();
  }
  static void erase(std::vector<dir_entry>& dir, std::string_view name) noexcept {
    const std::size_t i = index_of(dir, name);
    if (i < dir.size()) dir.erase(dir.begin() + static_cast<std::ptrdiff_t>(i));
  }
  static void apply(std::vector<std::uint8_t>& bytes, std::uint64_t offset,
                    byte_view data) noexcept {
    const auto end = static_cast<std::size_t>(offset + data.size());
    if (bytes.size() < end) bytes.resize(end, 0);
    std::memcpy(bytes.data() + offset, data.data(), data.size());
  }
  void clear_bad(inode& f, std::uint64_t offset, std::size_t count) const noexcept {
    const std::uint64_t first = offset / options_.sector_size_bytes;
    const std::uint64_t last = (offset + count - 1) / options_.sector_size_bytes;
    std::erase_if(f.bad_sectors, [&](std::uint64_t s) { return s >= first && s <= last; });
  }
  void charge(std::int64_t minimum, std::int64_t mean) noexcept {
    const auto extra =
        mean > 0 ? static_cast<std::int64_t>(exponential(random_, static_cast<double>(mean))) : 0;
    busy_ns_ = std::max(busy_ns_, world_.now_ns()) + minimum + extra;
  }
  void inject_read_faults(inode& f, std::uint64_t offset, std::size_t count) noexcept {
    if (!faults_) return;
    if (chance(random_, options_.latent_error_probability)) {
      const std::uint64_t sector = (offset + uniform_below(random_, count)) /
                                   options_.sector_size_bytes;
      f.bad_sectors.push_back(sector);
      ++stats_.latent_errors;
    }
    if (chance(random_, options_.bit_rot_probability)) {
      const std::uint64_t at = offset + uniform_below(random_, count);
      const auto mask = static_cast<std::uint8_t>(1u << uniform_below(random_, 8));
      f.live[static_cast<std::size_t>(at)] ^= mask;
      if (at < f.durable.size()) f.durable[static_cast<std::size_t>(at)] ^= mask;
      ++stats_.bit_rots;
    }
  }
  void settle_after_crash(inode& f) noexcept {
    std::vector<std::uint8_t> next = f.durable;
    std::size_t survivors = 0;
    while (survivors < f.pending.size() &&
           (!crash_loss_ || chance(random_, options_.unsynced_survival_probability)))
      ++survivors;
    for (std::size_t i = 0; i < survivors; ++i) {
      const pending_write& w = f.pending[i];
      if (w.truncate) next.resize(static_cast<std::size_t>(w.offset), 0);
      else apply(next, w.offset, w.data);
    }
    if (survivors < f.pending.size()) {
      stats_.lost_writes += f.pending.size() - survivors;
      const pending_write& w = f.pending[survivors];
      if (!w.truncate && w.data.size() > options_.sector_size_bytes &&
          chance(random_, options_.torn_write_probability)) {
        // Torn: a sector-aligned prefix of the first lost write made it.
        const std::uint64_t sectors = (w.data.size() - 1) / options_.sector_size_bytes;
        const std::uint64_t kept =
            options_.sector_size_bytes * (1 + uniform_below(random_, sectors));
        apply(next, w.offset, byte_view(w.data).first(static_cast<std::size_t>(kept)));
        ++stats_.torn;
      }
    }
    f.durable = next;
    f.live = std::move(next);
    f.pending.clear();
  }
  static void on_lifecycle(void* context, node_id n, lifecycle what) noexcept {
    auto* self = static_cast<disk*>(context);
    if (n != self->owner_) return;
    if (what == lifecycle::crashed) self->crash();
    if (what == lifecycle::restarted) self->restart();
  }

  world& world_;
  node_id owner_;
  disk_options options_;
  result<void> status_{};
  xoshiro256 random_{0};
  disk_stats stats_{};
  std::vector<inode> inodes_;
  std::vector<dir_entry> live_dir_;
  std::vector<dir_entry> durable_dir_;
  std::vector<handle_slot> handles_;
  std::int64_t busy_ns_ = 0;
  std::uint32_t generation_ = 0;
  bool up_ = true;
  bool faults_ = false;
  bool crash_loss_ = true;
};
static_assert(storage::file_system<disk>,
              "sim::disk must model storage::file_system; see docs/requirements/file_system.md");

/// Switches disk faults on for a random subset of at most budget.max_faulty_disks disks
/// and off for the rest. Call it periodically to move the faults around.
inline result<void> rotate_disk_faults(std::span<disk* const> disks,
                                       const disk_fault_budget& budget,
                                       xoshiro256& random) noexcept {
  WEFT_TRY(budget.validate(static_cast<std::uint32_t>(disks.size())));
  for (disk* d : disks) d->enable_faults(false);
  const auto count = uniform_below(random, std::uint64_t{budget.max_faulty_disks} + 1);
  for (std::uint64_t i = 0; i < count; ++i) {
    // Pick among the disks still clean; the count never exceeds the budget.
    for (int attempts = 0; attempts < 64; ++attempts) {
      disk* d = disks[static_cast<std::size_t>(uniform_below(random, disks.size()))];
      if (!d->faults_enabled()) {
        d->enable_faults(true);
        break;
      }
    }
  }
  return ok();
}

}  // namespace sim
WEFT_END
