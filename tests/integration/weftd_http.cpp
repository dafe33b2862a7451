// weftd's HTTP front on raw sockets: keep-alive, pipelined requests answered in order,
// HTTP/1.0, bad input refused with the right status (and the connection closed), a slow
// client closed by the connection sweep, and the WebSocket upgrade.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "cluster_harness.hpp"

using namespace std::chrono_literals;

namespace {

struct answer {
  int status = 0;
  std::string head, body;
};

class raw_connection {
 public:
  /// receive_buffer_bytes > 0 shrinks the receive window (set before connecting).
  explicit raw_connection(std::uint16_t port, int receive_buffer_bytes = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ >= 0 && receive_buffer_bytes > 0)
      (void)::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer_bytes, sizeof receive_buffer_bytes);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    to.sin_addr.s_addr = htonl(0x7f000001u);
    connected_ = fd_ >= 0 && ::connect(fd_, reinterpret_cast<const sockaddr*>(&to), sizeof to) == 0;
  }
  ~raw_connection() {
    if (fd_ >= 0) ::close(fd_);
  }
  [[nodiscard]] bool connected() const { return connected_; }
  bool send_all(const std::string& bytes) {
    std::size_t at = 0;
    while (at < bytes.size()) {
      const ssize_t n = ::send(fd_, bytes.data() + at, bytes.size() - at, MSG_NOSIGNAL);
      if (n <= 0) return false;
      at += static_cast<std::size_t>(n);
    }
    return true;
  }
  /// Reads until `count` complete answers arrived, the peer closed, or `timeout` passed.
  std::vector<answer> read_answers(std::size_t count, std::chrono::milliseconds timeout = 5s) {
    std::vector<answer> out;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (out.size() < count && !closed_) {
      if (take(out)) continue;
      if (!wait_readable(deadline)) break;
      receive();
    }
    return out;
  }
  /// True when the peer closes the connection (after any answers) before `timeout`.
  bool closed_within(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!closed_ && wait_readable(deadline)) receive();
    return closed_;
  }

 private:
  bool wait_readable(std::chrono::steady_clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, static_cast<int>(left.count())) == 1;
  }
  void receive() {
    char chunk[4096];
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) closed_ = true;
    else in_.append(chunk, static_cast<std::size_t>(n));
  }
  /// Moves one complete answer from in_ to out.
  bool take(std::vector<answer>& out) {
    const auto head_end = in_.find("\r\n\r\n");
    if (head_end == std::string::npos) return false;
    answer a;
    a.head = in_.substr(0, head_end + 2);
    a.status = std::atoi(a.head.c_str() + 9);
    std::size_t length = 0;
    if (const auto at = a.head.find("Content-Length: "); at != std::string::npos)
      length = std::strtoul(a.head.c_str() + at + 16, nullptr, 10);
    if (in_.size() < head_end + 4 + length) return false;
    a.body = in_.substr(head_end + 4, length);
    in_.erase(0, head_end + 4 + length);
    out.push_back(std::move(a));
    return true;
  }

  int fd_ = -1;
  bool connected_ = false;
  bool closed_ = false;
  std::string in_;
};

std::string put(const std::string& key, const std::string& value) {
  return "PUT /kv/" + key + " HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(value.size()) + "\r\n\r\n" + value;
}
std::string get(const std::string& key) { return "GET /kv/" + key + " HTTP/1.1\r\nHost: x\r\n\r\n"; }

}  // namespace

TEST_CASE("weftd HTTP: keep-alive, pipelining, HTTP/1.0, bad input, slow clients, WebSocket",
          "[integration][http]") {
  if (!weft_test::have_weftd()) return;
  auto o = weft_test::options();
  o.request_timeout_ms = 1000;  // a slow client is closed after ~1 s
  weft_demo::cluster c(o);
  std::string error;
  REQUIRE(c.start(error));
  const std::uint64_t leader = c.wait_for_leader(15s);
  REQUIRE(leader != 0);
  const std::uint16_t port = c.find(leader)->http.port;

  SECTION("one connection serves writes and a read in turn, and pipelined requests in order") {
    raw_connection conn(port);
    REQUIRE(conn.connected());
    for (int i = 0; i < 3; ++i) {
      REQUIRE(conn.send_all(put("a", "value-" + std::to_string(i))));
      const auto answers = conn.read_answers(1);
      REQUIRE(answers.size() == 1);
      CHECK(answers[0].status == 200);
      CHECK(answers[0].body.starts_with("{\"index\":"));
    }
    REQUIRE(conn.send_all(put("b", "one") + put("b", "two") + get("b") + get("missing")));
    const auto answers = conn.read_answers(4);
    REQUIRE(answers.size() == 4);
    CHECK(answers[0].status == 200);
    CHECK(answers[1].status == 200);
    CHECK(answers[2].status == 200);
    CHECK(answers[2].body == "two");
    CHECK(answers[3].status == 404);
    CHECK(answers[1].head.find("Connection: close") == std::string::npos);
  }
  SECTION("HTTP/1.0 without keep-alive is answered, then closed") {
    raw_connection conn(port);
    REQUIRE(conn.connected());
    REQUIRE(conn.send_all("GET /status HTTP/1.0\r\n\r\n"));
    const auto answers = conn.read_answers(1);
    REQUIRE(answers.size() == 1);
    CHECK(answers[0].status == 200);
    CHECK(answers[0].head.starts_with("HTTP/1.0 200 OK\r\n"));
    CHECK(answers[0].body.find("\"raft\"") != std::string::npos);
    CHECK(conn.closed_within(2s));
  }
  SECTION("bad input: malformed, oversized body, oversized headers; each closes the connection") {
    const std::vector<std::pair<std::string, int>> cases{
        {"NOT HTTP AT ALL\r\n\r\n", 400},
        {"PUT /kv/big HTTP/1.1\r\nContent-Length: 70000\r\n\r\n" + std::string(70000, 'x'), 413},
        {"GET /status HTTP/1.1\r\nX-Pad: " + std::string(9000, 'p') + "\r\n\r\n", 431},
    };
    for (const auto& [bytes, status] : cases) {
      raw_connection conn(port);
      REQUIRE(conn.connected());
      (void)conn.send_all(bytes);  // the member may close before the whole body is sent
      const auto answers = conn.read_answers(1);
      REQUIRE(answers.size() == 1);
      CHECK(answers[0].status == status);
      CHECK(answers[0].head.find("Connection: close") != std::string::npos);
      CHECK(conn.closed_within(2s));
    }
  }
  SECTION("an error answer still queued behind earlier answers reaches the client (lingering close)") {
    // Big answers back up behind a small receive window, so the 413 is still in the member's
    // send queue when it is done with the connection while the refused body lies unread in
    // its receive queue: closing then sends RST and drops the queued answers.
    const std::string big_value(60000, 'v');
    {
      raw_connection writer(port);
      REQUIRE(writer.connected());
      REQUIRE(writer.send_all(put("big", big_value)));
      const auto answers = writer.read_answers(1);
      REQUIRE(answers.size() == 1);
      REQUIRE(answers[0].status == 200);
    }
    constexpr int big_reads = 4;
    std::string pipelined;
    for (int i = 0; i < big_reads; ++i) pipelined += get("big");
    pipelined += "PUT /kv/huge HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n" + std::string(48 * 1024, 'b');
    int answered = 0;
    for (int attempt = 0; attempt < 20; ++attempt) {
      raw_connection conn(port, 4096);
      REQUIRE(conn.connected());
      (void)conn.send_all(pipelined);
      std::this_thread::sleep_for(50ms);  // let the answers back up
      const auto answers = conn.read_answers(big_reads + 1);
      if (answers.size() == big_reads + 1 && answers[0].body == big_value && answers[big_reads].status == 413)
        ++answered;
    }
    CHECK(answered == 20);
  }
  SECTION("a request that does not arrive in time is closed as a slow client") {
    raw_connection conn(port);
    REQUIRE(conn.connected());
    REQUIRE(conn.send_all("PUT /kv/slow HTTP/1.1\r\nContent-Le"));
    CHECK(conn.closed_within(4s));
    raw_connection after(port);  // the member still serves
    REQUIRE(after.connected());
    REQUIRE(after.send_all(get("a")));
    const auto answers = after.read_answers(1);
    REQUIRE(answers.size() == 1);
    CHECK(answers[0].status != 0);
  }
  SECTION("a WebSocket upgrade on /ws is accepted") {
    raw_connection conn(port);
    REQUIRE(conn.connected());
    REQUIRE(conn.send_all("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"));
    const auto answers = conn.read_answers(1);
    REQUIRE(answers.size() == 1);
    CHECK(answers[0].status == 101);
    CHECK(answers[0].head.find("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") != std::string::npos);  // RFC 6455's example
  }
}
