// weftd's [security] settings: bad ones are refused at start with one line naming the key;
// a default cluster (Ed25519 admission, Noise links) whose keys and statements cluster.hpp
// provisioned elects a leader, takes writes, and exports per-peer transport series.
#include <algorithm>
#include <fstream>

#include "cluster_harness.hpp"

using namespace std::chrono_literals;

namespace {
/// Starts weftd on `config_text`; returns its exit status and its stderr in `said`.
int start_with(const std::filesystem::path& dir, const std::string& name, const std::string& config_text,
               std::string& said) {
  const auto config = dir / (name + ".toml");
  const auto err = dir / (name + ".err");
  std::ofstream(config) << config_text;
  const int rc = weft_test::run_shell("'" + weft_test::weftd_path() + "' --config '" + config.string() +
                                      "' > /dev/null 2> '" + err.string() + "'");
  std::ifstream in(err);
  said.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return rc;
}
}  // namespace

TEST_CASE("weftd: bad [security] settings are refused with the key named", "[integration][security]") {
  if (!weft_test::have_weftd()) return;
  char pattern[] = "/tmp/weft-security-XXXXXX";
  REQUIRE(::mkdtemp(pattern) != nullptr);
  const std::filesystem::path dir(pattern);
  std::ofstream(dir / "good.seed") << std::string(64, 'a') << "\n";
  std::ofstream(dir / "short.seed") << "abcd\n";
  const std::string node =
      "[node]\nid = 1\ndata_dir = \"" + (dir / "data").string() +
      "\"\nraft_address = \"127.0.0.1:7101\"\nswim_address = \"127.0.0.1:7201\"\nhttp_address = \"127.0.0.1:8101\"\n";
  const std::string peer =
      "[[peers]]\nid = 2\nraft_address = \"127.0.0.1:7102\"\nswim_address = \"127.0.0.1:7202\"\n"
      "http_address = \"127.0.0.1:8102\"\n";
  const std::string good_key = "member_key = \"" + std::string(64, 'b') + "\"\n";
  std::ofstream(dir / "good.statement") << "abcd\n";  // hex: weftd checks the statement at open
  const std::string security = "[security]\nmember_seed_file = \"good.seed\"\nadmin_public_key = \"" +
                               std::string(64, 'c') + "\"\nstatement_file = \"good.statement\"\n";
  struct bad_case {
    const char* name;
    std::string text;
    const char* key;
  };
  const bad_case cases[] = {
      {"no_security", node + peer + good_key, "[security] table is missing"},
      {"unknown_mode", node + "[security]\ntransport = \"tls\"\n", "security.transport = \"tls\""},
      {"short_seed", node + "[security]\nmember_seed_file = \"short.seed\"\n", "security.member_seed_file"},
      {"missing_seed", node + "[security]\nmember_seed_file = \"absent.seed\"\n", "cannot be read"},
      {"no_admin_key", node + "[security]\nmember_seed_file = \"good.seed\"\n", "security.admin_public_key is missing"},
      {"bad_admin_key",
       node + "[security]\nmember_seed_file = \"good.seed\"\nadmin_public_key = \"zz\"\n",
       "security.admin_public_key = \"zz\""},
      {"missing_statement",
       node + "[security]\nmember_seed_file = \"good.seed\"\nadmin_public_key = \"" + std::string(64, 'c') +
           "\"\nstatement_file = \"absent.statement\"\n",
       "security.statement_file"},
      {"no_peer_key", node + peer + security, "peers[0].member_key is missing"},
      {"bad_peer_key", node + peer + "member_key = \"xyz\"\n" + security, "peers[0].member_key = \"xyz\""},
      {"unknown_key", node + security + "cipher = \"none\"\n", "security.cipher"},
  };
  for (const bad_case& c : cases) {
    std::string said;
    const int rc = start_with(dir, c.name, c.text, said);
    INFO(c.name << ": " << said);
    CHECK(rc == 2);
    CHECK(said.rfind("error: config: ", 0) == 0);
    CHECK(said.find(c.key) != std::string::npos);
    CHECK(std::count(said.begin(), said.end(), '\n') == 1);
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
}

TEST_CASE("weftd: a Noise cluster elects a leader, commits and exports per-peer series",
          "[integration][security]") {
  if (!weft_test::have_weftd()) return;
  weft_demo::cluster c(weft_test::options());
  std::string error;
  REQUIRE(c.start(error));
  for (const auto& m : c.members()) CHECK_FALSE(m.member_key.empty());
  const std::uint64_t leader = c.wait_for_leader(15s);
  REQUIRE(leader != 0);
  weft_demo::http_client to_leader(c.find(leader)->http);
  const auto put = to_leader.request("PUT", "/kv/secure", "value", 3s);
  REQUIRE(put.outcome == weft_demo::transport_outcome::answered);
  CHECK(put.status / 100 == 2);
  weft_test::sleep_ms(300);  // a tick or two for the series to catch up
  const auto metrics = to_leader.request("GET", "/metrics", {}, 3s);
  REQUIRE(metrics.status == 200);
  for (const auto& m : c.members()) {
    if (m.id == leader) continue;
    INFO("peer " << m.id);
    CHECK(metrics.body.find("weft_transport_sent_bytes_total{peer=\"" + std::to_string(m.id) + "\"}") !=
          std::string::npos);
  }
}
