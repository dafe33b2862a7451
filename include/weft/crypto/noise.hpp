// weft/crypto/noise.hpp - the Noise Protocol Framework (revision 34): CipherState,
// SymmetricState and the XX handshake, over the crypto concepts. With the libsodium
// primitives this is Noise_XX_25519_ChaChaPoly_BLAKE2b. Portable; no allocation.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <utility>

#include "weft/config.hpp"
#include "weft/core/bytes.hpp"
#include "weft/core/endian.hpp"
#include "weft/core/result.hpp"
#include "weft/crypto/concepts.hpp"
#include "weft/crypto/errors.hpp"
#include "weft/crypto/secret.hpp"

WEFT_BEGIN
namespace crypto {

/// Noise's hard limit on any message, handshake or transport, tag included.
inline constexpr std::size_t noise_max_message_size_bytes = 65535;

/// The primitives of a Noise protocol. Each names itself for the protocol name
/// (`noise_name`, e.g. "25519", "ChaChaPoly", "BLAKE2b").
template <class Dh, class Aead, class Hash>
struct noise_suite {
  static_assert(key_agreement<Dh>, "noise_suite: Dh must model weft::crypto::key_agreement; "
                                   "see docs/requirements/crypto_key_agreement.md");
  static_assert(aead<Aead>, "noise_suite: Aead must model weft::crypto::aead; "
                            "see docs/requirements/crypto_aead.md");
  static_assert(hash_function<Hash>, "noise_suite: Hash must model weft::crypto::hash_function; "
                                     "see docs/requirements/crypto_hash.md");
  using dh = Dh;
  using cipher = Aead;
  using hash = Hash;
  static_assert(Aead::key_size == 32 && Aead::nonce_size == 12,
                "Noise ciphers take 32-byte keys and (here) 96-bit IETF nonces");
  static_assert(Hash::digest_size == 32 || Hash::digest_size == 64,
                "Noise hashes have HASHLEN 32 or 64");
};

namespace detail {

/// HMAC (RFC 2104) over any incremental hash, data given in up to three parts.
template <hash_function H>
void noise_hmac(byte_view key, byte_view a, byte_view b, byte_view c,
                std::span<std::uint8_t, H::digest_size> out) noexcept {
  WEFT_ASSERT(key.size() <= H::block_size);
  std::array<std::uint8_t, H::block_size> pad{};
  if (!key.empty()) std::memcpy(pad.data(), key.data(), key.size());
  for (auto& x : pad) x ^= 0x36;
  std::array<std::uint8_t, H::digest_size> inner;
  {
    H h;
    h.update(pad);
    h.update(a);
    h.update(b);
    h.update(c);
    h.finish(inner);
  }
  for (auto& x : pad) x ^= 0x36 ^ 0x5c;
  H h;
  h.update(pad);
  h.update(inner);
  h.finish(out);
  secure_wipe(pad.data(), pad.size());
  secure_wipe(inner.data(), inner.size());
}

/// Noise HKDF with two outputs.
template <hash_function H>
void noise_hkdf2(byte_view chaining_key, byte_view input_key_material,
                 std::span<std::uint8_t, H::digest_size> out1,
                 std::span<std::uint8_t, H::digest_size> out2) noexcept {
  std::array<std::uint8_t, H::digest_size> temp_key;
  noise_hmac<H>(chaining_key, input_key_material, {}, {}, temp_key);
  const std::uint8_t one = 0x01, two = 0x02;
  noise_hmac<H>(temp_key, byte_view(&one, 1), {}, {}, out1);
  noise_hmac<H>(temp_key, out1, byte_view(&two, 1), {}, out2);
  secure_wipe(temp_key.data(), temp_key.size());
}

}  // namespace detail

/// CipherState: a key (or none) and a 64-bit nonce. Without a key it passes data through,
/// as the specification requires during the first handshake messages.
template <aead Aead>
class noise_cipher_state {
 public:
  using key = typename Aead::key;
  static constexpr std::uint64_t reserved_nonce = ~std::uint64_t{0};

  noise_cipher_state() noexcept = default;
  explicit noise_cipher_state(key k) noexcept : key_(std::move(k)), has_key_(true) {}

  [[nodiscard]] bool has_key() const noexcept { return has_key_; }
  [[nodiscard]] std::uint64_t nonce() const noexcept { return nonce_; }
  /// For transports that carry the nonce explicitly (datagrams); pair with a replay window.
  void set_nonce(std::uint64_t n) noexcept { nonce_ = n; }

  /// Returns bytes written to `out` (input size + tag, or input size without a key).
  [[nodiscard]] result<std::size_t> encrypt_with_ad(byte_view ad, byte_view plaintext,
                                                    mutable_byte_view out) noexcept {
    if (!has_key_) return copy(plaintext, out);
    if (nonce_ == reserved_nonce) return error(crypto_errc::noise_nonce_exhausted, "noise");
    WEFT_TRY_ASSIGN(std::size_t written, Aead::seal(key_, nonce_bytes(nonce_), ad, plaintext, out));
    ++nonce_;
    return written;
  }

  /// Returns plaintext bytes written; the nonce advances only when authentication passed.
  [[nodiscard]] result<std::size_t> decrypt_with_ad(byte_view ad, byte_view ciphertext,
                                                    mutable_byte_view out) noexcept {
    if (!has_key_) return copy(ciphertext, out);
    if (nonce_ == reserved_nonce) return error(crypto_errc::noise_nonce_exhausted, "noise");
    WEFT_TRY_ASSIGN(std::size_t written, Aead::open(key_, nonce_bytes(nonce_), ad, ciphertext, out));
    ++nonce_;
    return written;
  }

  /// REKEY(k): the first 32 bytes of ENCRYPT(k, 2^64 - 1, "", zeros[32]). The nonce is kept.
  result<void> rekey() noexcept {
    if (!has_key_) return error(crypto_errc::noise_bad_state, "noise rekey without key");
    std::array<std::uint8_t, 32 + Aead::tag_size> buffer{};
    WEFT_TRY(Aead::seal(key_, nonce_bytes(reserved_nonce), {}, byte_view(buffer.data(), 32),
                        buffer));
    key_ = key(std::span<const std::uint8_t, 32>(buffer.data(), 32));
    detail::secure_wipe(buffer.data(), buffer.size());
    return ok();
  }

 private:
  static std::array<std::uint8_t, 12> nonce_bytes(std::uint64_t n) noexcept {
    std::array<std::uint8_t, 12> out{};
    store_le<std::uint64_t>(out.data() + 4, n);
    return out;
  }
  static result<std::size_t> copy(byte_view in, mutable_byte_view out) noexcept {
    if (out.size() < in.size()) return error(crypto_errc::buffer_too_small, "noise");
    if (!in.empty() && in.data() != out.data()) std::memmove(out.data(), in.data(), in.size());
    return in.size();
  }

  key key_{};
  std::uint64_t nonce_ = 0;
  bool has_key_ = false;
};

/// SymmetricState: chaining key, handshake hash and the handshake cipher.
template <class Suite>
class noise_symmetric_state {
 public:
  using hash = typename Suite::hash;
  static constexpr std::size_t hash_size = hash::digest_size;
  using digest = fixed_bytes<hash_size>;

  explicit noise_symmetric_state(std::string_view protocol_name) noexcept {
    if (protocol_name.size() <= hash_size) {
      h_.fill(0);
      std::memcpy(h_.data(), protocol_name.data(), protocol_name.size());
    } else {
      h_ = hash::digest(as_bytes(protocol_name));
    }
    std::memcpy(ck_.expose_mutable().data(), h_.data(), hash_size);
  }

  void mix_hash(byte_view data) noexcept {
    hash h;
    h.update(h_);
    h.update(data);
    h.finish(h_);
  }

  void mix_key(byte_view input_key_material) noexcept {
    secret_bytes<hash_size> new_ck, temp_k;
    detail::noise_hkdf2<hash>(ck_.expose(), input_key_material, new_ck.expose_mutable(),
                              temp_k.expose_mutable());
    ck_ = std::move(new_ck);
    cipher_ = noise_cipher_state<typename Suite::cipher>(truncate(temp_k));
  }

  [[nodiscard]] result<std::size_t> encrypt_and_hash(byte_view plaintext,
                                                     mutable_byte_view out) noexcept {
    WEFT_TRY_ASSIGN(std::size_t written, cipher_.encrypt_with_ad(h_, plaintext, out));
    mix_hash(out.first(written));
    return written;
  }

  /// `ciphertext` and `out` must not overlap (the hash covers the ciphertext).
  [[nodiscard]] result<std::size_t> decrypt_and_hash(byte_view ciphertext,
                                                     mutable_byte_view out) noexcept {
    WEFT_TRY_ASSIGN(std::size_t written, cipher_.decrypt_with_ad(h_, ciphertext, out));
    mix_hash(ciphertext);
    return written;
  }

  [[nodiscard]] bool has_key() const noexcept { return cipher_.has_key(); }
  [[nodiscard]] const digest& handshake_hash() const noexcept { return h_; }

  /// Split(): the two transport cipher states (initiator-to-responder first).
  std::pair<noise_cipher_state<typename Suite::cipher>, noise_cipher_state<typename Suite::cipher>>
  split() noexcept {
    secret_bytes<hash_size> k1, k2;
    detail::noise_hkdf2<hash>(ck_.expose(), {}, k1.expose_mutable(), k2.expose_mutable());
    return {noise_cipher_state<typename Suite::cipher>(truncate(k1)),
            noise_cipher_state<typename Suite::cipher>(truncate(k2))};
  }

 private:
  static typename Suite::cipher::key truncate(const secret_bytes<hash_size>& k) noexcept {
    return typename Suite::cipher::key(std::span<const std::uint8_t, 32>(k.expose().data(), 32));
  }

  secret_bytes<hash_size> ck_{};
  digest h_{};
  noise_cipher_state<typename Suite::cipher> cipher_{};
};

/// The transport phase after a completed handshake: one cipher each way.
template <class Suite>
class noise_transport {
 public:
  using cipher_state = noise_cipher_state<typename Suite::cipher>;
  static constexpr std::size_t tag_size = Suite::cipher::tag_size;
  static constexpr std::size_t max_payload_size_bytes = noise_max_message_size_bytes - tag_size;

  noise_transport(cipher_state send, cipher_state receive) noexcept
      : send_(std::move(send)), receive_(std::move(receive)) {}

  /// Encrypts `payload` (at most max_payload_size_bytes) into `out`; returns its size.
  [[nodiscard]] result<std::size_t> write_message(byte_view payload,
                                                  mutable_byte_view out) noexcept {
    if (payload.size() > max_payload_size_bytes)
      return error(crypto_errc::noise_message_too_large, "noise_transport::write_message");
    return send_.encrypt_with_ad({}, payload, out);
  }

  /// Decrypts a message of at most 65535 bytes; returns the payload size.
  [[nodiscard]] result<std::size_t> read_message(byte_view message,
                                                 mutable_byte_view out) noexcept {
    if (message.size() > noise_max_message_size_bytes)
      return error(crypto_errc::noise_message_too_large, "noise_transport::read_message");
    return receive_.decrypt_with_ad({}, message, out);
  }

  result<void> rekey_send() noexcept { return send_.rekey(); }
  result<void> rekey_receive() noexcept { return receive_.rekey(); }
  [[nodiscard]] cipher_state& sender() noexcept { return send_; }
  [[nodiscard]] cipher_state& receiver() noexcept { return receive_; }

 private:
  cipher_state send_;
  cipher_state receive_;
};

enum class noise_role : std::uint8_t { initiator, responder };

/// The XX handshake:  -> e   <- e, ee, s, es   -> s, se
///
/// Keys are injected: the static key and the ephemeral key (draw it with
/// generate_secret<32>(random) from a crypto_random_source; tests pass fixed ones).
/// Message sizes: 1st 32 + payload, 2nd 32 + 48 + payload + 16, 3rd 48 + payload + 16.
template <class Suite>
class noise_xx_handshake {
 public:
  using dh = typename Suite::dh;
  using hash = typename Suite::hash;
  static constexpr std::size_t dh_size = dh::public_key_size;
  static constexpr std::size_t tag_size = Suite::cipher::tag_size;

  noise_xx_handshake(noise_role role, typename dh::secret_key static_key,
                     typename dh::secret_key ephemeral_key, byte_view prologue) noexcept
      : role_(role),
        s_(std::move(static_key)),
        e_(std::move(ephemeral_key)),
        symmetric_(protocol_name()) {
    symmetric_.mix_hash(prologue);
  }

  /// "Noise_XX_" + DH + "_" + cipher + "_" + hash.
  static std::string_view protocol_name() noexcept {
    static const auto name = [] {
      std::array<char, 128> text{};
      std::size_t n = 0;
      for (std::string_view part : {std::string_view("Noise_XX_"), dh::noise_name,
                                    std::string_view("_"), Suite::cipher::noise_name,
                                    std::string_view("_"), hash::noise_name}) {
        for (char c : part)
          if (n < text.size()) text[n++] = c;
      }
      return std::pair{text, n};
    }();
    return std::string_view(name.first.data(), name.second);
  }

  [[nodiscard]] bool complete() const noexcept { return step_ == 3; }
  [[nodiscard]] bool is_my_turn() const noexcept {
    return !complete() && ((step_ % 2 == 0) == (role_ == noise_role::initiator));
  }
  [[nodiscard]] const auto& handshake_hash() const noexcept { return symmetric_.handshake_hash(); }
  /// The peer's static key, known after the 2nd (initiator) or 3rd (responder) message.
  [[nodiscard]] const typename dh::public_key& remote_static() const noexcept { return rs_; }

  /// Writes the next handshake message carrying `payload`; returns the bytes written.
  [[nodiscard]] result<std::size_t> write_message(byte_view payload,
                                                  mutable_byte_view out) noexcept {
    if (!is_my_turn() || failed_) return error(crypto_errc::noise_bad_state, "noise write_message");
    if (payload.size() + overhead(step_) > noise_max_message_size_bytes)
      return error(crypto_errc::noise_message_too_large, "noise write_message");
    if (out.size() < payload.size() + overhead(step_))
      return error(crypto_errc::buffer_too_small, "noise write_message");
    auto outcome = write_step(payload, out);
    if (!outcome) failed_ = true;
    return outcome;
  }

  /// Reads the peer's next handshake message; writes its payload to `payload_out` and
  /// returns the payload size. Any failure leaves the handshake unusable (fail closed).
  [[nodiscard]] result<std::size_t> read_message(byte_view message,
                                                 mutable_byte_view payload_out) noexcept {
    if (complete() || is_my_turn() || failed_)
      return error(crypto_errc::noise_bad_state, "noise read_message");
    if (message.size() > noise_max_message_size_bytes)
      return error(crypto_errc::noise_message_too_large, "noise read_message");
    auto outcome = read_step(message, payload_out);
    if (!outcome) failed_ = true;
    return outcome;
  }

  /// After the handshake: the transport (send = own direction).
  [[nodiscard]] result<noise_transport<Suite>> split() noexcept {
    if (!complete() || failed_) return error(crypto_errc::noise_bad_state, "noise split");
    auto [initiator_to_responder, responder_to_initiator] = symmetric_.split();
    if (role_ == noise_role::initiator)
      return noise_transport<Suite>(std::move(initiator_to_responder),
                                    std::move(responder_to_initiator));
    return noise_transport<Suite>(std::move(responder_to_initiator),
                                  std::move(initiator_to_responder));
  }

 private:
  static constexpr std::size_t overhead(int step) noexcept {
    return step == 0 ? dh_size : step == 1 ? dh_size + dh_size + 2 * tag_size
                                           : dh_size + 2 * tag_size;
  }

  result<std::size_t> write_step(byte_view payload, mutable_byte_view out) noexcept {
    byte_writer w(out);
    if (step_ == 0 || step_ == 1) {  // e
      const auto e_pub = dh::public_key_of(e_);
      WEFT_TRY(w.put(e_pub));
      symmetric_.mix_hash(e_pub);
    }
    if (step_ == 1) {  // ee, s, es
      WEFT_TRY(mix_dh(e_, re_));
      WEFT_TRY(write_static(w));
      WEFT_TRY(mix_dh(s_, re_));
    }
    if (step_ == 2) {  // s, se
      WEFT_TRY(write_static(w));
      WEFT_TRY(mix_dh(s_, re_));
    }
    WEFT_TRY_ASSIGN(std::size_t n, symmetric_.encrypt_and_hash(payload, out.subspan(w.size())));
    ++step_;
    return w.size() + n;
  }

  result<void> mix_dh(const typename dh::secret_key& mine,
                      const typename dh::public_key& theirs) noexcept {
    WEFT_TRY_ASSIGN(auto shared, dh::agree(mine, theirs));
    symmetric_.mix_key(shared.expose());
    return ok();
  }

  result<void> write_static(byte_writer& w) noexcept {
    const auto s_pub = dh::public_key_of(s_);
    std::array<std::uint8_t, dh_size + tag_size> encrypted{};
    WEFT_TRY_ASSIGN(std::size_t n, symmetric_.encrypt_and_hash(s_pub, encrypted));
    return w.put(byte_view(encrypted).first(n));
  }

  result<void> read_static(byte_reader& r) noexcept {
    const std::size_t size = dh_size + (symmetric_.has_key() ? tag_size : 0);
    WEFT_TRY_ASSIGN(byte_view encrypted, r.take(size));
    WEFT_TRY(symmetric_.decrypt_and_hash(encrypted, rs_));
    return ok();
  }

  result<std::size_t> read_step(byte_view message, mutable_byte_view payload_out) noexcept {
    if (message.size() < overhead(step_)) return error(crypto_errc::noise_malformed, "noise read");
    byte_reader r(message);
    if (step_ == 0 || step_ == 1) {  // e
      WEFT_TRY_ASSIGN(byte_view e_bytes, r.take(dh_size));
      std::memcpy(re_.data(), e_bytes.data(), dh_size);
      symmetric_.mix_hash(re_);
    }
    if (step_ == 1) {  // ee, s, es (we are the initiator)
      WEFT_TRY(mix_dh(e_, re_));
      WEFT_TRY(read_static(r));
      WEFT_TRY(mix_dh(e_, rs_));
    }
    if (step_ == 2) {  // s, se (we are the responder)
      WEFT_TRY(read_static(r));
      WEFT_TRY(mix_dh(e_, rs_));
    }
    const byte_view rest = r.rest();
    if (symmetric_.has_key() && rest.size() < tag_size)
      return error(crypto_errc::noise_malformed, "noise read payload");
    WEFT_TRY_ASSIGN(std::size_t n, symmetric_.decrypt_and_hash(rest, payload_out));
    ++step_;
    return n;
  }

  noise_role role_;
  typename dh::secret_key s_;
  typename dh::secret_key e_;
  typename dh::public_key re_{};
  typename dh::public_key rs_{};
  noise_symmetric_state<Suite> symmetric_;
  int step_ = 0;
  bool failed_ = false;
};

}  // namespace crypto
WEFT_END
