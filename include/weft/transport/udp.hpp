// weft/transport/udp.hpp - the UDP datagram transport (membership gossip) on the runtime's
// event loop. Models weft::transport::datagram_transport. weft:hosted (POSIX sockets).
//
// Every datagram starts with an 8-byte header: magic "WD", version 2, flags, sender peer_id
// (big endian). Receivers learn who sent a datagram from the header, not from the source
// address, so a member whose address changes is still recognised (SWIM decides by
// incarnation whether to accept the new address).
//
// Sealed datagrams (udp_security::sealed, flag bit 0) follow the header with a 24-byte
// XChaCha20-Poly1305 nonce - the sender's session (8, big endian), session salt (8) and
// counter (8, big endian) - then the ciphertext and its 16-byte tag; the header is the
// associated data. Each direction of each pair of members has its own key: HMAC-SHA-256
// keyed by the X25519 static-static secret of the two members' keys, over both ids and
// both public keys. Receivers keep a replay window per peer and session. docs/runtime.md
// says why (and what it does not give: forward secrecy).
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <vector>

#include "weft/config.hpp"
#include "weft/core/bytes.hpp"
#include "weft/core/endian.hpp"
#include "weft/core/result.hpp"
#include "weft/crypto/replay_window.hpp"
#include "weft/crypto/sodium.hpp"
#include "weft/runtime/event_loop.hpp"
#include "weft/transport/concepts.hpp"
#include "weft/transport/socket.hpp"

WEFT_BEGIN
namespace transport {

enum class udp_security : std::uint8_t {
  plaintext,  // header, then the payload in the clear: tests and benchmark comparison only
  sealed,     // authenticated encryption per pair of members; anything else is dropped
};

struct udp_options {
  std::size_t max_peers = 1024;
  std::size_t max_datagram_size_bytes = 1400;  // whole UDP payload, header included
  std::size_t max_datagrams_per_poll = 64;     // fairness towards other fds
  udp_security security = udp_security::plaintext;

  [[nodiscard]] result<void> validate() const noexcept;
};

struct udp_counters {
  std::uint64_t datagrams_sent = 0;
  std::uint64_t bytes_sent = 0;
  std::uint64_t datagrams_received = 0;
  std::uint64_t bytes_received = 0;
  std::uint64_t send_would_block = 0;   // refused with queue_full (kernel buffer full)
  std::uint64_t send_errors = 0;
  std::uint64_t dropped_malformed = 0;  // short or wrong magic
  std::uint64_t dropped_version = 0;    // another wire version (an older or newer member)
  std::uint64_t dropped_oversize = 0;   // larger than max_datagram_size_bytes
  std::uint64_t from_unknown_peer = 0;  // plaintext only: delivered, flagged for the handler
  // Sealed mode (each one dropped, never delivered).
  std::uint64_t dropped_mode_mismatch = 0;    // plaintext when sealing, or sealed when not
  std::uint64_t dropped_unknown_sender = 0;   // sealed, from an id without a key
  std::uint64_t dropped_unauthenticated = 0;  // tampered, forged sender or foreign key
  std::uint64_t dropped_replayed = 0;         // counter already seen or behind the window
  std::uint64_t dropped_stale_session = 0;    // from an earlier session of that peer
};

/// The static key and session of this member for sealed datagrams. `session` must grow
/// across opens with the same key (weftd uses wall-clock microseconds): receivers refuse a
/// session below the last one they authenticated, so old datagrams cannot be replayed
/// into a restarted peer's place. The salt drawn at open() keeps nonces unique even if it
/// does not grow. Random bytes come from `fill_random` (null: libsodium's CSPRNG).
struct udp_seal_identity {
  crypto::libsodium::x25519::secret_key static_key;
  std::uint64_t session = 0;
  void (*fill_random)(void* context, mutable_byte_view out) noexcept = nullptr;
  void* random_context = nullptr;
};

/// Receives (context, sender, sender's address, payload, sender is in the peer table).
using datagram_handler = void (*)(void* context, peer_id from, ipv4_endpoint source,
                                  byte_view payload, bool known_peer) noexcept;

class udp_transport {
  using aead = crypto::libsodium::xchacha20poly1305_ietf;
  using x25519 = crypto::libsodium::x25519;

 public:
  static constexpr std::size_t header_size_bytes = 8;
  static constexpr std::uint8_t wire_version = 2;
  static constexpr std::uint8_t flag_sealed = 1;
  static constexpr std::size_t nonce_size_bytes = aead::nonce_size;  // session, salt, counter
  static constexpr std::size_t seal_overhead_bytes = aead::nonce_size + aead::tag_size;
  /// What a datagram adds to its payload in either mode at most (MTU planning).
  static constexpr std::size_t max_overhead_bytes = header_size_bytes + seal_overhead_bytes;
  /// Datagrams a sender may be behind its newest one and still be accepted (reordering).
  static constexpr std::size_t replay_window_size = 1024;
  static constexpr std::string_view key_label = "weft/udp/seal/v2";

  udp_transport() noexcept = default;
  udp_transport(const udp_transport&) = delete;
  udp_transport& operator=(const udp_transport&) = delete;
  ~udp_transport() { close(); }

  /// Sets the sealing identity; call before open() when options.security is sealed.
  void set_seal_identity(udp_seal_identity identity) noexcept { identity_.emplace(std::move(identity)); }

  [[nodiscard]] result<void> open(runtime::event_loop& loop, ipv4_endpoint bind_at, peer_id self,
                                  const udp_options& options, datagram_handler handler,
                                  void* context) noexcept;

  void close() noexcept {
    if (loop_ != nullptr && socket_.valid()) loop_->unwatch(socket_.get());
    socket_.reset();
    loop_ = nullptr;
  }

  /// Adds a peer, or moves a known one to a new address. Sealed mode needs the peer's
  /// X25519 key (its Ed25519 member key converted); a different key than before replaces
  /// the pair's keys and forgets its session, so a rotated member key takes over at once.
  [[nodiscard]] result<void> set_peer(peer_id id, ipv4_endpoint at,
                                      const x25519::public_key* key = nullptr) noexcept;
  void remove_peer(peer_id id) noexcept {
    std::erase_if(peers_, [id](const peer& p) { return p.id == id; });
  }

  [[nodiscard]] std::size_t max_datagram_size() const noexcept {
    return options_.max_datagram_size_bytes - header_size_bytes - (sealed() ? seal_overhead_bytes : 0);
  }
  [[nodiscard]] bool sealed() const noexcept { return options_.security == udp_security::sealed; }

  [[nodiscard]] result<void> send_datagram(peer_id to, byte_view payload) noexcept;

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
    // Sealed mode only.
    x25519::public_key public_key{};
    aead::key send_key{};
    aead::key receive_key{};
    std::uint64_t next_counter = 0;
    bool session_known = false;
    std::uint64_t session = 0;
    std::uint8_t salt[8]{};
    crypto::basic_replay_window<replay_window_size> window{};
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
    out[3] = sealed() ? flag_sealed : 0;
    store_be<std::uint32_t>(out + 4, self_);
  }
  [[nodiscard]] result<void> derive_keys(peer& p, const x25519::public_key& key) noexcept;
  [[nodiscard]] result<std::size_t> seal(peer& target, byte_view payload) noexcept;
  [[nodiscard]] result<void> transmit(peer& target, std::size_t length) noexcept;

  static void on_readable(void* context, std::uint32_t) noexcept {
    auto* self = static_cast<udp_transport*>(context);
    for (std::size_t i = 0; i < self->options_.max_datagrams_per_poll; ++i)
      if (!self->receive_one()) break;
  }
  bool receive_one() noexcept;
  /// The payload of a sealed datagram from `sender`, opened into open_buffer_; null when
  /// it must be dropped (counted).
  [[nodiscard]] const std::uint8_t* open_sealed(peer& sender, const std::uint8_t* data,
                                                std::size_t length) noexcept;
  void deliver(peer* sender, peer_id from, const sockaddr_in& source, const std::uint8_t* payload,
               std::size_t payload_size, std::size_t wire_size) noexcept;

  runtime::event_loop* loop_ = nullptr;
  socket_fd socket_{};
  ipv4_endpoint local_{};
  udp_options options_{};
  peer_id self_ = 0;
  datagram_handler handler_ = nullptr;
  void* context_ = nullptr;
  std::optional<udp_seal_identity> identity_;
  x25519::public_key public_key_{};
  std::uint8_t salt_[8]{};
  std::vector<peer> peers_;
  std::vector<std::uint8_t> receive_buffer_;
  std::vector<std::uint8_t> send_buffer_;
  std::vector<std::uint8_t> open_buffer_;
  udp_counters counters_{};
};

static_assert(datagram_transport<udp_transport>,
              "udp_transport must model datagram_transport: see docs/requirements/transport.md");

inline result<void> udp_options::validate() const noexcept {
  if (max_peers == 0 || max_datagrams_per_poll == 0)
    return error(core_errc::invalid_options, "udp_options: zero capacity");
  const std::size_t overhead = udp_transport::header_size_bytes +
                               (security == udp_security::sealed ? udp_transport::seal_overhead_bytes : 0);
  if (max_datagram_size_bytes <= overhead || max_datagram_size_bytes > 65507)
    return error(core_errc::invalid_options, "udp_options: max_datagram_size_bytes");
  return ok();
}

inline result<void> udp_transport::open(runtime::event_loop& loop, ipv4_endpoint bind_at, peer_id self,
                                        const udp_options& options, datagram_handler handler,
                                        void* context) noexcept {
  WEFT_TRY(options.validate());
  if (options.security == udp_security::sealed) {
    if (!identity_) return error(transport_errc::missing_key, "udp open: sealed without an identity");
    public_key_ = x25519::public_key_of(identity_->static_key);
    const mutable_byte_view salt(salt_, sizeof salt_);
    if (identity_->fill_random != nullptr) identity_->fill_random(identity_->random_context, salt);
    else crypto::libsodium::random_source{}.fill(salt);
  }
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
  if (sealed()) open_buffer_.resize(options.max_datagram_size_bytes);
  WEFT_TRY(loop.watch(socket_.get(), EPOLLIN, &on_readable, this));
  loop_ = &loop;
  return ok();
}

inline result<void> udp_transport::set_peer(peer_id id, ipv4_endpoint at,
                                            const x25519::public_key* key) noexcept {
  if (sealed() && key == nullptr) return error(transport_errc::missing_key, "udp set_peer");
  peer* p = find(id);
  if (p == nullptr) {
    if (peers_.size() == options_.max_peers)
      return error(runtime::runtime_errc::peer_table_full, "udp set_peer");
    p = &peers_.emplace_back();
    p->id = id;
  } else if (!sealed() || equal_bytes(p->public_key, *key)) {
    p->endpoint = at;
    return ok();
  }
  p->endpoint = at;
  if (!sealed()) return ok();
  if (auto derived = derive_keys(*p, *key); !derived) {
    remove_peer(id);  // never keep a peer whose datagrams could not be opened
    return derived;
  }
  return ok();
}

/// Directional keys: HMAC-SHA-256(X25519(ours, theirs), label || from || to || from's key ||
/// to's key). Binding the ids means a member cannot pass one pair's datagrams off as another's.
inline result<void> udp_transport::derive_keys(peer& p, const x25519::public_key& key) noexcept {
  using mac = crypto::libsodium::hmac_sha256;
  WEFT_TRY_ASSIGN(const auto shared, x25519::agree(identity_->static_key, key));
  const mac::key mac_key(shared.expose());
  const auto direction_key = [&](peer_id from, peer_id to, const x25519::public_key& from_key,
                                 const x25519::public_key& to_key) noexcept {
    std::uint8_t input[key_label.size() + 8 + 64];
    std::memcpy(input, key_label.data(), key_label.size());
    store_be<std::uint32_t>(input + key_label.size(), from);
    store_be<std::uint32_t>(input + key_label.size() + 4, to);
    std::memcpy(input + key_label.size() + 8, from_key.data(), 32);
    std::memcpy(input + key_label.size() + 40, to_key.data(), 32);
    auto tag = mac::compute(mac_key, byte_view(input, sizeof input));
    aead::key out(std::span<const std::uint8_t, 32>(tag.data(), 32));
    sodium_memzero(tag.data(), tag.size());
    return out;
  };
  p.public_key = key;
  p.send_key = direction_key(self_, p.id, public_key_, key);
  p.receive_key = direction_key(p.id, self_, key, public_key_);
  p.next_counter = 0;
  p.session_known = false;
  p.window = {};
  return ok();
}

inline result<void> udp_transport::send_datagram(peer_id to, byte_view payload) noexcept {
  if (!socket_.valid()) return error(transport_errc::closed, "udp send");
  if (payload.size() > max_datagram_size())
    return error(transport_errc::message_too_large, "udp send");
  peer* target = find(to);
  if (target == nullptr) return error(transport_errc::unknown_peer, "udp send");
  write_header(send_buffer_.data());
  std::size_t length = header_size_bytes + payload.size();
  if (sealed()) {
    WEFT_TRY_ASSIGN(length, seal(*target, payload));
  } else if (!payload.empty()) {
    std::memcpy(send_buffer_.data() + header_size_bytes, payload.data(), payload.size());
  }
  return transmit(*target, length);
}

/// Nonce (session, salt, counter) then ciphertext and tag after the header; returns the length.
inline result<std::size_t> udp_transport::seal(peer& target, byte_view payload) noexcept {
  if (target.next_counter == std::numeric_limits<std::uint64_t>::max())
    return error(transport_errc::closed, "udp send: counter exhausted");  // 2^64 datagrams
  std::uint8_t* nonce = send_buffer_.data() + header_size_bytes;
  store_be<std::uint64_t>(nonce, identity_->session);
  std::memcpy(nonce + 8, salt_, sizeof salt_);
  store_be<std::uint64_t>(nonce + 16, target.next_counter++);
  std::uint8_t* body = nonce + nonce_size_bytes;
  const std::size_t room = send_buffer_.size() - header_size_bytes - nonce_size_bytes;
  WEFT_TRY_ASSIGN(const std::size_t sealed_size,
                  aead::seal(target.send_key, byte_view(nonce, nonce_size_bytes),
                             byte_view(send_buffer_.data(), header_size_bytes), payload,
                             mutable_byte_view(body, room)));
  return header_size_bytes + nonce_size_bytes + sealed_size;
}

inline result<void> udp_transport::transmit(peer& target, std::size_t length) noexcept {
  const sockaddr_in sa = target.endpoint.to_sockaddr();
  const auto sent = ::sendto(socket_.get(), send_buffer_.data(), length, MSG_DONTWAIT,
                             reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
  if (sent < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
      ++counters_.send_would_block;
      ++target.traffic.messages_dropped;
      return error(transport_errc::queue_full, "udp send");
    }
    ++counters_.send_errors;
    ++target.traffic.send_failures;
    return error(runtime::runtime_errc::system_error, "udp sendto");
  }
  ++counters_.datagrams_sent;
  counters_.bytes_sent += length;
  ++target.traffic.messages_sent;
  target.traffic.bytes_sent += length;
  return ok();
}

/// Reads one datagram; false when the socket has nothing more.
inline bool udp_transport::receive_one() noexcept {
  sockaddr_in source{};
  socklen_t source_length = sizeof source;
  const auto got = ::recvfrom(socket_.get(), receive_buffer_.data(), receive_buffer_.size(),
                              MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&source), &source_length);
  if (got < 0) return false;
  const auto length = static_cast<std::size_t>(got);
  const std::uint8_t* data = receive_buffer_.data();
  if (length > options_.max_datagram_size_bytes) ++counters_.dropped_oversize;
  else if (length < header_size_bytes || data[0] != 'W' || data[1] != 'D') ++counters_.dropped_malformed;
  else if (data[2] != wire_version) ++counters_.dropped_version;
  else if (((data[3] & flag_sealed) != 0) != sealed()) ++counters_.dropped_mode_mismatch;
  else {
    const peer_id from = load_be<std::uint32_t>(data + 4);
    peer* sender = find(from);
    if (!sealed()) {
      deliver(sender, from, source, data + header_size_bytes, length - header_size_bytes, length);
    } else if (sender == nullptr) {
      ++counters_.dropped_unknown_sender;
    } else if (const std::uint8_t* plain = open_sealed(*sender, data, length); plain != nullptr) {
      deliver(sender, from, source, plain, length - max_overhead_bytes, length);
    }
  }
  return true;
}

inline const std::uint8_t* udp_transport::open_sealed(peer& sender, const std::uint8_t* data,
                                                      std::size_t length) noexcept {
  if (length < max_overhead_bytes) {
    ++counters_.dropped_malformed;
    return nullptr;
  }
  const std::uint8_t* nonce = data + header_size_bytes;
  const std::uint64_t session = load_be<std::uint64_t>(nonce);
  const std::uint64_t counter = load_be<std::uint64_t>(nonce + 16);
  const bool same_session = sender.session_known && session == sender.session &&
                            std::memcmp(nonce + 8, sender.salt, sizeof sender.salt) == 0;
  // Only an authenticated datagram may start a newer session; equal numbers with another
  // salt cannot be ordered, so they are refused like older ones.
  if (sender.session_known && !same_session && session <= sender.session) {
    ++counters_.dropped_stale_session;
    return nullptr;
  }
  if (same_session && !sender.window.check(counter)) {
    ++counters_.dropped_replayed;
    return nullptr;
  }
  const byte_view sealed_part(nonce + nonce_size_bytes, length - header_size_bytes - nonce_size_bytes);
  if (!aead::open(sender.receive_key, byte_view(nonce, nonce_size_bytes), byte_view(data, header_size_bytes),
                  sealed_part, mutable_byte_view(open_buffer_.data(), open_buffer_.size()))) {
    ++counters_.dropped_unauthenticated;
    return nullptr;
  }
  if (!same_session) {
    sender.session_known = true;
    sender.session = session;
    std::memcpy(sender.salt, nonce + 8, sizeof sender.salt);
    sender.window = {};
  }
  (void)sender.window.commit(counter);  // check() passed and nothing ran in between
  return open_buffer_.data();
}

inline void udp_transport::deliver(peer* sender, peer_id from, const sockaddr_in& source,
                                   const std::uint8_t* payload, std::size_t payload_size,
                                   std::size_t wire_size) noexcept {
  if (sender == nullptr) ++counters_.from_unknown_peer;
  else {
    ++sender->traffic.messages_received;
    sender->traffic.bytes_received += payload_size;
  }
  ++counters_.datagrams_received;
  counters_.bytes_received += wire_size;
  handler_(context_, from, ipv4_endpoint::from_sockaddr(source), byte_view(payload, payload_size),
           sender != nullptr);
}

}  // namespace transport
WEFT_END
