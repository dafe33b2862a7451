// weftd's request bookkeeping through HTTP: a write retried with the same X-Request-Id
// applies once (at the leader and at a follower), an over-long id is refused, a second
// request under the id of one still waiting here is 409, and a write that cannot commit is
// answered 504 "outcome unknown" at its deadline and freed.
#include <thread>

#include "cluster_harness.hpp"

using namespace std::chrono_literals;

namespace {

std::string pending_requests_line(weft_demo::http_client& scraper) {
  const std::string metrics = scraper.request("GET", "/metrics", {}, 1s).body;
  const auto at = metrics.find("\nweftd_kv_requests_pending ");
  if (at == std::string::npos) return {};
  return metrics.substr(at + 1, metrics.find('\n', at + 1) - at - 1);
}

}  // namespace

TEST_CASE("weftd HTTP: X-Request-Id applies once, 409 while waiting, 504 at the deadline", "[integration][http]") {
  if (!weft_test::have_weftd()) return;
  auto o = weft_test::options(/*test_hooks=*/true);
  o.request_timeout_ms = 1500;
  weft_demo::cluster c(o);
  std::string error;
  REQUIRE(c.start(error));
  const std::uint64_t leader = c.wait_for_leader(15s);
  REQUIRE(leader != 0);
  std::uint64_t follower = 0;
  for (const auto& m : c.members())
    if (m.id != leader) follower = m.id;
  weft_demo::http_client at_leader(c.find(leader)->http);
  weft_demo::http_client at_follower(c.find(follower)->http);

  const auto first = at_leader.request("PUT", "/kv/once", "one", 5s, "X-Request-Id: retry-1\r\n");
  REQUIRE(first.status == 200);
  const auto retried = at_follower.request("PUT", "/kv/once", "two", 5s, "X-Request-Id: retry-1\r\n");
  CHECK(retried.status == 200);
  CHECK(at_leader.request("GET", "/kv/once", {}, 5s).body == "one");
  const std::string too_long = "X-Request-Id: " + std::string(129, 'i') + "\r\n";
  CHECK(at_leader.request("PUT", "/kv/once", "three", 5s, too_long).status == 400);

  // The isolated leader takes the write but cannot commit it.
  REQUIRE(c.post(leader, "/debug/isolate").rfind("200", 0) == 0);
  weft_demo::http_response stuck;
  std::thread waiting([&] {
    weft_demo::http_client client(c.find(leader)->http);
    stuck = client.request("PUT", "/kv/stuck", "x", 10s, "X-Request-Id: stuck-1\r\n");
  });
  weft_demo::http_client scraper(c.find(leader)->http);
  const bool one_waiting =
      weft_test::eventually(1s, [&] { return pending_requests_line(scraper) == "weftd_kv_requests_pending 1"; });
  const auto duplicate = at_leader.request("PUT", "/kv/stuck", "y", 5s, "X-Request-Id: stuck-1\r\n");
  waiting.join();
  REQUIRE(one_waiting);
  CHECK(duplicate.status == 409);
  CHECK(stuck.status == 504);
  CHECK(stuck.body == R"({"outcome":"unknown"})");
  CHECK(pending_requests_line(scraper) == "weftd_kv_requests_pending 0");
  (void)c.post(leader, "/debug/heal");
}
