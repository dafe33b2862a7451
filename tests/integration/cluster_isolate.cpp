// An isolated member (weftd's /debug/isolate test hook drops its Raft and SWIM traffic):
// isolating the leader makes the other two elect a new one while clients keep going;
// after /debug/heal the old leader rejoins as a follower and catches up. The client
// history stays linearizable throughout.
#include "cluster_harness.hpp"

using namespace std::chrono_literals;

TEST_CASE("cluster: isolated leader is replaced, heals and catches up", "[integration][cluster]") {
  if (!weft_test::have_weftd()) return;
  weft_demo::cluster c(weft_test::options(/*test_hooks=*/true));
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

  const std::uint64_t isolated = tracker.leader();
  REQUIRE(isolated != 0);
  const std::string answer = c.post(isolated, "/debug/isolate");
  INFO("isolate answered: " << answer);
  REQUIRE(answer.rfind("200", 0) == 0);

  // The majority side elects a leader of its own; the isolated member cannot commit.
  std::uint64_t majority_leader = 0;
  REQUIRE(weft_test::eventually(15s, [&] {
    for (const auto& m : c.members()) {
      if (m.id == isolated) continue;
      const auto s = c.status_of(m.id);
      if (s && s->role == "leader") majority_leader = m.id;
    }
    return majority_leader != 0;
  }));
  CHECK(majority_leader != isolated);
  // Clients follow the majority leader once the tracker sees it agreed by 2 of 3.
  const std::uint64_t writes_before = load.ok_writes();
  CHECK(weft_test::eventually(15s, [&] { return load.ok_writes() >= writes_before + 20; }));

  REQUIRE(c.post(isolated, "/debug/heal").rfind("200", 0) == 0);
  std::uint64_t target = 0;
  if (auto s = c.status_of(majority_leader)) target = s->commit_index;
  CHECK(weft_test::eventually(15s, [&] {
    const auto s = c.status_of(isolated);
    return s && s->role != "leader" && s->applied_index >= target;
  }));
  load.stop();
  tracker.stop();
  INFO("ok " << load.counts().ok.load() << " fail " << load.counts().fail.load() << " info " << load.counts().info.load());
  CHECK(weft_test::checked(load.history()) == weft::sim::verdict::linearizable);
}
