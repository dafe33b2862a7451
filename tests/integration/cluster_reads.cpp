// A read at a follower is ordered through the log (a barrier entry forwarded to the
// leader). When that leader is cut off, the barrier is dropped with it: the follower must
// answer once it sees the leadership change (503, retry) or serve the read through the new
// leader (200), not hold the client until request_timeout_ms and answer 504.
#include "cluster_harness.hpp"

using namespace std::chrono_literals;

TEST_CASE("cluster: a follower's read through the log does not wait for the timeout when its leader is cut off",
          "[integration][cluster]") {
  if (!weft_test::have_weftd()) return;
  auto o = weft_test::options(/*test_hooks=*/true);
  o.request_timeout_ms = 30000;  // a read left to time out answers 504 after 30 s
  weft_demo::cluster c(o);
  std::string error;
  REQUIRE(c.start(error));
  const std::uint64_t leader = c.wait_for_leader(15s);
  REQUIRE(leader != 0);
  std::uint64_t follower = 0;
  for (const auto& m : c.members())
    if (m.id != leader) follower = m.id;
  weft_demo::http_client at_leader(c.find(leader)->http);
  const auto written = at_leader.request("PUT", "/kv/k", "v1", 5s);
  REQUIRE(written.outcome == weft_demo::transport_outcome::answered);
  REQUIRE(written.status == 200);
  // The follower has applied the write once its read through the log works.
  weft_demo::http_client at_follower(c.find(follower)->http);
  REQUIRE(weft_test::eventually(10s, [&] { return at_follower.request("GET", "/kv/k", {}, 5s).status == 200; }));

  REQUIRE(c.post(leader, "/debug/isolate").rfind("200", 0) == 0);
  // The follower still takes the isolated member for the leader: its barrier goes there and
  // is dropped. The answer must not be the 30 s timeout's 504.
  const auto read = at_follower.request("GET", "/kv/k", {}, 45s);
  INFO("answer " << read.status << " " << read.body << " " << read.error);
  REQUIRE(read.outcome == weft_demo::transport_outcome::answered);
  CHECK(read.status != 504);
  if (read.status == 200) CHECK(read.body == "v1");
  else CHECK(read.status == 503);
  // Once a new leader is agreed, reads at the follower are served again.
  REQUIRE(c.wait_for_leader(15s, leader) != 0);
  CHECK(weft_test::eventually(10s, [&] {
    const auto r = at_follower.request("GET", "/kv/k", {}, 5s);
    return r.status == 200 && r.body == "v1";
  }));
}
