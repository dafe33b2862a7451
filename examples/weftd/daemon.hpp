// weftd: one member of a weft mesh with an HTTP/WebSocket front (Boost.Beast). One thread:
// Asio's io_context is the main loop and hosts weft's event loop through its epoll fd.
#pragma once

#include <utility>  // before Boost 1.74: its awaitable.hpp uses std::exchange unincluded

#include <boost/asio.hpp>
#include <boost/beast.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config.hpp"
#include "kv.hpp"
#include "pending.hpp"
#include "transport_metrics.hpp"
#include "weft/runtime/node.hpp"
#include "weft/telemetry/metrics.hpp"

namespace weftd {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

class daemon;
class http_session;
class ws_session;

/// What weftd routes an HTTP request on; one per connection, its strings reused.
struct http_request {
  http::verb method = http::verb::unknown;
  unsigned version = 11;
  std::string target;
  std::string body;
  std::string request_id;  // X-Request-Id, when given
  void clear() noexcept {
    method = http::verb::unknown;
    version = 11;
    target.clear();
    body.clear();
    request_id.clear();
  }
};

/// The state machine the node drives: forwards to the daemon, which owns the KV store.
struct daemon_sm {
  daemon* owner = nullptr;
  void apply(weft::raft::index_t index, weft::byte_view payload) noexcept;
  void read_ready(std::uint64_t context) noexcept;
  void read_failed(std::uint64_t context) noexcept;
  weft::result<void> save_snapshot(weft::runtime::snapshot_writer& out) noexcept;
  weft::result<void> load_snapshot(weft::runtime::snapshot_reader& in) noexcept;
};

// Ed25519 SWIM admission (statements from the admin key) and, by default, Noise links.
using node_type = weft::runtime::basic_node<weft::runtime::secure_stack, daemon_sm>;

/// Process-wide weftd series (the node's come from weft/telemetry/catalogue.hpp).
struct daemon_metrics {
  weft::telemetry::counter http_requests{{"weftd_http_requests", "HTTP requests answered"}};
  weft::telemetry::counter http_bad_requests{{"weftd_http_bad_requests", "Malformed HTTP requests refused (400)"}};
  weft::telemetry::counter http_oversize{{"weftd_http_oversize", "Requests refused for oversized headers or bodies (413/431)"}};
  weft::telemetry::counter http_timeouts{{"weftd_http_slow_clients", "Connections closed because a request did not arrive in time"}};
  weft::telemetry::counter http_refused{{"weftd_http_connections_refused", "Connections refused beyond max_connections"}};
  weft::telemetry::counter kv_writes{{"weftd_kv_writes", "Writes (PUT, DELETE) confirmed after commit and apply"}};
  weft::telemetry::counter kv_reads{{"weftd_kv_reads", "Linearizable reads answered"}};
  weft::telemetry::counter kv_unknown{{"weftd_kv_unknown_outcomes", "Writes answered 504 outcome unknown"}};
  weft::telemetry::counter kv_barriers_reissued{{"weftd_kv_read_barriers_reissued", "Read barriers re-issued after an election timeout unapplied (lost on the way)"}};
  weft::telemetry::counter kv_refused{{"weftd_kv_refused", "KV requests refused before proposing (no leader, busy, shutting down)"}};
  weft::telemetry::histogram write_latency{{"weftd_kv_write_latency_seconds", "Write latency from request to apply", "seconds", {}, 1e-9}};
  weft::telemetry::gauge kv_pending{{"weftd_kv_requests_pending", "KV requests waiting for commit, apply or a read index"}};
  weft::telemetry::gauge connections{{"weftd_http_connections", "Open HTTP and WebSocket connections"}};
};

/// The program: parses the command line and config, runs the daemon until a signal.
int run(int argc, char** argv);

class daemon {
 public:
  daemon(net::io_context& io, const config& cfg, std::string dashboard);
  /// Opens the node and the HTTP listener; false with `problem` set on failure.
  bool start(std::string& problem);
  /// Graceful shutdown (SIGINT/SIGTERM): see docs/weftd.md.
  void shutdown();
  /// SIGHUP: re-reads `path` and applies changed peer keys and security.revoked_below_epoch;
  /// a bad file is refused (false, `problem` names the key) and the running config stays.
  bool reload(const std::string& path, std::string& problem);

  // ---- used by sessions ---------------------------------------------------------------
  void handle(const std::shared_ptr<http_session>& session, const http_request& req);
  void track_ws(const std::shared_ptr<ws_session>& ws);
  void track_http(const std::shared_ptr<http_session>& session);
  [[nodiscard]] const config& cfg() const noexcept { return cfg_; }
  [[nodiscard]] bool stopping() const noexcept { return stopping_; }
  [[nodiscard]] daemon_metrics& metrics() noexcept { return metrics_; }
  [[nodiscard]] std::string status_json();
  /// Open HTTP and WebSocket connections; shared so that sessions destroyed after the
  /// daemon (by the io_context's destructor) touch nothing of it.
  std::shared_ptr<std::int64_t> open_connections = std::make_shared<std::int64_t>(0);

  // ---- used by the state machine ------------------------------------------------------
  void on_apply(weft::raft::index_t index, weft::byte_view payload);
  void on_read_ready(std::uint64_t context);
  void on_read_failed(std::uint64_t context);
  [[nodiscard]] kv_store& store() noexcept { return kv_; }

 private:
  using kind = pending_kind;
  using pending_requests = pending_table<http_session>;
  using pending = pending_requests::request;
  static constexpr std::size_t max_read_index_reads = 4096;  // node_options::raft.max_pending_reads
  /// A request id this member makes: boot tag (at most ~37 bytes) and request counter.
  struct request_id_buffer {
    char bytes[64];
  };

  void accept();
  void arm_epoll();
  void on_timer();
  void sweep_deadlines();
  void push_status(bool force);
  void handle_kv(const std::shared_ptr<http_session>& session, const http_request& req, std::string_view key);
  void start_read(const std::shared_ptr<http_session>& session, std::string_view key);
  /// The slot of the request now waiting, or none (answered already).
  std::uint32_t propose_entry(const std::shared_ptr<http_session>& session, kv_op op, std::string_view key,
                              std::string_view value, std::string_view request_id, kind what);
  /// Encodes and proposes one entry; on failure the status and body to answer.
  bool encode_and_propose(kv_op op, std::string_view key, std::string_view value, std::string_view request_id,
                          unsigned& status, std::string_view& body);
  void sweep_lost_barriers();
  void reissue_barrier(std::uint32_t slot);
  [[nodiscard]] std::chrono::milliseconds barrier_patience() const noexcept;
  void sweep_slow_connections();
  void answer_read(std::uint32_t slot);
  void fail_barrier_reads_before(std::uint64_t sequence, const char* why);
  void refuse_with_leader(std::uint32_t slot, std::string_view why);
  void note_leadership_change();
  [[nodiscard]] std::uint64_t own_sequence(std::string_view request_id) const noexcept;
  /// Answers the request in `slot` (if its connection still waits) and frees the slot.
  void finish(std::uint32_t slot, unsigned status, std::string_view body);
  std::string_view next_request_id(request_id_buffer& into) noexcept;
  std::string metrics_text();

  net::io_context& io_;
  config cfg_;
  std::string dashboard_;
  weft::runtime::event_loop loop_;
  daemon_sm sm_{};
  std::unique_ptr<node_type> node_;
  kv_store kv_;
  tcp::acceptor acceptor_;
  std::optional<net::posix::stream_descriptor> epoll_;
  net::steady_timer timer_;
  net::steady_timer shutdown_timer_;
  /// Writes and read barriers (by request id; at most max_pending_requests) and ReadIndex
  /// reads (by context; at most max_read_index_reads), with their deadlines and, for read
  /// barriers, their request counters: proposed here and not yet applied, oldest first. A
  /// later own entry applied first, or a leader change, means the barrier is lost or may be,
  /// and a read is safe to refuse at once (the client retries) instead of at the timeout.
  pending_requests pending_;
  std::size_t proposed_pending_ = 0;   // writes and read barriers in pending_
  std::size_t read_index_pending_ = 0;  // ReadIndex reads in pending_
  std::vector<std::weak_ptr<ws_session>> sockets_;
  std::vector<std::weak_ptr<http_session>> http_sessions_;  // swept for slow clients
  std::vector<std::uint8_t> entry_buffer_;  // the proposal being encoded
  unsigned timer_turns_ = 0;
  std::uint64_t request_counter_ = 0;
  weft::raft::term_t seen_term_ = 0;
  weft::raft::node_id seen_leader_ = 0;
  std::string boot_tag_;
  std::string last_fingerprint_;
  std::chrono::steady_clock::time_point last_push_{};
  std::int64_t steady_to_unix_ms_ = 0;
  bool stopping_ = false;
  daemon_metrics metrics_;
  transport_metrics transport_metrics_;  // refusals and drops, taken at each scrape
};

}  // namespace weftd
