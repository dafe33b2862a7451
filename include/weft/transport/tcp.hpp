// weft/transport/tcp.hpp - the TCP stream transport (consensus, push-pull state exchange)
// on the runtime's event loop, framed by weft/wire/frame.hpp. Models
// weft::transport::stream_transport. weft:hosted (POSIX sockets).
//
// Each member sends on its own outbound connection to each peer and receives on the
// connections peers opened to it, so messages from A to B share one ordered byte stream.
// An outbound connection starts with a hello frame ("WS", version, sender peer_id);
// inbound connections whose hello names no known peer are refused and counted.
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
#include "weft/runtime/event_loop.hpp"
#include "weft/transport/concepts.hpp"
#include "weft/transport/socket.hpp"
#include "weft/wire/frame.hpp"

WEFT_BEGIN
namespace transport {

struct tcp_options {
  std::size_t max_peers = 64;
  std::size_t max_inbound_connections = 128;
  std::size_t max_message_size_bytes = 1u << 20;
  std::size_t send_queue_capacity_bytes = 4u << 20;  // per peer, frames included
  duration reconnect_backoff_min = milliseconds(20);
  duration reconnect_backoff_max = seconds(2);
  std::size_t max_frames_per_read = 256;  // fairness towards other connections

  [[nodiscard]] result<void> validate() const noexcept {
    if (max_peers == 0 || max_inbound_connections == 0 || max_frames_per_read == 0)
      return error(core_errc::invalid_options, "tcp_options: zero capacity");
    if (max_message_size_bytes == 0 || max_message_size_bytes > (1u << 30))
      return error(core_errc::invalid_options, "tcp_options.max_message_size_bytes");
    if (send_queue_capacity_bytes < max_message_size_bytes + 2 * wire::frame_header_size_bytes + 7)
      return error(core_errc::invalid_options, "tcp_options.send_queue_capacity_bytes");
    if (reconnect_backoff_min <= duration::zero() || reconnect_backoff_max < reconnect_backoff_min)
      return error(core_errc::invalid_options, "tcp_options.reconnect_backoff");
    return ok();
  }
};

struct tcp_counters {
  std::uint64_t messages_sent = 0;      // queued and written in full
  std::uint64_t bytes_sent = 0;
  std::uint64_t messages_received = 0;
  std::uint64_t bytes_received = 0;
  std::uint64_t refused_queue_full = 0;
  std::uint64_t connects = 0;
  std::uint64_t connect_failures = 0;
  std::uint64_t disconnects = 0;
  std::uint64_t messages_dropped_on_disconnect = 0;
  std::uint64_t inbound_accepted = 0;
  std::uint64_t inbound_refused = 0;    // table full, bad hello, unknown peer
  std::uint64_t malformed_frames = 0;   // bad checksum or oversize: the connection is closed
};

using message_handler = void (*)(void* context, peer_id from, byte_view payload) noexcept;
/// Outbound link state changes: up after the hello is sent, down after a disconnect.
using link_handler = void (*)(void* context, peer_id peer, bool up) noexcept;

class tcp_transport {
 public:
  static constexpr std::uint8_t wire_version = 1;
  static constexpr std::size_t hello_size_bytes = 7;

  tcp_transport() noexcept = default;
  tcp_transport(const tcp_transport&) = delete;
  tcp_transport& operator=(const tcp_transport&) = delete;
  ~tcp_transport() { close(); }

  [[nodiscard]] result<void> open(runtime::event_loop& loop, ipv4_endpoint listen_at,
                                  peer_id self, const tcp_options& options,
                                  message_handler on_message, link_handler on_link,
                                  void* context) noexcept;
  void close() noexcept;

  /// Adds a peer (connecting lazily on first send), or moves it to a new address.
  [[nodiscard]] result<void> set_peer(peer_id id, ipv4_endpoint at) noexcept;

  [[nodiscard]] std::size_t max_message_size() const noexcept {
    return options_.max_message_size_bytes;
  }
  [[nodiscard]] result<void> send_message(peer_id to, byte_view payload) noexcept;

  /// Bytes waiting in the queue to `to` (0 for an unknown peer).
  [[nodiscard]] std::size_t queued_bytes(peer_id to) const noexcept {
    const outbound* link = find(to);
    return link == nullptr ? 0 : link->tail - link->head;
  }
  [[nodiscard]] ipv4_endpoint local_endpoint() const noexcept { return local_; }
  [[nodiscard]] const tcp_counters& counters() const noexcept { return counters_; }

 private:
  enum class link_state : std::uint8_t { idle, connecting, connected, backoff };

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
    duration backoff{};
    runtime::timer_id retry{};
  };
  struct inbound {
    tcp_transport* owner = nullptr;
    socket_fd socket{};
    std::unique_ptr<std::uint8_t[]> storage;
    std::optional<wire::frame_decoder> decoder;
    std::optional<peer_id> from;  // set by the hello frame
  };

  [[nodiscard]] outbound* find(peer_id id) noexcept;
  [[nodiscard]] const outbound* find(peer_id id) const noexcept;
  [[nodiscard]] bool has_peer(peer_id id) const noexcept { return find(id) != nullptr; }
  [[nodiscard]] result<void> enqueue_frame(outbound& link, byte_view payload) noexcept;
  void start_connect(outbound& link) noexcept;
  void on_connected(outbound& link) noexcept;
  void flush(outbound& link) noexcept;
  void drop_link(outbound& link) noexcept;
  void close_inbound(inbound& conn) noexcept;
  void read_inbound(inbound& conn) noexcept;
  [[nodiscard]] bool deliver(inbound& conn, byte_view payload) noexcept;

  static void on_outbound_event(void* context, std::uint32_t events) noexcept;
  static void on_inbound_event(void* context, std::uint32_t events) noexcept;
  static void on_listen_event(void* context, std::uint32_t events) noexcept;
  static void on_retry_timer(void* context) noexcept;

  runtime::event_loop* loop_ = nullptr;
  socket_fd listener_{};
  ipv4_endpoint local_{};
  tcp_options options_{};
  wire::frame_options frame_options_{};
  peer_id self_ = 0;
  message_handler on_message_ = nullptr;
  link_handler on_link_ = nullptr;
  void* context_ = nullptr;
  std::vector<outbound> outbound_;  // capacity max_peers: element addresses are stable
  std::vector<inbound> inbound_;    // sized max_inbound_connections at open()
  xoshiro256 jitter_{};
  tcp_counters counters_{};
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
  WEFT_TRY_ASSIGN(listener_, detail::open_socket(SOCK_STREAM));
  WEFT_TRY(detail::bind_to(listener_, listen_at));
  if (::listen(listener_.get(), 128) != 0) return error(runtime::runtime_errc::system_error, "listen");
  WEFT_TRY_ASSIGN(local_, detail::local_endpoint_of(listener_));
  options_ = options;
  frame_options_.max_payload_size_bytes = options.max_message_size_bytes;
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

inline result<void> tcp_transport::set_peer(peer_id id, ipv4_endpoint at) noexcept {
  if (outbound* link = find(id); link != nullptr) {
    if (!(link->endpoint == at)) {
      link->endpoint = at;
      if (link->state == link_state::connected || link->state == link_state::connecting)
        drop_link(*link);  // reconnect to the new address
    }
    return ok();
  }
  if (outbound_.size() == options_.max_peers)
    return error(runtime::runtime_errc::peer_table_full, "tcp set_peer");
  // Uninitialised on purpose: pages are touched only as the queue is used.
  std::unique_ptr<std::uint8_t[]> queue(new (std::nothrow)
                                            std::uint8_t[options_.send_queue_capacity_bytes]);
  if (!queue) return error(core_errc::capacity_exceeded, "tcp set_peer: queue allocation");
  outbound& link = outbound_.emplace_back();
  link.owner = this;
  link.id = id;
  link.endpoint = at;
  link.queue = std::move(queue);
  link.backoff = options_.reconnect_backoff_min;
  return ok();
}

inline result<void> tcp_transport::send_message(peer_id to, byte_view payload) noexcept {
  if (loop_ == nullptr) return error(transport_errc::closed, "tcp send");
  if (payload.size() > options_.max_message_size_bytes)
    return error(transport_errc::message_too_large, "tcp send");
  outbound* link = find(to);
  if (link == nullptr) return error(transport_errc::unknown_peer, "tcp send");
  WEFT_TRY(enqueue_frame(*link, payload));
  if (link->state == link_state::idle) start_connect(*link);
  else if (link->state == link_state::connected) flush(*link);
  return ok();
}

inline result<void> tcp_transport::enqueue_frame(outbound& link, byte_view payload) noexcept {
  const std::size_t need = wire::frame_header_size_bytes + payload.size();
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
                                    frame_options_);
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
  if (!loop_->watch(link.socket.get(), EPOLLOUT, &on_outbound_event, &link)) {
    ++counters_.connect_failures;
    drop_link(link);
  }
}

inline void tcp_transport::on_connected(outbound& link) noexcept {
  // The hello goes first: prepend it in front of the queued frames.
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
  link.state = link_state::connected;
  link.backoff = options_.reconnect_backoff_min;
  ++counters_.connects;
  if (on_link_ != nullptr) on_link_(context_, link.id, true);
  flush(link);
}

inline void tcp_transport::flush(outbound& link) noexcept {
  while (link.head < link.tail) {
    const auto n = ::send(link.socket.get(), link.queue.get() + link.head, link.tail - link.head,
                          MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        (void)loop_->modify(link.socket.get(), EPOLLIN | EPOLLOUT);
        return;
      }
      drop_link(link);
      return;
    }
    link.head += static_cast<std::size_t>(n);
    counters_.bytes_sent += static_cast<std::uint64_t>(n);
  }
  counters_.messages_sent += link.queued_messages;
  link.queued_messages = 0;
  link.head = link.tail = 0;
  (void)loop_->modify(link.socket.get(), EPOLLIN);  // EPOLLIN to notice the peer closing
}

inline void tcp_transport::drop_link(outbound& link) noexcept {
  const bool was_up = link.state == link_state::connected;
  if (link.socket.valid()) {
    loop_->unwatch(link.socket.get());
    link.socket.reset();
    ++counters_.disconnects;
  }
  counters_.messages_dropped_on_disconnect += link.queued_messages;
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
      ++self.counters_.inbound_refused;
      continue;  // closed by socket_fd's destructor
    }
    const std::size_t storage_size =
        wire::frame_header_size_bytes + self.options_.max_message_size_bytes;
    slot->storage.reset(new (std::nothrow) std::uint8_t[storage_size]);
    if (!slot->storage) {
      ++self.counters_.inbound_refused;
      continue;
    }
    slot->decoder.emplace(mutable_byte_view(slot->storage.get(), storage_size),
                          self.frame_options_);
    slot->from.reset();
    if (!self.loop_->watch(fd, EPOLLIN, &on_inbound_event, &*slot)) {
      ++self.counters_.inbound_refused;
      slot->storage.reset();
      slot->decoder.reset();
      continue;
    }
    slot->socket = std::move(accepted);
    ++self.counters_.inbound_accepted;
  }
}

inline void tcp_transport::close_inbound(inbound& conn) noexcept {
  loop_->unwatch(conn.socket.get());
  conn.socket.reset();
  conn.decoder.reset();
  conn.storage.reset();
  conn.from.reset();
}

inline void tcp_transport::on_inbound_event(void* context, std::uint32_t) noexcept {
  auto& conn = *static_cast<inbound*>(context);
  conn.owner->read_inbound(conn);
}

inline void tcp_transport::read_inbound(inbound& conn) noexcept {
  std::uint8_t chunk[16384];
  for (std::size_t frames = 0; frames < options_.max_frames_per_read;) {
    const auto n = ::recv(conn.socket.get(), chunk, sizeof chunk, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
      close_inbound(conn);
      return;
    }
    if (n < 0) return;  // drained
    byte_view pending(chunk, static_cast<std::size_t>(n));
    while (!pending.empty()) {
      auto taken = conn.decoder->feed(pending);
      if (!taken) break;
      pending = pending.subspan(*taken);
      for (;;) {
        auto next = conn.decoder->next();
        if (!next) {
          ++counters_.malformed_frames;
          close_inbound(conn);
          return;
        }
        if (!next->has_value()) break;
        ++frames;
        if (!deliver(conn, **next)) {
          close_inbound(conn);
          return;
        }
      }
    }
  }
}

inline bool tcp_transport::deliver(inbound& conn, byte_view payload) noexcept {
  if (!conn.from) {  // the first frame must be a hello from a known peer
    if (payload.size() != hello_size_bytes || payload[0] != 'W' || payload[1] != 'S' ||
        payload[2] != wire_version || !has_peer(load_be<std::uint32_t>(payload.data() + 3))) {
      ++counters_.inbound_refused;
      return false;
    }
    conn.from = load_be<std::uint32_t>(payload.data() + 3);
    return true;
  }
  ++counters_.messages_received;
  counters_.bytes_received += payload.size();
  on_message_(context_, *conn.from, payload);
  return true;
}

}  // namespace transport
WEFT_END
