// The dashboard end to end: headless Chromium loads the page a member serves against a
// live 3-member cluster and the rendered DOM shows 3 members up and a leader; after the
// leader is SIGKILLed and a new one elected, the page (from a surviving member) marks the
// killed member down and names a different leader.
#include <fstream>
#include <map>

#include "cluster_harness.hpp"

using namespace std::chrono_literals;

namespace {

struct dom_view {
  std::map<std::uint64_t, std::pair<std::string, std::string>> members;  // id -> (link, role)
  std::string leader;                                                     // data-leader
};

std::string attribute(std::string_view tag, std::string_view name) {
  const std::string key = std::string(name) + "=\"";
  const auto at = tag.find(key);
  if (at == std::string_view::npos) return {};
  const auto start = at + key.size();
  const auto end = tag.find('"', start);
  return end == std::string_view::npos ? std::string() : std::string(tag.substr(start, end - start));
}

dom_view parse_dom(const std::string& dom) {
  dom_view v;
  for (std::size_t at = dom.find("<tr "); at != std::string::npos; at = dom.find("<tr ", at + 1)) {
    const auto end = dom.find('>', at);
    const std::string_view tag(dom.data() + at, (end == std::string::npos ? dom.size() : end) - at);
    const std::string id = attribute(tag, "data-member");
    if (id.empty()) continue;
    v.members[std::strtoull(id.c_str(), nullptr, 10)] = {attribute(tag, "data-link"), attribute(tag, "data-role")};
  }
  const auto leader = dom.find("id=\"leader\"");
  if (leader != std::string::npos) {
    const auto start = dom.rfind('<', leader);
    const auto end = dom.find('>', leader);
    v.leader = attribute(std::string_view(dom).substr(start, end - start), "data-leader");
  }
  return v;
}

std::string dump_dom(const std::string& chromium, const std::filesystem::path& dir, const weft_demo::endpoint& http) {
  static int run = 0;
  const auto profile = dir / ("chromium-profile-" + std::to_string(++run));
  const auto out = dir / ("dom-" + std::to_string(run) + ".html");
  const std::string command = "timeout 40 " + chromium +
                              " --headless --no-sandbox --disable-gpu --disable-quic --no-first-run"
                              " --disable-background-networking --disable-component-update --disable-sync"
                              " --user-data-dir='" + profile.string() + "' --virtual-time-budget=6000 --dump-dom"
                              " http://" + http.host + ":" + std::to_string(http.port) + "/ > '" + out.string() +
                              "' 2>/dev/null";
  const int rc = weft_test::run_shell(command);
  INFO("chromium exit status " << rc);
  std::ifstream in(out);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace

TEST_CASE("dom parsing finds members and the leader", "[integration][dashboard]") {
  const auto v = parse_dom(R"(<span id="leader" data-leader="2">2</span><table><tr><th>x</th></tr>)"
                           R"(<tr data-member="1" data-link="down" data-role="unknown"><td>1</td></tr>)"
                           R"(<tr data-member="2" data-link="up" data-role="leader"></tr>)");
  REQUIRE(v.members.size() == 2);
  CHECK(v.members.at(1).first == "down");
  CHECK(v.members.at(2).second == "leader");
  CHECK(v.leader == "2");
  CHECK(parse_dom("<tr><td>no members</td></tr>").members.empty());
}

TEST_CASE("dashboard in headless Chromium: members, leader, and a killed leader", "[integration][dashboard]") {
  if (!weft_test::have_weftd()) return;
  const std::string chromium = "/usr/bin/chromium";
  if (!weft_test::executable(chromium)) {
    WARN("SKIPPED: " << chromium << " is absent (Debian package chromium; run tools/bootstrap.sh)");
    return;
  }
  weft_demo::cluster c(weft_test::options());
  std::string error;
  REQUIRE(c.start(error));
  const std::uint64_t leader = c.wait_for_leader(15s);
  REQUIRE(leader != 0);

  const std::string before_dom = dump_dom(chromium, c.directory(), c.find(leader)->http);
  INFO("DOM before:\n" << before_dom.substr(0, 4000));
  const auto before = parse_dom(before_dom);
  REQUIRE(before.members.size() == 3);
  for (const auto& [id, state] : before.members) {
    INFO("member " << id);
    CHECK(state.first == "up");
  }
  CHECK(before.leader == std::to_string(leader));

  c.kill_member(leader, SIGKILL);
  const std::uint64_t next = c.wait_for_leader(15s, leader);
  REQUIRE(next != 0);
  const std::uint64_t survivor = next;
  const std::string after_dom = dump_dom(chromium, c.directory(), c.find(survivor)->http);
  INFO("DOM after:\n" << after_dom.substr(0, 4000));
  const auto after = parse_dom(after_dom);
  REQUIRE(after.members.count(leader) == 1);
  CHECK(after.members.at(leader).first == "down");
  CHECK(after.leader == std::to_string(next));
  CHECK(after.leader != std::to_string(leader));
}
