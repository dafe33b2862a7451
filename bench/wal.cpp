// bench/wal.cpp - append throughput and batch latency of the file WAL, side by side with
// SQLite (WAL mode, synchronous=FULL, one transaction per batch), RocksDB (WriteBatch with
// sync=true) and the physical limit (sequential pwrite + fdatasync of the same bytes), for
// 64 B, 1 KiB and 16 KiB records in batches of 1, 16 and 256, one sync per batch.
// Usage: bench_wal [directory (default /tmp)] [seconds per cell and system (default 1)]
//                  [--rounds N (default 5)] [--fallocate (segments fallocated, not zeroed ahead)]
//                  [--zero-fill (segments written with zeros when created, before timing)]
//                  [--no-markers (weft writes no sync-marker record after each sync)]
//                  [--cell SIZExBATCH (one cell only, e.g. 1024x256, for perf/strace)]
//                  [--only NAME (one system only: weft, sqlite, rocksdb, raw)]
// A plain harness (no Google Benchmark loop). Each cell runs its systems in N interleaved
// rounds (the order rotates every round), so a burst of outside I/O on a shared disk lands
// on every system rather than on one; appends/s is the median over the rounds, p50 and p99
// are over every batch of every round; cpu us/batch (process user + system time, median of
// rounds) is what a batch costs the machine whatever the disk does. The load average is
// printed before and after.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <stdlib.h>
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
bool fallocate_only = false;
bool zero_fill_segments = false;
bool no_sync_markers = false;

struct cell {
  double appends_per_second = 0;
  double megabytes_per_second = 0;
  double p50_us = 0;
  double p99_us = 0;
  double cpu_us_per_batch = 0;       // user + system time of the process (peers' threads too)
  std::vector<double> latencies_us;  // one per batch
  bool ran = false;
};

double process_cpu_us() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  const auto us = [](const timeval& t) { return static_cast<double>(t.tv_sec) * 1e6 + static_cast<double>(t.tv_usec); };
  return us(usage.ru_utime) + us(usage.ru_stime);
}

// Runs `batch_fn(first_index)` (one batch, one sync) until the budget is spent.
cell measure(std::size_t record, std::size_t batch, double seconds,
             const std::function<bool(std::uint64_t)>& batch_fn) {
  std::vector<double> latencies;
  latencies.reserve(100000);
  std::uint64_t next = 1;
  const double cpu_start_us = process_cpu_us();
  const auto start = clock_type::now();
  const auto budget = std::chrono::duration<double>(seconds);
  while ((clock_type::now() - start < budget || latencies.size() < 8) && latencies.size() < 100000) {
    const auto t0 = clock_type::now();
    if (!batch_fn(next)) return {};
    latencies.push_back(std::chrono::duration<double, std::micro>(clock_type::now() - t0).count());
    next += batch;
  }
  const double elapsed = std::chrono::duration<double>(clock_type::now() - start).count();
  cell c;
  const double appends = static_cast<double>(next - 1);
  c.appends_per_second = appends / elapsed;
  c.megabytes_per_second = appends * static_cast<double>(record) / elapsed / 1e6;
  c.cpu_us_per_batch = (process_cpu_us() - cpu_start_us) / static_cast<double>(latencies.size());
  c.latencies_us = std::move(latencies);
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
    if (fallocate_only) o.zero_ahead_bytes = 0;
    if (zero_fill_segments) o.preallocation = weft::storage::preallocation_mode::zero_fill;
    if (no_sync_markers) o.sync_markers = false;
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

// Median appends/s over the rounds; p50/p99 over every batch of every round.
cell combine(const std::vector<cell>& rounds) {
  cell all;
  std::vector<double> rates;
  std::vector<double> megabytes;
  std::vector<double> cpu;
  for (const cell& r : rounds) {
    if (!r.ran) return {};
    cpu.push_back(r.cpu_us_per_batch);
    rates.push_back(r.appends_per_second);
    megabytes.push_back(r.megabytes_per_second);
    all.latencies_us.insert(all.latencies_us.end(), r.latencies_us.begin(), r.latencies_us.end());
  }
  if (rates.empty()) return {};
  std::sort(rates.begin(), rates.end());
  std::sort(megabytes.begin(), megabytes.end());
  std::sort(cpu.begin(), cpu.end());
  all.cpu_us_per_batch = cpu[cpu.size() / 2];
  std::sort(all.latencies_us.begin(), all.latencies_us.end());
  const auto& l = all.latencies_us;
  all.appends_per_second = rates[rates.size() / 2];
  all.megabytes_per_second = megabytes[megabytes.size() / 2];
  all.p50_us = l[l.size() / 2];
  all.p99_us = l[std::min(l.size() - 1, l.size() * 99 / 100)];
  all.ran = true;
  return all;
}

void print_cell(const char* name, const cell& c) {
  if (!c.ran) {
    std::printf("  %-8s  (not run)\n", name);
    return;
  }
  std::printf("  %-8s %12.0f %10.2f %10.1f %10.1f %10.1f\n", name, c.appends_per_second,
              c.megabytes_per_second, c.p50_us, c.p99_us, c.cpu_us_per_batch);
}

void print_load(const char* when) {
  double load[3] = {0, 0, 0};
  if (::getloadavg(load, 3) == 3)
    std::printf("load average %s: %.2f %.2f %.2f\n", when, load[0], load[1], load[2]);
}

using runner = cell (*)(const std::string&, std::size_t, std::size_t, double,
                        const std::vector<std::uint8_t>&);
struct system_under_test {
  const char* name;
  runner run;
  bool peer;  // SQLite and RocksDB; weft and raw are not peers
};
}  // namespace

int main(int argc, char** argv) {
  std::string base = "/tmp";
  double seconds = 1.0;
  int rounds = 5;
  int positional = 0;
  std::size_t only_size = 0;
  std::size_t only_batch = 0;
  std::string only_system;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) rounds = std::max(1, std::atoi(argv[++i]));
    else if (std::strcmp(argv[i], "--cell") == 0 && i + 1 < argc) {
      if (std::sscanf(argv[++i], "%zux%zu", &only_size, &only_batch) != 2) {
        std::fprintf(stderr, "error: --cell wants SIZExBATCH, e.g. 1024x256\n");
        return 2;
      }
    } else if (std::strcmp(argv[i], "--only") == 0 && i + 1 < argc) only_system = argv[++i];
    else if (std::strcmp(argv[i], "--fallocate") == 0) fallocate_only = true;
    else if (std::strcmp(argv[i], "--zero-fill") == 0) zero_fill_segments = true;
    else if (std::strcmp(argv[i], "--no-markers") == 0) no_sync_markers = true;
    else if (positional++ == 0) base = argv[i];
    else seconds = std::atof(argv[i]);
  }
  std::vector<system_under_test> systems{{"weft", &run_weft, false}};
#if WEFT_BENCH_SQLITE
  systems.push_back({"sqlite", &run_sqlite, true});
#endif
#if WEFT_BENCH_ROCKSDB
  systems.push_back({"rocksdb", &run_rocksdb, true});
#endif
  systems.push_back({"raw", &run_raw, false});
  if (!only_system.empty()) {
    std::erase_if(systems, [&](const system_under_test& s) { return only_system != s.name; });
    if (systems.empty()) {
      std::fprintf(stderr, "error: --only: no system named %s\n", only_system.c_str());
      return 2;
    }
  }
  std::vector<std::uint8_t> payload(16384);
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<std::uint8_t>(i * 131 + 7);
  std::printf("bench_wal: directory %s, %.2f s per cell and system in %d interleaved rounds, "
              "one sync per batch, weft segments %s\n",
              base.c_str(), seconds, rounds, fallocate_only ? "fallocated only" : "zeroed ahead");
  print_load("before");
  std::vector<std::string> summary;
  for (const std::size_t record : {std::size_t{64}, std::size_t{1024}, std::size_t{16384}}) {
    for (const std::size_t batch : {std::size_t{1}, std::size_t{16}, std::size_t{256}}) {
      if (only_size != 0 && (record != only_size || batch != only_batch)) continue;
      std::printf("\nrecord %zu B, batch %zu    appends/s       MB/s    p50 us     p99 us cpu us/batch\n",
                  record, batch);
      std::vector<std::vector<cell>> per_system(systems.size());
      for (int r = 0; r < rounds; ++r)
        for (std::size_t k = 0; k < systems.size(); ++k) {
          const std::size_t s = (k + static_cast<std::size_t>(r)) % systems.size();
          per_system[s].push_back(systems[s].run(base, record, batch, seconds / rounds, payload));
        }
      std::vector<cell> results;
      cell best{};
      const char* best_name = "none";
      for (std::size_t s = 0; s < systems.size(); ++s) {
        results.push_back(combine(per_system[s]));
        print_cell(systems[s].name, results.back());
        if (systems[s].peer && results.back().appends_per_second > best.appends_per_second) {
          best = results.back();
          best_name = systems[s].name;
        }
      }
      const cell& w = results.front();
      const cell& raw = results.back();
      char line[512];
      std::snprintf(line, sizeof line,
                    "| %5zu | %3zu | %9.0f | %5.0f / %6.0f | %6.1f | %s | %5.2fx | %4.0f%% |", record, batch,
                    w.appends_per_second, w.p50_us, w.p99_us, w.cpu_us_per_batch, best_name,
                    best.appends_per_second > 0 ? w.appends_per_second / best.appends_per_second : 0.0,
                    raw.megabytes_per_second > 0 ? 100.0 * w.megabytes_per_second / raw.megabytes_per_second : 0.0);
      std::string row = line;
      for (std::size_t s = 1; s < systems.size(); ++s) {
        std::snprintf(line, sizeof line, " %9.0f | %5.0f / %6.0f | %6.1f |", results[s].appends_per_second,
                      results[s].p50_us, results[s].p99_us, results[s].cpu_us_per_batch);
        row += line;
      }
      summary.push_back(row);
    }
  }
  std::printf("\nsummary (appends/s: median of rounds; p50 / p99 us: batch latency; cpu us: per batch)\n");
  std::string header = "| size B | batch | weft ap/s | weft p50 / p99 | weft cpu us | best peer | weft/peer | weft/raw |";
  for (std::size_t s = 1; s < systems.size(); ++s)
    header += std::string(" ") + systems[s].name + " ap/s | " + systems[s].name + " p50 / p99 | " +
              systems[s].name + " cpu us |";
  std::printf("%s\n", header.c_str());
  for (const auto& line : summary) std::printf("%s\n", line.c_str());
  print_load("after");
  return 0;
}
