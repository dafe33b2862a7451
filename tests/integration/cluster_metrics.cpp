// /metrics of every member of a live cluster, after some traffic, passes
// `promtool check metrics` (the Prometheus project's own linter); datagrams from an older
// wire version and in plaintext reach a member's SWIM port, and a Noise handshake of another
// wire version and one from a key and id the cluster does not hold its Raft port; they show
// up as refusals by kind.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "cluster_harness.hpp"
#include "weft/transport/tcp.hpp"

using namespace std::chrono_literals;

namespace {
/// A whole Noise handshake as member `claimed_id` with a fresh key no config lists, on a
/// blocking socket connected to a member's Raft port; true if the member then closes.
bool handshake_as_stranger(int fd, std::uint32_t claimed_id) {
  using session = weft::crypto::noise_session<weft::transport::tcp_noise_suite>;
  weft::transport::noise_secret_key static_key, ephemeral;
  weft::crypto::libsodium::random_source{}.fill(static_key.expose_mutable());
  weft::crypto::libsodium::random_source{}.fill(ephemeral.expose_mutable());
  auto s = session::create({}, weft::crypto::noise_role::initiator, std::move(static_key),
                           std::move(ephemeral), weft::as_bytes(weft::transport::tcp_transport::noise_prologue));
  if (!s) return false;
  std::vector<std::uint8_t> frame(70000), payload(70000);
  const std::uint8_t marker[] = {'W', 'S', weft::transport::tcp_transport::wire_version};
  auto m1 = s->write_handshake(weft::byte_view(marker, sizeof marker), frame);
  if (!m1 || ::send(fd, frame.data(), *m1, MSG_NOSIGNAL) != static_cast<ssize_t>(*m1)) return false;
  while (!s->frame_buffered()) {
    const auto n = ::recv(fd, frame.data(), frame.size(), 0);
    if (n <= 0 || !s->feed(weft::byte_view(frame.data(), static_cast<std::size_t>(n)))) return false;
  }
  if (!s->next_frame(payload)) return false;
  std::uint8_t hello[7] = {'W', 'S', weft::transport::tcp_transport::wire_version, 0, 0, 0, 0};
  weft::store_be<std::uint32_t>(hello + 3, claimed_id);
  auto m3 = s->write_handshake(weft::byte_view(hello, sizeof hello), frame);
  if (!m3 || ::send(fd, frame.data(), *m3, MSG_NOSIGNAL) != static_cast<ssize_t>(*m3)) return false;
  return ::recv(fd, frame.data(), 1, 0) == 0;
}

int connect_with_timeout(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(0x7f000001u);
  const timeval wait{3, 0};
  (void)::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) == 0) return fd;
  if (fd >= 0) ::close(fd);
  return -1;
}
}  // namespace

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
  // An older member's datagram (wire version 1) and a plaintext one to a sealing member.
  const auto& target = c.members().front();
  const int raw = ::socket(AF_INET, SOCK_DGRAM, 0);
  REQUIRE(raw >= 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(target.swim.port);
  to.sin_addr.s_addr = htonl(0x7f000001u);
  for (const std::string& bytes : {std::string("WD\x01\x00\x00\x00\x00\x02ping", 12),
                                   std::string("WD\x02\x00\x00\x00\x00\x02ping", 12)})
    CHECK(::sendto(raw, bytes.data(), bytes.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to) == 12);
  ::close(raw);
  // Noise message 1 of a member speaking wire version 9: u16 length, ephemeral key, version
  // marker "WS" 9. Refused before message 2: the member answers with its own marker in a
  // 3-byte frame and closes the connection.
  const int stream = connect_with_timeout(target.raft.port);
  REQUIRE(stream >= 0);
  std::string message_1{0, 35};
  message_1.append(32, '\x09');
  message_1.append("WS\x09", 3);
  CHECK(::send(stream, message_1.data(), message_1.size(), MSG_NOSIGNAL) == 37);
  std::string answer;
  char chunk[64];
  ssize_t got = 0;
  while ((got = ::recv(stream, chunk, sizeof chunk, 0)) > 0) answer.append(chunk, static_cast<std::size_t>(got));
  CHECK(got == 0);  // closed by the member
  CHECK(answer == std::string{0, 3, 'W', 'S', static_cast<char>(weft::transport::tcp_transport::wire_version)});
  ::close(stream);
  // A Noise peer whose hello names id 99, which no member's config lists.
  const int stranger = connect_with_timeout(target.raft.port);
  REQUIRE(stranger >= 0);
  CHECK(handshake_as_stranger(stranger, 99));
  ::close(stranger);
  weft_test::sleep_ms(300);

  for (const auto& m : c.members()) {
    weft_demo::http_client client(m.http);
    const auto r = client.request("GET", "/metrics", {}, 3s);
    REQUIRE(r.outcome == weft_demo::transport_outcome::answered);
    REQUIRE(r.status == 200);
    CHECK(r.body.find("# TYPE ") != std::string::npos);
    if (m.id == target.id) {
      CHECK(r.body.find("weftd_transport_refusals_total{transport=\"udp\",kind=\"version\"} 1\n") != std::string::npos);
      CHECK(r.body.find("weftd_transport_refusals_total{transport=\"udp\",kind=\"mode_mismatch\"} 1\n") != std::string::npos);
      CHECK(r.body.find("weftd_transport_refusals_total{transport=\"tcp\",kind=\"wire_version\"} 1\n") != std::string::npos);
      CHECK(r.body.find("weftd_transport_refusals_total{transport=\"tcp\",kind=\"unknown_member\"} 1\n") != std::string::npos);
      CHECK(r.body.find("weftd_transport_refusals_total{transport=\"tcp\",kind=\"handshake\"} 0\n") != std::string::npos);
    }
    // Every refusal kind of a connection that never identified is a series of its own.
    for (const char* kind : {"table_full", "resources", "bad_hello", "wire_version", "unknown_member"}) {
      CAPTURE(kind);
      CHECK(r.body.find("weftd_transport_refusals_total{transport=\"tcp\",kind=\"" + std::string(kind) + "\"}") !=
            std::string::npos);
    }
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
