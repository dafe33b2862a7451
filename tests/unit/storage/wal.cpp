// tests/unit/storage/wal.cpp - the file WAL on an in-memory file system: round trips,
// segment rolls, truncation, compaction, recovery from foreign, future and damaged files,
// and failed writes that are never acknowledged.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>
#include <vector>

#include "test_fs.hpp"
#include "weft/core/random.hpp"
#include "weft/storage/memory.hpp"
#include "weft/storage/posix_file_system.hpp"
#include "weft/storage/wal.hpp"

namespace st = weft::storage;
using weft_test::mem_fs;

namespace {
struct entry {
  std::uint64_t index, term;
  std::string payload;
  bool operator==(const entry&) const = default;
};

template <class Log>
std::vector<entry> contents(Log& log) {
  std::vector<entry> out;
  auto r = log.read_range(log.first_index(), log.last_index() + 1,
                          [](void* c, const st::log_entry_view& e) noexcept {
                            static_cast<std::vector<entry>*>(c)->push_back(
                                {e.index, e.term, std::string(weft::as_chars(e.payload))});
                            return true;
                          },
                          &out);
  REQUIRE(r);
  return out;
}

st::wal_options small_options() {
  st::wal_options o;
  o.segment_size_bytes = 4096;
  o.max_record_size_bytes = 1024;
  o.write_buffer_size_bytes = 2048;
  o.max_entries = 4096;
  o.max_segments = 256;
  return o;
}

std::string payload_for(std::uint64_t i) { return "entry-" + std::to_string(i * 7919 % 1000) + std::string(i % 50, 'x'); }
}  // namespace

TEST_CASE("wal: append, sync, reopen round-trips every entry", "[storage][wal]") {
  mem_fs fs;
  std::vector<entry> expected;
  std::uint64_t markers = 0;
  {
    st::wal<mem_fs> log(fs, small_options());
    st::recovery_report report;
    REQUIRE(log.open(report));
    CHECK(report.reason == "new log");
    for (std::uint64_t i = 1; i <= 200; ++i) {
      const std::string p = payload_for(i);
      auto pos = log.append(i, 1 + i / 64, weft::as_bytes(p));
      REQUIRE(pos);
      CHECK(pos->last_index == i);
      expected.push_back({i, 1 + i / 64, p});
      if (i % 16 == 0) {
        auto d = log.sync();
        REQUIRE(d);
        CHECK(d->sequence == pos->sequence);
      }
    }
    REQUIRE(log.sync());
    CHECK(contents(log) == expected);
    CHECK(log.stats().segments_created > 2);  // the small segments rolled
    markers = log.stats().sync_markers;
    CHECK(markers > 0);
    REQUIRE(log.close());
  }
  st::wal<mem_fs> again(fs, small_options());
  st::recovery_report report;
  REQUIRE(again.open(report));
  CHECK(report.reason == "clean");
  CHECK(report.torn_tails_repaired == 0);
  CHECK(report.records == 200 + markers);  // markers in the sealed segments and at the end
  CHECK(again.last_index() == 200);
  CHECK(contents(again) == expected);
  REQUIRE(again.term_at(130));
  CHECK(*again.term_at(130) == 1 + 130 / 64);
  CHECK(again.append(202, 9, weft::as_bytes("gap")).error() == st::storage_errc::index_mismatch);
}

TEST_CASE("wal: group commit issues one sync per batch", "[storage][wal]") {
  mem_fs fs;
  st::wal_options o = small_options();
  o.segment_size_bytes = 1 << 20;
  o.write_buffer_size_bytes = 1 << 16;
  st::wal<mem_fs> log(fs, o);
  st::recovery_report report;
  REQUIRE(log.open(report));
  const int before = fs.syncs;
  for (std::uint64_t i = 1; i <= 256; ++i) REQUIRE(log.append(i, 1, weft::as_bytes("abc")));
  CHECK(fs.syncs == before);  // nothing synced, nothing durable yet
  CHECK(log.durable().sequence == 0);
  REQUIRE(log.sync());
  CHECK(fs.syncs == before + 1);
  CHECK(log.durable().last_index == 256);
}

TEST_CASE("wal: agrees with the memory model under random operations and reopens", "[storage][wal]") {
  for (std::uint64_t seed = 1; seed <= 12; ++seed) {
    weft::xoshiro256 rng(seed);
    mem_fs fs;
    st::memory_log_store model;
    auto log = std::make_unique<st::wal<mem_fs>>(fs, small_options());
    st::recovery_report report;
    REQUIRE(log->open(report));
    for (int step = 0; step < 600; ++step) {
      const auto dice = rng.next_u64() % 100;
      if (dice < 70) {
        const std::uint64_t i = model.last_index() + 1;
        const std::string p(static_cast<std::size_t>(rng.next_u64() % 300), static_cast<char>('a' + i % 26));
        const std::uint64_t term = 1 + static_cast<std::uint64_t>(step / 50);
        REQUIRE(model.append(i, term, weft::as_bytes(p)));
        REQUIRE(log->append(i, term, weft::as_bytes(p)));
      } else if (dice < 80 && model.last_index() >= model.first_index()) {
        const auto span = model.last_index() - model.first_index() + 1;
        const auto from = model.last_index() + 1 - rng.next_u64() % std::min<std::uint64_t>(span, 10);
        REQUIRE(model.truncate_suffix(from));
        REQUIRE(log->truncate_suffix(from));
      } else if (dice < 85) {
        const auto to = model.first_index() + rng.next_u64() % 40;
        REQUIRE(model.compact_prefix(to));
        REQUIRE(log->compact_prefix(to));
      } else if (dice < 95) {
        REQUIRE(log->sync());
      } else {  // clean restart
        REQUIRE(log->close());
        log = std::make_unique<st::wal<mem_fs>>(fs, small_options());
        REQUIRE(log->open(report));
        CHECK(report.torn_tails_repaired == 0);
      }
      REQUIRE(log->last_index() == model.last_index());
      // The WAL may keep more below first_index after a restart only if it kept segments;
      // it must never lose entries the model still has.
      REQUIRE(log->first_index() <= std::max(model.first_index(), log->first_index()));
    }
    REQUIRE(log->close());
    st::wal<mem_fs> last(fs, small_options());
    REQUIRE(last.open(report));
    CHECK(last.last_index() == model.last_index());
    CHECK(last.first_index() == model.first_index());
    std::vector<entry> want = contents(model);
    CHECK(contents(last) == want);
  }
}

TEST_CASE("wal: compaction removes dead segments and survives reopen", "[storage][wal]") {
  mem_fs fs;
  st::wal<mem_fs> log(fs, small_options());
  st::recovery_report report;
  REQUIRE(log.open(report));
  const std::string p(200, 'p');
  for (std::uint64_t i = 1; i <= 100; ++i) REQUIRE(log.append(i, 2, weft::as_bytes(p)));
  REQUIRE(log.sync());
  const auto files_before = fs.files.size();
  REQUIRE(log.compact_prefix(90));
  CHECK(fs.files.size() < files_before);
  CHECK(log.first_index() == 90);
  CHECK(log.term_at(89).error() == st::storage_errc::out_of_range);
  REQUIRE(log.compact_prefix(500));  // a snapshot beyond the log
  CHECK(log.first_index() == 500);
  CHECK(log.last_index() == 499);
  REQUIRE(log.append(500, 3, weft::as_bytes("after snapshot")));
  REQUIRE(log.close());
  st::wal<mem_fs> again(fs, small_options());
  REQUIRE(again.open(report));
  CHECK(again.first_index() == 500);
  CHECK(again.last_index() == 500);
  CHECK(contents(again) == std::vector<entry>{{500, 3, "after snapshot"}});
}

namespace {
std::string first_segment(const mem_fs& fs) {
  for (const auto& [name, data] : fs.files)
    if (name.rfind("wal-", 0) == 0) return name;
  return {};
}
void make_log(mem_fs& fs, std::uint64_t count) {
  st::wal<mem_fs> log(fs, small_options());
  st::recovery_report report;
  REQUIRE(log.open(report));
  for (std::uint64_t i = 1; i <= count; ++i)
    REQUIRE(log.append(i, 1, weft::as_bytes(payload_for(i))));
  REQUIRE(log.close());
}
}  // namespace

TEST_CASE("wal: foreign, future and damaged segment headers are refused with typed errors", "[storage][wal]") {
  st::recovery_report report;
  SECTION("unknown magic") {
    mem_fs fs;
    make_log(fs, 3);
    fs.files[first_segment(fs)][0] = 'X';
    st::wal<mem_fs> log(fs, small_options());
    CHECK(log.open(report).error() == st::storage_errc::bad_magic);
    CHECK(report.file_name() == first_segment(fs));
    CHECK_FALSE(log.is_open());
  }
  SECTION("future version") {
    mem_fs fs;
    make_log(fs, 3);
    fs.files[first_segment(fs)][8] = 3;
    st::wal<mem_fs> log(fs, small_options());
    CHECK(log.open(report).error() == st::storage_errc::unsupported_version);
  }
  SECTION("header checksum") {
    mem_fs fs;
    make_log(fs, 300);  // several segments
    fs.files[first_segment(fs)][20] ^= 1;
    st::wal<mem_fs> log(fs, small_options());
    CHECK(log.open(report).error() == st::storage_errc::corrupt_header);
    CHECK(report.offset == 0);
  }
  SECTION("a missing middle segment") {
    mem_fs fs;
    make_log(fs, 300);
    REQUIRE(fs.files.size() > 3);
    fs.files.erase(std::next(fs.files.begin())->first);
    st::wal<mem_fs> log(fs, small_options());
    CHECK(log.open(report).error() == st::storage_errc::corrupt_sequence);
  }
  SECTION("a foreign file with a segment's name") {
    mem_fs fs;
    fs.files["wal-0000000000000000.log"] = std::vector<std::uint8_t>(100, 0x41);
    st::wal<mem_fs> log(fs, small_options());
    CHECK(log.open(report).error() == st::storage_errc::bad_magic);
  }
}

TEST_CASE("wal: a zeroed header of the last segment with records after it is a hard error",
          "[storage][wal]") {
  // Not an unfinished segment creation (which is removed): the records after the header
  // may have been acknowledged, so recovery refuses instead of dropping them.
  mem_fs fs;
  make_log(fs, 300);
  std::string last = fs.files.rbegin()->first;
  std::fill(fs.files[last].begin(), fs.files[last].begin() + 64, std::uint8_t{0});
  st::wal<mem_fs> log(fs, small_options());
  st::recovery_report report;
  auto opened = log.open(report);
  REQUIRE_FALSE(opened);
  CHECK(opened.error() == st::storage_errc::corrupt_header);
  CHECK(report.file_name() == last);
  CHECK(fs.files.count(last) == 1);  // nothing removed
}

TEST_CASE("wal: damage in a sealed segment is a hard error naming file and offset", "[storage][wal]") {
  mem_fs fs;
  make_log(fs, 300);
  auto& seg = fs.files[first_segment(fs)];
  seg[64 + 48 + 2] ^= 0x10;  // inside the first record's payload
  st::wal<mem_fs> log(fs, small_options());
  st::recovery_report report;
  auto opened = log.open(report);
  REQUIRE_FALSE(opened);
  CHECK(opened.error() == st::storage_errc::corrupt_record);
  CHECK(report.file_name() == first_segment(fs));
  CHECK(report.offset == 64);
}

TEST_CASE("wal: a torn tail is cut off and reported; garbage after the tail too", "[storage][wal]") {
  mem_fs fs;
  make_log(fs, 20);  // one segment
  auto& seg = fs.files[first_segment(fs)];
  // Find the end of the records: the first all-zero 48-byte header.
  std::size_t end = 64;
  while (true) {
    bool zero = true;
    for (std::size_t k = 0; k < 48; ++k) zero = zero && seg[end + k] == 0;
    if (zero) break;
    const std::uint32_t len = weft::load_le<std::uint32_t>(seg.data() + end + 4);
    end += st::detail::record_size(len);
  }
  seg[end + 5] = 0x77;  // junk where the next record would go: a torn write
  seg[end + 300] = 0x01;
  st::wal<mem_fs> log(fs, small_options());
  st::recovery_report report;
  REQUIRE(log.open(report));
  CHECK(report.torn_tails_repaired == 1);
  CHECK(report.offset == end);
  CHECK(report.torn_bytes_discarded >= 296);
  CHECK(log.last_index() == 20);
  CHECK(log.stats().torn_tails_repaired == 1);
  REQUIRE(log.close());
  st::wal<mem_fs> again(fs, small_options());
  REQUIRE(again.open(report));
  CHECK(report.torn_tails_repaired == 0);  // the repair was made durable
}

TEST_CASE("wal: damage followed by a later synced batch is a hard error", "[storage][wal]") {
  mem_fs fs;
  {
    st::wal<mem_fs> log(fs, small_options());
    st::recovery_report report;
    REQUIRE(log.open(report));
    REQUIRE(log.append(1, 1, weft::as_bytes("first")));
    REQUIRE(log.sync());
    REQUIRE(log.append(2, 1, weft::as_bytes("second")));
    REQUIRE(log.sync());
    REQUIRE(log.close());
  }
  fs.files[first_segment(fs)][64 + 48] ^= 0x01;  // record 1's payload
  st::wal<mem_fs> log(fs, small_options());
  st::recovery_report report;
  CHECK(log.open(report).error() == st::storage_errc::corrupt_record);
  CHECK(report.offset == 64);
}

namespace {
struct record_at {
  std::size_t offset;
  st::detail::record_type type;
};
// The records of a segment image, walked by their (trusted) lengths up to the first zero word.
std::vector<record_at> walk_records(const std::vector<std::uint8_t>& seg) {
  std::vector<record_at> out;
  for (std::size_t at = 64; at + 48 <= seg.size() && weft::load_le<std::uint64_t>(seg.data() + at) != 0;) {
    out.push_back({at, static_cast<st::detail::record_type>(seg[at + 8])});
    at += st::detail::record_size(weft::load_le<std::uint32_t>(seg.data() + at + 4));
  }
  return out;
}

// Writes entries 1..8 in two synced batches and closes; returns the last entry's offset.
std::size_t two_batches_closed(mem_fs& fs, const st::wal_options& o) {
  st::wal<mem_fs> log(fs, o);
  st::recovery_report report;
  REQUIRE(log.open(report));
  for (std::uint64_t i = 1; i <= 8; ++i) {
    REQUIRE(log.append(i, 1, weft::as_bytes("payload-" + std::to_string(i))));
    if (i % 4 == 0) REQUIRE(log.sync());
  }
  REQUIRE(log.close());
  std::size_t last_entry = 0;
  for (const record_at& r : walk_records(fs.files[first_segment(fs)]))
    if (r.type == st::detail::record_type::entry) last_entry = r.offset;
  return last_entry;
}
}  // namespace

TEST_CASE("wal: damage to the last synced batch is a hard error once its sync marker is on disk",
          "[storage][wal]") {
  st::recovery_report report;
  SECTION("a sync marker follows each synced batch; a clean close syncs the last one") {
    mem_fs fs;
    two_batches_closed(fs, small_options());
    const auto records = walk_records(fs.files[first_segment(fs)]);
    REQUIRE(records.size() == 10);  // 4 entries, marker, 4 entries, marker
    CHECK(records[4].type == st::detail::record_type::sync_marker);
    CHECK(records.back().type == st::detail::record_type::sync_marker);
    CHECK(weft::load_le<std::uint64_t>(fs.files[first_segment(fs)].data() + records.back().offset + 24) == 9);
  }
  SECTION("bit rot in the last batch, marker present: corrupt_record naming the offset") {
    mem_fs fs;
    const std::size_t last = two_batches_closed(fs, small_options());
    fs.files[first_segment(fs)][last + 48 + 1] ^= 0x04;
    st::wal<mem_fs> log(fs, small_options());
    CHECK(log.open(report).error() == st::storage_errc::corrupt_record);
    CHECK(report.offset == last);
  }
  SECTION("without markers the same damage is cut off, reported as possible acknowledged loss") {
    mem_fs fs;
    st::wal_options o = small_options();
    o.sync_markers = false;
    const std::size_t last = two_batches_closed(fs, o);
    fs.files[first_segment(fs)][last + 48 + 1] ^= 0x04;
    st::wal<mem_fs> log(fs, o);
    REQUIRE(log.open(report));
    CHECK(report.torn_tails_repaired == 1);
    CHECK(report.possible_acknowledged_loss == 1);
    CHECK(log.stats().possible_acknowledged_loss == 1);
    CHECK(report.offset == last);
    CHECK(log.last_index() == 7);
  }
  SECTION("a record torn at a sector boundary (zeros after) is a plain torn tail") {
    mem_fs fs;
    st::wal_options o = small_options();
    o.sync_markers = false;
    const std::size_t last = two_batches_closed(fs, o);
    auto& seg = fs.files[first_segment(fs)];
    for (std::size_t k = last + 56; k < last + 64; ++k) seg[k] = 0;  // the payload's second word
    st::wal<mem_fs> log(fs, o);
    REQUIRE(log.open(report));
    CHECK(report.torn_tails_repaired == 1);
    CHECK(report.possible_acknowledged_loss == 0);
    CHECK(log.last_index() == 7);
  }
  SECTION("sync() with nothing new writes no second marker and issues no sync") {
    mem_fs fs;
    st::wal<mem_fs> log(fs, small_options());
    REQUIRE(log.open(report));
    REQUIRE(log.append(1, 1, weft::as_bytes("one")));
    REQUIRE(log.sync());
    const int syncs = fs.syncs;
    const auto markers = log.stats().sync_markers;
    REQUIRE(log.sync());
    CHECK(fs.syncs == syncs);
    CHECK(log.stats().sync_markers == markers);
    CHECK(log.durable().last_index == 1);
  }
}

TEST_CASE("wal: sync policies every_append and never", "[storage][wal]") {
  st::recovery_report report;
  SECTION("every_append: each append returns durable, one sync each") {
    mem_fs fs;
    st::wal_options o = small_options();
    o.sync = st::sync_policy::every_append;
    st::wal<mem_fs> log(fs, o);
    REQUIRE(log.open(report));
    const int before = fs.syncs;
    for (std::uint64_t i = 1; i <= 5; ++i) {
      auto pos = log.append(i, 1, weft::as_bytes("x"));
      REQUIRE(pos);
      CHECK(log.durable().sequence >= pos->sequence);
    }
    CHECK(fs.syncs == before + 5);
  }
  SECTION("never: no sync at all, and no sync markers") {
    mem_fs fs;
    st::wal_options o = small_options();
    o.sync = st::sync_policy::never;
    st::wal<mem_fs> log(fs, o);
    REQUIRE(log.open(report));
    const int before = fs.syncs;
    for (std::uint64_t i = 1; i <= 5; ++i) REQUIRE(log.append(i, 1, weft::as_bytes("x")));
    REQUIRE(log.sync());
    REQUIRE(log.close());
    CHECK(fs.syncs == before);
    CHECK(log.stats().sync_markers == 0);
    st::wal<mem_fs> again(fs, o);
    REQUIRE(again.open(report));  // handed to the (in-memory) OS: a process crash keeps it
    CHECK(again.last_index() == 5);
  }
}

TEST_CASE("wal: a failed write or sync is never acknowledged", "[storage][wal]") {
  mem_fs inner;
  weft_test::faulty_fs<mem_fs> fs(inner);
  st::wal_options o = small_options();
  st::wal<weft_test::faulty_fs<mem_fs>> log(fs, o);
  st::recovery_report report;
  REQUIRE(log.open(report));
  REQUIRE(log.append(1, 1, weft::as_bytes("durable")));
  REQUIRE(log.sync());
  SECTION("ENOSPC") {
    fs.write_budget = 0;
    REQUIRE(log.append(2, 1, weft::as_bytes("lost")));  // buffered only
    auto synced = log.sync();
    REQUIRE_FALSE(synced);
    CHECK(synced.error() == st::fs_errc::no_space);
    CHECK(log.durable().last_index == 1);
    CHECK(log.append(3, 1, weft::as_bytes("x")).error() == st::storage_errc::poisoned);
    CHECK(log.sync().error() == st::storage_errc::poisoned);
  }
  SECTION("ENOSPC while creating a segment") {
    fs.write_budget = 1;
    const std::string big(1000, 'b');
    weft::result<st::log_position> last = st::log_position{};
    std::uint64_t i = 2;
    for (; i < 20 && last; ++i) last = log.append(i, 1, weft::as_bytes(big));
    REQUIRE_FALSE(last);
    CHECK(last.error() == st::fs_errc::no_space);
    CHECK(log.durable().last_index < i - 1);
  }
  SECTION("fdatasync failure") {
    fs.fail_syncs = true;
    REQUIRE(log.append(2, 1, weft::as_bytes("unsure")));
    CHECK(log.sync().error() == st::fs_errc::io_error);
    CHECK(log.durable().last_index == 1);
    CHECK(log.append(3, 1, weft::as_bytes("x")).error() == st::storage_errc::poisoned);
  }
  SECTION("read errors on open") {
    REQUIRE(log.close());
    fs.fail_reads = true;
    st::wal<weft_test::faulty_fs<mem_fs>> again(fs, o);
    CHECK(again.open(report).error() == st::fs_errc::io_error);
  }
}

TEST_CASE("wal: options validate and limits refuse", "[storage][wal]") {
  st::wal_options o = small_options();
  o.write_buffer_size_bytes = 100;
  CHECK(o.validate().error() == weft::core_errc::invalid_options);
  mem_fs fs;
  st::wal<mem_fs> log(fs, small_options());
  st::recovery_report report;
  CHECK(log.append(1, 1, {}).error() == st::storage_errc::not_open);
  REQUIRE(log.open(report));
  const std::string big(1025, 'b');
  CHECK(log.append(1, 1, weft::as_bytes(big)).error() == st::storage_errc::record_too_large);
  CHECK(log.truncate_suffix(5).error() == st::storage_errc::out_of_range);
}

TEST_CASE("wal: read-only verification reports without repairing or creating", "[storage][wal]") {
  st::wal_options ro = small_options();
  ro.read_only = true;
  SECTION("an empty directory stays empty") {
    mem_fs fs;
    st::wal<mem_fs> log(fs, ro);
    st::recovery_report report;
    REQUIRE(log.open(report));
    CHECK(fs.files.empty());
    CHECK(log.last_index() == 0);
    CHECK(log.append(1, 1, weft::as_bytes("x")).error() == st::storage_errc::read_only);
    REQUIRE(log.close());
  }
  SECTION("a torn tail is reported and left in place") {
    mem_fs fs;
    make_log(fs, 20);
    auto& seg = fs.files[first_segment(fs)];
    std::size_t end = 64;
    while (weft::load_le<std::uint64_t>(seg.data() + end + 16) != 0)
      end += st::detail::record_size(weft::load_le<std::uint32_t>(seg.data() + end + 4));
    seg[end + 9] = 0x42;
    const auto before = fs.files;
    st::wal<mem_fs> log(fs, ro);
    st::recovery_report report;
    REQUIRE(log.open(report));
    CHECK(report.torn_tails_repaired == 1);
    CHECK(report.offset == end);
    CHECK(report.file_name() == first_segment(fs));
    CHECK(log.last_index() == 20);
    CHECK(fs.files == before);  // nothing written
    CHECK(log.truncate_suffix(3).error() == st::storage_errc::read_only);
    CHECK(log.sync().error() == st::storage_errc::read_only);
  }
  SECTION("an unfinished segment is reported by name and not removed") {
    mem_fs fs;
    make_log(fs, 5);
    fs.files["wal-0000000000000001.log"] = std::vector<std::uint8_t>(4096, 0);
    st::wal<mem_fs> log(fs, ro);
    st::recovery_report report;
    REQUIRE(log.open(report));
    CHECK(report.torn_segments_removed == 1);
    CHECK(report.file_name() == "wal-0000000000000001.log");
    CHECK(fs.files.count("wal-0000000000000001.log") == 1);
    CHECK(log.last_index() == 5);
  }
}

TEST_CASE("wal: more segments than the file system may open at once", "[storage][wal]") {
  // Sealed segments are closed; reads reopen them through a small LRU of handles, so a log
  // of 60+ segments works on a file system limited to 6 open files (recovery included).
  char pattern[] = "/tmp/weft-wal-handles-XXXXXX";
  REQUIRE(::mkdtemp(pattern) != nullptr);
  st::posix_file_system_options fs_options;
  fs_options.max_open_files = 6;
  st::wal_options o = small_options();
  o.max_open_read_segments = 3;
  std::vector<entry> expected;
  {
    st::posix_file_system fs(fs_options);
    REQUIRE(fs.attach(pattern));
    st::wal<st::posix_file_system> log(fs, o);
    st::recovery_report report;
    REQUIRE(log.open(report));
    for (std::uint64_t i = 1; i <= 3000; ++i) {
      expected.push_back({i, 1 + i / 100, payload_for(i)});
      REQUIRE(log.append(i, 1 + i / 100, weft::as_bytes(expected.back().payload)));
      if (i % 16 == 0) REQUIRE(log.sync());
    }
    REQUIRE(log.stats().segments_created > 10 * fs_options.max_open_files);
    CHECK(contents(log) == expected);
    REQUIRE(log.close());
  }
  st::posix_file_system fs(fs_options);
  REQUIRE(fs.attach(pattern));
  st::wal<st::posix_file_system> log(fs, o);
  st::recovery_report report;
  REQUIRE(log.open(report));
  CHECK(report.segments > 60);
  CHECK(contents(log) == expected);
  // Scattered single reads cycle through more segments than the handle cache holds.
  weft::xoshiro256 random(5);
  for (int k = 0; k < 300; ++k) {
    const std::uint64_t i = 1 + weft::uniform_below(random, expected.size());
    std::string got;
    REQUIRE(log.read_range(i, i + 1,
                           [](void* c, const st::log_entry_view& e) noexcept {
                             *static_cast<std::string*>(c) = std::string(weft::as_chars(e.payload));
                             return true;
                           },
                           &got));
    REQUIRE(got == expected[i - 1].payload);
  }
  REQUIRE(log.append(3001, 31, weft::as_bytes(std::string("after reopen"))));
  REQUIRE(log.sync());
  REQUIRE(log.close());
  CHECK(std::system((std::string("rm -rf ") + pattern).c_str()) == 0);
}

TEST_CASE("wal: fallocated segments zeroed ahead of mid-sized batches read back clean", "[storage][wal]") {
  char pattern[] = "/tmp/weft-wal-zero-XXXXXX";
  REQUIRE(::mkdtemp(pattern) != nullptr);
  st::wal_options o;
  o.segment_size_bytes = 256 << 10;
  o.write_buffer_size_bytes = 64 << 10;  // zero-ahead capped at 32 KiB
  o.max_record_size_bytes = 2048;
  std::vector<entry> expected;
  const std::string payload(1000, 'z');
  {
    st::posix_file_system fs;
    REQUIRE(fs.attach(pattern));
    st::wal<st::posix_file_system> log(fs, o);
    st::recovery_report report;
    REQUIRE(log.open(report));
    for (std::uint64_t i = 1; i <= 800; ++i) {  // 8 KiB batches: between 4 KiB and the cap
      REQUIRE(log.append(i, 2, weft::as_bytes(payload)));
      expected.push_back({i, 2, payload});
      if (i % 8 == 0) REQUIRE(log.sync());
    }
    CHECK(log.stats().zero_ahead_bytes > 0);
    CHECK(log.stats().segments_created > 2);
    REQUIRE(log.close());
  }
  st::posix_file_system fs;
  REQUIRE(fs.attach(pattern));
  st::wal<st::posix_file_system> log(fs, o);
  st::recovery_report report;
  REQUIRE(log.open(report));
  CHECK(report.reason == "clean");  // zeros past the tail are not a torn tail
  CHECK(contents(log) == expected);
  REQUIRE(log.close());
  CHECK(std::system((std::string("rm -rf ") + pattern).c_str()) == 0);
}

TEST_CASE("wal format: a batch sealed three records at a time carries each record's own checksums",
          "[storage][wal]") {
  namespace d = st::detail;
  weft::xoshiro256 random(11);
  std::vector<std::uint8_t> source(4096);
  for (auto& b : source) b = static_cast<std::uint8_t>(weft::uniform_below(random, 256));
  for (int round = 0; round < 50; ++round) {
    // 1-10 records of 0-4096 bytes (short ones too: the three streams share only the
    // shortest length, the rest of each is finished alone).
    const std::size_t count = 1 + weft::uniform_below(random, 10);
    std::vector<std::uint8_t> batch(count * d::record_size(4096));
    std::vector<std::pair<std::size_t, std::size_t>> records;  // (offset, payload length)
    std::size_t at = 0;
    for (std::size_t k = 0; k < count; ++k) {
      const std::size_t length = weft::uniform_below(random, 4097);
      const std::size_t start = weft::uniform_below(random, source.size() - length + 1);
      const d::record_header h{0, d::record_type::entry, 0, 100 + k, 99, 7 + k, 3};
      records.emplace_back(at, length);
      at += d::encode_record_unsealed(h, weft::byte_view(source.data() + start, length), batch.data() + at);
    }
    d::seal_records(batch.data(), at);
    for (const auto& [offset, length] : records) {
      const weft::byte_view record(batch.data() + offset, d::record_size(length));
      d::record_header h;
      REQUIRE(d::decode_record_header(record, 4096, h));
      CHECK(h.payload_length == length);
      const auto payload = record.subspan(d::record_header_size, length);
      CHECK(h.payload_crc == weft::crc32c_portable(payload));
      CHECK(d::payload_matches(h, payload));
      // The header checksum covers bytes 4..48 (the payload CRC included), computed apart.
      CHECK(weft::crc32c_unmask(weft::load_le<std::uint32_t>(record.data())) ==
            weft::crc32c_portable(record.subspan(4, d::record_header_size - 4)));
    }
  }
}

TEST_CASE("wal: a sync split for another thread (write_for_sync, complete_sync) acknowledges only "
          "what its ticket covers", "[storage][wal]") {
  mem_fs fs;
  st::wal_options o = small_options();
  o.segment_size_bytes = 1 << 20;
  o.write_buffer_size_bytes = 1 << 16;
  st::wal<mem_fs> log(fs, o);
  st::recovery_report report;
  REQUIRE(log.open(report));
  const int syncs_before = fs.syncs;
  for (std::uint64_t i = 1; i <= 10; ++i) REQUIRE(log.append(i, 1, weft::as_bytes("first")));
  auto first = log.write_for_sync();
  REQUIRE(first);
  CHECK(first->file.value != 0);
  CHECK(first->position.last_index == 10);
  CHECK(log.durable().last_index == 0);  // written, not durable
  CHECK(fs.syncs == syncs_before);       // and not synced here
  for (std::uint64_t i = 11; i <= 20; ++i) REQUIRE(log.append(i, 1, weft::as_bytes("second")));
  auto second = log.write_for_sync();
  REQUIRE(second);
  CHECK(second->position.last_index == 20);
  auto nothing_new = log.write_for_sync();
  REQUIRE(nothing_new);
  CHECK(nothing_new->file.value == 0);
  // The later ticket's sync covers the earlier one; the earlier one completing late changes nothing.
  REQUIRE(fs.sync(second->file));
  auto durable = log.complete_sync(*second, weft::ok());
  REQUIRE(durable);
  CHECK(durable->last_index == 20);
  auto late = log.complete_sync(*first, weft::ok());
  REQUIRE(late);
  CHECK(late->last_index == 20);
  // A failed sync is never acknowledged and poisons the log.
  REQUIRE(log.append(21, 1, weft::as_bytes("unsure")));
  auto third = log.write_for_sync();
  REQUIRE(third);
  const weft::result<void> failed = weft::error(st::fs_errc::io_error, "test");
  CHECK(log.complete_sync(*third, failed).error() == st::fs_errc::io_error);
  CHECK(log.durable().last_index == 20);
  CHECK(log.append(22, 1, weft::as_bytes("x")).error() == st::storage_errc::poisoned);
}

TEST_CASE("wal: every segment roll calls the seal hook first", "[storage][wal]") {
  mem_fs fs;
  st::wal<mem_fs> log(fs, small_options());
  st::recovery_report report;
  REQUIRE(log.open(report));
  int seals = 0;
  log.set_seal_hook([](void* context) noexcept { ++*static_cast<int*>(context); }, &seals);
  const std::string big(900, 'r');
  for (std::uint64_t i = 1; i <= 40; ++i) {
    REQUIRE(log.append(i, 1, weft::as_bytes(big)));
    REQUIRE(log.write_for_sync());
  }
  CHECK(log.stats().segments_created > 1);
  CHECK(static_cast<std::uint64_t>(seals) == log.stats().segments_created - 1);
}
