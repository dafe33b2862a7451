// weft/transport/tcp.hpp - the TCP stream transport (consensus, push-pull state exchange)
// on the runtime's event loop, framed by weft/wire/frame.hpp, optionally inside Noise_XX
// sessions. Models weft::transport::stream_transport. weft:hosted (POSIX sockets,
// libsodium for the Noise primitives; link weft::sodium).
//
// Each member sends on its own outbound connection to each peer and receives on the
// connections peers opened to it, so messages from A to B share one ordered byte stream.
// Plaintext: an outbound connection starts with a hello frame ("WS", version, sender
// peer_id); inbound connections whose hello names no known peer are refused and counted.
// Noise (tcp_options::security): the connecting side is the Noise initiator; the XX
// handshake runs first (message 1 carries a cleartext version marker that the responder
// checks before answering; message 2 carries the responder's hello, message 3 the
// initiator's, both encrypted and bound to the sender's static key), and each side checks
// that the other's static key is the one its key table holds for the member id the hello
// claims. Only then is the link up. The frame stream is then cut into sealed Noise frames
// (at most 65535 bytes each), so frames keep their own size limit, CRC and trace field.
// Any refusal (handshake, wrong key, tampered, replayed, out of order, oversize) closes
// the connection and is counted by kind; a reconnection runs a new handshake.
// Delivery contract (docs/requirements/transport.md): in order, once, or - after a
// reported disconnect - not at all. On disconnect the unsent queue is dropped and counted,
// never replayed into a new connection where it could arrive twice.
#pragma once

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <optional>
#include <vector>

#include "weft/config.hpp"
#include "weft/core/bytes.hpp"
#include "weft/core/random.hpp"
#include "weft/core/result.hpp"
#include "weft/crypto/noise_session.hpp"
#include "weft/crypto/sodium.hpp"
#include "weft/runtime/event_loop.hpp"
#include "weft/telemetry/trace.hpp"
#include "weft/transport/concepts.hpp"
#include "weft/transport/socket.hpp"
#include "weft/wire/frame.hpp"

WEFT_BEGIN
namespace transport {

/// Noise_XX_25519_ChaChaPoly_BLAKE2b, the suite of every weft TCP session.
using tcp_noise_suite = crypto::noise_suite<crypto::libsodium::x25519,
                                            crypto::libsodium::chacha20poly1305_ietf,
                                            crypto::libsodium::blake2b512>;
using noise_public_key = crypto::libsodium::x25519::public_key;
using noise_secret_key = crypto::libsodium::x25519::secret_key;

/// The X25519 key of a member whose identity is an Ed25519 key, so one key per member
/// serves both SWIM admission and Noise (libsodium's birational map).
[[nodiscard]] inline result<noise_public_key> noise_public_key_from_ed25519(
    byte_view ed25519_public_key) noexcept {
  if (ed25519_public_key.size() != crypto::libsodium::ed25519::public_key_size)
    return error(crypto::crypto_errc::invalid_length, "noise key from ed25519: size");
  noise_public_key out;
  if (crypto_sign_ed25519_pk_to_curve25519(out.data(), ed25519_public_key.data()) != 0)
    return error(crypto::crypto_errc::invalid_key, "noise key from ed25519");
  return out;
}
[[nodiscard]] inline noise_secret_key noise_secret_key_from_ed25519(
    const crypto::libsodium::ed25519::secret_key& member_key) noexcept {
  noise_secret_key out;
  (void)crypto_sign_ed25519_sk_to_curve25519(out.expose_mutable().data(),
                                             member_key.expose().data());
  return out;
}

enum class tcp_security : std::uint8_t {
  plaintext,  // hello frame, then frames in the clear: tests and benchmark comparison only
  noise,      // Noise_XX sessions authenticated against the peers' keys
};

struct tcp_options {
  std::size_t max_peers = 64;
  std::size_t max_inbound_connections = 128;
  std::size_t max_message_size_bytes = 1u << 20;
  std::size_t send_queue_capacity_bytes = 4u << 20;  // per peer, frames included
  duration reconnect_backoff_min = milliseconds(20);
  duration reconnect_backoff_max = seconds(2);
  std::size_t max_frames_per_read = 256;  // fairness towards other connections
  tcp_security security = tcp_security::plaintext;
  // An outbound handshake not done by then is dropped; an inbound connection that has not
  // identified itself by then (hello, or completed handshake) is closed.
  duration handshake_timeout = seconds(5);
  std::uint64_t noise_rekey_interval_frames = std::uint64_t{1} << 20;

  [[nodiscard]] result<void> validate() const noexcept {
    if (max_peers == 0 || max_inbound_connections == 0 || max_frames_per_read == 0)
      return error(core_errc::invalid_options, "tcp_options: zero capacity");
    if (max_message_size_bytes == 0 || max_message_size_bytes > (1u << 30))
      return error(core_errc::invalid_options, "tcp_options.max_message_size_bytes");
    if (send_queue_capacity_bytes < max_message_size_bytes + wire::frame_trace_field_size_bytes +
                                        2 * wire::frame_header_size_bytes + 7)
      return error(core_errc::invalid_options, "tcp_options.send_queue_capacity_bytes");
    if (reconnect_backoff_min <= duration::zero() || reconnect_backoff_max < reconnect_backoff_min)
      return error(core_errc::invalid_options, "tcp_options.reconnect_backoff");
    if (handshake_timeout <= duration::zero())
      return error(core_errc::invalid_options, "tcp_options.handshake_timeout");
    if (noise_rekey_interval_frames == 0)
      return error(core_errc::invalid_options, "tcp_options.noise_rekey_interval_frames");
    return ok();
  }
};

struct tcp_counters {
  std::uint64_t messages_sent = 0;      // queued and written in full
  std::uint64_t bytes_sent = 0;
  std::uint64_t send_calls = 0;         // send() system calls that wrote frame-stream bytes
  std::uint64_t messages_received = 0;
  std::uint64_t bytes_received = 0;
  std::uint64_t refused_queue_full = 0;
  std::uint64_t connects = 0;
  std::uint64_t connect_failures = 0;
  std::uint64_t disconnects = 0;
  std::uint64_t messages_dropped_on_disconnect = 0;
  std::uint64_t inbound_accepted = 0;
  // Connections refused before they identified, by kind (both modes), so an operator tells
  // an old binary still deployed (wire_version) from a non-member (unknown_member) from too
  // few slots (table_full). inbound_refused is their total on inbound connections; a Noise
  // responder's hello (message 2) refused on our outbound link counts in its kind only.
  std::uint64_t inbound_refused = 0;
  std::uint64_t refused_table_full = 0;      // every max_inbound_connections slot was taken
  std::uint64_t refused_resources = 0;       // a slot's buffers or its epoll watch failed
  std::uint64_t refused_bad_hello = 0;       // the first frame (Noise: message 2, 3) is no hello
  std::uint64_t refused_wire_version = 0;    // a hello or Noise version marker of another version
  std::uint64_t refused_unknown_member = 0;  // a hello naming an id the peer table lacks
  std::uint64_t malformed_frames = 0;   // bad checksum or oversize: the connection is closed
  // Noise sessions (each refusal closes the connection).
  std::uint64_t handshakes_completed = 0;     // both directions counted where they finish
  std::uint64_t refused_handshake = 0;        // bad handshake message or version marker
  std::uint64_t refused_wrong_key = 0;        // static key not the one held for the claimed id
  std::uint64_t handshake_timeouts = 0;       // outbound handshakes not done in time
  std::uint64_t inbound_timeouts = 0;         // inbound connections that never identified
  std::uint64_t refused_tampered = 0;         // a sealed frame failed authentication
  std::uint64_t refused_replayed = 0;         // nonce below the next expected one
  std::uint64_t refused_out_of_order = 0;     // nonce above it (a frame went missing)
  std::uint64_t refused_oversized = 0;        // sealed-frame length above the Noise limit
  std::uint64_t refused_malformed_sealed = 0; // too short to hold a nonce and a tag
};

using message_handler = void (*)(void* context, peer_id from, byte_view payload) noexcept;
/// Outbound link state changes: up after the hello is sent (plaintext) or the handshake
/// completed (Noise), down after a disconnect.
using link_handler = void (*)(void* context, peer_id peer, bool up) noexcept;

/// This member's Noise identity. Ephemeral keys come from `fill_random` (null: libsodium's
/// system CSPRNG), so tests can inject their own source.
struct tcp_noise_identity {
  noise_secret_key static_key;
  void (*fill_random)(void* context, mutable_byte_view out) noexcept = nullptr;
  void* random_context = nullptr;
};

class tcp_transport {
 public:
  static constexpr std::uint8_t wire_version = 1;
  static constexpr std::size_t hello_size_bytes = 7;
  /// Noise message 1's payload, "WS" and the wire version: cleartext (no key exists yet)
  /// but mixed into the handshake hash, so a peer of another version is refused as such
  /// before any DH runs, and a forged marker fails the handshake. Message 1 without a
  /// payload comes from a build before markers, which spoke version 1. A responder that
  /// refuses the version answers with its own marker in a Noise-length frame (too short to
  /// be a message 2) before it closes, so the initiator counts the version too.
  static constexpr std::size_t version_marker_size_bytes = 3;
  /// Mixed into every handshake: both sides must run this protocol and wire version.
  static constexpr std::string_view noise_prologue = "weft/tcp/noise/v1";

  tcp_transport() noexcept = default;
  tcp_transport(const tcp_transport&) = delete;
  tcp_transport& operator=(const tcp_transport&) = delete;
  ~tcp_transport() { close(); }

  /// Sets the Noise identity; call before open() when options.security is noise.
  void set_noise_identity(tcp_noise_identity identity) noexcept {
    identity_.emplace(std::move(identity));
  }

  [[nodiscard]] result<void> open(runtime::event_loop& loop, ipv4_endpoint listen_at,
                                  peer_id self, const tcp_options& options,
                                  message_handler on_message, link_handler on_link,
                                  void* context) noexcept;
  void close() noexcept;

  /// Adds a peer (connecting lazily on first send), or moves it to a new address. With
  /// Noise, `key` is the static key the peer must prove (required for a new peer).
  [[nodiscard]] result<void> set_peer(peer_id id, ipv4_endpoint at,
                                      const noise_public_key* key = nullptr) noexcept;

  [[nodiscard]] std::size_t max_message_size() const noexcept {
    return options_.max_message_size_bytes;
  }
  [[nodiscard]] result<void> send_message(peer_id to, byte_view payload) noexcept {
    return send_message(to, payload, nullptr);
  }
  /// Sends with the sender's trace context in the frame's trace field (when valid).
  [[nodiscard]] result<void> send_message(peer_id to, byte_view payload,
                                          const telemetry::trace_context* trace) noexcept;

  /// Holds sends: until uncork(), send_message only queues, so every frame queued for a
  /// peer in one event-loop turn leaves in one send (and, with Noise, one seal per up to
  /// 64 KiB) instead of one per message. Not nested.
  void cork() noexcept { corked_ = true; }
  /// Ends cork(): flushes every connected link with queued frames.
  void uncork() noexcept;

  /// Inside the message handler: the trace context the frame carried, or null.
  [[nodiscard]] const telemetry::trace_context* received_trace() const noexcept {
    return received_trace_ ? &*received_trace_ : nullptr;
  }

  /// Bytes waiting in the queue to `to` (0 for an unknown peer).
  [[nodiscard]] std::size_t queued_bytes(peer_id to) const noexcept {
    const outbound* link = find(to);
    return link == nullptr ? 0 : link->tail - link->head;
  }
  /// What went to and came from `id` (null for an unknown peer).
  [[nodiscard]] const peer_traffic* traffic(peer_id id) const noexcept {
    const outbound* link = find(id);
    return link == nullptr ? nullptr : &link->traffic;
  }
  /// True once the outbound link to `id` is up (hello sent, or handshake completed).
  [[nodiscard]] bool connected(peer_id id) const noexcept {
    const outbound* link = find(id);
    return link != nullptr && link->state == link_state::connected;
  }
  [[nodiscard]] ipv4_endpoint local_endpoint() const noexcept { return local_; }
  [[nodiscard]] const tcp_counters& counters() const noexcept { return counters_; }

 private:
  using session_type = crypto::noise_session<tcp_noise_suite>;
  enum class link_state : std::uint8_t { idle, connecting, handshaking, connected, backoff };

  struct outbound {
    tcp_transport* owner = nullptr;
    peer_id id = 0;
    ipv4_endpoint endpoint{};
    link_state state = link_state::idle;
    socket_fd socket{};
    std::unique_ptr<std::uint8_t[]> queue;  // frames in [head, tail)
    std::size_t head = 0;
    std::size_t tail = 0;
    std::size_t queued_messages = 0;
    bool watching_writable = false;  // EPOLLOUT is in the socket's epoll interest
    duration backoff{};
    runtime::timer_id retry{};  // backoff retry, or the handshake deadline
    // Noise only:
    std::optional<noise_public_key> key;
    std::optional<session_type> session;
    std::unique_ptr<std::uint8_t[]> sealed;  // one sealed or handshake frame in [sealed_head, sealed_tail)
    std::size_t sealed_head = 0;
    std::size_t sealed_tail = 0;
    bool reply_started = false;  // bytes of the responder's answer to message 1 have come
    peer_traffic traffic{};
  };
  struct inbound {
    tcp_transport* owner = nullptr;
    socket_fd socket{};
    std::unique_ptr<std::uint8_t[]> storage;
    std::optional<wire::frame_decoder> decoder;
    std::optional<peer_id> from;  // set by the hello frame (or the handshake)
    outbound* peer = nullptr;     // the table entry of `from`
    std::optional<session_type> session;
    runtime::timer_id deadline{};  // closes the connection unless it identifies in time
  };

  [[nodiscard]] bool secure() const noexcept { return options_.security == tcp_security::noise; }
  [[nodiscard]] outbound* find(peer_id id) noexcept;
  [[nodiscard]] const outbound* find(peer_id id) const noexcept;
  [[nodiscard]] result<void> enqueue_frame(outbound& link, byte_view payload,
                                           const wire::frame_trace_field* trace) noexcept;
  void start_connect(outbound& link) noexcept;
  void on_connected(outbound& link) noexcept;
  void write_hello(outbound& link) noexcept;
  [[nodiscard]] result<void> start_handshake(outbound& link) noexcept;
  [[nodiscard]] result<void> watch_handshake(outbound& link) noexcept;
  void read_handshake_reply(outbound& link) noexcept;
  void flush(outbound& link) noexcept;
  void watch_writable(outbound& link, bool writable) noexcept;
  [[nodiscard]] bool flush_sealed(outbound& link) noexcept;
  void link_up(outbound& link) noexcept;
  void drop_link(outbound& link) noexcept;
  void close_inbound(inbound& conn) noexcept;
  void read_inbound(inbound& conn) noexcept;
  [[nodiscard]] bool consume_frames(inbound& conn, byte_view bytes, std::size_t& frames) noexcept;
  [[nodiscard]] bool consume_sealed(inbound& conn, mutable_byte_view bytes,
                                    std::size_t& frames) noexcept;
  [[nodiscard]] bool answer_handshake(inbound& conn, byte_view payload) noexcept;
  [[nodiscard]] bool deliver(inbound& conn, byte_view payload) noexcept;
  [[nodiscard]] result<session_type> new_session(crypto::noise_role role) noexcept;
  enum class hello_verdict : std::uint8_t { member, malformed, other_version, unknown_member };
  struct hello_check {
    hello_verdict verdict;
    outbound* peer;  // the table entry of the member the hello names (verdict member)
  };
  [[nodiscard]] hello_check check_hello(byte_view hello) noexcept;
  void refuse_inbound(std::uint64_t tcp_counters::*kind) noexcept;
  [[nodiscard]] bool refuse_hello(hello_verdict verdict) noexcept;
  [[nodiscard]] bool check_version_marker(inbound& conn, byte_view payload) noexcept;
  [[nodiscard]] static bool is_version_refusal(byte_view reply) noexcept;
  void count_session_refusal(const error& e, bool handshake) noexcept;

  static void on_outbound_event(void* context, std::uint32_t events) noexcept;
  static void on_inbound_event(void* context, std::uint32_t events) noexcept;
  static void on_listen_event(void* context, std::uint32_t events) noexcept;
  static void on_retry_timer(void* context) noexcept;
  static void on_inbound_deadline(void* context) noexcept;

  runtime::event_loop* loop_ = nullptr;
  socket_fd listener_{};
  ipv4_endpoint local_{};
  tcp_options options_{};
  wire::frame_options frame_options_{};
  crypto::noise_session_options session_options_{};
  peer_id self_ = 0;
  message_handler on_message_ = nullptr;
  link_handler on_link_ = nullptr;
  void* context_ = nullptr;
  std::vector<outbound> outbound_;  // capacity max_peers: element addresses are stable
  std::vector<inbound> inbound_;    // sized max_inbound_connections at open()
  std::optional<tcp_noise_identity> identity_;
  std::vector<std::uint8_t> opened_;  // Noise: one opened frame's plaintext (shared, one loop)
  std::optional<telemetry::trace_context> received_trace_;
  xoshiro256 jitter_{};
  tcp_counters counters_{};
  bool corked_ = false;
};

static_assert(stream_transport<tcp_transport>,
              "tcp_transport must model stream_transport: see docs/requirements/transport.md");

// ---- implementation ---------------------------------------------------------------------

inline result<void> tcp_transport::open(runtime::event_loop& loop, ipv4_endpoint listen_at,
                                        peer_id self, const tcp_options& options,
                                        message_handler on_message, link_handler on_link,
                                        void* context) noexcept {
  WEFT_TRY(options.validate());
  if (on_message == nullptr) return error(core_errc::invalid_argument, "tcp open: handler");
  if (options.security == tcp_security::noise) {
    if (!identity_) return error(transport_errc::missing_key, "tcp open: no Noise identity");
    if (!crypto::sodium::initialize()) return error(crypto::crypto_errc::backend_failure, "tcp open");
    session_options_.rekey_interval_frames = options.noise_rekey_interval_frames;
    opened_.resize(crypto::noise_max_message_size_bytes);
  }
  WEFT_TRY_ASSIGN(listener_, detail::open_socket(SOCK_STREAM));
  WEFT_TRY(detail::bind_to(listener_, listen_at));
  if (::listen(listener_.get(), 128) != 0) return error(runtime::runtime_errc::system_error, "listen");
  WEFT_TRY_ASSIGN(local_, detail::local_endpoint_of(listener_));
  options_ = options;
  // A frame's body is its payload plus, when present, the trace-context field.
  frame_options_.max_payload_size_bytes =
      options.max_message_size_bytes + wire::frame_trace_field_size_bytes;
  self_ = self;
  on_message_ = on_message;
  on_link_ = on_link;
  context_ = context;
  jitter_.reseed(0x7463700000000000ull ^ self);  // deterministic per member
  outbound_.reserve(options.max_peers);
  inbound_.resize(options.max_inbound_connections);
  for (auto& conn : inbound_) conn.owner = this;
  WEFT_TRY(loop.watch(listener_.get(), EPOLLIN, &on_listen_event, this));
  loop_ = &loop;
  return ok();
}

inline void tcp_transport::close() noexcept {
  if (loop_ == nullptr) return;
  for (auto& link : outbound_) {
    loop_->cancel_timer(link.retry);
    if (link.socket.valid()) loop_->unwatch(link.socket.get());
    link.socket.reset();
    link.session.reset();
  }
  for (auto& conn : inbound_)
    if (conn.socket.valid()) close_inbound(conn);
  loop_->unwatch(listener_.get());
  listener_.reset();
  loop_ = nullptr;
}

inline tcp_transport::outbound* tcp_transport::find(peer_id id) noexcept {
  for (auto& link : outbound_)
    if (link.id == id) return &link;
  return nullptr;
}
inline const tcp_transport::outbound* tcp_transport::find(peer_id id) const noexcept {
  for (const auto& link : outbound_)
    if (link.id == id) return &link;
  return nullptr;
}

inline result<void> tcp_transport::set_peer(peer_id id, ipv4_endpoint at,
                                            const noise_public_key* key) noexcept {
  if (outbound* link = find(id); link != nullptr) {
    const bool new_key = key != nullptr && (!link->key || *link->key != *key);
    if (key != nullptr) link->key = *key;
    if (!(link->endpoint == at) || new_key) {
      link->endpoint = at;
      if (link->state != link_state::idle && link->state != link_state::backoff)
        drop_link(*link);  // reconnect to the new address, or prove the new key
    }
    if (new_key)  // a rotated key: connections the old key proved must not keep talking
      for (inbound& conn : inbound_)
        if (conn.socket.valid() && conn.peer == link) close_inbound(conn);
    return ok();
  }
  if (secure() && key == nullptr) return error(transport_errc::missing_key, "tcp set_peer");
  if (outbound_.size() == options_.max_peers)
    return error(runtime::runtime_errc::peer_table_full, "tcp set_peer");
  // Uninitialised on purpose: pages are touched only as the queue is used.
  std::unique_ptr<std::uint8_t[]> queue(new (std::nothrow)
                                            std::uint8_t[options_.send_queue_capacity_bytes]);
  std::unique_ptr<std::uint8_t[]> sealed;
  if (secure())
    sealed.reset(new (std::nothrow) std::uint8_t[crypto::noise_frame_header_bytes +
                                                 crypto::noise_max_message_size_bytes]);
  if (!queue || (secure() && !sealed))
    return error(core_errc::capacity_exceeded, "tcp set_peer: queue allocation");
  outbound& link = outbound_.emplace_back();
  link.owner = this;
  link.id = id;
  link.endpoint = at;
  link.queue = std::move(queue);
  link.sealed = std::move(sealed);
  if (key != nullptr) link.key = *key;
  link.backoff = options_.reconnect_backoff_min;
  return ok();
}

inline result<void> tcp_transport::send_message(peer_id to, byte_view payload,
                                                const telemetry::trace_context* trace) noexcept {
  if (loop_ == nullptr) return error(transport_errc::closed, "tcp send");
  if (payload.size() > options_.max_message_size_bytes)
    return error(transport_errc::message_too_large, "tcp send");
  outbound* link = find(to);
  if (link == nullptr) return error(transport_errc::unknown_peer, "tcp send");
  std::optional<wire::frame_trace_field> field;
  if (trace != nullptr && trace->valid()) field = telemetry::to_frame_trace_field(*trace);
  if (auto queued = enqueue_frame(*link, payload, field ? &*field : nullptr); !queued) {
    ++link->traffic.messages_dropped;
    return queued.error();
  }
  if (link->state == link_state::idle) start_connect(*link);
  else if (link->state == link_state::connected && !corked_) flush(*link);
  return ok();
}

inline void tcp_transport::uncork() noexcept {
  corked_ = false;
  if (loop_ == nullptr) return;
  for (outbound& link : outbound_)
    if (link.state == link_state::connected && link.head < link.tail) flush(link);
}

inline result<void> tcp_transport::enqueue_frame(outbound& link, byte_view payload,
                                                 const wire::frame_trace_field* trace) noexcept {
  const std::size_t field = trace != nullptr ? wire::frame_trace_field_size_bytes : 0;
  const std::size_t need = wire::frame_header_size_bytes + field + payload.size();
  const std::size_t capacity = options_.send_queue_capacity_bytes;
  // Keep room for the hello frame that a (re)connection puts in front of the queue.
  const std::size_t hello_reserve = wire::frame_header_size_bytes + hello_size_bytes;
  if (link.tail - link.head + need + hello_reserve > capacity) {
    ++counters_.refused_queue_full;
    return error(transport_errc::queue_full, "tcp send");
  }
  if (link.tail + need > capacity) {  // compact: move the unsent bytes to the front
    std::memmove(link.queue.get(), link.queue.get() + link.head, link.tail - link.head);
    link.tail -= link.head;
    link.head = 0;
  }
  auto written = wire::encode_frame(payload, mutable_byte_view(link.queue.get() + link.tail, need),
                                    frame_options_, trace);
  if (!written) return written.error();
  link.tail += need;
  ++link.queued_messages;
  return ok();
}

inline void tcp_transport::start_connect(outbound& link) noexcept {
  auto opened = detail::open_socket(SOCK_STREAM);
  if (!opened) {
    ++counters_.connect_failures;
    drop_link(link);
    return;
  }
  link.socket = std::move(*opened);
  const int one = 1;
  (void)::setsockopt(link.socket.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  const sockaddr_in sa = link.endpoint.to_sockaddr();
  const int rc = ::connect(link.socket.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
  if (rc != 0 && errno != EINPROGRESS) {
    ++counters_.connect_failures;
    drop_link(link);
    return;
  }
  link.state = link_state::connecting;
  link.watching_writable = true;
  if (!loop_->watch(link.socket.get(), EPOLLOUT, &on_outbound_event, &link)) {
    ++counters_.connect_failures;
    drop_link(link);
  }
}

inline void tcp_transport::on_connected(outbound& link) noexcept {
  if (!secure()) {
    write_hello(link);
    return;
  }
  if (!start_handshake(link)) {
    ++counters_.refused_handshake;
    drop_link(link);
  }
}

/// Plaintext: the hello goes first, prepended in front of the queued frames.
inline void tcp_transport::write_hello(outbound& link) noexcept {
  std::uint8_t hello[hello_size_bytes] = {'W', 'S', wire_version, 0, 0, 0, 0};
  store_be<std::uint32_t>(hello + 3, self_);
  const std::size_t need = wire::frame_header_size_bytes + hello_size_bytes;
  if (link.head < need) {  // make room at the front (the queue always keeps this slack)
    const std::size_t used = link.tail - link.head;
    if (need + used > options_.send_queue_capacity_bytes) {
      drop_link(link);
      return;
    }
    std::memmove(link.queue.get() + need, link.queue.get() + link.head, used);
    link.head = need;
    link.tail = need + used;
  }
  link.head -= need;
  (void)wire::encode_frame(byte_view(hello, hello_size_bytes),
                           mutable_byte_view(link.queue.get() + link.head, need), frame_options_);
  link_up(link);
}

inline void tcp_transport::link_up(outbound& link) noexcept {
  link.state = link_state::connected;
  link.backoff = options_.reconnect_backoff_min;
  ++counters_.connects;
  if (on_link_ != nullptr) on_link_(context_, link.id, true);
  flush(link);
}

inline result<tcp_transport::session_type> tcp_transport::new_session(
    crypto::noise_role role) noexcept {
  WEFT_TRY_ASSIGN(auto static_key, noise_secret_key::from(identity_->static_key.expose()));
  noise_secret_key ephemeral;
  if (identity_->fill_random != nullptr)
    identity_->fill_random(identity_->random_context, ephemeral.expose_mutable());
  else
    crypto::libsodium::random_source{}.fill(ephemeral.expose_mutable());
  return session_type::create(session_options_, role, std::move(static_key),
                              std::move(ephemeral), as_bytes(noise_prologue));
}

/// Noise, initiator: message 1 (our version marker), then wait for the responder's message 2
/// within handshake_timeout.
inline result<void> tcp_transport::start_handshake(outbound& link) noexcept {
  WEFT_TRY_ASSIGN(auto session, new_session(crypto::noise_role::initiator));
  link.session.emplace(std::move(session));
  const std::uint8_t marker[version_marker_size_bytes] = {'W', 'S', wire_version};
  WEFT_TRY_ASSIGN(link.sealed_tail,
                  link.session->write_handshake(
                      byte_view(marker, sizeof marker),
                      mutable_byte_view(link.sealed.get(), crypto::noise_frame_header_bytes +
                                                               crypto::noise_max_message_size_bytes)));
  link.sealed_head = 0;
  link.reply_started = false;
  link.state = link_state::handshaking;
  auto deadline = loop_->add_timer(options_.handshake_timeout, &on_retry_timer, &link);
  if (!deadline) return deadline.error();
  link.retry = *deadline;
  if (!flush_sealed(link)) return error(runtime::runtime_errc::system_error, "tcp handshake send");
  return watch_handshake(link);
}

/// While handshaking: EPOLLOUT only while message 1 is partly unsent (level-triggered).
inline result<void> tcp_transport::watch_handshake(outbound& link) noexcept {
  const bool unsent = link.sealed_head < link.sealed_tail;
  link.watching_writable = unsent;
  return loop_->modify(link.socket.get(), unsent ? EPOLLIN | EPOLLOUT : EPOLLIN);
}

/// Whether a hello ("WS", wire version, member id) names a table member, and if not why.
inline tcp_transport::hello_check tcp_transport::check_hello(byte_view hello) noexcept {
  if (hello.size() != hello_size_bytes || hello[0] != 'W' || hello[1] != 'S')
    return {hello_verdict::malformed, nullptr};
  if (hello[2] != wire_version) return {hello_verdict::other_version, nullptr};
  outbound* peer = find(load_be<std::uint32_t>(hello.data() + 3));
  return {peer != nullptr ? hello_verdict::member : hello_verdict::unknown_member, peer};
}

inline void tcp_transport::refuse_inbound(std::uint64_t tcp_counters::*kind) noexcept {
  ++(counters_.*kind);
  ++counters_.inbound_refused;
}

/// Counts an inbound hello that names no member by why; false (the connection closes).
inline bool tcp_transport::refuse_hello(hello_verdict verdict) noexcept {
  switch (verdict) {
    case hello_verdict::other_version: refuse_inbound(&tcp_counters::refused_wire_version); break;
    case hello_verdict::unknown_member: refuse_inbound(&tcp_counters::refused_unknown_member); break;
    case hello_verdict::malformed:
    case hello_verdict::member: refuse_inbound(&tcp_counters::refused_bad_hello); break;
  }
  return false;
}

/// Noise, responder: message 1's payload is our version marker, or empty (a build before
/// markers, version 1); another version is refused before message 2 costs any DH, and told
/// our version (best effort: the connection closes either way).
inline bool tcp_transport::check_version_marker(inbound& conn, byte_view payload) noexcept {
  static_assert(wire_version == 1, "an empty marker means version 1: keep accepting it only then");
  if (payload.empty()) return true;
  if (payload.size() == version_marker_size_bytes && payload[0] == 'W' && payload[1] == 'S') {
    if (payload[2] == wire_version) return true;
    refuse_inbound(&tcp_counters::refused_wire_version);
    const std::uint8_t refusal[] = {0, version_marker_size_bytes, 'W', 'S', wire_version};
    (void)::send(conn.socket.get(), refusal, sizeof refusal, MSG_NOSIGNAL | MSG_DONTWAIT);
    return false;
  }
  ++counters_.refused_handshake;
  return false;
}

/// A responder's answer that is its version marker in a 3-byte frame: it refused ours.
inline bool tcp_transport::is_version_refusal(byte_view reply) noexcept {
  return reply.size() >= crypto::noise_frame_header_bytes + version_marker_size_bytes &&
         reply[0] == 0 && reply[1] == version_marker_size_bytes && reply[2] == 'W' &&
         reply[3] == 'S' && reply[4] != wire_version;
}

/// Noise, initiator: message 2 proves the responder's key; message 3 proves ours.
inline void tcp_transport::read_handshake_reply(outbound& link) noexcept {
  std::uint8_t chunk[1024];
  const auto n = ::recv(link.socket.get(), chunk, sizeof chunk, MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
  if (n <= 0) {
    ++counters_.refused_handshake;
    drop_link(link);
    return;
  }
  const byte_view got(chunk, static_cast<std::size_t>(n));
  const bool first_bytes = !link.reply_started;
  link.reply_started = true;
  if (first_bytes && is_version_refusal(got)) {
    ++counters_.refused_wire_version;
    drop_link(link);
    return;
  }
  auto taken = link.session->feed(got);
  if (!taken) {
    count_session_refusal(taken.error(), true);
    drop_link(link);
    return;
  }
  if (!link.session->frame_buffered()) return;  // message 2 is not complete yet
  if (*taken != got.size()) {  // the responder sends nothing after message 2
    ++counters_.refused_handshake;
    drop_link(link);
    return;
  }
  auto hello = link.session->next_frame(opened_);
  if (!hello) {
    count_session_refusal(hello.error(), true);
    drop_link(link);
    return;
  }
  const hello_check answer = check_hello(byte_view(opened_.data(), *hello));
  if (answer.verdict == hello_verdict::other_version || answer.verdict == hello_verdict::malformed) {
    ++(answer.verdict == hello_verdict::other_version ? counters_.refused_wire_version
                                                      : counters_.refused_bad_hello);
    drop_link(link);
    return;
  }
  if (answer.peer != &link || !equal_bytes(link.session->handshake().remote_static(), *link.key)) {
    ++counters_.refused_wrong_key;  // the address we dialled answered as someone else
    drop_link(link);
    return;
  }
  std::uint8_t mine[hello_size_bytes] = {'W', 'S', wire_version, 0, 0, 0, 0};
  store_be<std::uint32_t>(mine + 3, self_);
  auto written = link.session->write_handshake(
      byte_view(mine, hello_size_bytes),
      mutable_byte_view(link.sealed.get(), crypto::noise_frame_header_bytes +
                                               crypto::noise_max_message_size_bytes));
  if (!written || !link.session->established()) {
    ++counters_.refused_handshake;
    drop_link(link);
    return;
  }
  link.sealed_head = 0;
  link.sealed_tail = *written;
  loop_->cancel_timer(link.retry);
  ++counters_.handshakes_completed;
  link_up(link);  // flush sends message 3 ahead of the first sealed frame
}

/// Sends what is pending of the current sealed frame; false if the connection failed.
inline bool tcp_transport::flush_sealed(outbound& link) noexcept {
  while (link.sealed_head < link.sealed_tail) {
    const auto n = ::send(link.socket.get(), link.sealed.get() + link.sealed_head,
                          link.sealed_tail - link.sealed_head, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
    ++counters_.send_calls;
    link.sealed_head += static_cast<std::size_t>(n);
    counters_.bytes_sent += static_cast<std::uint64_t>(n);
    link.traffic.bytes_sent += static_cast<std::uint64_t>(n);
  }
  link.sealed_head = link.sealed_tail = 0;
  return true;
}

inline void tcp_transport::flush(outbound& link) noexcept {
  while (link.head < link.tail || link.sealed_head < link.sealed_tail) {
    if (secure()) {
      if (!flush_sealed(link)) {
        ++link.traffic.send_failures;
        drop_link(link);
        return;
      }
      if (link.sealed_head < link.sealed_tail) break;  // the socket is full: wait for EPOLLOUT
      if (link.head == link.tail) break;
      // Seal the next stretch of the frame stream (frames may straddle sealed frames).
      const std::size_t take = std::min(link.tail - link.head, link.session->max_payload_bytes());
      auto sealed = link.session->seal(
          byte_view(link.queue.get() + link.head, take),
          mutable_byte_view(link.sealed.get(), crypto::noise_frame_header_bytes +
                                                   crypto::noise_max_message_size_bytes));
      if (!sealed) {  // nonce exhausted: a new connection brings new keys
        ++link.traffic.send_failures;
        drop_link(link);
        return;
      }
      link.head += take;
      link.sealed_tail = *sealed;
      continue;
    }
    const auto n = ::send(link.socket.get(), link.queue.get() + link.head, link.tail - link.head,
                          MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      ++link.traffic.send_failures;
      drop_link(link);
      return;
    }
    ++counters_.send_calls;
    link.head += static_cast<std::size_t>(n);
    counters_.bytes_sent += static_cast<std::uint64_t>(n);
    link.traffic.bytes_sent += static_cast<std::uint64_t>(n);
  }
  if (link.head < link.tail || link.sealed_head < link.sealed_tail) {
    watch_writable(link, true);
    return;
  }
  counters_.messages_sent += link.queued_messages;
  link.traffic.messages_sent += link.queued_messages;
  link.queued_messages = 0;
  link.head = link.tail = 0;
  watch_writable(link, false);  // EPOLLIN stays, to notice the peer closing
}

/// Changes the epoll interest only when it changes: an epoll_ctl per flush would cost a
/// system call per message.
inline void tcp_transport::watch_writable(outbound& link, bool writable) noexcept {
  if (link.watching_writable == writable) return;
  if (loop_->modify(link.socket.get(), writable ? EPOLLIN | EPOLLOUT : EPOLLIN))
    link.watching_writable = writable;
}

inline void tcp_transport::drop_link(outbound& link) noexcept {
  const bool was_up = link.state == link_state::connected;
  if (link.state == link_state::handshaking) loop_->cancel_timer(link.retry);
  if (link.socket.valid()) {
    loop_->unwatch(link.socket.get());
    link.socket.reset();
    ++counters_.disconnects;
  }
  link.watching_writable = false;
  link.session.reset();
  link.sealed_head = link.sealed_tail = 0;
  counters_.messages_dropped_on_disconnect += link.queued_messages;
  link.traffic.messages_dropped += link.queued_messages;
  link.queued_messages = 0;
  link.head = link.tail = 0;
  link.state = link_state::backoff;
  // Exponential backoff with up to 50% random jitter, so members do not reconnect in step.
  const auto jitter_ns = static_cast<std::int64_t>(
      uniform_below(jitter_, static_cast<std::uint64_t>(link.backoff.count() / 2 + 1)));
  auto retry = loop_->add_timer(link.backoff + duration(jitter_ns), &on_retry_timer, &link);
  if (retry) link.retry = *retry;
  link.backoff = std::min(link.backoff * 2, options_.reconnect_backoff_max);
  if (was_up && on_link_ != nullptr) on_link_(context_, link.id, false);
}

inline void tcp_transport::on_retry_timer(void* context) noexcept {
  auto& link = *static_cast<outbound*>(context);
  if (link.state == link_state::handshaking) {  // the handshake deadline passed
    ++link.owner->counters_.handshake_timeouts;
    link.owner->drop_link(link);
    return;
  }
  if (link.state != link_state::backoff) return;
  // Reconnect only when something waits to be sent; otherwise connect on the next send.
  link.state = link_state::idle;
  if (link.tail > link.head) link.owner->start_connect(link);
}

inline void tcp_transport::on_outbound_event(void* context, std::uint32_t events) noexcept {
  auto& link = *static_cast<outbound*>(context);
  tcp_transport& self = *link.owner;
  if (link.state == link_state::connecting) {
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(link.socket.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
      ++self.counters_.connect_failures;
      self.drop_link(link);
      return;
    }
    self.on_connected(link);
    return;
  }
  if (link.state == link_state::handshaking) {
    if ((events & EPOLLOUT) != 0 && (!self.flush_sealed(link) || !self.watch_handshake(link))) {
      ++self.counters_.refused_handshake;
      self.drop_link(link);
      return;
    }
    if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0) self.read_handshake_reply(link);
    return;
  }
  if ((events & (EPOLLERR | EPOLLHUP)) != 0) {
    self.drop_link(link);
    return;
  }
  if ((events & EPOLLIN) != 0) {  // peers never write on our outbound link: EOF or junk
    std::uint8_t sink[64];
    const auto n = ::recv(link.socket.get(), sink, sizeof sink, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
      self.drop_link(link);
      return;
    }
  }
  if ((events & EPOLLOUT) != 0) self.flush(link);
}

inline void tcp_transport::on_listen_event(void* context, std::uint32_t) noexcept {
  auto& self = *static_cast<tcp_transport*>(context);
  for (;;) {
    const int fd = ::accept4(self.listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    socket_fd accepted(fd);
    auto slot = std::find_if(self.inbound_.begin(), self.inbound_.end(),
                             [](const inbound& c) { return !c.socket.valid(); });
    if (slot == self.inbound_.end()) {
      self.refuse_inbound(&tcp_counters::refused_table_full);
      continue;  // closed by socket_fd's destructor
    }
    const std::size_t storage_size =
        wire::frame_header_size_bytes + self.frame_options_.max_payload_size_bytes;
    slot->storage.reset(new (std::nothrow) std::uint8_t[storage_size]);
    std::optional<session_type> session;
    if (self.secure()) {
      auto created = self.new_session(crypto::noise_role::responder);
      if (created) session.emplace(std::move(*created));
    }
    if (!slot->storage || (self.secure() && !session)) {
      self.refuse_inbound(&tcp_counters::refused_resources);
      slot->storage.reset();
      continue;
    }
    slot->decoder.emplace(mutable_byte_view(slot->storage.get(), storage_size),
                          self.frame_options_);
    slot->from.reset();
    slot->peer = nullptr;
    slot->session = std::move(session);
    if (!self.loop_->watch(fd, EPOLLIN, &on_inbound_event, &*slot)) {
      self.refuse_inbound(&tcp_counters::refused_resources);
      slot->storage.reset();
      slot->decoder.reset();
      slot->session.reset();
      continue;
    }
    slot->socket = std::move(accepted);
    ++self.counters_.inbound_accepted;
    // A slot held by a connection that never says who it is would starve real peers.
    if (auto deadline = self.loop_->add_timer(self.options_.handshake_timeout, &on_inbound_deadline, &*slot))
      slot->deadline = *deadline;
  }
}

inline void tcp_transport::on_inbound_deadline(void* context) noexcept {
  auto& conn = *static_cast<inbound*>(context);
  if (!conn.socket.valid() || conn.from) return;
  ++conn.owner->counters_.inbound_timeouts;
  conn.owner->close_inbound(conn);
}

inline void tcp_transport::close_inbound(inbound& conn) noexcept {
  loop_->cancel_timer(conn.deadline);
  loop_->unwatch(conn.socket.get());
  conn.socket.reset();
  conn.decoder.reset();
  conn.storage.reset();
  conn.session.reset();
  conn.from.reset();
  conn.peer = nullptr;
}

inline void tcp_transport::on_inbound_event(void* context, std::uint32_t) noexcept {
  auto& conn = *static_cast<inbound*>(context);
  conn.owner->read_inbound(conn);
}

inline void tcp_transport::read_inbound(inbound& conn) noexcept {
  std::uint8_t chunk[65536];
  for (std::size_t frames = 0; frames < options_.max_frames_per_read;) {
    const auto n = ::recv(conn.socket.get(), chunk, sizeof chunk, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
      close_inbound(conn);
      return;
    }
    if (n < 0) return;  // drained
    const mutable_byte_view got(chunk, static_cast<std::size_t>(n));
    const bool alive = secure() ? consume_sealed(conn, got, frames) : consume_frames(conn, got, frames);
    if (!alive) {
      close_inbound(conn);
      return;
    }
    // A short read drained the socket: the watch is level-triggered, so bytes arriving
    // later wake us again, and a recv that would only say EAGAIN is a system call saved.
    if (static_cast<std::size_t>(n) < sizeof chunk) return;
  }
}

/// Delivers each complete frame in frame-stream bytes; false when the connection must
/// close. Frames are read where they lie; the decoder copies only a frame cut by the end.
inline bool tcp_transport::consume_frames(inbound& conn, byte_view bytes,
                                          std::size_t& frames) noexcept {
  for (;;) {
    auto next = conn.decoder->take(bytes);
    if (!next) {
      ++counters_.malformed_frames;
      return false;
    }
    if (!next->has_value()) return true;  // every byte delivered or buffered
    ++frames;
    if (!deliver(conn, **next)) return false;
  }
}

/// Noise: splits received bytes into sealed frames; handshake frames are answered,
/// transport frames are opened and their plaintext goes through the frame decoder. A whole
/// sealed frame in `bytes` is opened in place; only one cut by the end of a read is
/// copied into the session's buffer.
inline bool tcp_transport::consume_sealed(inbound& conn, mutable_byte_view bytes,
                                          std::size_t& frames) noexcept {
  while (!bytes.empty()) {
    const bool handshaking = !conn.session->established();
    auto in_place = conn.session->open_in_place(bytes);
    if (!in_place) {
      count_session_refusal(in_place.error(), false);
      return false;
    }
    if (*in_place) {
      bytes = bytes.subspan((*in_place)->frame_size_bytes);
      if (!consume_frames(conn, (*in_place)->plaintext, frames)) return false;
      continue;
    }
    auto taken = conn.session->feed(bytes);
    if (!taken) {
      count_session_refusal(taken.error(), handshaking);
      return false;
    }
    bytes = bytes.subspan(*taken);
    if (!conn.session->frame_buffered()) continue;
    auto opened = conn.session->next_frame(opened_);
    if (!opened) {
      count_session_refusal(opened.error(), handshaking);
      return false;
    }
    const byte_view plain(opened_.data(), *opened);
    const bool alive = handshaking ? answer_handshake(conn, plain)
                                   : consume_frames(conn, plain, frames);
    if (!alive) return false;
  }
  return true;
}

/// Noise, responder: after message 1 send message 2 (our hello); after message 3 check
/// that the initiator's static key is the one held for the member its hello names.
inline bool tcp_transport::answer_handshake(inbound& conn, byte_view payload) noexcept {
  if (conn.session->handshake_due()) {
    if (!check_version_marker(conn, payload)) return false;
    std::uint8_t mine[hello_size_bytes] = {'W', 'S', wire_version, 0, 0, 0, 0};
    store_be<std::uint32_t>(mine + 3, self_);
    std::uint8_t reply[256];  // message 2: 32 + 48 + 7 + 16 bytes, plus the length prefix
    auto written = conn.session->write_handshake(byte_view(mine, hello_size_bytes), reply);
    // The socket is fresh and message 2 small: a short send means a broken peer.
    if (!written || ::send(conn.socket.get(), reply, *written, MSG_NOSIGNAL | MSG_DONTWAIT) !=
                        static_cast<ssize_t>(*written)) {
      ++counters_.refused_handshake;
      return false;
    }
    return true;
  }
  if (!conn.session->established()) {
    ++counters_.refused_handshake;
    return false;
  }
  const hello_check hello = check_hello(payload);
  if (hello.verdict != hello_verdict::member) return refuse_hello(hello.verdict);
  outbound* peer = hello.peer;
  if (!peer->key || !equal_bytes(conn.session->remote_static(), *peer->key)) {
    ++counters_.refused_wrong_key;
    return false;
  }
  conn.from = peer->id;
  conn.peer = peer;
  ++counters_.handshakes_completed;
  return true;
}

inline void tcp_transport::count_session_refusal(const error& e, bool handshake) noexcept {
  if (e.is(crypto::crypto_errc::noise_message_too_large)) ++counters_.refused_oversized;
  else if (handshake) ++counters_.refused_handshake;
  else if (e.is(crypto::crypto_errc::authentication_failed)) ++counters_.refused_tampered;
  else if (e.is(crypto::crypto_errc::replayed)) ++counters_.refused_replayed;
  else if (e.is(crypto::crypto_errc::noise_out_of_order)) ++counters_.refused_out_of_order;
  else ++counters_.refused_malformed_sealed;
}

inline bool tcp_transport::deliver(inbound& conn, byte_view payload) noexcept {
  if (!conn.from) {  // plaintext: the first frame must be a hello from a known peer
    const hello_check hello = check_hello(payload);
    if (hello.verdict != hello_verdict::member) return refuse_hello(hello.verdict);
    conn.from = hello.peer->id;
    conn.peer = hello.peer;
    return true;
  }
  ++counters_.messages_received;
  counters_.bytes_received += payload.size();
  ++conn.peer->traffic.messages_received;
  conn.peer->traffic.bytes_received += payload.size();
  if (const wire::frame_trace_field* field = conn.decoder->trace(); field != nullptr)
    received_trace_ = telemetry::from_frame_trace_field(*field);
  on_message_(context_, *conn.from, payload);
  received_trace_.reset();
  return true;
}

}  // namespace transport
WEFT_END
