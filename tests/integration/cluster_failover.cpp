// Multi-process weftd cluster on loopback: SIGKILL of the leader mid-workload, a new
// leader, restart of the killed member from its data directory, catch-up, and a client
// history the linearizability checker accepts.
#include "cluster_harness.hpp"

using namespace std::chrono_literals;

TEST_CASE("cluster: leader SIGKILL, failover, restart and a linearizable history", "[integration][cluster]") {
  if (!weft_test::have_weftd()) return;
  weft_demo::cluster c(weft_test::options());
  std::string error;
  REQUIRE(c.start(error));
  const std::uint64_t first = c.wait_for_leader(15s);
  REQUIRE(first != 0);

  weft_demo::leader_tracker tracker(c);
  tracker.start();
  weft_demo::workload_options wo;
  wo.clients = 4;
  wo.keys = 4;
  wo.request_timeout = 2500ms;
  weft_demo::workload load(wo, [&] { return tracker.leader_http(); });
  load.start();
  REQUIRE(weft_test::eventually(10s, [&] { return load.ok_writes() >= 20; }));

  const std::uint64_t old_leader = tracker.leader();
  REQUIRE(old_leader != 0);
  {
    std::lock_guard lock(weft_demo::leader_tracker::cluster_mutex());
    c.kill_member(old_leader, SIGKILL);
  }
  const std::uint64_t next = c.wait_for_leader(15s, old_leader);
  REQUIRE(next != 0);
  CHECK(next != old_leader);
  const std::uint64_t writes_after_failover = load.ok_writes();
  CHECK(weft_test::eventually(10s, [&] { return load.ok_writes() >= writes_after_failover + 20; }));

  {
    std::lock_guard lock(weft_demo::leader_tracker::cluster_mutex());
    REQUIRE(c.start_member(old_leader, error));
  }
  // The restarted member replays its WAL and catches up with the leader's commit index.
  std::uint64_t target = 0;
  if (auto s = c.status_of(next)) target = s->commit_index;
  REQUIRE(target > 0);
  CHECK(weft_test::eventually(15s, [&] {
    const auto s = c.status_of(old_leader);
    return s && s->applied_index >= target;
  }));
  weft_test::sleep_ms(500);
  load.stop();
  tracker.stop();

  INFO("ok " << load.counts().ok.load() << " fail " << load.counts().fail.load() << " info " << load.counts().info.load());
  CHECK(load.counts().ok.load() > 40);
  CHECK(weft_test::checked(load.history()) == weft::sim::verdict::linearizable);

  // Clean stop: every member exits 0 on SIGTERM.
  for (const auto& m : c.members()) {
    const int status = c.kill_member(m.id, SIGTERM);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
}

TEST_CASE("cluster: a follower SIGKILLed and restarted keeps the data it acknowledged", "[integration][cluster]") {
  if (!weft_test::have_weftd()) return;
  weft_demo::cluster c(weft_test::options());
  std::string error;
  REQUIRE(c.start(error));
  const std::uint64_t leader = c.wait_for_leader(15s);
  REQUIRE(leader != 0);
  const std::uint64_t follower = leader == 1 ? 2 : 1;
  weft_demo::http_client to_leader(c.find(leader)->http);
  for (int i = 0; i < 20; ++i) {
    auto r = to_leader.request("PUT", "/kv/durable-" + std::to_string(i), "value-" + std::to_string(i), 3s);
    REQUIRE(r.outcome == weft_demo::transport_outcome::answered);
    REQUIRE(r.status == 200);
  }
  c.kill_member(follower, SIGKILL);
  // Writes still commit with 2 of 3.
  auto during = to_leader.request("PUT", "/kv/while-down", "yes", 3s);
  REQUIRE(during.status == 200);
  REQUIRE(c.start_member(follower, error));
  const auto leader_commit = c.status_of(leader)->commit_index;
  REQUIRE(weft_test::eventually(15s, [&] {
    const auto s = c.status_of(follower);
    return s && s->applied_index >= leader_commit;
  }));
  // Now kill the leader: the restarted follower (or the other) must serve every value.
  c.kill_member(leader, SIGKILL);
  const std::uint64_t next = c.wait_for_leader(15s, leader);
  REQUIRE(next != 0);
  weft_demo::http_client to_next(c.find(next)->http);
  for (int i = 0; i < 20; ++i) {
    auto r = to_next.request("GET", "/kv/durable-" + std::to_string(i), {}, 3s);
    REQUIRE(r.status == 200);
    CHECK(r.body == "value-" + std::to_string(i));
  }
  CHECK(to_next.request("GET", "/kv/while-down", {}, 3s).body == "yes");
  CHECK(to_next.request("GET", "/kv/never-written", {}, 3s).status == 404);
}

TEST_CASE("cluster glue: HTTP outcomes map to ok/fail/info and a stale read is caught", "[integration][cluster]") {
  using weft::sim::kv_model;
  using weft::sim::op_status;
  kv_model::output out;
  weft_demo::http_response r;
  r.outcome = weft_demo::transport_outcome::not_sent;
  CHECK(weft_demo::classify(r, kv_model::kind::put, out) == op_status::fail);
  r.outcome = weft_demo::transport_outcome::unknown;
  CHECK(weft_demo::classify(r, kv_model::kind::put, out) == op_status::info);
  r.outcome = weft_demo::transport_outcome::answered;
  r.status = 504;
  CHECK(weft_demo::classify(r, kv_model::kind::put, out) == op_status::info);
  r.status = 503;
  CHECK(weft_demo::classify(r, kv_model::kind::remove, out) == op_status::fail);
  r.status = 404;
  CHECK(weft_demo::classify(r, kv_model::kind::get, out) == op_status::ok);
  CHECK_FALSE(out.found);
  r.status = 200;
  r.body = "4294967297";
  CHECK(weft_demo::classify(r, kv_model::kind::get, out) == op_status::ok);
  CHECK(out.found);
  CHECK(out.value == 4294967297);
  r.body = "garbage";
  CHECK(weft_demo::classify(r, kv_model::kind::get, out) == op_status::info);

  const auto status = weft_demo::parse_status(
      R"({"node":{"id":2},"raft":{"role":"follower","term":7,"leader":null,"commit_index":12,"applied_index":11}})");
  REQUIRE(status);
  CHECK(status->role == "follower");
  CHECK(status->term == 7);
  CHECK(status->leader == 0);
  CHECK(status->applied_index == 11);
  CHECK_FALSE(weft_demo::parse_status(R"({"node":{}})"));

  // put 1 completes, then a read that starts later sees the old (absent) value: not linearizable.
  weft_demo::kv_history h;
  const auto put = h.invoke(0, {kv_model::kind::put, 1, 10}, 0);
  h.ok(put, {}, 5);
  const auto get = h.invoke(1, {kv_model::kind::get, 1, 0}, 6);
  h.ok(get, {false, 0}, 8);
  CHECK(weft::sim::check(h).answer == weft::sim::verdict::not_linearizable);
  // The same read overlapping the put is fine.
  weft_demo::kv_history overlapping;
  const auto p2 = overlapping.invoke(0, {kv_model::kind::put, 1, 10}, 0);
  const auto g2 = overlapping.invoke(1, {kv_model::kind::get, 1, 0}, 1);
  overlapping.ok(g2, {false, 0}, 2);
  overlapping.ok(p2, {}, 5);
  CHECK(weft::sim::check(overlapping).answer == weft::sim::verdict::linearizable);
}
