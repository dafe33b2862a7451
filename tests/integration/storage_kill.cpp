// tests/integration/storage_kill.cpp - process-level durability: a child process appends
// to a WAL on real files with one fdatasync per batch and reports every acknowledged index
// through a pipe; the parent SIGKILLs it at seeded random moments, reopens the WAL and
// checks that every acknowledged record is there with the right bytes. Bounded to ~3 s.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "weft/core/random.hpp"
#include "weft/storage/posix_file_system.hpp"
#include "weft/storage/wal.hpp"

namespace st = weft::storage;

namespace {
st::wal_options options() {
  st::wal_options o;
  // Small enough that segments roll (and get created) under the kills, large enough that
  // 3 s of appends stay within max_segments (every live segment holds an open file).
  o.segment_size_bytes = 1024 * 1024;
  o.max_record_size_bytes = 4096;
  o.write_buffer_size_bytes = 64 * 1024;
  o.max_entries = 1 << 16;
  o.max_segments = 192;
  return o;
}

// The bytes of entry (index, term): recomputable by the parent.
std::string payload_of(std::uint64_t index, std::uint64_t term) {
  weft::xoshiro256 rng(index * 1000003 + term);
  std::string p(static_cast<std::size_t>(rng.next_u64() % 3000), '\0');
  for (char& c : p) c = static_cast<char>(rng.next_u64());
  return p;
}

struct ack {
  std::uint64_t index;
  std::uint64_t term;
};

[[noreturn]] void child(const std::string& dir, int ack_fd, std::uint64_t term, std::uint64_t seed) {
  st::posix_file_system fs;
  if (!fs.attach(dir.c_str())) ::_exit(3);
  st::wal<st::posix_file_system> log(fs, options());
  st::recovery_report report;
  if (!log.open(report)) ::_exit(4);
  weft::xoshiro256 rng(seed);
  for (;;) {
    const std::uint64_t batch = 1 + rng.next_u64() % 32;
    const std::uint64_t first = log.last_index() + 1;
    for (std::uint64_t i = first; i < first + batch; ++i) {
      const std::string p = payload_of(i, term);
      if (auto appended = log.append(i, term, weft::as_bytes(p)); !appended) {
        std::fprintf(stderr, "child: append %llu failed: %s (%s)\n",
                     static_cast<unsigned long long>(i), appended.error().message().data(),
                     appended.error().where());
        ::_exit(5);
      }
    }
    auto durable = log.sync();
    if (!durable) ::_exit(6);
    const ack a{durable->last_index, term};
    if (::write(ack_fd, &a, sizeof a) != static_cast<ssize_t>(sizeof a)) ::_exit(7);
  }
}
}  // namespace

TEST_CASE("wal: SIGKILL at random points loses no acknowledged record", "[storage][kill]") {
  char pattern[] = "/tmp/weft-kill-XXXXXX";
  REQUIRE(::mkdtemp(pattern) != nullptr);
  const std::string dir = pattern;
  weft::xoshiro256 rng(0x5eed);
  std::vector<ack> acknowledged;  // the highest acknowledged index per incarnation
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  int rounds = 0;
  std::uint64_t torn_tails = 0;
  while (std::chrono::steady_clock::now() < deadline && rounds < 60) {
    ++rounds;
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    const std::uint64_t term = static_cast<std::uint64_t>(rounds);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::close(fds[0]);
      child(dir, fds[1], term, rng.next_u64());
    }
    ::close(fds[1]);
    std::this_thread::sleep_for(std::chrono::microseconds(2000 + rng.next_u64() % 60000));
    ::kill(pid, SIGKILL);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    // It was still appending: an exit of its own (3..7) names the step that failed.
    INFO("child exit status " << (WIFEXITED(status) ? WEXITSTATUS(status) : -1) << " in round "
                              << rounds);
    REQUIRE(WIFSIGNALED(status));
    ack a{};
    std::uint64_t last_acked = 0;
    while (::read(fds[0], &a, sizeof a) == static_cast<ssize_t>(sizeof a)) {
      REQUIRE(a.term == term);
      REQUIRE(a.index >= last_acked);
      last_acked = a.index;
    }
    ::close(fds[0]);
    if (last_acked > 0) acknowledged.push_back({last_acked, term});

    // Reopen in the parent and check every acknowledged record, bytes included.
    st::posix_file_system fs;
    REQUIRE(fs.attach(dir.c_str()));
    st::wal<st::posix_file_system> log(fs, options());
    st::recovery_report report;
    auto opened = log.open(report);
    INFO("round " << rounds << " file " << report.file_name() << " offset " << report.offset
                  << " reason " << report.reason);
    REQUIRE(opened);
    torn_tails += report.torn_tails_repaired;
    if (!acknowledged.empty()) REQUIRE(log.last_index() >= acknowledged.back().index);
    struct checker {
      std::vector<ack>* acks;
      bool ok = true;
      std::uint64_t checked = 0;
    } c{&acknowledged};
    REQUIRE(log.read_range(1, log.last_index() + 1,
                           [](void* ctx, const st::log_entry_view& e) noexcept {
                             auto* self = static_cast<checker*>(ctx);
                             // The term that wrote index e.index: the first incarnation whose
                             // acknowledged range reaches it (later ones append after it).
                             if (payload_of(e.index, e.term) != std::string(weft::as_chars(e.payload)))
                               self->ok = false;
                             for (const ack& acked : *self->acks) {
                               if (e.index <= acked.index) {
                                 if (e.term > acked.term) self->ok = false;  // acked entry overwritten
                                 break;
                               }
                             }
                             ++self->checked;
                             return true;
                           },
                           &c));
    REQUIRE(c.ok);
    REQUIRE(log.close());
  }
  INFO("rounds " << rounds << " torn tails repaired " << torn_tails);
  CHECK(rounds >= 5);
  REQUIRE(!acknowledged.empty());
  std::string cleanup = "rm -rf " + dir;
  CHECK(std::system(cleanup.c_str()) == 0);
}
