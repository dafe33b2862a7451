// bench/wal.cpp - append throughput and batch latency of the file WAL, side by side with
// SQLite (WAL mode, synchronous=FULL, one transaction per batch), RocksDB (WriteBatch with
// sync=true) and the physical limit (sequential pwrite + fdatasync of the same bytes), for
// 64 B, 1 KiB and 16 KiB records in batches of 1, 16 and 256, one sync per batch.
// Usage: bench_wal [directory (default /tmp)] [seconds per cell (default 0.3)] [zero]
// ("zero": segments are zero-filled instead of fallocated)
// A plain harness (no Google Benchmark loop): each cell runs whole batches for a time budget.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#if WEFT_BENCH_SQLITE
#  include <sqlite3.h>
#endif
#if WEFT_BENCH_ROCKSDB
#  include <rocksdb/db.h>
#  include <rocksdb/options.h>
#  include <rocksdb/write_batch.h>
#endif

#include "weft/storage/posix_file_system.hpp"
#include "weft/storage/wal.hpp"

namespace {
using clock_type = std::chrono::steady_clock;
bool zero_fill_segments = false;

struct cell {
  double appends_per_second = 0;
  double megabytes_per_second = 0;
  double p50_us = 0;
  double p99_us = 0;
  bool ran = false;
};

// Runs `batch_fn(first_index)` (one batch, one sync) until the budget is spent.
cell measure(std::size_t record, std::size_t batch, double seconds,
             const std::function<bool(std::uint64_t)>& batch_fn) {
  std::vector<double> latencies;
  latencies.reserve(100000);
  std::uint64_t next = 1;
  const auto start = clock_type::now();
  const auto budget = std::chrono::duration<double>(seconds);
  while ((clock_type::now() - start < budget || latencies.size() < 8) && latencies.size() < 100000) {
    const auto t0 = clock_type::now();
    if (!batch_fn(next)) return {};
    latencies.push_back(std::chrono::duration<double, std::micro>(clock_type::now() - t0).count());
    next += batch;
  }
  const double elapsed = std::chrono::duration<double>(clock_type::now() - start).count();
  std::sort(latencies.begin(), latencies.end());
  cell c;
  const double appends = static_cast<double>(next - 1);
  c.appends_per_second = appends / elapsed;
  c.megabytes_per_second = appends * static_cast<double>(record) / elapsed / 1e6;
  c.p50_us = latencies[latencies.size() / 2];
  c.p99_us = latencies[std::min(latencies.size() - 1, latencies.size() * 99 / 100)];
  c.ran = true;
  return c;
}

std::string fresh_dir(const std::string& base, const char* tag) {
  std::string path = base + "/weft-bench-" + tag + "-XXXXXX";
  if (::mkdtemp(path.data()) == nullptr) {
    std::perror("mkdtemp");
    std::exit(2);
  }
  return path;
}
void remove_tree(const std::string& dir) {
  const std::string cmd = "rm -rf '" + dir + "'";
  if (std::system(cmd.c_str()) != 0) std::fprintf(stderr, "warning: could not remove %s\n", dir.c_str());
}

cell run_weft(const std::string& base, std::size_t record, std::size_t batch, double seconds,
              const std::vector<std::uint8_t>& payload) {
  const std::string dir = fresh_dir(base, "weft");
  cell c;
  {
    weft::storage::posix_file_system fs;
    if (!fs.attach(dir.c_str())) return {};
    weft::storage::wal_options o;  // defaults: 64 MiB preallocated segments, on_sync
    o.max_entries = std::size_t{1} << 22;
    if (zero_fill_segments) o.preallocation = weft::storage::preallocation_mode::zero_fill;
    weft::storage::wal<weft::storage::posix_file_system> log(fs, o);
    weft::storage::recovery_report report;
    if (!log.open(report)) return {};
    const weft::byte_view p(payload.data(), record);
    c = measure(record, batch, seconds, [&](std::uint64_t first) {
      for (std::uint64_t i = first; i < first + batch; ++i)
        if (!log.append(i, 1, p)) return false;
      return static_cast<bool>(log.sync());
    });
    (void)log.close();
  }
  remove_tree(dir);
  return c;
}

cell run_raw(const std::string& base, std::size_t record, std::size_t batch, double seconds,
             const std::vector<std::uint8_t>& payload) {
  const std::string dir = fresh_dir(base, "raw");
  const std::string file = dir + "/raw";
  const int fd = ::open(file.c_str(), O_CREAT | O_RDWR | O_TRUNC, 0644);
  std::vector<std::uint8_t> buffer(record * batch);
  for (std::size_t i = 0; i < batch; ++i) std::memcpy(buffer.data() + i * record, payload.data(), record);
  std::uint64_t offset = 0;
  cell c = measure(record, batch, seconds, [&](std::uint64_t) {
    if (::pwrite(fd, buffer.data(), buffer.size(), static_cast<off_t>(offset)) !=
        static_cast<ssize_t>(buffer.size()))
      return false;
    offset += buffer.size();
    return ::fdatasync(fd) == 0;
  });
  ::close(fd);
  remove_tree(dir);
  return c;
}

#if WEFT_BENCH_SQLITE
cell run_sqlite(const std::string& base, std::size_t record, std::size_t batch, double seconds,
                const std::vector<std::uint8_t>& payload) {
  const std::string dir = fresh_dir(base, "sqlite");
  sqlite3* db = nullptr;
  if (sqlite3_open((dir + "/log.db").c_str(), &db) != SQLITE_OK) return {};
  sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", nullptr, nullptr, nullptr);
  sqlite3_exec(db, "CREATE TABLE log(idx INTEGER PRIMARY KEY, term INTEGER, payload BLOB)",
               nullptr, nullptr, nullptr);
  sqlite3_stmt* insert = nullptr;
  sqlite3_prepare_v2(db, "INSERT INTO log VALUES(?, 1, ?)", -1, &insert, nullptr);
  cell c = measure(record, batch, seconds, [&](std::uint64_t first) {
    if (sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr) != SQLITE_OK) return false;
    for (std::uint64_t i = first; i < first + batch; ++i) {
      sqlite3_bind_int64(insert, 1, static_cast<sqlite3_int64>(i));
      sqlite3_bind_blob(insert, 2, payload.data(), static_cast<int>(record), SQLITE_STATIC);
      if (sqlite3_step(insert) != SQLITE_DONE) return false;
      sqlite3_reset(insert);
    }
    return sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK;
  });
  sqlite3_finalize(insert);
  sqlite3_close(db);
  remove_tree(dir);
  return c;
}
#endif

#if WEFT_BENCH_ROCKSDB
cell run_rocksdb(const std::string& base, std::size_t record, std::size_t batch, double seconds,
                 const std::vector<std::uint8_t>& payload) {
  const std::string dir = fresh_dir(base, "rocksdb");
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* db = nullptr;
  if (!rocksdb::DB::Open(options, dir + "/db", &db).ok()) return {};
  rocksdb::WriteOptions write_options;
  write_options.sync = true;
  const rocksdb::Slice value(reinterpret_cast<const char*>(payload.data()), record);
  cell c = measure(record, batch, seconds, [&](std::uint64_t first) {
    rocksdb::WriteBatch wb;
    for (std::uint64_t i = first; i < first + batch; ++i) {
      char key[8];
      for (int k = 0; k < 8; ++k) key[k] = static_cast<char>(i >> (56 - 8 * k));
      wb.Put(rocksdb::Slice(key, 8), value);
    }
    return db->Write(write_options, &wb).ok();
  });
  delete db;
  remove_tree(dir);
  return c;
}
#endif

void print_cell(const char* name, const cell& c) {
  if (!c.ran) {
    std::printf("  %-8s  (not run)\n", name);
    return;
  }
  std::printf("  %-8s %12.0f %10.2f %10.1f %10.1f\n", name, c.appends_per_second,
              c.megabytes_per_second, c.p50_us, c.p99_us);
}
}  // namespace

int main(int argc, char** argv) {
  const std::string base = argc > 1 ? argv[1] : "/tmp";
  const double seconds = argc > 2 ? std::atof(argv[2]) : 0.3;
  zero_fill_segments = argc > 3 && std::strcmp(argv[3], "zero") == 0;
  std::vector<std::uint8_t> payload(16384);
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<std::uint8_t>(i * 131 + 7);
  std::printf("bench_wal: directory %s, %.2f s per cell, one sync per batch, segments %s\n",
              base.c_str(), seconds, zero_fill_segments ? "zero-filled" : "fallocated");
  std::printf("summary: size batch | weft appends/s MB/s | best peer (name) appends/s | "
              "weft/peer | weft/raw (MB/s)\n");
  std::vector<std::string> summary;
  for (const std::size_t record : {std::size_t{64}, std::size_t{1024}, std::size_t{16384}}) {
    for (const std::size_t batch : {std::size_t{1}, std::size_t{16}, std::size_t{256}}) {
      std::printf("\nrecord %zu B, batch %zu    appends/s       MB/s    p50 us     p99 us\n",
                  record, batch);
      const cell weft_cell = run_weft(base, record, batch, seconds, payload);
      print_cell("weft", weft_cell);
      cell best{};
      const char* best_name = "none";
#if WEFT_BENCH_SQLITE
      const cell sqlite_cell = run_sqlite(base, record, batch, seconds, payload);
      print_cell("sqlite", sqlite_cell);
      if (sqlite_cell.appends_per_second > best.appends_per_second) { best = sqlite_cell; best_name = "sqlite"; }
#endif
#if WEFT_BENCH_ROCKSDB
      const cell rocks_cell = run_rocksdb(base, record, batch, seconds, payload);
      print_cell("rocksdb", rocks_cell);
      if (rocks_cell.appends_per_second > best.appends_per_second) { best = rocks_cell; best_name = "rocksdb"; }
#endif
      const cell raw_cell = run_raw(base, record, batch, seconds, payload);
      print_cell("raw", raw_cell);
      char line[256];
      std::snprintf(line, sizeof line, "%6zu %5zu | %10.0f %8.2f | %-7s %10.0f | %6.2fx | %5.0f%%",
                    record, batch, weft_cell.appends_per_second, weft_cell.megabytes_per_second,
                    best_name, best.appends_per_second,
                    best.appends_per_second > 0 ? weft_cell.appends_per_second / best.appends_per_second : 0.0,
                    raw_cell.megabytes_per_second > 0
                        ? 100.0 * weft_cell.megabytes_per_second / raw_cell.megabytes_per_second : 0.0);
      summary.emplace_back(line);
    }
  }
  std::printf("\nsummary\n  size batch |  weft ap/s     MB/s | peer      ap/s   | weft/peer | weft/raw\n");
  for (const auto& line : summary) std::printf("  %s\n", line.c_str());
  return 0;
}
