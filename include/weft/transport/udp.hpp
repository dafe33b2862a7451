// weft/transport/udp.hpp - the UDP datagram transport (membership gossip) on the runtime's
// event loop. Models weft::transport::datagram_transport. weft:hosted (POSIX sockets).
//
// Every datagram carries an 8-byte header: magic "WD", version 1, flags 0, sender peer_id
// (big endian). Receivers learn who sent a datagram from the header, not from the source
// address, so a member whose address changes is still recognised (SWIM decides by
// incarnation whether to accept the new address). The header is not authentication:
// secure sessions (Noise) wrap payloads when configured.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "weft/config.hpp"
#include "weft/core/bytes.hpp"
#include "weft/core/endian.hpp"
#include "weft/core/result.hpp"
#include "weft/runtime/event_loop.hpp"
#include "weft/transport/concepts.hpp"
#include "weft/transport/socket.hpp"

WEFT_BEGIN
namespace transport {

struct udp_options {
  std::size_t max_peers = 1024;
  std::size_t max_datagram_size_bytes = 1400;  // whole UDP payload, header included
  std::size_t max_datagrams_per_poll = 64;     // fairness towards other fds

  [[nodiscard]] result<void> validate() const noexcept {
    if (max_peers == 0 || max_datagrams_per_poll == 0)
      return error(core_errc::invalid_options, "udp_options: zero capacity");
    if (max_datagram_size_bytes <= 8 || max_datagram_size_bytes > 65507)
      return error(core_errc::invalid_options, "udp_options: max_datagram_size_bytes");
    return ok();
  }
};

struct udp_counters {
  std::uint64_t datagrams_sent = 0;
  std::uint64_t bytes_sent = 0;
  std::uint64_t datagrams_received = 0;
  std::uint64_t bytes_received = 0;
  std::uint64_t send_would_block = 0;   // refused with queue_full (kernel buffer full)
  std::uint64_t send_errors = 0;
  std::uint64_t dropped_malformed = 0;  // short, wrong magic or version
  std::uint64_t dropped_oversize = 0;   // larger than max_datagram_size_bytes
  std::uint64_t from_unknown_peer = 0;  // delivered, flagged for the handler
};

/// Receives (context, sender, sender's address, payload, sender is in the peer table).
using datagram_handler = void (*)(void* context, peer_id from, ipv4_endpoint source,
                                  byte_view payload, bool known_peer) noexcept;

class udp_transport {
 public:
  static constexpr std::size_t header_size_bytes = 8;
  static constexpr std::uint8_t wire_version = 1;

  udp_transport() noexcept = default;
  udp_transport(const udp_transport&) = delete;
  udp_transport& operator=(const udp_transport&) = delete;
  ~udp_transport() { close(); }

  [[nodiscard]] result<void> open(runtime::event_loop& loop, ipv4_endpoint bind_at, peer_id self,
                                  const udp_options& options, datagram_handler handler,
                                  void* context) noexcept {
    WEFT_TRY(options.validate());
    WEFT_TRY_ASSIGN(socket_, detail::open_socket(SOCK_DGRAM));
    WEFT_TRY(detail::bind_to(socket_, bind_at));
    WEFT_TRY_ASSIGN(local_, detail::local_endpoint_of(socket_));
    options_ = options;
    self_ = self;
    handler_ = handler;
    context_ = context;
    peers_.reserve(options.max_peers);
    // One spare byte beyond the limit lets recv detect an oversize datagram.
    receive_buffer_.resize(options.max_datagram_size_bytes + 1);
    send_buffer_.resize(options.max_datagram_size_bytes);
    WEFT_TRY(loop.watch(socket_.get(), EPOLLIN, &on_readable, this));
    loop_ = &loop;
    return ok();
  }

  void close() noexcept {
    if (loop_ != nullptr && socket_.valid()) loop_->unwatch(socket_.get());
    socket_.reset();
    loop_ = nullptr;
  }

  /// Adds a peer, or moves a known one to a new address.
  [[nodiscard]] result<void> set_peer(peer_id id, ipv4_endpoint at) noexcept {
    for (auto& p : peers_)
      if (p.id == id) {
        p.endpoint = at;
        return ok();
      }
    if (peers_.size() == options_.max_peers)
      return error(runtime::runtime_errc::peer_table_full, "udp set_peer");
    peers_.push_back({id, at, {}});
    return ok();
  }
  void remove_peer(peer_id id) noexcept {
    std::erase_if(peers_, [id](const peer& p) { return p.id == id; });
  }

  [[nodiscard]] std::size_t max_datagram_size() const noexcept {
    return options_.max_datagram_size_bytes - header_size_bytes;
  }

  [[nodiscard]] result<void> send_datagram(peer_id to, byte_view payload) noexcept {
    if (!socket_.valid()) return error(transport_errc::closed, "udp send");
    if (payload.size() > max_datagram_size())
      return error(transport_errc::message_too_large, "udp send");
    peer* target = find(to);
    if (target == nullptr) return error(transport_errc::unknown_peer, "udp send");
    write_header(send_buffer_.data());
    if (!payload.empty())
      std::memcpy(send_buffer_.data() + header_size_bytes, payload.data(), payload.size());
    const sockaddr_in sa = target->endpoint.to_sockaddr();
    const std::size_t length = header_size_bytes + payload.size();
    const auto sent = ::sendto(socket_.get(), send_buffer_.data(), length, MSG_DONTWAIT,
                               reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
    if (sent < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
        ++counters_.send_would_block;
        ++target->traffic.messages_dropped;
        return error(transport_errc::queue_full, "udp send");
      }
      ++counters_.send_errors;
      ++target->traffic.send_failures;
      return error(runtime::runtime_errc::system_error, "udp sendto");
    }
    ++counters_.datagrams_sent;
    counters_.bytes_sent += length;
    ++target->traffic.messages_sent;
    target->traffic.bytes_sent += length;
    return ok();
  }

  /// What went to and came from `id` (null for an unknown peer).
  [[nodiscard]] const peer_traffic* traffic(peer_id id) const noexcept {
    const peer* p = find(id);
    return p == nullptr ? nullptr : &p->traffic;
  }
  [[nodiscard]] ipv4_endpoint local_endpoint() const noexcept { return local_; }
  [[nodiscard]] const udp_counters& counters() const noexcept { return counters_; }

 private:
  struct peer {
    peer_id id;
    ipv4_endpoint endpoint;
    peer_traffic traffic;
  };

  [[nodiscard]] const peer* find(peer_id id) const noexcept {
    for (const auto& p : peers_)
      if (p.id == id) return &p;
    return nullptr;
  }
  [[nodiscard]] peer* find(peer_id id) noexcept {
    for (auto& p : peers_)
      if (p.id == id) return &p;
    return nullptr;
  }
  void write_header(std::uint8_t* out) const noexcept {
    out[0] = 'W';
    out[1] = 'D';
    out[2] = wire_version;
    out[3] = 0;
    store_be<std::uint32_t>(out + 4, self_);
  }

  static void on_readable(void* context, std::uint32_t) noexcept {
    auto* self = static_cast<udp_transport*>(context);
    for (std::size_t i = 0; i < self->options_.max_datagrams_per_poll; ++i)
      if (!self->receive_one()) break;
  }

  /// Reads one datagram; false when the socket has nothing more.
  bool receive_one() noexcept {
    sockaddr_in source{};
    socklen_t source_length = sizeof source;
    const auto got = ::recvfrom(socket_.get(), receive_buffer_.data(), receive_buffer_.size(),
                                MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&source),
                                &source_length);
    if (got < 0) return false;
    const auto length = static_cast<std::size_t>(got);
    if (length > options_.max_datagram_size_bytes) {
      ++counters_.dropped_oversize;
      return true;
    }
    const std::uint8_t* data = receive_buffer_.data();
    if (length < header_size_bytes || data[0] != 'W' || data[1] != 'D' ||
        data[2] != wire_version) {
      ++counters_.dropped_malformed;
      return true;
    }
    const peer_id from = load_be<std::uint32_t>(data + 4);
    peer* sender = find(from);
    const bool known = sender != nullptr;
    if (!known) ++counters_.from_unknown_peer;
    else {
      ++sender->traffic.messages_received;
      sender->traffic.bytes_received += length - header_size_bytes;
    }
    ++counters_.datagrams_received;
    counters_.bytes_received += length;
    handler_(context_, from, ipv4_endpoint::from_sockaddr(source),
             byte_view(data + header_size_bytes, length - header_size_bytes), known);
    return true;
  }

  runtime::event_loop* loop_ = nullptr;
  socket_fd socket_{};
  ipv4_endpoint local_{};
  udp_options options_{};
  peer_id self_ = 0;
  datagram_handler handler_ = nullptr;
  void* context_ = nullptr;
  std::vector<peer> peers_;
  std::vector<std::uint8_t> receive_buffer_;
  std::vector<std::uint8_t> send_buffer_;
  udp_counters counters_{};
};

static_assert(datagram_transport<udp_transport>,
              "udp_transport must model datagram_transport: see docs/requirements/transport.md");

}  // namespace transport
WEFT_END
