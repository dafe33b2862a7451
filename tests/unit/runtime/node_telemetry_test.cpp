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

namespace {
/// One member (its own leader) that wrote `writes` entries and then shut down gracefully.
struct lone_member : weft_test::loopback_cluster<catalogue_node, counting_sm, 1> {
  explicit lone_member(bool sync_markers) {
    adjust_options = [sync_markers](runtime::node_options& o) { o.wal.sync_markers = sync_markers; };
  }
  void write_and_stop(std::size_t writes) {
    start(0);
    REQUIRE(run_until([&] { return leader() == 0; }));
    for (std::size_t k = 0; k < writes; ++k) {
      const std::uint8_t value[] = {static_cast<std::uint8_t>('a' + k)};
      REQUIRE(run_until([&] { return nodes[0]->propose(byte_view(value)).has_value(); }));
    }
    REQUIRE(run_until([&] { return sms[0].applied >= writes; }));
    stop(0);  // graceful: the node closes its WAL
  }
  /// Changes the last nonzero byte of the last entry record in the newest segment (a record
  /// that stays free of all-zero words: written whole, then damaged). With sync markers the
  /// log ends with the 48-byte marker close() synced: the entry ends before it.
  void damage_last_entry(bool ends_with_marker) {
    const std::string segment = last_wal_segment(options_for(0).data_dir);
    REQUIRE_FALSE(segment.empty());
    std::FILE* file = std::fopen(segment.c_str(), "r+b");
    REQUIRE(file != nullptr);
    std::vector<int> bytes;
    for (int byte = std::fgetc(file); byte != EOF; byte = std::fgetc(file)) bytes.push_back(byte);
    long end = static_cast<long>(bytes.size());
    while (end > 0 && bytes[static_cast<std::size_t>(end - 1)] == 0) --end;
    end = (end + 7) / 8 * 8;  // records are 8-aligned
    if (ends_with_marker) end -= 48;
    long last_nonzero = end - 1;
    while (last_nonzero > 0 && bytes[static_cast<std::size_t>(last_nonzero)] == 0) --last_nonzero;
    REQUIRE(last_nonzero > 64);  // past the segment header
    const int value = bytes[static_cast<std::size_t>(last_nonzero)];
    const unsigned char changed = static_cast<unsigned char>((value ^ 0x5a) != 0 ? value ^ 0x5a : 0x33);
    REQUIRE(std::fseek(file, last_nonzero, SEEK_SET) == 0);
    REQUIRE(std::fputc(changed, file) == changed);
    REQUIRE(std::fclose(file) == 0);
  }
  bool has_event(std::string_view text) const {
    bool found = false;
    nodes[0]->for_each_event([&](const runtime::node_event& e) {
      found = found || std::string_view(e.text).find(text) != std::string_view::npos;
    });
    return found;
  }
};
}  // namespace

TEST_CASE("node: a WAL tail damaged after it was written whole surfaces as possible acknowledged "
          "loss (status, event, counter)", "[runtime][node][telemetry][storage]") {
  const std::uint64_t repairs_before = catalogue::wal_torn_tail_repairs.value();
  const std::uint64_t losses_before = catalogue::wal_possible_acknowledged_loss.value();
  // Without sync markers nothing on disk proves the last synced batch durable, so damage to
  // it is cut off like a torn tail, and flagged because the record had been written whole.
  lone_member c(/*sync_markers=*/false);
  c.write_and_stop(3);
  c.damage_last_entry(false);
  c.start(0);
  const runtime::node_status s = c.nodes[0]->status();
  CHECK(s.wal_torn_tails_repaired == 1);
  CHECK(s.wal_possible_acknowledged_loss == 1);
  CHECK(c.nodes[0]->wal_recovery().possible_acknowledged_loss == 1);
  CHECK(c.has_event("wal: POSSIBLE ACKNOWLEDGED LOSS"));
  CHECK(catalogue::wal_torn_tail_repairs.value() - repairs_before == 1);
  CHECK(catalogue::wal_possible_acknowledged_loss.value() - losses_before == 1);
  CHECK(exported_total("weft_wal_possible_acknowledged_loss") >= 1);
  // The next clean open reports nothing new.
  c.stop(0);
  c.start(0);
  CHECK(c.nodes[0]->status().wal_possible_acknowledged_loss == 0);
  CHECK(c.nodes[0]->status().wal_torn_tails_repaired == 0);
  CHECK_FALSE(c.has_event("wal: POSSIBLE ACKNOWLEDGED LOSS"));
}

TEST_CASE("node: after a graceful shutdown the WAL's final sync marker makes damage to the last "
          "batch a hard error, never a silent cut", "[runtime][node][telemetry][storage]") {
  const std::uint64_t losses_before = catalogue::wal_possible_acknowledged_loss.value();
  lone_member c(/*sync_markers=*/true);
  c.write_and_stop(3);
  c.damage_last_entry(true);
  c.nodes[0] = std::make_unique<catalogue_node>(c.loop, c.sms[0]);
  const auto opened = c.nodes[0]->open(c.options_for(0));
  REQUIRE_FALSE(opened);
  CHECK(opened.error() == storage::storage_errc::corrupt_record);
  CHECK(catalogue::wal_possible_acknowledged_loss.value() == losses_before);
}
