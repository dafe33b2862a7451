// weft/membership/swim/sodium_admission.hpp - real SWIM admission with Ed25519 (libsodium):
// an admin key issues signed admission statements; a gate refuses forged, stale or revoked ones.
// weft:hosted (needs <sodium.h> through weft/crypto/sodium.hpp; link weft::sodium)
//
// Two signatures by the admin key travel in one statement:
//  - the SWIM admission signature over swim::admission_message(subject, key, epoch), which
//    every peer checks against its trust anchors (the admin public key) when the member first
//    gossips an alive claim, or a claim at a higher epoch (core.hpp, check_admission); a
//    claim at an epoch below the one a peer holds is dropped (superseded_admission);
//  - a COSE_Sign1 over {1: subject, 2: member key, 3: epoch, 4: SWIM signature}, which the
//    gate checks where a member is let in (join, or the first frame of a Noise session).
// The epoch is what makes staleness decidable: per subject the gate keeps the newest epoch
// it accepted, so after a key rotation (same subject, higher epoch) the old statement is
// refused, and revoke_below() refuses every epoch under a floor. Format: docs/crypto.md.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "weft/config.hpp"
#include "weft/core/bytes.hpp"
#include "weft/core/result.hpp"
#include "weft/crypto/cose.hpp"
#include "weft/crypto/sodium.hpp"
#include "weft/membership/swim/admission.hpp"
#include "weft/membership/swim/core.hpp"
#include "weft/membership/swim/errors.hpp"
#include "weft/wire/schema.hpp"

WEFT_BEGIN
namespace swim {

/// The admission_scheme every member runs: Ed25519 from libsodium.
using ed25519_admission_scheme = crypto_admission_scheme<crypto::libsodium::ed25519>;
static_assert(admission_scheme<ed25519_admission_scheme>,
              "ed25519_admission_scheme must model admission_scheme; see docs/swim.md");

/// Statements carry this external AAD, so an admin signature over a statement can never be
/// passed off as another COSE_Sign1 the same key made (a tree head, for instance).
inline constexpr std::string_view admission_statement_context = "weft/swim-admission/v1";

/// The signed payload (deterministic CBOR map, integer keys).
struct admission_statement {
  node_id subject = 0;
  crypto::fixed_bytes<ed25519_admission_scheme::public_key_bytes> member_key{};
  std::uint64_t epoch = 0;  // raised by the admin on every re-issue (key rotation)
  crypto::fixed_bytes<ed25519_admission_scheme::signature_bytes> swim_admission{};

  static constexpr void fields(auto& v, auto& self) {
    v(1, self.subject);
    v(2, self.member_key);
    v(3, self.epoch);
    v(4, self.swim_admission);
  }
  friend bool operator==(const admission_statement&, const admission_statement&) = default;
};

/// Largest encoded payload (map head, 4 keys, two uint64, 32- and 64-byte strings) and the
/// buffer size for a whole signed statement (issue()'s `out` and `scratch`).
inline constexpr std::size_t max_admission_payload_bytes = 1 + 4 + 9 + 2 + 32 + 9 + 2 + 64;
inline constexpr std::size_t max_signed_admission_bytes = 512;

/// The admin side: holds the admin secret key (move-only, wiped on destruction).
class admission_authority {
 public:
  using ed25519 = crypto::libsodium::ed25519;

  explicit admission_authority(ed25519::secret_key admin) noexcept
      : admin_(std::move(admin)), public_(ed25519::public_key_of(admin_)) {}

  /// The trust anchor every member passes to swim::basic_core::create.
  [[nodiscard]] byte_view public_key() const noexcept { return public_; }

  /// Signs a statement admitting `subject` holding `member_key` at `epoch` into `out`
  /// (max_signed_admission_bytes); `scratch` holds the Sig_structure (same size).
  [[nodiscard]] result<byte_view> issue(node_id subject, byte_view member_key,
                                        std::uint64_t epoch, mutable_byte_view out,
                                        mutable_byte_view scratch) const noexcept {
    if (subject == 0 || subject >= anchor_id_base)
      return error(swim_errc::malformed_message, "admission issue: subject id");
    if (member_key.size() != ed25519::public_key_size)
      return error(swim_errc::malformed_message, "admission issue: member key size");
    admission_statement statement;
    statement.subject = subject;
    statement.epoch = epoch;
    std::memcpy(statement.member_key.data(), member_key.data(), member_key.size());
    std::array<std::uint8_t, 96> message{};  // what swim::admit signs, as core.hpp verifies it
    WEFT_TRY_ASSIGN(const std::size_t n,
                    admission_message(subject, member_key, epoch, message));
    statement.swim_admission = ed25519::sign(admin_, byte_view(message).first(n));
    std::array<std::uint8_t, max_admission_payload_bytes> payload_buffer;
    auto payload = wire::encode(statement, mutable_byte_view(payload_buffer));
    if (!payload) return error(swim_errc::malformed_message, "admission issue: encode");
    crypto::cose::encode_options options;
    options.external_aad = as_bytes(admission_statement_context);
    auto signed_statement = crypto::cose::sign1<ed25519>(admin_, *payload, options, out, scratch);
    if (!signed_statement) return error(swim_errc::message_too_large, "admission issue: buffer");
    return *signed_statement;
  }

 private:
  ed25519::secret_key admin_;
  ed25519::public_key public_;
};

struct admission_gate_options {
  /// Subjects whose newest accepted epoch the gate remembers (allocated at create()).
  std::size_t max_members = 1024;

  [[nodiscard]] result<void> validate() const noexcept {
    if (max_members == 0 || max_members > (std::size_t{1} << 20))
      return error(core_errc::invalid_options, "admission_gate_options.max_members");
    return ok();
  }
};

/// What the gate let in: everything a member needs for its swim::identity.
struct admitted_member {
  node_id subject = 0;
  crypto::fixed_bytes<ed25519_admission_scheme::public_key_bytes> member_key{};
  std::uint64_t epoch = 0;
  blob<max_signature_bytes> admission;  // identity.admission (admitter: the anchor's id)

  /// Puts id, admission and admission epoch into a member's swim::identity (the epoch must
  /// travel with the admission: peers verify the signature over both).
  void apply_to(identity& self) const noexcept {
    self.id = subject;
    self.admission = admission;
    self.admission_epoch = epoch;
  }
};

/// The member side: checks statements against the admin public key, refuses stale ones.
class admission_gate {
 public:
  using ed25519 = crypto::libsodium::ed25519;

  [[nodiscard]] static result<admission_gate> create(const admission_gate_options& options,
                                                     byte_view admin_public_key) noexcept {
    WEFT_TRY(options.validate());
    auto admin = ed25519::parse_public_key(admin_public_key);
    if (!admin) return error(core_errc::invalid_argument, "admission_gate: admin key size");
    admission_gate gate(options, *admin);
    gate.seen_.reserve(options.max_members);
    return gate;
  }

  /// Verifies `signed_statement`. Refusals: forged or signed by another key
  /// (bad_signature), not a statement (malformed_message), epoch below the revocation
  /// floor or a different key at an accepted epoch (not_admitted), an epoch older than the
  /// newest accepted for the subject (stale_incarnation), table full (member_table_full).
  /// Presenting the newest statement again is accepted (a member rejoining).
  [[nodiscard]] result<admitted_member> accept(byte_view signed_statement) noexcept {
    WEFT_TRY_ASSIGN(const admission_statement s, verify(signed_statement));
    if (s.epoch < floor_epoch_) return error(swim_errc::not_admitted, "admission: revoked epoch");
    entry* known = find(s.subject);
    if (known != nullptr) {
      if (s.epoch < known->epoch)
        return error(swim_errc::stale_incarnation, "admission: superseded statement");
      if (s.epoch == known->epoch && !equal_bytes(s.member_key, known->member_key))
        return error(swim_errc::not_admitted, "admission: two keys at one epoch");
    } else if (seen_.size() >= options_.max_members) {
      return error(swim_errc::member_table_full, "admission: gate table full");
    }
    if (known == nullptr) known = &seen_.emplace_back();  // capacity reserved at create()
    known->subject = s.subject;
    known->epoch = s.epoch;
    known->member_key = s.member_key;
    return admitted(s);
  }

  /// Refuses every statement with an epoch below `epoch` from now on (revocation).
  void revoke_below(std::uint64_t epoch) noexcept { floor_epoch_ = std::max(floor_epoch_, epoch); }
  [[nodiscard]] std::uint64_t revocation_floor() const noexcept { return floor_epoch_; }
  [[nodiscard]] std::size_t members_seen() const noexcept { return seen_.size(); }

 private:
  struct entry {
    node_id subject = 0;
    std::uint64_t epoch = 0;
    crypto::fixed_bytes<ed25519_admission_scheme::public_key_bytes> member_key{};
  };

  admission_gate(const admission_gate_options& options, const ed25519::public_key& admin) noexcept
      : options_(options), admin_(admin) {}

  /// Signature, payload shape, and the embedded SWIM signature (so what the gate admits
  /// is also what every SWIM peer will accept).
  [[nodiscard]] result<admission_statement> verify(byte_view signed_statement) const noexcept {
    crypto::cose::decode_options options;
    options.tag = crypto::cose::tag_policy::required;
    options.cbor.max_total_bytes = max_signed_admission_bytes;
    std::array<std::uint8_t, max_signed_admission_bytes> scratch;
    auto payload = crypto::cose::verify_sign1<ed25519>(
        admin_, signed_statement, as_bytes(admission_statement_context), scratch, options);
    if (!payload) {
      if (payload.error().is(crypto::crypto_errc::bad_signature))
        return error(swim_errc::bad_signature, "admission: statement signature");
      return error(swim_errc::malformed_message, "admission: not a COSE_Sign1 statement");
    }
    wire::decode_limits limits{.max_depth = 2, .max_items = 10, .max_string_bytes = 64,
                               .max_total_bytes = max_admission_payload_bytes};
    auto s = wire::decode<admission_statement>(*payload, limits);
    if (!s || s->subject == 0 || s->subject >= anchor_id_base)
      return error(swim_errc::malformed_message, "admission: statement payload");
    std::array<std::uint8_t, 96> message{};
    WEFT_TRY_ASSIGN(const std::size_t n,
                    admission_message(s->subject, s->member_key, s->epoch, message));
    if (!ed25519_admission_scheme::verify(admin_, byte_view(message).first(n), s->swim_admission))
      return error(swim_errc::bad_signature, "admission: embedded SWIM signature");
    return *s;
  }

  [[nodiscard]] entry* find(node_id subject) noexcept {
    for (entry& e : seen_)
      if (e.subject == subject) return &e;
    return nullptr;
  }

  [[nodiscard]] static result<admitted_member> admitted(const admission_statement& s) noexcept {
    admitted_member out;
    out.subject = s.subject;
    out.member_key = s.member_key;
    out.epoch = s.epoch;
    WEFT_TRY(out.admission.assign(s.swim_admission));
    return out;
  }

  admission_gate_options options_;
  ed25519::public_key admin_;
  std::vector<entry> seen_;
  std::uint64_t floor_epoch_ = 0;
};

}  // namespace swim
WEFT_END
