// tests/property/storage_sim_disk.cpp - the file WAL on the simulator's faulty disk
// (weft/sim/disk.hpp). (1) Crashes at any file-system call, lost unsynced writes and torn
// writes: every acknowledged entry survives, byte for byte, across hundreds of crashes.
// (2) Bit rot, latent sector errors and misdirected writes on top: recovery never returns
// wrong bytes; it recovers matching entries or fails with a typed error, and it never
// drops an acknowledged entry without reporting a repair. (3) Snapshot and hard-state files
// crashed at every call of an update: the old or the new version, never a mix.
#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

#include "weft/core/random.hpp"
#include "weft/sim/disk.hpp"
#include "weft/sim/world.hpp"
#include "weft/storage/snapshot.hpp"
#include "weft/storage/stable_file.hpp"
#include "weft/storage/wal.hpp"

namespace st = weft::storage;
namespace sim = weft::sim;

namespace {
/// Forwards to the disk and crashes the node just before call number `crash_at`, so a
/// crash can land inside any multi-call step (segment creation, roll, tail repair).
class crashing_disk {
 public:
  crashing_disk(sim::world& w, sim::disk& d) noexcept : world_(w), disk_(d) {}
  std::uint64_t crash_at = ~std::uint64_t{0};
  std::uint64_t calls = 0;

  auto open(std::string_view n, st::open_mode m) noexcept { tick(); return disk_.open(n, m); }
  auto close(st::file_handle h) noexcept { return disk_.close(h); }
  auto read(st::file_handle h, std::uint64_t o, weft::mutable_byte_view out) noexcept { tick(); return disk_.read(h, o, out); }
  auto write(st::file_handle h, std::uint64_t o, weft::byte_view d) noexcept { tick(); return disk_.write(h, o, d); }
  auto sync(st::file_handle h) noexcept { tick(); return disk_.sync(h); }
  auto size(st::file_handle h) noexcept { return disk_.size(h); }
  auto truncate(st::file_handle h, std::uint64_t n) noexcept { tick(); return disk_.truncate(h, n); }
  auto rename(std::string_view a, std::string_view b) noexcept { tick(); return disk_.rename(a, b); }
  auto remove(std::string_view n) noexcept { tick(); return disk_.remove(n); }
  auto sync_directory() noexcept { tick(); return disk_.sync_directory(); }
  auto list(void (*v)(void*, std::string_view) noexcept, void* c) noexcept { return disk_.list(v, c); }

 private:
  void tick() noexcept {
    if (++calls == crash_at) (void)world_.crash(0);
  }
  sim::world& world_;
  sim::disk& disk_;
};
static_assert(st::file_system<crashing_disk>);

st::wal_options options() {
  st::wal_options o;
  o.segment_size_bytes = 8192;
  o.max_record_size_bytes = 1500;
  o.write_buffer_size_bytes = 4096;
  o.max_entries = 4096;
  o.max_segments = 48;
  return o;
}

std::string payload_of(std::uint64_t index, std::uint64_t incarnation) {
  weft::xoshiro256 rng(index * 7919 + incarnation * 104729);
  std::string p(static_cast<std::size_t>(rng.next_u64() % 1400), '\0');
  for (char& c : p) c = static_cast<char>(rng.next_u64());
  return p;
}

struct model {
  std::vector<std::string> written{""};  // written[i]: the latest bytes appended at index i
  std::uint64_t acked_last = 0;          // highest index a sync() acknowledged
  std::uint64_t first = 1;               // the WAL's first index at the last check
};

struct check_result {
  bool opened = false;
  bool bytes_match = true;
  bool read_failed = false;
  std::uint64_t last = 0;
  weft::error failure{};
};

check_result recover_and_check(crashing_disk& fs, model& m, st::recovery_report& report) {
  check_result out;
  st::wal<crashing_disk> log(fs, options());
  auto opened = log.open(report);
  if (!opened) {
    out.failure = opened.error();
    return out;
  }
  out.opened = true;
  out.last = log.last_index();
  struct ctx {
    model* m;
    bool ok = true;
  } c{&m};
  auto read = log.read_range(log.first_index(), log.last_index() + 1,
                             [](void* p, const st::log_entry_view& e) noexcept {
                               auto* self = static_cast<ctx*>(p);
                               if (e.index >= self->m->written.size() ||
                                   self->m->written[e.index] != weft::as_chars(e.payload))
                                 self->ok = false;
                               return true;
                             },
                             &c);
  if (!read) {
    out.read_failed = true;
    out.failure = read.error();
  }
  out.bytes_match = c.ok;
  m.first = log.first_index();
  return out;
}

// One incarnation: open, then append batches (one sync each) until the scheduled crash.
void run_incarnation(crashing_disk& fs, model& m, std::uint64_t incarnation,
                     weft::xoshiro256& rng) {
  st::wal<crashing_disk> log(fs, options());
  st::recovery_report report;
  if (!log.open(report)) return;  // crashed during recovery itself
  for (int batch = 0; batch < 40; ++batch) {
    const std::uint64_t count = 1 + rng.next_u64() % 8;
    for (std::uint64_t k = 0; k < count; ++k) {
      const std::uint64_t i = log.last_index() + 1;
      const std::string p = payload_of(i, incarnation);
      if (!log.append(i, incarnation, weft::as_bytes(p))) return;
      if (m.written.size() <= i) m.written.resize(i + 1);
      m.written[i] = p;
    }
    auto durable = log.sync();
    if (!durable) return;
    m.acked_last = durable->last_index;
    if (rng.next_u64() % 10 == 0 && log.last_index() > 40)  // keep the log bounded
      if (!log.compact_prefix(log.last_index() - 30)) return;
  }
}
}  // namespace

TEST_CASE("wal on sim::disk: crashes, lost and torn writes lose nothing acknowledged",
          "[storage][sim]") {
  std::uint64_t crashes = 0, torn_repairs = 0, torn_writes = 0, lost_writes = 0;
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    sim::world w({.seed = seed, .nodes = 1});
    sim::disk d(w, 0, {.torn_write_probability = 0.7, .unsynced_survival_probability = 0.5});
    REQUIRE(d.status());
    crashing_disk fs(w, d);
    model m;
    weft::xoshiro256 rng(seed * 31);
    for (std::uint64_t incarnation = 1; incarnation <= 25; ++incarnation) {
      fs.calls = 0;
      fs.crash_at = 1 + rng.next_u64() % 400;
      run_incarnation(fs, m, incarnation, rng);
      (void)w.crash(0);  // if the scheduled crash did not come, crash now
      REQUIRE(w.restart(0));
      ++crashes;
      fs.crash_at = ~std::uint64_t{0};
      st::recovery_report report;
      const check_result r = recover_and_check(fs, m, report);
      INFO("seed " << seed << " incarnation " << incarnation << " file " << report.file_name()
                   << " offset " << report.offset << " reason " << report.reason);
      if (!r.opened) FAIL("recovery failed: " << r.failure.message() << " at " << r.failure.where());
      REQUIRE_FALSE(r.read_failed);
      REQUIRE(r.bytes_match);
      REQUIRE(r.last >= m.acked_last);
      m.written.resize(r.last + 1);  // entries past the recovered end were never durable
      torn_repairs += report.torn_tails_repaired;
    }
    torn_writes += d.stats().torn;
    lost_writes += d.stats().lost_writes;
  }
  INFO("crashes " << crashes << " torn writes " << torn_writes << " lost writes " << lost_writes
                  << " torn tails repaired " << torn_repairs);
  CHECK(torn_writes > 20);  // the faults really happened
  CHECK(lost_writes > 100);
  CHECK(torn_repairs > 5);
}

TEST_CASE("wal on sim::disk: bit rot, latent errors and misdirected writes never yield wrong bytes",
          "[storage][sim]") {
  std::uint64_t hard = 0, clean = 0, reported_losses = 0;
  for (std::uint64_t seed = 100; seed < 160; ++seed) {
    sim::world w({.seed = seed, .nodes = 1});
    sim::disk d(w, 0, {.torn_write_probability = 0.5, .unsynced_survival_probability = 0.5});
    REQUIRE(d.status());
    d.set_error_probability(0.002);
    d.enable_faults(true);
    crashing_disk fs(w, d);
    model m;
    weft::xoshiro256 rng(seed);
    for (std::uint64_t incarnation = 1; incarnation <= 15; ++incarnation) {
      fs.calls = 0;
      fs.crash_at = 1 + rng.next_u64() % 400;
      run_incarnation(fs, m, incarnation, rng);
      (void)w.crash(0);
      REQUIRE(w.restart(0));
      fs.crash_at = ~std::uint64_t{0};
      st::recovery_report report;
      const check_result r = recover_and_check(fs, m, report);
      INFO("seed " << seed << " incarnation " << incarnation << " file " << report.file_name()
                   << " offset " << report.offset << " reason " << report.reason << " removed "
                   << report.torn_segments_removed << " last " << r.last << " acked " << m.acked_last);
      if (!r.opened || r.read_failed) {
        const auto domain = r.failure.domain().name;
        REQUIRE((domain == "storage" || domain == "fs"));
        ++hard;
        // A refusal must trace back to an injected fault, never to the WAL's own logic.
        REQUIRE(d.stats().bit_rots + d.stats().latent_errors + d.stats().misdirected > 0);
        break;  // the disk holds damage the WAL refuses to paper over: stop this seed
      }
      REQUIRE(r.bytes_match);  // never wrong data
      if (r.last < m.acked_last) {  // an acknowledged entry is gone: it must be reported
        REQUIRE(report.torn_tails_repaired == 1);
        ++reported_losses;
        m.acked_last = r.last;
      }
      m.written.resize(r.last + 1);
      ++clean;
    }
  }
  INFO("hard errors " << hard << " clean recoveries " << clean << " reported losses "
                      << reported_losses);
  CHECK(hard > 0);
  CHECK(clean > 100);
}

TEST_CASE("snapshot and hard-state files on sim::disk: a crash at any call leaves old or new, never a mix",
          "[storage][sim]") {
  std::uint64_t saw_old = 0, saw_new = 0;
  for (std::uint64_t crash_at = 1; crash_at <= 60; ++crash_at) {
    for (std::uint64_t seed = 1; seed <= 4; ++seed) {
      sim::world w({.seed = seed * 1000 + crash_at, .nodes = 1});
      sim::disk d(w, 0, {.torn_write_probability = 0.7, .unsynced_survival_probability = 0.5});
      REQUIRE(d.status());
      crashing_disk fs(w, d);
      const std::string old_bytes(3000, 'o');
      std::string new_bytes;
      for (int i = 0; i < 3000; ++i) new_bytes.push_back(static_cast<char>('a' + i % 26));
      {
        st::file_snapshot_store<crashing_disk> snaps(fs);
        REQUIRE(snaps.open());
        REQUIRE(snaps.begin(10, 2));
        REQUIRE(snaps.write(weft::as_bytes(old_bytes)));
        REQUIRE(snaps.install());
        st::file_stable_store<crashing_disk> state(fs);
        REQUIRE(state.open());
        REQUIRE(state.save({2, 1, 10}));
      }
      bool snapshot_acked = false;
      bool state_acked = false;
      fs.calls = 0;
      fs.crash_at = crash_at;
      {
        st::file_snapshot_store<crashing_disk> snaps(fs);
        st::file_stable_store<crashing_disk> state(fs);
        if (snaps.open() && snaps.begin(20, 3)) {
          bool wrote = true;
          for (std::size_t at = 0; at < new_bytes.size() && wrote; at += 700)
            wrote = static_cast<bool>(snaps.write(weft::as_bytes(std::string_view(new_bytes).substr(at, 700))));
          snapshot_acked = wrote && static_cast<bool>(snaps.install());
        }
        if (state.open()) state_acked = static_cast<bool>(state.save({3, 4, 20}));
      }
      (void)w.crash(0);
      REQUIRE(w.restart(0));
      fs.crash_at = ~std::uint64_t{0};
      INFO("crash_at " << crash_at << " seed " << seed);
      st::file_snapshot_store<crashing_disk> snaps(fs);
      REQUIRE(snaps.open());
      const st::snapshot_meta meta = *snaps.latest();
      REQUIRE((meta.index == 10 || meta.index == 20));
      if (snapshot_acked) REQUIRE(meta.index == 20);
      std::string got(static_cast<std::size_t>(meta.size_bytes), '\0');
      auto n = snaps.read(0, weft::mutable_byte_view(reinterpret_cast<std::uint8_t*>(got.data()), got.size()));
      REQUIRE(n);
      REQUIRE(got == (meta.index == 20 ? new_bytes : old_bytes));
      (meta.index == 20 ? saw_new : saw_old) += 1;
      st::file_stable_store<crashing_disk> state(fs);
      REQUIRE(state.open());
      const st::hard_state hs = *state.load();
      REQUIRE((hs == st::hard_state{2, 1, 10} || hs == st::hard_state{3, 4, 20}));
      if (state_acked) REQUIRE(hs == st::hard_state{3, 4, 20});
    }
  }
  CHECK(saw_old > 10);  // crashes landed both before and after the install's durability point
  CHECK(saw_new > 10);
}
