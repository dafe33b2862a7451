// tests/unit/storage/stores.cpp - the memory models, the hard-state file and snapshot files.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "test_fs.hpp"
#include "weft/storage/memory.hpp"
#include "weft/storage/snapshot.hpp"
#include "weft/storage/stable_file.hpp"

namespace st = weft::storage;
using weft_test::mem_fs;

TEST_CASE("memory_log_store: append, truncate, compact, capacity", "[storage][memory]") {
  st::memory_log_options o;
  o.max_entries = 8;
  st::memory_log_store log(o);
  for (std::uint64_t i = 1; i <= 8; ++i) REQUIRE(log.append(i, i, weft::as_bytes("x")));
  CHECK(log.append(9, 9, weft::as_bytes("x")).error() == st::storage_errc::log_full);
  REQUIRE(log.compact_prefix(4));
  REQUIRE(log.append(9, 9, weft::as_bytes("y")));  // room again after the squeeze
  CHECK(*log.term_at(9) == 9);
  REQUIRE(log.truncate_suffix(6));
  CHECK(log.last_index() == 5);
  CHECK(log.term_at(6).error() == st::storage_errc::out_of_range);
  CHECK(log.durable().sequence == 0);
  REQUIRE(log.sync());
  CHECK(log.durable().last_index == 5);
}

TEST_CASE("memory_stable_store and memory_snapshot_store: the models' contracts", "[storage][memory]") {
  st::memory_stable_store stable;
  CHECK(stable.load()->term == 0);
  REQUIRE(stable.save({7, 3, 12}));
  CHECK(stable.load()->term == 7);
  CHECK(stable.load()->vote == 3);
  CHECK(stable.load()->commit == 12);

  st::memory_snapshot_options o;
  o.max_snapshot_size_bytes = 32;
  st::memory_snapshot_store snaps(o);
  CHECK(snaps.latest().error() == st::storage_errc::no_snapshot);
  CHECK(snaps.write(weft::as_bytes("early")).error() == st::storage_errc::snapshot_state);
  REQUIRE(snaps.begin(10, 2));
  CHECK(snaps.begin(11, 2).error() == st::storage_errc::snapshot_state);
  REQUIRE(snaps.write(weft::as_bytes("0123456789")));
  REQUIRE(snaps.write(weft::as_bytes("abcdef")));
  CHECK(snaps.latest().error() == st::storage_errc::no_snapshot);  // nothing installed yet
  auto meta = snaps.install();
  REQUIRE(meta);
  CHECK(meta->index == 10);
  CHECK(meta->size_bytes == 16);
  CHECK(meta->checksum == weft::crc32c(weft::as_bytes("0123456789abcdef")));
  std::string back;
  std::uint8_t chunk[5];
  for (std::uint64_t at = 0;;) {  // chunked reads
    auto got = snaps.read(at, weft::mutable_byte_view(chunk, sizeof chunk));
    REQUIRE(got);
    if (*got == 0) break;
    back.append(reinterpret_cast<const char*>(chunk), *got);
    at += *got;
  }
  CHECK(back == "0123456789abcdef");
  CHECK(snaps.begin(10, 3).error() == st::storage_errc::stale_snapshot);
  REQUIRE(snaps.begin(20, 3));
  CHECK(snaps.write(weft::as_bytes(std::string(40, 'x'))).error() == weft::core_errc::capacity_exceeded);
  snaps.discard();
  CHECK(snaps.latest()->index == 10);  // a discarded write leaves the installed snapshot
}

TEST_CASE("file_stable_store: saves survive reopen and a damaged slot", "[storage][stable]") {
  mem_fs fs;
  {
    st::file_stable_store<mem_fs> s(fs);
    REQUIRE(s.open());
    CHECK(*s.load() == st::hard_state{});
    REQUIRE(s.save({3, 2, 10}));
    REQUIRE(s.save({4, 1, 12}));
  }
  st::file_stable_store<mem_fs> s(fs);
  REQUIRE(s.open());
  CHECK(*s.load() == st::hard_state{4, 1, 12});
  fs.files["weft-state"][30] ^= 0xff;  // bit rot in slot A
  REQUIRE(s.open());
  CHECK(*s.load() == st::hard_state{4, 1, 12});
  fs.files["weft-state"][512 + 30] ^= 0xff;  // and in slot B
  CHECK(s.open().error() == st::storage_errc::corrupt_state);
  fs.files["weft-state"][0] = 'Z';
  CHECK(s.open().error() == st::storage_errc::bad_magic);
}

TEST_CASE("file_stable_store: a future version is refused", "[storage][stable]") {
  mem_fs fs;
  { st::file_stable_store<mem_fs> s(fs); REQUIRE(s.open()); REQUIRE(s.save({1, 1, 1})); }
  fs.files["weft-state"][8] = 9;
  st::file_stable_store<mem_fs> s(fs);
  CHECK(s.open().error() == st::storage_errc::unsupported_version);
}

namespace {
std::string read_all(st::file_snapshot_store<mem_fs>& store, std::size_t chunk) {
  std::string out;
  std::vector<std::uint8_t> buf(chunk);
  for (std::uint64_t at = 0;;) {
    auto n = store.read(at, weft::mutable_byte_view(buf));
    REQUIRE(n);
    if (*n == 0) break;
    out.append(reinterpret_cast<const char*>(buf.data()), *n);
    at += *n;
  }
  return out;
}
}  // namespace

TEST_CASE("file_snapshot_store: stream, install, chunked read, retention", "[storage][snapshot]") {
  mem_fs fs;
  st::snapshot_options o;
  o.keep_count = 2;
  std::string last;
  {
    st::file_snapshot_store<mem_fs> store(fs, o);
    REQUIRE(store.open());
    CHECK(store.latest().error() == st::storage_errc::no_snapshot);
    for (std::uint64_t k = 1; k <= 4; ++k) {
      REQUIRE(store.begin(k * 100, k));
      last.clear();
      for (int c = 0; c < 10; ++c) {
        const std::string chunk(97, static_cast<char>('a' + k + static_cast<std::uint64_t>(c)));
        last += chunk;
        REQUIRE(store.write(weft::as_bytes(chunk)));
      }
      auto meta = store.install();
      REQUIRE(meta);
      CHECK(meta->index == k * 100);
      CHECK(meta->size_bytes == last.size());
      CHECK(meta->checksum == weft::crc32c(weft::as_bytes(last)));
    }
    CHECK(store.begin(50, 9).error() == st::storage_errc::stale_snapshot);
    CHECK(read_all(store, 33) == last);
    std::size_t snaps = 0;
    for (const auto& [name, data] : fs.files) snaps += name.rfind("snap-", 0) == 0;
    CHECK(snaps == 2);
    REQUIRE(store.begin(900, 9));  // left unfinished: a crash mid-stream
    REQUIRE(store.write(weft::as_bytes("partial")));
    fs.files["unrelated.txt"] = {1, 2, 3};
  }
  st::file_snapshot_store<mem_fs> store(fs, o);
  REQUIRE(store.open());
  CHECK(store.latest()->index == 400);
  CHECK(read_all(store, 1000) == last);
  for (const auto& [name, data] : fs.files) CHECK(name.find(".tmp") == std::string::npos);
}

TEST_CASE("file_snapshot_store: damage is a hard error naming the file", "[storage][snapshot]") {
  mem_fs fs;
  {
    st::file_snapshot_store<mem_fs> store(fs);
    REQUIRE(store.open());
    REQUIRE(store.begin(7, 2));
    REQUIRE(store.write(weft::as_bytes("state machine bytes")));
    REQUIRE(store.install());
  }
  const std::string name = "snap-0000000000000007-0000000000000002.snap";
  REQUIRE(fs.files.count(name) == 1);
  st::file_snapshot_store<mem_fs> store(fs);
  SECTION("payload bit flip") {
    fs.files[name][70] ^= 4;
    CHECK(store.open().error() == st::storage_errc::corrupt_snapshot);
    CHECK(store.problem_file() == name);
  }
  SECTION("truncated") {
    fs.files[name].resize(70);
    CHECK(store.open().error() == st::storage_errc::corrupt_snapshot);
  }
  SECTION("foreign magic") {
    fs.files[name][1] = 'X';
    CHECK(store.open().error() == st::storage_errc::bad_magic);
  }
  SECTION("future version") {
    fs.files[name][8] = 5;
    CHECK(store.open().error() == st::storage_errc::unsupported_version);
  }
}
