// The node's catalogue telemetry policy on loopback: two members with real sockets and
// files move the consensus, membership and WAL series of weft/telemetry/catalogue.hpp
// (proposals committed, pending, failed; SWIM probes and health; torn-tail repairs).
#include <catch2/catch.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "weft/runtime/node.hpp"

#include "../../../examples/weft_demo/free_port.hpp"

namespace {

using namespace weft;
namespace catalogue = weft::telemetry::catalogue;

struct counting_sm {
  std::size_t applied = 0;
  void apply(raft::index_t, byte_view) noexcept { ++applied; }
  void read_ready(std::uint64_t) noexcept {}
  void read_failed(std::uint64_t) noexcept {}
  template <class Writer>
  result<void> save_snapshot(Writer&) noexcept { return ok(); }
  template <class Reader>
  result<void> load_snapshot(Reader&) noexcept { return ok(); }
};

struct catalogue_stack : runtime::default_stack {
  using telemetry = runtime::catalogue_node_telemetry;
};
using catalogue_node = runtime::basic_node<catalogue_stack, counting_sm>;

struct pair_of_members {
  runtime::event_loop loop;
  std::string root;
  std::uint16_t ports[4] = {};  // kernel-picked: fixed ranges collided with ephemeral ports
  counting_sm sms[2];
  std::unique_ptr<catalogue_node> nodes[2];

  pair_of_members() {
    REQUIRE(loop.init());
    char pattern[] = "/tmp/weft-node-telemetry-XXXXXX";
    REQUIRE(::mkdtemp(pattern) != nullptr);
    root = pattern;
    for (auto& port : ports) {
      port = weft_demo::pick_free_port();
      REQUIRE(port != 0);
    }
  }
  ~pair_of_members() {
    for (auto& n : nodes) n.reset();
    std::error_code ignored;
    std::filesystem::remove_all(root, ignored);
  }
  transport::ipv4_endpoint ep(int port) const {
    return {0x7f000001u, ports[port]};
  }
  runtime::node_options options_for(int i) const {
    runtime::node_options o;
    o.id = static_cast<std::uint64_t>(i + 1);
    o.raft_address = ep(i);
    o.swim_address = ep(i + 2);
    o.data_dir = root + "/" + std::to_string(i + 1);
    o.tick_ms = 5;
    o.raft.election_timeout_ticks_min = 20;
    o.raft.election_timeout_ticks_max = 40;
    o.raft.heartbeat_interval_ticks = 3;
    o.swim.probe_interval_ms = 100;
    o.swim.probe_timeout_ms = 50;
    const int other = 1 - i;
    o.peers.push_back({static_cast<std::uint64_t>(other + 1), ep(other), ep(other + 2)});
    return o;
  }
  void start(int i) {
    nodes[i] = std::make_unique<catalogue_node>(loop, sms[i]);
    const auto opened = nodes[i]->open(options_for(i));
    INFO((opened ? "" : std::string(opened.error().message()) + " at " + opened.error().where()));
    REQUIRE(opened);
  }
  template <class F>
  bool run_until(F done, int max_ms = 10000) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(max_ms);
    while (std::chrono::steady_clock::now() < until) {
      if (done()) return true;
      (void)loop.run_once(milliseconds(5));
    }
    return false;
  }
  int leader() const {
    for (int i = 0; i < 2; ++i)
      if (nodes[i] && nodes[i]->status().role == raft::role::leader) return i;
    return -1;
  }
};

/// The newest WAL segment file of a member's data directory.
std::string last_wal_segment(const std::string& data_dir) {
  std::string newest;
  for (const auto& entry : std::filesystem::directory_iterator(data_dir + "/wal"))
    if (entry.path().filename().string().rfind("wal-", 0) == 0 && entry.path().string() > newest)
      newest = entry.path().string();
  return newest;
}

}  // namespace

TEST_CASE("node: the catalogue policy moves consensus, membership and WAL series",
          "[runtime][node][telemetry]") {
  const std::uint64_t committed_before = catalogue::raft_proposals_committed.value();
  const std::uint64_t failed_before = catalogue::raft_proposals_failed.value();
  const std::uint64_t probes_before = catalogue::swim_probes.value();
  const std::uint64_t repairs_before = catalogue::wal_torn_tail_repairs.value();
  constexpr std::size_t writes = 5;

  pair_of_members c;
  c.start(0);
  c.start(1);
  REQUIRE(c.run_until([&] { return c.leader() >= 0; }));
  const int leader = c.leader();
  for (std::size_t k = 0; k < writes; ++k) {
    const std::uint8_t value[] = {static_cast<std::uint8_t>('a' + k)};
    REQUIRE(c.run_until([&] { return c.nodes[leader]->propose(byte_view(value)).has_value(); }));
  }
  REQUIRE(c.run_until([&] { return c.sms[0].applied >= writes && c.sms[1].applied >= writes; }));
  // Each member observes its commit index on its next tick and counts what it saw commit.
  CHECK(c.run_until([&] {
    return catalogue::raft_proposals_committed.value() - committed_before >= 2 * writes;
  }));

  // The core refuses an entry above max_bytes_per_entry: a failed proposal.
  const std::vector<std::uint8_t> too_big(c.options_for(leader).raft.max_bytes_per_entry + 1, 0);
  CHECK_FALSE(c.nodes[leader]->propose(too_big).has_value());
  CHECK(catalogue::raft_proposals_failed.value() - failed_before == 1);

  // SWIM probes each other; nothing pending once everything committed; healthy.
  REQUIRE(c.run_until([&] { return catalogue::swim_probes.value() > probes_before; }));
  CHECK(c.run_until([&] { return catalogue::raft_proposals_pending.value() == 0; }));
  CHECK(catalogue::swim_health_score.value() == 0);
  CHECK(catalogue::swim_members.value() == 2);

  // A torn record at the end of the WAL is cut off when the member opens again.
  c.nodes[1].reset();
  const std::string segment = last_wal_segment(c.options_for(1).data_dir);
  REQUIRE_FALSE(segment.empty());
  // Segments are preallocated with zeros: damage the bytes right after the last record.
  std::FILE* file = std::fopen(segment.c_str(), "r+b");
  REQUIRE(file != nullptr);
  long last_nonzero = -1;
  for (long at = 0;; ++at) {
    const int byte = std::fgetc(file);
    if (byte == EOF) break;
    if (byte != 0) last_nonzero = at;
  }
  REQUIRE(last_nonzero > 0);
  const unsigned char torn[] = {0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab};  // half a record
  REQUIRE(std::fseek(file, last_nonzero + 1, SEEK_SET) == 0);
  REQUIRE(std::fwrite(torn, 1, sizeof torn, file) == sizeof torn);
  REQUIRE(std::fclose(file) == 0);
  c.start(1);
  CHECK(catalogue::wal_torn_tail_repairs.value() - repairs_before == 1);
}
