// weftd daemon: HTTP and WebSocket sessions, request routing, the KV front of the node,
// the hosting of weft's event loop on Asio, and graceful shutdown.
#include "daemon.hpp"

#include <unistd.h>

#include <sys/socket.h>

#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <functional>
#include <iostream>
#include <random>

#include "dashboard_html.hpp"
#include "weft/telemetry/prometheus.hpp"
#include "weft/telemetry/text_output.hpp"

namespace weftd {

namespace {

std::string json_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out;
}

const char* role_name(weft::raft::role r) {
  switch (r) {
    case weft::raft::role::leader: return "leader";
    case weft::raft::role::candidate: return "candidate";
    case weft::raft::role::pre_candidate: return "pre_candidate";
    case weft::raft::role::follower: return "follower";
  }
  return "follower";
}

const char* swim_name(weft::swim::member_state s) {
  switch (s) {
    case weft::swim::member_state::absent: return "unknown";
    case weft::swim::member_state::joining: return "joining";
    case weft::swim::member_state::alive: return "alive";
    case weft::swim::member_state::suspect: return "suspect";
    case weft::swim::member_state::dead: return "dead";
    case weft::swim::member_state::leaving: return "leaving";
    case weft::swim::member_state::left: return "left";
  }
  return "unknown";
}

/// Keys weftd's hash tables, so that clients cannot choose ids or keys that collide.
std::uint64_t process_hash_seed() {
  std::random_device device;
  return (std::uint64_t{device()} << 32) ^ device();
}

std::int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

// ---- sessions -----------------------------------------------------------------------------

class ws_session : public std::enable_shared_from_this<ws_session> {
 public:
  ws_session(tcp::socket&& socket, daemon& d)
      : ws_(std::move(socket)), daemon_(d), connections_(d.open_connections) {
    ++*connections_;
  }
  ~ws_session() { --*connections_; }

  /// Accepts the upgrade request the HTTP session read (its bytes, kept here while Beast
  /// parses them).
  void start(std::string handshake) {
    handshake_ = std::move(handshake);
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws_.read_message_max(4096);
    ws_.async_accept(net::buffer(handshake_), [self = shared_from_this()](beast::error_code ec) {
      if (ec) return;
      self->daemon_.track_ws(self);
      self->push(self->daemon_.status_json());
      self->read();
    });
  }
  /// Keeps only the newest unsent status: a slow reader costs one message, not a queue.
  void push(std::string json) {
    if (closed_) return;
    if (writing_) {
      next_ = std::move(json);
      has_next_ = true;
      return;
    }
    current_ = std::move(json);
    writing_ = true;
    ws_.text(true);
    ws_.async_write(net::buffer(current_), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->writing_ = false;
      if (ec) {
        self->closed_ = true;
        return;
      }
      if (self->has_next_) {
        self->has_next_ = false;
        self->push(std::move(self->next_));
      }
    });
  }
  void close() {
    if (closed_) return;
    closed_ = true;
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().shutdown(tcp::socket::shutdown_both, ignored);
  }

 private:
  void read() {
    ws_.async_read(in_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) {
        self->closed_ = true;
        return;
      }
      self->in_.consume(self->in_.size());  // clients have nothing to say; ignore it
      self->read();
    });
  }

  websocket::stream<beast::tcp_stream> ws_;
  daemon& daemon_;
  std::string handshake_;
  beast::flat_buffer in_;
  std::string current_;
  std::string next_;
  bool has_next_ = false;
  bool writing_ = false;
  bool closed_ = false;
  std::shared_ptr<std::int64_t> connections_;
};

/// Beast's HTTP/1.1 parser, keeping only what weftd routes on: the method, target, body
/// and X-Request-Id, in strings the connection reuses (no header map per request).
class request_parser final : public http::basic_parser<true> {
 public:
  explicit request_parser(http_request& into) noexcept : into_(into) { into_.clear(); }

 private:
  void on_request_impl(http::verb method, beast::string_view, beast::string_view target, int version,
                       beast::error_code&) override {
    into_.method = method;
    into_.target.assign(target.data(), target.size());
    into_.version = static_cast<unsigned>(version);
  }
  void on_response_impl(int, beast::string_view, int, beast::error_code& ec) override {
    ec = http::error::bad_version;  // never called for a request parser
  }
  void on_field_impl(http::field, beast::string_view name, beast::string_view value, beast::error_code&) override {
    if (beast::iequals(name, "x-request-id")) into_.request_id.assign(value.data(), value.size());
  }
  void on_header_impl(beast::error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>&, beast::error_code&) override {}
  std::size_t on_body_impl(beast::string_view body, beast::error_code&) override {
    into_.body.append(body.data(), body.size());  // bounded by body_limit
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t, beast::string_view, beast::error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, beast::string_view body, beast::error_code&) override {
    into_.body.append(body.data(), body.size());
    return body.size();
  }
  void on_finish_impl(beast::error_code&) override {}

  http_request& into_;
};

/// One HTTP connection. Reads into a buffer it keeps, parses with request_parser, and
/// writes each answer from a reused buffer straight to the socket from wherever it is
/// given (a KV answer: from the commit callback), waiting on the socket only when it is
/// full. No per-operation timers: the daemon's sweep closes connections past deadline().
class http_session : public std::enable_shared_from_this<http_session> {
 public:
  http_session(tcp::socket&& socket, daemon& d)
      : socket_(std::move(socket)), daemon_(d), connections_(d.open_connections) {
    ++*connections_;
  }
  ~http_session() { --*connections_; }

  void start() {
    beast::error_code ignored;
    socket_.non_blocking(true, ignored);  // answers are sent directly with ::send
    in_.resize(initial_buffer_bytes);
    out_.reserve(initial_buffer_bytes);
    next_request();
  }

  /// Answers the request being served (once); then reads the next one (keep-alive).
  void respond(unsigned status, std::string_view body, std::string_view content_type = "application/json") {
    if (!awaiting_) return;
    awaiting_ = false;
    daemon_.metrics().http_requests.add(1);
    keep_alive_ = keep_alive_ && !daemon_.stopping();
    format_response(status, body, content_type);
    deadline_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(daemon_.cfg().request_timeout_ms);
    send_response();
  }
  [[nodiscard]] bool awaiting() const noexcept { return awaiting_; }
  /// When the connection is to be closed as a slow client (the daemon sweeps).
  [[nodiscard]] std::chrono::steady_clock::time_point deadline() const noexcept { return deadline_; }
  void time_out() {
    if (!lingering_) daemon_.metrics().http_timeouts.add(1);  // a lingering close is done
    close();
  }

 private:
  static constexpr std::size_t initial_buffer_bytes = 4096;
  // After an error answer, the request bytes still coming are read and dropped for at most
  // this long and this many bytes; the connection stays counted until then.
  static constexpr std::size_t linger_max_bytes = 64 * 1024;
  static constexpr auto linger_max = std::chrono::seconds(1);

  /// The parser is renewed (and request_ cleared) only when the next bytes are parsed: the
  /// answer may be given while the daemon still holds views of request_.
  void next_request() {
    renew_parser_ = true;
    message_begin_ = in_start_;
    deadline_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(daemon_.cfg().idle_timeout_ms);
    if (in_start_ < in_used_)  // pipelined bytes: parse them from the loop, not recursively
      net::post(socket_.get_executor(), [self = shared_from_this()] { self->parse(); });
    else read_more();
  }

  void read_more() {
    if (in_.size() - in_used_ < initial_buffer_bytes / 2) {
      const auto limit = static_cast<std::size_t>(daemon_.cfg().max_header_bytes + daemon_.cfg().max_body_bytes) +
                         initial_buffer_bytes;
      if (in_.size() >= limit) return on_error(http::error::buffer_overflow);
      in_.resize(std::min(limit, in_.size() * 2));
    }
    // async_read_some, not async_wait + recv: Asio re-arms a non-speculative wait with an
    // epoll_ctl each time (measured: one per request), while its speculative read fails
    // with EAGAIN for only ~13% of requests.
    socket_.async_read_some(net::buffer(in_.data() + in_used_, in_.size() - in_used_),
                            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                              if (ec) return self->on_error(ec);
                              if (self->in_start_ == self->message_begin_ && self->in_start_ == self->in_used_)
                                self->deadline_ = std::chrono::steady_clock::now() +
                                                  std::chrono::milliseconds(self->daemon_.cfg().request_timeout_ms);
                              self->in_used_ += n;
                              self->parse();
                            });
  }

  void parse() {
    if (renew_parser_) {
      renew_parser_ = false;
      parser_.emplace(request_);
      parser_->header_limit(static_cast<std::uint32_t>(daemon_.cfg().max_header_bytes));
      parser_->body_limit(static_cast<std::uint64_t>(daemon_.cfg().max_body_bytes));
      parser_->eager(true);
    }
    while (!parser_->is_done()) {
      beast::error_code ec;
      const std::size_t used = parser_->put(net::buffer(in_.data() + in_start_, in_used_ - in_start_), ec);
      in_start_ += used;
      if (ec == http::error::need_more || (!ec && used == 0)) {
        compact();
        return read_more();
      }
      if (ec) return on_error(ec);
    }
    on_request();
  }

  /// Moves the unparsed bytes to the front of the buffer.
  void compact() {
    if (in_start_ == 0) return;
    std::memmove(in_.data(), in_.data() + in_start_, in_used_ - in_start_);
    message_begin_ = message_begin_ >= in_start_ ? message_begin_ - in_start_ : 0;
    in_used_ -= in_start_;
    in_start_ = 0;
  }

  void on_request() {
    keep_alive_ = parser_->keep_alive();
    awaiting_ = true;
    deadline_ = std::chrono::steady_clock::time_point::max();  // the daemon times out KV answers
    if (parser_->upgrade() && request_.target == "/ws" && !daemon_.stopping()) {
      awaiting_ = false;
      daemon_.metrics().http_requests.add(1);
      std::string handshake(in_.data() + message_begin_, in_start_ - message_begin_);
      auto ws = std::make_shared<ws_session>(std::move(socket_), daemon_);
      ws->start(std::move(handshake));
      return;
    }
    if (in_start_ == in_used_) in_start_ = in_used_ = 0;  // the usual case: nothing pipelined
    daemon_.handle(shared_from_this(), request_);
  }

  void format_response(unsigned status, std::string_view body, std::string_view content_type) {
    char number[24];
    const auto append_number = [&](std::uint64_t n) {
      const auto r = std::to_chars(number, number + sizeof number, n);
      out_.append(number, static_cast<std::size_t>(r.ptr - number));
    };
    out_.clear();
    out_ += request_.version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
    append_number(status);
    out_ += ' ';
    const auto reason = http::obsolete_reason(static_cast<http::status>(status));
    out_.append(reason.data(), reason.size());
    out_ += "\r\nServer: weftd\r\nContent-Type: ";
    out_ += content_type;
    out_ += "\r\nAccess-Control-Allow-Origin: *\r\nContent-Length: ";  // the dashboard reads every member
    append_number(body.size());
    if (!keep_alive_) out_ += "\r\nConnection: close";
    else if (request_.version == 10) out_ += "\r\nConnection: keep-alive";
    out_ += "\r\n\r\n";
    out_ += body;
    out_at_ = 0;
  }

  /// Writes what the socket takes now; waits for room only when it is full.
  void send_response() {
    while (out_at_ < out_.size()) {
      const ssize_t n = ::send(socket_.native_handle(), out_.data() + out_at_, out_.size() - out_at_, MSG_NOSIGNAL);
      if (n > 0) {
        out_at_ += static_cast<std::size_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        socket_.async_wait(tcp::socket::wait_write, [self = shared_from_this()](beast::error_code ec) {
          if (ec) return self->close();
          self->send_response();
        });
        return;
      } else {
        return close();
      }
    }
    if (refused_request_) return linger_close();
    if (!keep_alive_) return close();
    next_request();
  }

  /// Closing a socket with unread bytes makes the kernel send RST, and the client may then
  /// lose the error answer it has not read yet. So: end our side (FIN after the answer),
  /// drop what the client still sends, and close at its FIN or at the byte or time bound.
  void linger_close() {
    lingering_ = true;
    refused_request_ = false;
    beast::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
    deadline_ = std::chrono::steady_clock::now() + linger_max;  // the sweep enforces it
    linger_read();
  }
  void linger_read() {
    socket_.async_read_some(net::buffer(in_.data(), in_.size()),
                            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                              self->lingered_bytes_ += n;
                              if (ec || n == 0 || self->lingered_bytes_ >= linger_max_bytes) return self->close();
                              self->linger_read();
                            });
  }

  void on_error(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == net::error::eof || ec == net::error::connection_reset ||
        ec == net::error::operation_aborted || ec == net::error::bad_descriptor)
      return close();
    awaiting_ = true;
    keep_alive_ = false;
    refused_request_ = true;
    if (ec == http::error::body_limit) {
      daemon_.metrics().http_oversize.add(1);
      return respond(413, R"({"error":"body too large"})");
    }
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
      daemon_.metrics().http_oversize.add(1);
      return respond(431, R"({"error":"headers too large"})");
    }
    daemon_.metrics().http_bad_requests.add(1);
    respond(400, R"({"error":"malformed request"})");
  }

  void close() {
    deadline_ = std::chrono::steady_clock::time_point::max();
    beast::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  tcp::socket socket_;
  daemon& daemon_;
  std::string in_;             // received bytes: [in_start_, in_used_) not yet parsed
  std::size_t in_start_ = 0;
  std::size_t in_used_ = 0;
  std::size_t message_begin_ = 0;  // where the request being parsed starts in in_
  http_request request_;
  std::optional<request_parser> parser_;
  std::string out_;  // the answer being written: [out_at_, size) still to send
  std::size_t out_at_ = 0;
  std::chrono::steady_clock::time_point deadline_ = std::chrono::steady_clock::time_point::max();
  bool renew_parser_ = true;
  bool keep_alive_ = false;
  bool awaiting_ = false;
  bool refused_request_ = false;  // answered 400/413/431: linger before closing
  bool lingering_ = false;
  std::size_t lingered_bytes_ = 0;
  std::shared_ptr<std::int64_t> connections_;
};

// ---- state machine adapter ----------------------------------------------------------------

void daemon_sm::apply(weft::raft::index_t index, weft::byte_view payload) noexcept {
  try {
    owner->on_apply(index, payload);
  } catch (...) {
    // Out of memory while applying: the replica can no longer be trusted to match.
    std::fputs("error: weftd: failure while applying an entry\n", stderr);
    std::_Exit(3);
  }
}

void daemon_sm::read_ready(std::uint64_t context) noexcept {
  try {
    owner->on_read_ready(context);
  } catch (...) {
  }
}

void daemon_sm::read_failed(std::uint64_t context) noexcept {
  try {
    owner->on_read_failed(context);
  } catch (...) {
  }
}

weft::result<void> daemon_sm::save_snapshot(weft::runtime::snapshot_writer& out) noexcept {
  return owner->store().save(out);
}

weft::result<void> daemon_sm::load_snapshot(weft::runtime::snapshot_reader& in) noexcept {
  try {
    return owner->store().load(in);
  } catch (...) {
    return weft::error(weft::core_errc::capacity_exceeded, "weftd: out of memory loading a snapshot");
  }
}

// ---- daemon -------------------------------------------------------------------------------

daemon::daemon(net::io_context& io, const config& cfg, std::string dashboard)
    : io_(io),
      cfg_(cfg),
      dashboard_(std::move(dashboard)),
      kv_(process_hash_seed()),
      acceptor_(io),
      timer_(io),
      shutdown_timer_(io),
      pending_(static_cast<std::size_t>(cfg.max_pending_requests) + max_read_index_reads, process_hash_seed()) {
  sm_.owner = this;
  boot_tag_ = "n" + std::to_string(cfg_.id) + "." + std::to_string(unix_ms_now()) + ".";
  const auto steady_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::steady_clock::now().time_since_epoch())
                             .count();
  steady_to_unix_ms_ = unix_ms_now() - steady_ms;
}

bool daemon::start(std::string& problem) {
  using weft::transport::ipv4_endpoint;
  if (auto r = loop_.init(); !r) {
    problem = "event loop: " + std::string(r.error().message());
    return false;
  }
  weft::runtime::node_options o;
  o.id = cfg_.id;
  o.raft_address = *ipv4_endpoint::parse(cfg_.raft_address);
  o.swim_address = *ipv4_endpoint::parse(cfg_.swim_address);
  for (const peer_config& p : cfg_.peers) {
    o.peers.push_back({p.id, *ipv4_endpoint::parse(p.raft_address), *ipv4_endpoint::parse(p.swim_address)});
    if (cfg_.noise) o.peers.back().member_key = p.member_key;
  }
  o.tcp.security = cfg_.noise ? weft::transport::tcp_security::noise : weft::transport::tcp_security::plaintext;
  o.udp.security = cfg_.noise ? weft::transport::udp_security::sealed : weft::transport::udp_security::plaintext;
  o.member_seed = cfg_.member_seed;
  o.admin_public_key = cfg_.admin_public_key;
  o.admission_statement = cfg_.admission_statement;
  o.data_dir = cfg_.data_dir;
  o.tick_ms = static_cast<std::uint32_t>(cfg_.tick_ms);
  o.raft.election_timeout_ticks_min = static_cast<std::uint32_t>(cfg_.election_ticks_min);
  o.raft.election_timeout_ticks_max = static_cast<std::uint32_t>(cfg_.election_ticks_max);
  o.raft.heartbeat_interval_ticks = static_cast<std::uint32_t>(cfg_.heartbeat_ticks);
  o.raft.max_bytes_per_entry = 128u << 10;  // a 64 KiB value plus its key and envelope
  o.raft.max_pending_reads = 4096;
  o.snapshot_interval_entries = static_cast<std::uint64_t>(cfg_.snapshot_interval_entries);
  node_ = std::make_unique<node_type>(loop_, sm_);
  if (auto r = node_->open(o); !r) {
    problem = "node: " + std::string(r.error().message()) + " (" + r.error().where() + ")";
    return false;
  }
  if (cfg_.revoked_below_epoch > 0) node_->revoke_admissions_below(cfg_.revoked_below_epoch);
  const ipv4_endpoint h = *ipv4_endpoint::parse(cfg_.http_address);
  beast::error_code ec;
  const tcp::endpoint at(net::ip::address_v4(h.address), h.port);
  acceptor_.open(at.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(at, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    problem = "http: cannot listen on " + cfg_.http_address + ": " + ec.message();
    return false;
  }
  epoll_.emplace(io_, ::dup(loop_.native_handle()));
  arm_epoll();
  timer_.expires_after(std::chrono::milliseconds(10));
  timer_.async_wait([this](beast::error_code e) { if (!e) on_timer(); });
  accept();
  return true;
}

void daemon::arm_epoll() {
  epoll_->async_wait(net::posix::descriptor_base::wait_read, [this](beast::error_code ec) {
    if (ec || !node_) return;
    for (int i = 0; i < 16; ++i) {  // drain, bounded: the 10 ms timer catches the rest
      auto ran = loop_.run_once(weft::duration::zero());
      if (!ran || *ran == 0) break;
    }
    arm_epoll();
  });
}

void daemon::on_timer() {
  if (node_) (void)loop_.run_once(weft::duration::zero());  // weft timers (reconnects)
  if (node_) note_leadership_change();
  if (node_) sweep_lost_barriers();
  sweep_deadlines();
  if (++timer_turns_ % 10 == 0) sweep_slow_connections();
  push_status(false);
  timer_.expires_after(std::chrono::milliseconds(10));
  timer_.async_wait([this](beast::error_code e) { if (!e) on_timer(); });
}

void daemon::accept() {
  acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) {
      if (*open_connections >= cfg_.max_connections || stopping_) {
        metrics_.http_refused.add(1);
        beast::error_code ignored;
        socket.close(ignored);
      } else {
        auto session = std::make_shared<http_session>(std::move(socket), *this);
        track_http(session);
        session->start();
      }
    }
    accept();
  });
}

void daemon::track_http(const std::shared_ptr<http_session>& session) {
  if (http_sessions_.size() >= static_cast<std::size_t>(cfg_.max_connections))
    std::erase_if(http_sessions_, [](const std::weak_ptr<http_session>& w) { return w.expired(); });
  http_sessions_.push_back(session);
}

/// Closes connections whose request (or idle wait, or answer) is past its deadline: one
/// scan every 100 ms instead of a timer per read and write.
void daemon::sweep_slow_connections() {
  const auto now = std::chrono::steady_clock::now();
  std::erase_if(http_sessions_, [now](const std::weak_ptr<http_session>& w) {
    const auto session = w.lock();
    if (!session) return true;
    if (session->deadline() <= now) session->time_out();
    return false;
  });
}

void daemon::track_ws(const std::shared_ptr<ws_session>& ws) {
  std::erase_if(sockets_, [](const std::weak_ptr<ws_session>& w) { return w.expired(); });
  sockets_.push_back(ws);
}

// ---- routing ------------------------------------------------------------------------------

void daemon::handle(const std::shared_ptr<http_session>& session, const http_request& req) {
  const std::string_view target = req.target;
  const auto method = req.method;
  if (stopping_) return session->respond(503, R"({"error":"shutting down"})");
  if (target.starts_with("/kv/")) return handle_kv(session, req, target.substr(4));
  if (target == "/status") {
    if (method != http::verb::get) return session->respond(405, R"({"error":"method not allowed"})");
    return session->respond(200, status_json());
  }
  if (target == "/metrics") {
    if (method != http::verb::get) return session->respond(405, R"({"error":"method not allowed"})");
    return session->respond(200, metrics_text(), "text/plain; version=0.0.4; charset=utf-8");
  }
  if (target == "/" || target == "/index.html") {
    if (method != http::verb::get) return session->respond(405, R"({"error":"method not allowed"})");
    return session->respond(200, dashboard_, "text/html; charset=utf-8");
  }
  if (target == "/ws") return session->respond(426, R"({"error":"WebSocket upgrade required"})");
  if (cfg_.test_hooks && (target == "/debug/isolate" || target == "/debug/heal")) {
    if (method != http::verb::post) return session->respond(405, R"({"error":"method not allowed"})");
    const bool isolate = target == "/debug/isolate";
    node_->set_isolated(isolate);
    return session->respond(200, isolate ? R"({"isolated":true})" : R"({"isolated":false})");
  }
  session->respond(404, R"({"error":"not found"})");
}

void daemon::handle_kv(const std::shared_ptr<http_session>& session, const http_request& req,
                       std::string_view key) {
  if (key.empty() || key.size() > kv_store::max_key_bytes)
    return session->respond(400, R"({"error":"key must be 1..1024 bytes"})");
  const auto method = req.method;
  if (method == http::verb::get) return start_read(session, key);
  if (method != http::verb::put && method != http::verb::delete_)
    return session->respond(405, R"({"error":"method not allowed"})");
  if (req.request_id.size() > pending_requests::max_request_id_bytes)
    return session->respond(400, R"({"error":"X-Request-Id longer than 128 bytes"})");
  request_id_buffer generated;
  const std::string_view request_id = req.request_id.empty() ? next_request_id(generated) : req.request_id;
  if (pending_.find(request_id) != pending_requests::none)
    return session->respond(409, R"({"error":"a request with this X-Request-Id is in flight here"})");
  const kv_op op = method == http::verb::put ? kv_op::put : kv_op::del;
  (void)propose_entry(session, op, key, method == http::verb::put ? std::string_view(req.body) : std::string_view(),
                      request_id, kind::write);
}

void daemon::start_read(const std::shared_ptr<http_session>& session, std::string_view key) {
  const auto now = std::chrono::steady_clock::now();
  const auto deadline = now + std::chrono::milliseconds(cfg_.request_timeout_ms);
  if (node_->status().role == weft::raft::role::leader && read_index_pending_ < max_read_index_reads) {
    const std::uint32_t slot = pending_.add({}, kind::read, session, now, deadline);
    if (slot != pending_requests::none) {
      pending_.at(slot).key.assign(key);  // before read_index: ready may be told at once
      ++read_index_pending_;
      if (node_->read_index(pending_.context_of(slot))) return;
      --read_index_pending_;
      pending_.remove(slot);
    }
  }
  // A follower (or a leader that cannot serve ReadIndex yet) orders the read through the
  // log: a barrier entry, answered when applied here (or refused early: the barrier list).
  request_id_buffer id;
  const std::string_view request_id = next_request_id(id);
  const std::uint32_t slot = propose_entry(session, kv_op::read_barrier, key, {}, request_id, kind::read);
  if (slot == pending_requests::none) return;
  pending_.at(slot).key.assign(key);
  pending_.push_barrier(slot, request_counter_);
}

std::uint32_t daemon::propose_entry(const std::shared_ptr<http_session>& session, kv_op op, std::string_view key,
                                    std::string_view value, std::string_view request_id, kind what) {
  if (proposed_pending_ >= static_cast<std::size_t>(cfg_.max_pending_requests)) {
    metrics_.kv_refused.add(1);
    session->respond(503, R"({"error":"busy"})");
    return pending_requests::none;
  }
  unsigned status = 0;
  std::string_view body;
  if (!encode_and_propose(op, key, value, request_id, status, body)) {
    session->respond(status, body);
    return pending_requests::none;
  }
  const auto now = std::chrono::steady_clock::now();
  const auto deadline = now + std::chrono::milliseconds(cfg_.request_timeout_ms);
  const std::uint32_t slot = pending_.add(request_id, what, session, now, deadline);
  if (slot == pending_requests::none) {  // not expected: room was checked above
    metrics_.kv_unknown.add(1);
    session->respond(504, R"({"outcome":"unknown"})");
    return slot;
  }
  pending_.at(slot).barrier_retry_at = now + barrier_patience();
  ++proposed_pending_;
  return slot;
}

bool daemon::encode_and_propose(kv_op op, std::string_view key, std::string_view value,
                                std::string_view request_id, unsigned& status, std::string_view& body) {
  kv_entry e;
  e.op = static_cast<std::uint8_t>(op);
  e.key = as_view(key);
  e.value = as_view(value);
  e.origin = cfg_.id;
  e.request_id = as_view(request_id);
  entry_buffer_.resize(weft::wire::encoded_size(e));  // keeps its capacity between requests
  auto bytes = weft::wire::encode(e, weft::mutable_byte_view(entry_buffer_));
  if (!bytes) {
    status = 500;
    body = R"({"error":"encoding failed"})";
    return false;
  }
  auto proposed = node_->propose(*bytes);
  if (proposed) return true;
  metrics_.kv_refused.add(1);
  const weft::error& err = proposed.error();
  status = err.is(weft::raft::raft_errc::entry_too_large) ? 413 : 503;
  if (err.is(weft::raft::raft_errc::not_leader)) body = R"({"error":"no leader"})";
  else if (status == 413) body = R"({"error":"entry too large"})";
  else body = R"({"error":"busy"})";
  return false;
}

/// How long a read barrier may go unapplied before it counts as lost: an election timeout.
/// A forwarded proposal is fire-and-forget (a message lost on the way, or dropped by the
/// leader, is told to no one), and a live leader commits one within a few heartbeats.
std::chrono::milliseconds daemon::barrier_patience() const noexcept {
  return std::chrono::milliseconds(cfg_.election_ticks_min * cfg_.tick_ms);
}

/// Barriers are proposed in sequence order with the same patience, so the oldest is due
/// first. A barrier past its patience is re-issued once under a new request id (the read
/// started before it, so its apply still orders the read); past it again, the read is
/// refused (503, retry) instead of waiting for request_timeout_ms.
void daemon::sweep_lost_barriers() {
  const auto now = std::chrono::steady_clock::now();
  for (std::uint32_t slot = pending_.oldest_barrier(); slot != pending_requests::none;
       slot = pending_.oldest_barrier()) {
    const pending& p = pending_.at(slot);
    if (p.barrier_retry_at > now) return;
    // No time for another try (request_timeout_ms below two patiences): the deadline sweep
    // answers it, and those behind it, proposed later, are due no earlier.
    if (!p.barrier_reissued && now + barrier_patience() >= p.deadline) return;
    if (p.barrier_reissued) refuse_with_leader(slot, "read barrier lost");
    else reissue_barrier(slot);
  }
}

/// Proposes the barrier again under a new request id; it moves to the back of the barrier
/// list and keeps its slot and deadline.
void daemon::reissue_barrier(std::uint32_t slot) {
  request_id_buffer id;
  const std::string_view request_id = next_request_id(id);
  unsigned status = 0;
  std::string_view body;
  if (!encode_and_propose(kv_op::read_barrier, pending_.at(slot).key, {}, request_id, status, body))
    return finish(slot, status, body);
  pending_.rename(slot, request_id);
  pending_.push_barrier(slot, request_counter_);
  pending& p = pending_.at(slot);
  p.barrier_reissued = true;
  p.barrier_retry_at = std::chrono::steady_clock::now() + barrier_patience();
  metrics_.kv_barriers_reissued.add(1);
}

void daemon::finish(std::uint32_t slot, unsigned status, std::string_view body) {
  pending& p = pending_.at(slot);
  if (p.session && p.session->awaiting()) p.session->respond(status, body);
  if (p.request_id().empty()) --read_index_pending_;
  else --proposed_pending_;
  pending_.remove(slot);
}

/// 503 with the leader this member knows of, for a read the client should retry.
void daemon::refuse_with_leader(std::uint32_t slot, std::string_view why) {
  const weft::raft::node_id leader = node_->status().leader;
  char body[128];
  const int n = leader != 0 ? std::snprintf(body, sizeof body, "{\"error\":\"%.*s\",\"leader\":%llu}",
                                            static_cast<int>(why.size()), why.data(),
                                            static_cast<unsigned long long>(leader))
                            : std::snprintf(body, sizeof body, "{\"error\":\"%.*s\",\"leader\":null}",
                                            static_cast<int>(why.size()), why.data());
  finish(slot, 503, std::string_view(body, static_cast<std::size_t>(n)));
}

void daemon::answer_read(std::uint32_t slot) {
  metrics_.kv_reads.add(1);
  pending& p = pending_.at(slot);
  if (p.session && p.session->awaiting()) {
    const auto value = kv_.get(p.key);
    if (value) p.session->respond(200, *value, "application/octet-stream");
    else p.session->respond(404, R"({"error":"not found"})");
  }
  finish(slot, 200, {});  // answered above: frees the slot
}

void daemon::on_apply(weft::raft::index_t index, weft::byte_view payload) {
  const auto applied = kv_.apply(index, payload);
  if (!applied) return;
  // Entries proposed here reach the log in proposal order (directly, or forwarded over one
  // connection to one leader): an own entry applied before an older barrier means that
  // barrier was dropped on the way.
  if (pending_.oldest_barrier() != pending_requests::none && applied->origin == cfg_.id)
    fail_barrier_reads_before(own_sequence(applied->request_id), "read barrier lost in forwarding");
  const std::uint32_t slot = pending_.find(applied->request_id);
  if (slot == pending_requests::none) return;
  if (pending_.at(slot).what == kind::read) return answer_read(slot);
  metrics_.kv_writes.add(1);
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() -
                                                                        pending_.at(slot).started);
  metrics_.write_latency.record(static_cast<std::uint64_t>(ns.count()));
  char body[40];
  const int n = std::snprintf(body, sizeof body, "{\"index\":%llu}", static_cast<unsigned long long>(index));
  finish(slot, 200, std::string_view(body, static_cast<std::size_t>(n)));
}

/// The request counter of an id next_request_id() made in this process, else 0.
std::uint64_t daemon::own_sequence(std::string_view request_id) const noexcept {
  if (request_id.size() <= boot_tag_.size() || request_id.compare(0, boot_tag_.size(), boot_tag_) != 0) return 0;
  std::uint64_t n = 0;
  for (const char c : request_id.substr(boot_tag_.size())) {
    if (c < '0' || c > '9' || n > (~std::uint64_t{0} - 9) / 10) return 0;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return n;
}

/// Answers 503 to every waiting read barrier older than `sequence`: reads have no effect,
/// so refusing one that might still be applied later only costs the client a retry.
void daemon::fail_barrier_reads_before(std::uint64_t sequence, const char* why) {
  for (std::uint32_t slot = pending_.oldest_barrier();
       slot != pending_requests::none && pending_.at(slot).sequence < sequence; slot = pending_.oldest_barrier())
    refuse_with_leader(slot, why);
}

/// A new term or leader: a barrier proposed before it may have been dropped with the old
/// leader's uncommitted entries, and would otherwise wait for request_timeout_ms.
void daemon::note_leadership_change() {
  const weft::runtime::node_status s = node_->status();
  if (s.term == seen_term_ && s.leader == seen_leader_ && !s.failed) return;
  seen_term_ = s.term;
  seen_leader_ = s.leader;
  fail_barrier_reads_before(~std::uint64_t{0}, "leadership changed");
}

void daemon::on_read_ready(std::uint64_t context) {
  const std::uint32_t slot = pending_.slot_of_context(context);
  if (slot != pending_requests::none) answer_read(slot);
}

/// The read was taken while this member led, and it stopped leading before a quorum
/// confirmed it: answer now (the client retries at the leader) instead of at the deadline.
void daemon::on_read_failed(std::uint64_t context) {
  const std::uint32_t slot = pending_.slot_of_context(context);
  if (slot != pending_requests::none) refuse_with_leader(slot, "leadership lost");
}

/// Every request waits request_timeout_ms from when it was added, so the oldest is the
/// soonest due; a re-issued barrier keeps its place and its deadline.
void daemon::sweep_deadlines() {
  const auto now = std::chrono::steady_clock::now();
  for (std::uint32_t slot = pending_.oldest(); slot != pending_requests::none && pending_.at(slot).deadline <= now;
       slot = pending_.oldest()) {
    if (pending_.at(slot).what == kind::write) {
      metrics_.kv_unknown.add(1);
      finish(slot, 504, R"({"outcome":"unknown"})");
    } else {
      finish(slot, 504, R"({"error":"read timed out"})");
    }
  }
}

/// boot_tag_ and the next request counter, formatted into `into`.
std::string_view daemon::next_request_id(request_id_buffer& into) noexcept {
  const std::size_t tag = std::min(boot_tag_.size(), sizeof into.bytes - 20);
  std::memcpy(into.bytes, boot_tag_.data(), tag);
  const auto r = std::to_chars(into.bytes + tag, into.bytes + sizeof into.bytes, ++request_counter_);
  return {into.bytes, static_cast<std::size_t>(r.ptr - into.bytes)};
}

// ---- status, metrics, WebSocket -----------------------------------------------------------

std::string daemon::status_json() {
  const weft::runtime::node_status s = node_->status();
  std::string j;
  j.reserve(2048);
  j += "{\"node\":{\"id\":" + std::to_string(cfg_.id) + ",\"site\":\"" + json_escape(cfg_.site) +
       "\",\"raft_address\":\"" + cfg_.raft_address + "\",\"http_address\":\"" + cfg_.http_address + "\"}";
  j += ",\"raft\":{\"role\":\"" + std::string(role_name(s.role)) + "\",\"term\":" + std::to_string(s.term) +
       ",\"leader\":" + (s.leader != 0 ? std::to_string(s.leader) : std::string("null")) +
       ",\"commit_index\":" + std::to_string(s.commit_index) + ",\"applied_index\":" +
       std::to_string(s.applied_index) + ",\"last_index\":" + std::to_string(s.last_index) +
       ",\"snapshot_index\":" + std::to_string(node_->core()->snapshot().index) +
       ",\"snapshots_taken\":" + std::to_string(node_->counters().snapshots_taken) +
       ",\"snapshots_installed\":" + std::to_string(node_->counters().snapshots_installed) + "}";
  j += ",\"members\":[";
  bool first = true;
  for (const weft::runtime::member_status& m : node_->members()) {
    std::string http_address;
    for (const peer_config& p : cfg_.peers)
      if (p.id == m.id) http_address = p.http_address;
    if (!first) j += ',';
    first = false;
    j += "{\"id\":" + std::to_string(m.id) + ",\"http_address\":\"" + http_address + "\",\"swim_state\":\"" +
         swim_name(m.swim_state) + "\",\"incarnation\":" + std::to_string(m.incarnation);
    if (m.match_known) {
      const auto lag = s.last_index > m.match_index ? s.last_index - m.match_index : 0;
      j += ",\"match_index\":" + std::to_string(m.match_index) + ",\"lag\":" + std::to_string(lag) + "}";
    } else {
      j += ",\"match_index\":null,\"lag\":null}";
    }
  }
  j += "]";
  const double p50 = static_cast<double>(metrics_.write_latency.quantile(0.5)) / 1e6;
  const double p99 = static_cast<double>(metrics_.write_latency.quantile(0.99)) / 1e6;
  char stats[256];
  std::snprintf(stats, sizeof stats,
                ",\"stats\":{\"writes_total\":%llu,\"reads_total\":%llu,\"write_latency_ms_p50\":%.3f,"
                "\"write_latency_ms_p99\":%.3f}",
                static_cast<unsigned long long>(metrics_.kv_writes.value()),
                static_cast<unsigned long long>(metrics_.kv_reads.value()), p50, p99);
  j += stats;
  j += ",\"events\":[";
  first = true;
  node_->for_each_event([&](const weft::runtime::node_event& e) {
    if (!first) j += ',';
    first = false;
    j += "{\"t_ms\":" + std::to_string(e.at_ms + steady_to_unix_ms_) + ",\"text\":\"" + json_escape(e.text) + "\"}";
  });
  j += "]}";
  return j;
}

void daemon::push_status(bool force) {
  std::erase_if(sockets_, [](const std::weak_ptr<ws_session>& w) { return w.expired(); });
  if (sockets_.empty()) return;
  const weft::runtime::node_status s = node_->status();
  std::string fingerprint = std::to_string(static_cast<int>(s.role)) + "/" + std::to_string(s.term) + "/" +
                            std::to_string(s.leader) + "/" + std::to_string(node_->event_sequence());
  for (const auto& m : node_->members()) fingerprint += "/" + std::to_string(static_cast<int>(m.swim_state));
  const auto now = std::chrono::steady_clock::now();
  const bool changed = fingerprint != last_fingerprint_;
  if (!force && !changed && now - last_push_ < std::chrono::milliseconds(250)) return;
  last_fingerprint_ = fingerprint;
  last_push_ = now;
  const std::string json = status_json();
  for (const auto& w : sockets_)
    if (auto ws = w.lock()) ws->push(json);
}

std::string daemon::metrics_text() {
  metrics_.connections.set(*open_connections);
  metrics_.kv_pending.set(static_cast<std::int64_t>(pending_.size()));
  if (node_) transport_metrics_.observe(node_->tcp_counters(), node_->udp_counters());
  std::string out;
  weft::telemetry::string_output sink(out);
  (void)weft::telemetry::write_exposition(sink, weft::telemetry::exposition::prometheus_0_0_4);
  return out;
}

// ---- shutdown -----------------------------------------------------------------------------

/// Stop accepting; fail waiting requests (writes 504 unknown: they may still commit; reads
/// 503); leave the SWIM mesh and keep the loop ~300 ms to spread it; flush the WAL; stop.
/// A guard stops the io_context after 2 s whatever happens.
void daemon::shutdown() {
  if (stopping_) return;
  stopping_ = true;
  beast::error_code ignored;
  acceptor_.close(ignored);
  pending_.for_each([this](std::uint32_t slot) {
    if (pending_.at(slot).what == kind::write) {
      metrics_.kv_unknown.add(1);
      finish(slot, 504, R"({"outcome":"unknown"})");
    } else {
      finish(slot, 503, R"({"error":"shutting down"})");
    }
  });
  if (node_) (void)node_->leave();
  shutdown_timer_.expires_after(std::chrono::milliseconds(300));
  shutdown_timer_.async_wait([this](beast::error_code) {
    for (const auto& w : sockets_)
      if (auto ws = w.lock()) ws->close();
    timer_.cancel();
    if (epoll_) epoll_->cancel();
    if (node_) node_->close();  // flushes and syncs the WAL
    io_.stop();
  });
}

// ---- reload (SIGHUP) ----------------------------------------------------------------------

namespace {

/// Why `next` cannot replace `running` without a restart (peers added, removed, renumbered
/// or moved), or empty.
std::string peers_changed(const config& running, const config& next) {
  if (next.peers.size() != running.peers.size())
    return "config: peers: " + std::to_string(next.peers.size()) + " peers where " +
           std::to_string(running.peers.size()) + " run: adding or removing peers needs a restart";
  for (std::size_t i = 0; i < next.peers.size(); ++i) {
    const peer_config& a = running.peers[i];
    const peer_config& b = next.peers[i];
    if (a.id != b.id || a.raft_address != b.raft_address || a.swim_address != b.swim_address ||
        a.http_address != b.http_address)
      return "config: peers[" + std::to_string(i) + "]: id and addresses change only at a restart";
  }
  return {};
}

}  // namespace

/// Only what the node can change while running is applied: peers' member_key (Noise and
/// sealed UDP re-key: set_member_key) and a raised security.revoked_below_epoch. The new
/// keys are all checked before any is applied, so a refused reload changes nothing.
bool daemon::reload(const std::string& path, std::string& problem) {
  config next;
  if (!load_config(path, next, problem)) return false;
  if (problem = peers_changed(cfg_, next); !problem.empty()) return false;
  if (next.revoked_below_epoch < cfg_.revoked_below_epoch) {
    problem = "config: security.revoked_below_epoch = " + std::to_string(next.revoked_below_epoch) +
              ": cannot be lowered while running (it is " + std::to_string(cfg_.revoked_below_epoch) + ")";
    return false;
  }
  std::vector<std::size_t> rekeyed;
  for (std::size_t i = 0; i < next.peers.size(); ++i) {
    if (next.peers[i].member_key == cfg_.peers[i].member_key) continue;
    if (cfg_.noise && !weft::transport::noise_public_key_from_ed25519(next.peers[i].member_key)) {
      problem = "config: peers[" + std::to_string(i) + "].member_key: not a valid Ed25519 public key";
      return false;
    }
    rekeyed.push_back(i);
  }
  for (const std::size_t i : rekeyed) {
    if (cfg_.noise) {
      if (auto r = node_->set_member_key(next.peers[i].id, next.peers[i].member_key); !r) {
        problem = "config: peers[" + std::to_string(i) + "].member_key: " + std::string(r.error().message());
        return false;
      }
    }
    cfg_.peers[i].member_key = next.peers[i].member_key;
  }
  if (next.revoked_below_epoch > cfg_.revoked_below_epoch) {
    node_->revoke_admissions_below(next.revoked_below_epoch);
    cfg_.revoked_below_epoch = next.revoked_below_epoch;
  }
  std::cerr << "weftd: member " << cfg_.id << " reloaded " << path << ": " << rekeyed.size()
            << " peer key(s) changed, admissions below epoch " << cfg_.revoked_below_epoch << " refused";
  if (!(next == cfg_)) std::cerr << "; other changed settings take effect at the next restart";
  std::cerr << "\n";
  return true;
}

// ---- the program ---------------------------------------------------------------------------

/// main() lives here, beside the daemon's definition, so that one translation unit builds,
/// uses and destroys the daemon.
int run(int argc, char** argv) {
  std::string path;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << "usage: weftd [--config] CONFIG.toml\n";
      return 0;
    }
    if (arg == "--config" && i + 1 < argc) path = argv[++i];
    else if (path.empty() && !arg.empty() && arg[0] != '-') path = arg;
    else {
      std::cerr << "error: unknown argument '" << arg << "' (usage: weftd [--config] CONFIG.toml)\n";
      return 2;
    }
  }
  if (path.empty()) {
    std::cerr << "error: no configuration file (usage: weftd [--config] CONFIG.toml)\n";
    return 2;
  }
  config cfg;
  std::string problem;
  if (!load_config(path, cfg, problem)) {
    std::cerr << "error: " << problem << "\n";
    return 2;
  }
  std::signal(SIGPIPE, SIG_IGN);
  boost::asio::io_context io(1);
  std::string page = dashboard_html_present
                         ? std::string(dashboard_html, dashboard_html_size)
                         : std::string("<!doctype html><title>weftd</title><p>The dashboard was not "
                                       "built into this binary. See <a href=\"/status\">/status</a>.");
  daemon d(io, cfg, std::move(page));
  if (!d.start(problem)) {
    std::cerr << "error: " << problem << "\n";
    return 1;
  }
  boost::asio::signal_set hangups(io, SIGHUP);
  std::function<void(const boost::system::error_code&, int)> on_hangup =
      [&](const boost::system::error_code& ec, int) {
        if (ec || d.stopping()) return;
        std::string why;
        if (!d.reload(path, why)) std::cerr << "error: " << why << " (reload refused; the running config stays)\n";
        hangups.async_wait(on_hangup);
      };
  hangups.async_wait(on_hangup);
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  boost::asio::steady_timer guard(io);
  signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (ec) return;
    std::cerr << "weftd: member " << cfg.id << " shutting down\n";
    hangups.cancel();
    d.shutdown();
    guard.expires_after(std::chrono::seconds(2));  // the bound, whatever is still running
    guard.async_wait([&](const boost::system::error_code& e) { if (!e) io.stop(); });
  });
  std::cerr << "weftd: member " << cfg.id << " serving http://" << cfg.http_address << "/\n";
  io.run();
  return 0;
}

}  // namespace weftd
