// The node's catalogue telemetry policy on loopback: two members with real sockets and
// files move the consensus, membership and WAL series of weft/telemetry/catalogue.hpp
// (proposals committed, pending, failed; SWIM probes, health, suspect, refute and dead;
// torn-tail repairs), read back through the Prometheus exposition for the SWIM series.
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "weft/runtime/node.hpp"
#include "weft/telemetry/prometheus.hpp"

#include "cluster_fixture.hpp"

namespace {

using namespace weft;
namespace catalogue = weft::telemetry::catalogue;

using weft_test::counting_sm;

struct catalogue_stack : runtime::default_stack {
  using telemetry = runtime::catalogue_node_telemetry;
};
using catalogue_node = runtime::basic_node<catalogue_stack, counting_sm>;

/// Two members with quick SWIM probes (a missed probe shows within a few hundred ms).
struct pair_of_members : weft_test::loopback_cluster<catalogue_node, counting_sm, 2> {
  pair_of_members() {
    adjust_options = [](runtime::node_options& o) {
      o.swim.probe_interval_ms = 100;
      o.swim.probe_timeout_ms = 50;
    };
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

/// A counter's value as the Prometheus exposition of the process-wide registry shows it
/// (the sample line `<name>_total <value>`); 0 when the line is missing.
std::uint64_t exported_total(std::string_view name) {
  std::string text;
  telemetry::string_output out(text);
  REQUIRE(telemetry::write_exposition(out, telemetry::exposition::prometheus_0_0_4));
  const std::string prefix = "\n" + std::string(name) + "_total ";
  const std::size_t at = text.find(prefix);
  if (at == std::string::npos) return 0;
  return std::strtoull(text.c_str() + at + prefix.size(), nullptr, 10);
}

bool sees_alive(const catalogue_node& n, std::uint64_t id) {
  for (const auto& m : n.members())
    if (m.id == id) return m.swim_state == swim::member_state::alive;
  return false;
}

}  // namespace

TEST_CASE("node: the catalogue policy moves consensus, membership and WAL series",
          "[runtime][node][telemetry]") {
  const std::uint64_t committed_before = catalogue::raft_proposals_committed.value();
  const std::uint64_t failed_before = catalogue::raft_proposals_failed.value();
  const std::uint64_t probes_before = catalogue::swim_probes.value();
  const std::uint64_t repairs_before = catalogue::wal_torn_tail_repairs.value();
  const std::uint64_t applied_before = catalogue::raft_proposals_applied.value();
  const std::uint64_t leader_changes_before = catalogue::raft_leader_changes.value();
  const std::uint64_t wal_bytes_before = catalogue::wal_written_bytes.value();
  const std::uint64_t fsyncs_before = catalogue::wal_fsync_duration.count();
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

  // Both members applied, appended to and synced their WALs, and saw the leader appear.
  CHECK(catalogue::raft_proposals_applied.value() - applied_before >= 2 * writes);
  CHECK(catalogue::raft_leader_changes.value() > leader_changes_before);
  CHECK(catalogue::raft_has_leader.value() == 1);
  CHECK(catalogue::wal_written_bytes.value() - wal_bytes_before >= 2 * writes);
  CHECK(catalogue::wal_fsync_duration.count() > fsyncs_before);
  CHECK(c.run_until([&] { return catalogue::raft_apply_lag.value() == 0; }));

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

TEST_CASE("node: suspicion, refutation and a dead verdict move the SWIM series in the exposition",
          "[runtime][node][telemetry]") {
  pair_of_members c;
  c.start(0);
  c.start(1);
  REQUIRE(c.run_until([&] { return sees_alive(*c.nodes[0], 2) && sees_alive(*c.nodes[1], 1); }));
  const std::uint64_t suspects_before = exported_total("weft_swim_suspect_transitions");
  const std::uint64_t refutes_before = exported_total("weft_swim_refutes");
  const std::uint64_t deads_before = exported_total("weft_swim_dead_transitions");

  // Cut off, member 2 misses its probes: each side suspects the other. Healed before the
  // suspicion runs out (4 x 100 ms at the least), it hears the suspicion and refutes it.
  c.nodes[1]->set_isolated(true);
  REQUIRE(c.run_until([&] { return exported_total("weft_swim_suspect_transitions") > suspects_before; }));
  c.nodes[1]->set_isolated(false);
  CHECK(c.run_until([&] { return exported_total("weft_swim_refutes") > refutes_before; }));
  CHECK(c.run_until([&] { return sees_alive(*c.nodes[0], 2); }));

  // Stopped, member 2 is suspected again and, with nobody to refute, declared dead.
  c.stop(1);
  CHECK(c.run_until([&] { return exported_total("weft_swim_dead_transitions") > deads_before; }));
}
