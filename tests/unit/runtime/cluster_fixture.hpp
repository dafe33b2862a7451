// tests/unit/runtime/cluster_fixture.hpp - members of a cluster in one process on one event
// loop, with kernel-picked loopback ports and real files in a temporary directory (shared by
// the node tests).
#pragma once

#include <catch2/catch.hpp>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "weft/runtime/node.hpp"

#include "../../../examples/weft_demo/free_port.hpp"

namespace weft_test {

/// A state machine that only counts what it applies (tests that watch the node, not data).
struct counting_sm {
  std::size_t applied = 0;
  void apply(weft::raft::index_t, weft::byte_view) noexcept { ++applied; }
  void read_ready(std::uint64_t) noexcept {}
  void read_failed(std::uint64_t) noexcept {}
  template <class Writer>
  weft::result<void> save_snapshot(Writer&) noexcept { return weft::ok(); }
  template <class Reader>
  weft::result<void> load_snapshot(Reader&) noexcept { return weft::ok(); }
};

/// `Members` nodes of type `Node`, each applying to its own `StateMachine`. Member i listens
/// for Raft on ports[i] and for SWIM on ports[i + Members]; every member knows the others.
template <class Node, class StateMachine, int Members>
struct loopback_cluster {
  weft::runtime::event_loop loop;
  std::string root;
  std::uint16_t ports[2 * Members] = {};  // kernel-picked: fixed ranges collided with ephemeral ports
  StateMachine sms[Members];
  std::unique_ptr<Node> nodes[Members];
  std::uint64_t snapshot_interval_entries = 10000;
  /// Applied last to each member's options (a test's own SWIM timing, say).
  std::function<void(weft::runtime::node_options&)> adjust_options;

  loopback_cluster() {
    REQUIRE(loop.init());
    char pattern[] = "/tmp/weft-node-test-XXXXXX";
    REQUIRE(::mkdtemp(pattern) != nullptr);
    root = pattern;
    for (auto& port : ports) {
      port = weft_demo::pick_free_port();
      REQUIRE(port != 0);
    }
  }
  ~loopback_cluster() {
    for (auto& n : nodes) n.reset();
    std::error_code ignored;
    std::filesystem::remove_all(root, ignored);
  }
  loopback_cluster(const loopback_cluster&) = delete;
  loopback_cluster& operator=(const loopback_cluster&) = delete;

  weft::transport::ipv4_endpoint ep(int port) const { return {0x7f000001u, ports[port]}; }
  weft::runtime::node_options options_for(int i) const {
    weft::runtime::node_options o;
    o.id = static_cast<std::uint64_t>(i + 1);
    o.raft_address = ep(i);
    o.swim_address = ep(i + Members);
    o.data_dir = root + "/" + std::to_string(i + 1);
    o.tick_ms = 5;
    o.raft.election_timeout_ticks_min = 20;
    o.raft.election_timeout_ticks_max = 40;
    o.raft.heartbeat_interval_ticks = 3;
    o.snapshot_interval_entries = snapshot_interval_entries;
    o.raft.max_snapshot_chunk_bytes = 512;  // several chunks even for a small snapshot
    for (int j = 0; j < Members; ++j)
      if (j != i) o.peers.push_back({static_cast<std::uint64_t>(j + 1), ep(j), ep(j + Members)});
    if (adjust_options) adjust_options(o);
    return o;
  }
  void start(int i) {
    sms[i] = StateMachine{};
    nodes[i] = std::make_unique<Node>(loop, sms[i]);
    const auto opened = nodes[i]->open(options_for(i));
    INFO((opened ? "" : std::string(opened.error().message()) + " at " + opened.error().where()));
    REQUIRE(opened);
  }
  void stop(int i) { nodes[i].reset(); }

  /// Runs the loop until `done()` or a generous wall-clock bound; returns done().
  template <class F>
  bool run_until(F done, int max_ms = 10000) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(max_ms);
    while (std::chrono::steady_clock::now() < until) {
      if (done()) return true;  // done() may act (propose): call it once per turn
      (void)loop.run_once(weft::milliseconds(5));
    }
    return false;
  }
  int leader() const {
    for (int i = 0; i < Members; ++i)
      if (nodes[i] && nodes[i]->status().role == weft::raft::role::leader) return i;
    return -1;
  }
};

}  // namespace weft_test
