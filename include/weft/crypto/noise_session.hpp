// weft/crypto/noise_session.hpp - a Noise_XX secure session over a byte stream: the
// handshake and then sealed frames with explicit nonces, in-order delivery, periodic rekey
// and a maximum frame size. No I/O: the caller moves bytes (a socket, or two in-memory ends).
//
// Wire format, one frame = u16 big-endian body length + body:
//  - handshake body: the Noise handshake message (XX: three of them, initiator first);
//  - transport body: u64 big-endian nonce + Noise transport message (ciphertext || tag).
// A stream delivers in order, so the receiver takes exactly the next nonce: a lower one is
// a replay (crypto_errc::replayed), a higher one a reordered or dropped frame
// (noise_out_of_order), a bad tag a tampered frame (authentication_failed). A refused frame
// changes no state (it is also counted); the transport should close the connection.
// Both sides rekey (Noise REKEY) after every rekey_interval_frames frames per direction.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <utility>
#include <vector>

#include "weft/config.hpp"
#include "weft/core/bytes.hpp"
#include "weft/core/endian.hpp"
#include "weft/core/result.hpp"
#include "weft/crypto/errors.hpp"
#include "weft/crypto/noise.hpp"

WEFT_BEGIN
namespace crypto {

inline constexpr std::size_t noise_frame_header_bytes = 2;
inline constexpr std::size_t noise_nonce_bytes = 8;

struct noise_session_options {
  /// Largest frame body (handshake message, or nonce + ciphertext + tag); at most 65535.
  std::size_t max_frame_body_bytes = noise_max_message_size_bytes;
  /// Frames per direction between two REKEYs (both sides count; nothing is signalled).
  std::uint64_t rekey_interval_frames = std::uint64_t{1} << 20;

  [[nodiscard]] result<void> validate() const noexcept {
    if (max_frame_body_bytes < 128 || max_frame_body_bytes > noise_max_message_size_bytes)
      return error(core_errc::invalid_options, "noise_session_options.max_frame_body_bytes");
    if (rekey_interval_frames == 0)
      return error(core_errc::invalid_options, "noise_session_options.rekey_interval_frames");
    return ok();
  }
};

struct noise_session_counters {
  std::uint64_t frames_sealed = 0, frames_opened = 0, rekeys = 0;
  std::uint64_t refused_tampered = 0, refused_replayed = 0, refused_out_of_order = 0;
  std::uint64_t refused_oversized = 0, refused_malformed = 0;
};

template <class Suite>
class noise_session {
 public:
  using handshake_type = noise_xx_handshake<Suite>;
  using dh = typename Suite::dh;
  static constexpr std::size_t tag_size = Suite::cipher::tag_size;

  /// Allocates the receive buffer (header + max_frame_body_bytes) once.
  [[nodiscard]] static result<noise_session> create(const noise_session_options& options,
                                                    noise_role role,
                                                    typename dh::secret_key static_key,
                                                    typename dh::secret_key ephemeral_key,
                                                    byte_view prologue) noexcept {
    WEFT_TRY(options.validate());
    noise_session s(options, handshake_type(role, std::move(static_key),
                                            std::move(ephemeral_key), prologue));
    s.inbound_.resize(noise_frame_header_bytes + options.max_frame_body_bytes);
    return s;
  }

  [[nodiscard]] bool established() const noexcept { return transport_.has_value(); }
  /// True while this side owes the next handshake frame (call write_handshake).
  [[nodiscard]] bool handshake_due() const noexcept {
    return !established() && handshake_->is_my_turn();
  }
  [[nodiscard]] const handshake_type& handshake() const noexcept { return *handshake_; }
  [[nodiscard]] const typename dh::public_key& remote_static() const noexcept {
    return remote_static_;
  }
  [[nodiscard]] const noise_session_counters& counters() const noexcept { return counters_; }
  /// Largest payload seal() takes.
  [[nodiscard]] std::size_t max_payload_bytes() const noexcept {
    return options_.max_frame_body_bytes - noise_nonce_bytes - tag_size;
  }

  /// Writes the next handshake frame (carrying `payload`, e.g. an admission statement)
  /// into `out`; returns the frame size.
  [[nodiscard]] result<std::size_t> write_handshake(byte_view payload,
                                                    mutable_byte_view out) noexcept {
    if (!handshake_due()) return error(crypto_errc::noise_bad_state, "noise_session handshake");
    if (out.size() < noise_frame_header_bytes)
      return error(crypto_errc::buffer_too_small, "noise_session handshake");
    const std::size_t room = std::min(out.size() - noise_frame_header_bytes,
                                      options_.max_frame_body_bytes);
    WEFT_TRY_ASSIGN(const std::size_t n, handshake_->write_message(
                                             payload, out.subspan(noise_frame_header_bytes, room)));
    put_header(out, n);
    WEFT_TRY(finish_handshake_if_complete());
    return noise_frame_header_bytes + n;
  }

  /// Seals `payload` into one transport frame in `out`; returns the frame size.
  [[nodiscard]] result<std::size_t> seal(byte_view payload, mutable_byte_view out) noexcept {
    if (!established()) return error(crypto_errc::noise_bad_state, "noise_session seal");
    if (payload.size() > max_payload_bytes())
      return error(crypto_errc::noise_message_too_large, "noise_session seal");
    const std::size_t body = noise_nonce_bytes + payload.size() + tag_size;
    if (out.size() < noise_frame_header_bytes + body)
      return error(crypto_errc::buffer_too_small, "noise_session seal");
    auto& sender = transport_->sender();
    const std::uint64_t nonce = sender.nonce();
    store_be<std::uint64_t>(out.data() + noise_frame_header_bytes, nonce);
    WEFT_TRY(transport_->write_message(
        payload, out.subspan(noise_frame_header_bytes + noise_nonce_bytes, body - noise_nonce_bytes)));
    put_header(out, body);
    ++counters_.frames_sealed;
    if ((nonce + 1) % options_.rekey_interval_frames == 0) WEFT_TRY(rekey(sender));
    return noise_frame_header_bytes + body;
  }

  /// Takes stream bytes; returns how many it consumed (it stops once a whole frame is
  /// buffered: call next_frame(), then feed the rest). A length over the limit is refused.
  [[nodiscard]] result<std::size_t> feed(byte_view bytes) noexcept {
    std::size_t used = 0;
    while (used < bytes.size() && !frame_buffered()) {
      const std::size_t want = buffered_ < noise_frame_header_bytes
                                   ? noise_frame_header_bytes - buffered_
                                   : noise_frame_header_bytes + body_size() - buffered_;
      const std::size_t take = std::min(want, bytes.size() - used);
      std::memcpy(inbound_.data() + buffered_, bytes.data() + used, take);
      buffered_ += take;
      used += take;
      if (buffered_ == noise_frame_header_bytes && body_size() > options_.max_frame_body_bytes) {
        ++counters_.refused_oversized;
        buffered_ = 0;
        return error(crypto_errc::noise_message_too_large, "noise_session frame length");
      }
    }
    return used;
  }

  /// A transport frame opened where it lay (see open_in_place).
  struct opened_frame {
    std::size_t frame_size_bytes = 0;  // header + body: the bytes to move past
    mutable_byte_view plaintext{};     // inside the frame's bytes
  };

  /// The receive path without copies: when the session is established, no frame is
  /// partly fed, and `bytes` starts with a whole transport frame, opens that frame in
  /// place (the plaintext overwrites its ciphertext) with the same checks, counters and
  /// errors as feed() + next_frame(). Returns nothing, and uses nothing, otherwise: feed
  /// those bytes instead. A refused frame may be left partly overwritten.
  [[nodiscard]] result<std::optional<opened_frame>> open_in_place(mutable_byte_view bytes) noexcept {
    if (!established() || buffered_ != 0 || bytes.size() < noise_frame_header_bytes)
      return std::optional<opened_frame>{};
    const std::size_t body = (std::size_t{bytes[0]} << 8) | bytes[1];
    if (body > options_.max_frame_body_bytes) {
      ++counters_.refused_oversized;
      return error(crypto_errc::noise_message_too_large, "noise_session frame length");
    }
    if (bytes.size() < noise_frame_header_bytes + body) return std::optional<opened_frame>{};
    const mutable_byte_view frame_body = bytes.subspan(noise_frame_header_bytes, body);
    WEFT_TRY_ASSIGN(const std::size_t n,
                    open_transport(frame_body, frame_body.subspan(std::min(body, noise_nonce_bytes))));
    return std::optional<opened_frame>{opened_frame{
        noise_frame_header_bytes + body, frame_body.subspan(noise_nonce_bytes, n)}};
  }

  [[nodiscard]] bool frame_buffered() const noexcept {
    return buffered_ >= noise_frame_header_bytes &&
           buffered_ == noise_frame_header_bytes + body_size();
  }

  /// Processes the buffered frame: a handshake message (its payload goes to
  /// `payload_out`; then write_handshake if handshake_due()) or a transport frame (the
  /// plaintext goes to `payload_out`). Returns the payload size. The frame is released
  /// either way; on error no session state changed.
  [[nodiscard]] result<std::size_t> next_frame(mutable_byte_view payload_out) noexcept {
    if (!frame_buffered()) return error(crypto_errc::noise_bad_state, "noise_session no frame");
    const byte_view body(inbound_.data() + noise_frame_header_bytes, body_size());
    buffered_ = 0;  // the bytes stay readable until the next feed()
    if (!established()) return open_handshake(body, payload_out);
    return open_transport(body, payload_out);
  }

 private:
  noise_session(const noise_session_options& options, handshake_type handshake) noexcept
      : options_(options), handshake_(std::move(handshake)) {}

  static void put_header(mutable_byte_view out, std::size_t body) noexcept {
    out[0] = static_cast<std::uint8_t>(body >> 8);
    out[1] = static_cast<std::uint8_t>(body);
  }
  [[nodiscard]] std::size_t body_size() const noexcept {
    return (std::size_t{inbound_[0]} << 8) | inbound_[1];
  }

  result<void> finish_handshake_if_complete() noexcept {
    if (!handshake_->complete()) return ok();
    remote_static_ = handshake_->remote_static();
    WEFT_TRY_ASSIGN(auto transport, handshake_->split());
    transport_.emplace(std::move(transport));
    return ok();
  }

  result<std::size_t> open_handshake(byte_view body, mutable_byte_view payload_out) noexcept {
    auto n = handshake_->read_message(body, payload_out);
    if (!n) {
      ++counters_.refused_malformed;
      return n.error();
    }
    WEFT_TRY(finish_handshake_if_complete());
    return *n;
  }

  result<std::size_t> open_transport(byte_view body, mutable_byte_view payload_out) noexcept {
    if (body.size() < noise_nonce_bytes + tag_size) {
      ++counters_.refused_malformed;
      return error(crypto_errc::noise_malformed, "noise_session frame too short");
    }
    auto& receiver = transport_->receiver();
    const std::uint64_t nonce = load_be<std::uint64_t>(body.data());
    if (nonce < receiver.nonce()) {
      ++counters_.refused_replayed;
      return error(crypto_errc::replayed, "noise_session frame nonce");
    }
    if (nonce > receiver.nonce()) {
      ++counters_.refused_out_of_order;
      return error(crypto_errc::noise_out_of_order, "noise_session frame nonce");
    }
    auto n = transport_->read_message(body.subspan(noise_nonce_bytes), payload_out);
    if (!n) {  // the cipher state's nonce advances only on success
      if (n.error().is(crypto_errc::authentication_failed)) ++counters_.refused_tampered;
      return n.error();
    }
    ++counters_.frames_opened;
    if ((nonce + 1) % options_.rekey_interval_frames == 0) WEFT_TRY(rekey(receiver));
    return *n;
  }

  result<void> rekey(typename noise_transport<Suite>::cipher_state& state) noexcept {
    WEFT_TRY(state.rekey());
    ++counters_.rekeys;
    return ok();
  }

  noise_session_options options_;
  std::optional<handshake_type> handshake_;
  std::optional<noise_transport<Suite>> transport_;
  typename dh::public_key remote_static_{};
  std::vector<std::uint8_t> inbound_;
  std::size_t buffered_ = 0;
  noise_session_counters counters_;
};

}  // namespace crypto
WEFT_END
