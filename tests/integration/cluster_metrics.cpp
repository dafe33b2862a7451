// /metrics of every member of a live cluster, after some traffic, passes
// `promtool check metrics` (the Prometheus project's own linter).
#include <fstream>

#include "cluster_harness.hpp"

using namespace std::chrono_literals;

TEST_CASE("cluster: /metrics passes promtool check metrics on every member", "[integration][cluster]") {
  if (!weft_test::have_weftd()) return;
  const std::string promtool = "/usr/bin/promtool";
  if (!weft_test::executable(promtool)) {
    WARN("SKIPPED: " << promtool << " is absent (Debian package prometheus; run tools/bootstrap.sh)");
    return;
  }
  weft_demo::cluster c(weft_test::options());
  std::string error;
  REQUIRE(c.start(error));
  const std::uint64_t leader = c.wait_for_leader(15s);
  REQUIRE(leader != 0);
  weft_demo::http_client to_leader(c.find(leader)->http);
  for (int i = 0; i < 50; ++i) (void)to_leader.request("PUT", "/kv/m" + std::to_string(i % 5), "v", 3s);
  (void)to_leader.request("GET", "/kv/m1", {}, 3s);
  weft_test::sleep_ms(300);

  for (const auto& m : c.members()) {
    weft_demo::http_client client(m.http);
    const auto r = client.request("GET", "/metrics", {}, 3s);
    REQUIRE(r.outcome == weft_demo::transport_outcome::answered);
    REQUIRE(r.status == 200);
    CHECK(r.body.find("# TYPE ") != std::string::npos);
    const auto file = c.directory() / ("metrics-" + std::to_string(m.id) + ".txt");
    std::ofstream(file) << r.body;
    const auto out = c.directory() / ("promtool-" + std::to_string(m.id) + ".txt");
    const int rc = weft_test::run_shell(promtool + " check metrics < '" + file.string() + "' > '" + out.string() + "' 2>&1");
    std::ifstream in(out);
    const std::string said((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    INFO("member " << m.id << ": promtool said:\n" << said);
    CHECK(rc == 0);
  }
  // A line that breaks the format must make promtool fail: the check can fail.
  const auto bad = c.directory() / "bad.txt";
  std::ofstream(bad) << "# TYPE broken counter\nbroken{ 1\n";
  CHECK(weft_test::run_shell(promtool + " check metrics < '" + bad.string() + "' > /dev/null 2>&1") != 0);
}
