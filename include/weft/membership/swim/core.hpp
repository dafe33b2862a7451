// weft/membership/swim/core.hpp - the pure SWIM + Lifeguard core: no I/O, no clock reads,
// randomness injected. Inputs: tick(now), step(now, from, datagram), step_stream(...) and
// user calls; outputs: sends() (datagrams and stream messages) and notifications(), valid
// until clear_outputs(). Every member change goes through the lifecycle table.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "weft/config.hpp"
#include "weft/core/bytes.hpp"
#include "weft/core/concepts.hpp"
#include "weft/core/random.hpp"
#include "weft/core/result.hpp"
#include "weft/core/time.hpp"
#include "weft/membership/swim/admission.hpp"
#include "weft/membership/swim/claim_store.hpp"
#include "weft/membership/swim/errors.hpp"
#include "weft/membership/swim/lifecycle.hpp"
#include "weft/membership/swim/messages.hpp"
#include "weft/membership/swim/options.hpp"

WEFT_BEGIN
namespace swim {

enum class channel : std::uint8_t { datagram, stream };

/// One message to send; `bytes` stays valid until clear_outputs().
struct outgoing {
  address to;
  channel via;
  byte_view bytes;
};

enum class notification_kind : std::uint8_t {
  joined_cluster,   // this member finished joining (bootstrap or first push-pull reply)
  member_joined,    // absent/joining -> alive
  member_updated,   // alive at a higher incarnation; `addr` changed when address_changed
  member_suspected,
  member_refuted,   // suspect -> alive
  member_failed,    // -> dead
  member_leaving,
  member_left,
  member_rejoined,  // dead/left -> alive under a higher incarnation
  user_event,
  app_message,
  query,            // answer with respond(); `addr` is where to
  query_response,
  query_done,       // the query's timeout passed; `id` names it
};

struct notification {
  notification_kind kind;
  node_id member = 0;
  address addr = 0;
  std::uint64_t incarnation = 0;
  std::uint64_t id = 0;  // Lamport time (event, query) or app sequence
  bool address_changed = false;
  byte_view name{};
  byte_view payload{};
};

/// Where a member keeps the highest incarnation it has used. A member restarted below or at
/// it would lose to its own earlier claims (a stale suspicion would stick), so with a store
/// the core starts above what load() returns and calls persist() before it signs any new
/// incarnation; a failed persist keeps the old incarnation (counted in
/// counters::incarnation_persist_failures). Both calls are the driver's I/O, for example a
/// small file or the node's stable store; null functions mean no store.
struct incarnation_store {
  void* context = nullptr;
  result<std::uint64_t> (*load)(void* context) noexcept = nullptr;  // 0: none stored yet
  result<void> (*persist)(void* context, std::uint64_t incarnation) noexcept = nullptr;
  [[nodiscard]] bool present() const noexcept { return load != nullptr && persist != nullptr; }
};

/// Who this member is: id, address, the incarnation to start from (without a store: persist
/// and raise it across restarts yourself) and the admission statement an admitted key
/// signed for it.
struct identity {
  node_id id = 1;
  address addr = 0;
  std::uint64_t incarnation = 1;
  node_id admitter = anchor_id_base;
  std::uint64_t admission_epoch = 0;  // the epoch `admission` was signed for (see admit)
  blob<max_signature_bytes> admission;
  incarnation_store incarnations{};
};

struct counters {
  std::uint64_t packets_received = 0, bytes_received = 0;
  std::uint64_t datagrams_sent = 0, datagram_bytes_sent = 0;
  std::uint64_t streams_sent = 0, stream_bytes_sent = 0;
  std::uint64_t probes = 0, probe_failures = 0, indirect_probes_sent = 0;
  std::uint64_t suspicions_started = 0, confirmations = 0, refutations = 0;
  std::uint64_t dead_verdicts = 0, address_changes = 0, address_conflicts = 0;
  std::uint64_t replays = 0, forged = 0, duplicates = 0;
  std::uint64_t broadcasts_dropped = 0, sends_dropped = 0, notifications_dropped = 0;
  std::uint64_t late_responses = 0, stalls = 0, refutations_relayed = 0, suspect_pings = 0;
  std::uint64_t incarnation_persist_failures = 0;
  std::uint64_t stream_probes_sent = 0, stream_probe_acks = 0;  // fallback probes; acked in time
  // Suspicions started while options::max_suspects were already tracked: they run at the
  // longest timeout, without counting confirmations.
  std::uint64_t suspicions_untracked = 0;
  std::array<std::uint64_t, swim_errc_count> refused{};  // by swim_errc
  [[nodiscard]] std::uint64_t refused_by(swim_errc c) const noexcept {
    return refused[static_cast<std::size_t>(c)];
  }
};

/// The bytes an admitter signs to admit `subject` holding `key` at `epoch`. The epoch is
/// signed so that a statement the admitter re-issued (a rotated key) supersedes the old
/// one everywhere: peers refuse alive claims whose epoch is below the one they hold.
[[nodiscard]] inline result<std::size_t> admission_message(node_id subject, byte_view key,
                                                           std::uint64_t epoch,
                                                           mutable_byte_view out) noexcept {
  byte_writer w(out);
  WEFT_TRY(encode_array_head(w, 4));
  WEFT_TRY(detail::put_bytes(w, as_bytes("weft-swim-admit")));
  WEFT_TRY(detail::put_uint(w, subject));
  WEFT_TRY(detail::put_bytes(w, key));
  WEFT_TRY(detail::put_uint(w, epoch));
  return w.size();
}
/// The same at epoch 0.
[[nodiscard]] inline result<std::size_t> admission_message(node_id subject, byte_view key,
                                                           mutable_byte_view out) noexcept {
  return admission_message(subject, key, 0, out);
}

/// Signs an admission statement for `subject` with `admitter`'s key, at `epoch` (put the
/// same epoch in identity::admission_epoch).
template <admission_scheme Scheme>
[[nodiscard]] result<blob<max_signature_bytes>> admit(const Scheme& admitter, node_id subject,
                                                      byte_view subject_key,
                                                      std::uint64_t epoch = 0) noexcept {
  std::array<std::uint8_t, 96> msg{};
  WEFT_TRY_ASSIGN(const std::size_t n, admission_message(subject, subject_key, epoch, msg));
  blob<max_signature_bytes> sig;
  WEFT_TRY(admitter.sign(byte_view(msg).first(n), sig.bytes));
  sig.size = static_cast<std::uint16_t>(Scheme::signature_bytes);
  return sig;
}

template <admission_scheme Scheme, random_source Random = xoshiro256>
class basic_core {
  static_assert(admission_scheme<Scheme>, "Scheme must model weft::swim::admission_scheme; "
                                          "see docs/swim.md#admission");

 public:
  static constexpr std::size_t max_anchors = 4;
  static constexpr std::size_t max_confirmers = 8;

  basic_core(basic_core&&) noexcept = default;
  basic_core& operator=(basic_core&&) noexcept = default;

  /// Validates `opts`, allocates every table and queue once, and signs the first alive
  /// claim. `anchors` are the trust anchors' public keys (at most max_anchors).
  /// `shared_claims`: a claim store shared with other cores in the same process (a
  /// simulation); it must outlive the core. Null: the core allocates its own.
  [[nodiscard]] static result<basic_core> create(const options& opts, const identity& self,
                                                 Scheme signer, Random random,
                                                 std::span<const byte_view> anchors,
                                                 claim_store* shared_claims = nullptr) noexcept {
    WEFT_TRY(opts.validate());
    if (opts.mtu_bytes < min_mtu_bytes(opts.max_payload_bytes))
      return error(core_errc::invalid_options,
                   "swim: mtu_bytes below min_mtu_bytes(max_payload_bytes) for this scheme");
    if (anchors.empty() || anchors.size() > max_anchors)
      return error(core_errc::invalid_argument, "swim: 1..max_anchors trust anchors");
    if (self.id == 0 || self.id >= anchor_id_base)
      return error(core_errc::invalid_argument, "swim: node id");
    basic_core c(opts, self, std::move(signer), std::move(random), shared_claims);
    for (byte_view a : anchors) {
      if (a.size() != Scheme::public_key_bytes)
        return error(core_errc::invalid_argument, "swim: anchor key size");
      blob<max_public_key_bytes> k;
      WEFT_TRY(k.assign(a));
      c.anchors_[c.anchor_count_++] = k;
    }
    WEFT_TRY(c.install_self());
    return c;
  }

  /// The smallest MTU at which every datagram this scheme produces fits, with the largest
  /// ids, incarnations and addresses: the largest packet head (ping_req) and item-array
  /// head, plus the largest single item: a compact alive claim, a suspect/dead claim, or a
  /// query carrying a `max_payload_bytes` payload and the longest name. Full alive claims
  /// that do not fit travel compact (and in full over push-pull).
  [[nodiscard]] static constexpr std::size_t min_mtu_bytes(std::size_t max_payload_bytes) noexcept {
    using detail::head_size;
    constexpr std::size_t id = 9, address_bytes = 5;
    constexpr std::size_t head = 1 + 1 + 1 + id + id + id + address_bytes + head_size(255);
    constexpr std::size_t signature = head_size(Scheme::signature_bytes) + Scheme::signature_bytes;
    constexpr std::size_t compact_alive = 1 + 1 + id + id + address_bytes + 1 + id + id + 1 + signature;
    constexpr std::size_t accusation = 1 + 1 + id + id + id + signature;
    const std::size_t query = 1 + 1 + id + id + address_bytes + 5 + head_size(max_name_bytes) +
                              max_name_bytes + head_size(max_payload_bytes) + max_payload_bytes +
                              signature;
    return head + std::max({compact_alive, accusation, query});
  }

  // ---- inputs --------------------------------------------------------------------------

  /// Starts a new cluster: this member is alive at once.
  result<void> bootstrap(time_point now) noexcept {
    WEFT_TRY(become_alive(now));
    schedule_all(now);
    return ok();
  }

  /// Joins through the member at `seed`: sends our state over the stream; the reply makes
  /// us alive. Call again if no reply arrives.
  result<void> join(time_point now, address seed) noexcept {
    if (!running_) return refuse(swim_errc::not_running);
    schedule_all(now);
    return send_push_pull(seed, false);
  }

  /// Graceful leave: alive -> leaving now, left after leave_propagate_ms.
  result<void> leave(time_point now) noexcept {
    if (!running_) return refuse(swim_errc::not_running);
    member_record& me = members_[self_slot_];
    member_claim c{};
    c.kind = item_kind::leave;
    c.subject = self_.id;
    c.from = self_.id;
    c.incarnation = me.incarnation;
    WEFT_TRY(sign_claim(c));
    const claim_store::handle h = claims_store_->acquire(c);
    if (h == claim_store::none) return refuse(swim_errc::member_table_full);
    auto r = guard_.apply(me.state, me.incarnation, member_event::leave, c.incarnation);
    if (!r) {
      claims_store_->release(h);
      return refuse(static_cast<swim_errc>(r.error().code()));
    }
    replace_claim(me.down_claim, h);
    enqueue_claim(c);
    set_timer(self_slot_, timer_kind::leave_done, now + ms(opts_.leave_propagate_ms));
    return ok();
  }

  /// Refuses, from now on, every alive claim whose admission epoch is below `epoch` (the
  /// admitter re-issued every statement; older ones are revoked). Members already held
  /// at a lower epoch stay until they rejoin at an admitted epoch or are declared dead.
  void revoke_admissions_below(std::uint64_t epoch) noexcept {
    admission_floor_ = std::max(admission_floor_, epoch);
  }
  [[nodiscard]] std::uint64_t admission_floor() const noexcept { return admission_floor_; }
  /// The admission epoch held for `id` (0 when unknown).
  [[nodiscard]] std::uint64_t admission_epoch_of(node_id id) const noexcept {
    const std::uint32_t* s = find_slot(id);
    return s == nullptr ? 0 : alive_claim_of(members_[*s]).admission_epoch;
  }

  /// Hands a signed claim (e.g. from configuration) to the core: it is authenticated and
  /// applied like a gossiped one, but not re-broadcast.
  result<void> add_member(time_point now, const member_claim& claim) noexcept {
    return handle_claim(now, claim, false);
  }

  /// A datagram from `from`.
  result<void> step(time_point now, address from, byte_view packet) noexcept {
    ++counters_.packets_received;
    counters_.bytes_received += packet.size();
    if (!running_) return refuse(swim_errc::not_running);
    if (packet.size() > opts_.mtu_bytes) return refuse(swim_errc::message_too_large);
    byte_reader r(packet);
    auto items = decode_header(r, header_, opts_.max_items_per_packet);
    if (!items) return refuse_error(items.error());
    if (header_.kind == packet_kind::push_pull) return refuse(swim_errc::malformed_message);
    WEFT_TRY(admit_sender(now, header_.sender));
    // Items first: a refutation they trigger then rides on the ack we answer with.
    const auto rest = handle_items(now, r, *items);
    const auto primary = handle_primary(now, from);
    return !rest ? rest : primary;
  }

  /// A stream message (push-pull) from `from`.
  result<void> step_stream(time_point now, address from, byte_view message) noexcept {
    ++counters_.packets_received;
    counters_.bytes_received += message.size();
    if (!running_) return refuse(swim_errc::not_running);
    if (message.size() > opts_.max_stream_message_bytes)
      return refuse(swim_errc::message_too_large);
    byte_reader r(message);
    auto items = decode_header(r, header_, std::uint64_t{opts_.max_members} * 2);
    if (!items) return refuse_error(items.error());
    if (header_.kind == packet_kind::ping || header_.kind == packet_kind::ack)
      return handle_stream_probe(now, from, *items, r);
    if (header_.kind != packet_kind::push_pull) return refuse(swim_errc::malformed_message);
    const bool is_reply = header_.seq != 0;
    for (std::uint64_t i = 0; i < *items; ++i) {
      auto d = decode_item(r, item_);
      if (!d) return refuse_error(d.error());
      if (!is_member_claim(item_.kind)) return refuse(swim_errc::malformed_message);
      if (i + 1 < *items && reaped_member_claims(r)) continue;
      (void)handle_claim(now, item_.claim, true);
    }
    if (!is_reply) return send_push_pull(from, true);
    if (members_[self_slot_].state == member_state::joining) WEFT_TRY(become_alive(now));
    return ok();
  }

  /// Runs every timer that is due at `now`.
  void tick(time_point now) noexcept {
    if (!running_) return;
    if (scheduled_ && now - last_tick_ >= ms(opts_.stall_threshold_ms)) recover_from_stall(now);
    last_tick_ = now;
    run_timers(now);
    if (!running_) return;
    if (now >= next_probe_at_) run_probe_round(now);
    if (probe_.active && !probe_.acked && !probe_.indirect_sent && now >= probe_.timeout_at)
      send_indirect_probes(now);
    expire_forwards(now);
    if (now >= next_gossip_at_) {
      gossip(now);
      next_gossip_at_ = now + ms(opts_.gossip_interval_ms);
    }
    if (now >= next_push_pull_at_) {
      const node_id* peer = random_peer(0);
      if (peer != nullptr) (void)send_push_pull(members_[*find_slot(*peer)].addr, false);
      next_push_pull_at_ = now + push_pull_interval();
    }
    flush_coalesced(now, false);
    expire_queries(now);
  }

  // ---- user messages ---------------------------------------------------------------------

  /// Queues an application message for piggybacked delivery to every member.
  result<std::uint64_t> broadcast(byte_view payload) noexcept {
    payload_item p{};
    p.kind = item_kind::app;
    p.id = ++app_seq_;
    WEFT_TRY(make_payload_item(p, {}, payload));
    WEFT_TRY(enqueue_payload(p));
    remember(p);
    return p.id;
  }

  /// A Serf-style user event: Lamport-ordered, coalesced by name within coalesce_period_ms.
  result<std::uint64_t> send_user_event(time_point now, byte_view name, byte_view payload) noexcept {
    payload_item p{};
    p.kind = item_kind::user_event;
    p.id = lamport_++;
    WEFT_TRY(make_payload_item(p, name, payload));
    WEFT_TRY(enqueue_payload(p));
    remember(p);
    deliver_event(now, p);
    return p.id;
  }

  /// Asks every member; responses arrive as query_response until query_done.
  result<std::uint64_t> query(time_point now, byte_view name, byte_view payload,
                              std::int64_t timeout_ms) noexcept {
    if (timeout_ms <= 0 || timeout_ms > opts_.query_timeout_ms_max)
      return refuse(swim_errc::payload_too_large);
    if (queries_.size() >= opts_.max_pending_queries) return refuse(swim_errc::queue_full);
    payload_item p{};
    p.kind = item_kind::query;
    p.id = lamport_++;
    p.origin_addr = self_.addr;
    p.timeout_ms = static_cast<std::uint32_t>(timeout_ms);
    WEFT_TRY(make_payload_item(p, name, payload));
    WEFT_TRY(enqueue_payload(p));
    remember(p);
    queries_.push_back(pending_query{p.id, now + ms(timeout_ms), 0});
    return p.id;
  }

  /// Answers query `id` asked by the member at `to` (both from the query notification).
  result<void> respond(address to, std::uint64_t id, byte_view payload) noexcept {
    if (payload.size() > opts_.max_payload_bytes) return refuse(swim_errc::payload_too_large);
    packet_header h{};
    h.kind = packet_kind::reply;
    h.sender = self_.id;
    h.seq = id;
    WEFT_TRY(h.payload.assign(payload));
    return send_packet(to, h, 0);
  }

  // ---- outputs and inspection ---------------------------------------------------------------

  [[nodiscard]] std::span<const outgoing> sends() const noexcept { return sends_; }
  [[nodiscard]] std::span<const notification> notifications() const noexcept {
    return notes_;
  }
  void clear_outputs() noexcept {
    sends_.clear();
    notes_.clear();
    datagram_used_ = 0;
    stream_used_ = 0;
    note_bytes_used_ = 0;
  }

  [[nodiscard]] const counters& stats() const noexcept { return counters_; }
  [[nodiscard]] const lifecycle_guard& lifecycle() const noexcept { return guard_; }
  [[nodiscard]] const options& config() const noexcept { return opts_; }
  [[nodiscard]] node_id id() const noexcept { return self_.id; }
  [[nodiscard]] bool running() const noexcept { return running_; }
  [[nodiscard]] std::uint64_t incarnation() const noexcept {
    return members_[self_slot_].incarnation;
  }
  [[nodiscard]] std::uint32_t health_score() const noexcept { return awareness_; }
  [[nodiscard]] std::size_t member_count() const noexcept { return used_slots_; }
  [[nodiscard]] std::size_t live_count() const noexcept { return live_; }
  [[nodiscard]] std::size_t broadcast_queue_size() const noexcept { return claims_.size(); }
  [[nodiscard]] std::size_t payload_queue_size() const noexcept { return payloads_.size(); }

  /// The state this member holds for `id` (absent when unknown).
  [[nodiscard]] member_state state_of(node_id id) const noexcept {
    const std::uint32_t* s = find_slot(id);
    return s == nullptr ? member_state::absent : members_[*s].state;
  }
  [[nodiscard]] std::uint64_t incarnation_of(node_id id) const noexcept {
    const std::uint32_t* s = find_slot(id);
    return s == nullptr ? 0 : members_[*s].incarnation;
  }
  [[nodiscard]] address address_of(node_id id) const noexcept {
    const std::uint32_t* s = find_slot(id);
    return s == nullptr ? 0 : members_[*s].addr;
  }
  /// This member's current signed alive claim (to seed other members' tables).
  [[nodiscard]] const member_claim& self_claim() const noexcept {
    return alive_claim_of(members_[self_slot_]);
  }
  /// The n in the protocol's log n terms: live members, or options::cluster_size_hint
  /// when the table holds only a partial view of a larger cluster.
  [[nodiscard]] double sizing_count() const noexcept {
    return static_cast<double>(std::max<std::size_t>({live_, opts_.cluster_size_hint, std::size_t{1}}));
  }
  /// The retransmit limit lambda * ceil(log10(n + 1)).
  [[nodiscard]] std::uint32_t retransmit_limit() const noexcept {
    const double n = sizing_count();
    return opts_.retransmit_multiplier * static_cast<std::uint32_t>(std::ceil(std::log10(n + 1)));
  }
  /// The Lifeguard suspicion timeout after `confirmations` independent confirmations
  /// (memberlist): max - (max - min) * log(c + 1) / log(k + 1), never below min.
  [[nodiscard]] duration suspicion_timeout(std::uint32_t confirmations) const noexcept {
    const double n = sizing_count();
    const double min_ns = static_cast<double>(opts_.suspicion_multiplier) *
                          std::max(1.0, std::log10(n)) *
                          static_cast<double>(to_ns(ms(opts_.probe_interval_ms)));
    const double max_ns = min_ns * static_cast<double>(opts_.suspicion_max_timeout_multiplier);
    const std::uint32_t k = expected_confirmations();
    if (k == 0) return duration{static_cast<std::int64_t>(min_ns)};
    const double frac = std::log(static_cast<double>(confirmations) + 1.0) /
                        std::log(static_cast<double>(k) + 1.0);
    const double t = max_ns - frac * (max_ns - min_ns);
    return duration{static_cast<std::int64_t>(std::max(t, min_ns))};
  }

 private:
  enum class timer_kind : std::uint8_t { none, suspicion, leave_done, reap };
  static constexpr std::uint32_t no_slot = 0xffffffffu;

  /// Dense: with full views a simulation holds n^2 of these. The claims live in the claim
  /// store; what only a suspect needs lives in suspicions_.
  struct member_record {
    node_id id = 0;
    std::uint64_t incarnation = 0;
    time_point deadline{};
    time_point window_start{};
    address addr = 0;
    claim_store::handle alive_claim = claim_store::none;
    claim_store::handle down_claim = claim_store::none;  // the last suspect/dead/leave claim
    std::uint32_t suspicion = no_slot;                   // index into suspicions_
    std::uint32_t timer_pos = no_slot;
    std::uint32_t packets_in_window = 0;
    member_state state = member_state::absent;
    timer_kind timer = timer_kind::none;
    bool in_use = false;
  };
  static_assert(sizeof(member_record) <= 64, "member_record is kept dense (n^2 in a simulation)");
  /// A suspicion being confirmed (Lifeguard): only suspects have one.
  struct suspicion_record {
    time_point suspect_since{};
    std::uint32_t confirmation_count = 0;
    std::array<node_id, max_confirmers> confirmers{};
  };
  /// The records. With a shared store they give their claims back when the core goes away
  /// or is replaced; an owned store goes away with them.
  struct record_table : std::vector<member_record> {
    claim_store* shared = nullptr;
    record_table() = default;
    record_table(const record_table&) = delete;
    record_table& operator=(const record_table&) = delete;
    record_table(record_table&& o) noexcept
        : std::vector<member_record>(std::move(o)), shared(o.shared) {
      o.clear();
    }
    record_table& operator=(record_table&& o) noexcept {
      if (this == &o) return *this;
      release_all();
      std::vector<member_record>::operator=(std::move(o));
      shared = o.shared;
      o.clear();
      return *this;
    }
    ~record_table() { release_all(); }
    void release_all() noexcept {
      if (shared != nullptr)
        for (member_record& m : *this) {
          shared->release(m.alive_claim);
          shared->release(m.down_claim);
        }
      this->clear();
    }
  };
  struct queued_claim {
    member_claim claim;
    std::uint32_t transmits = 0;
    bool picked = false;
  };
  struct queued_payload {
    payload_item item;
    std::uint32_t transmits = 0;
    bool picked = false;
  };
  struct probe_state {
    bool active = false, acked = false, indirect_sent = false;
    node_id target = 0;
    std::uint64_t seq = 0;
    time_point timeout_at{};
    std::uint32_t expected_nacks = 0, nacks = 0;
  };
  struct forward {
    std::uint64_t own_seq = 0, their_seq = 0;
    address requester = 0;
    time_point deadline{};
  };
  struct seen_key {
    item_kind kind = item_kind::app;
    node_id origin = 0;
    std::uint64_t id = 0;
  };
  struct unknown_sender {
    node_id id = 0;
    time_point window_start{};
    std::uint32_t packets = 0;
  };
  struct pending_query {
    std::uint64_t id = 0;
    time_point deadline{};
    std::uint32_t responses = 0;
  };

  basic_core(const options& opts, const identity& self, Scheme signer, Random random,
             claim_store* shared_claims) noexcept
      : opts_(opts), self_(self), signer_(std::move(signer)), random_(std::move(random)),
        guard_(opts.max_incarnation_jump) {
    if (shared_claims == nullptr) {
      // Two claims per record at most, plus one while a record's claim is replaced.
      own_claims_ = std::make_unique<claim_store>(opts.max_members * 2 + 2);
      shared_claims = own_claims_.get();
    }
    claims_store_ = shared_claims;
    members_.shared = own_claims_ ? nullptr : shared_claims;
    members_.resize(opts.max_members);
    suspicions_.resize(opts.max_suspects);
    free_suspicions_.reserve(opts.max_suspects);
    for (std::uint32_t i = opts.max_suspects; i-- > 0;) free_suspicions_.push_back(i);
    index_.assign(std::size_t{opts.max_members} * 2, no_slot);
    free_.reserve(opts.max_members);
    for (std::uint32_t i = opts.max_members; i-- > 0;) free_.push_back(i);
    probe_order_.reserve(opts.max_members);
    timers_.reserve(opts.max_members);
    claims_.reserve(opts.max_broadcasts);
    payloads_.reserve(opts.max_payload_broadcasts);
    order_scratch_.reserve(std::max(opts.max_broadcasts, opts.max_payload_broadcasts));
    forwards_.reserve(opts.max_forwarded_probes);
    unknown_senders_.resize(opts.max_unknown_senders);
    push_pull_slots_.reserve(std::min(opts.max_push_pull_members, opts.max_members) + 1);
    seen_.resize(opts.max_recent_events);
    coalesced_.reserve(opts.max_coalesced_events);
    queries_.reserve(opts.max_pending_queries);
    responders_.reserve(std::size_t{opts.max_pending_queries} * opts.max_responses_per_query);
    datagram_arena_.resize(std::size_t{opts.max_outgoing_datagrams} * opts.mtu_bytes);
    stream_arena_.resize(std::size_t{opts.max_outgoing_streams} * opts.max_stream_message_bytes);
    item_scratch_.resize(opts.mtu_bytes);
    // Also measures claims for push-pull, which may be larger than a small MTU: an alive
    // claim with the largest key and signatures encodes to about 210 bytes.
    claim_scratch_.resize(std::max<std::size_t>(opts.mtu_bytes, 256));
    sends_.reserve(std::size_t{opts.max_outgoing_datagrams} + opts.max_outgoing_streams);
    notes_.reserve(opts.max_pending_notifications);
    note_bytes_.resize(opts.max_notification_bytes);
  }

  static constexpr duration ms(std::int64_t v) noexcept { return milliseconds(v); }

  // ---- errors -----------------------------------------------------------------------------
  error refuse(swim_errc code) noexcept {
    ++counters_.refused[static_cast<std::size_t>(code)];
    return error(code, "swim core");
  }
  error refuse_error(const error& e) noexcept {
    if (&e.domain() == &error_domain_of<swim_errc>::domain && e.code() < swim_errc_count)
      ++counters_.refused[e.code()];
    else
      ++counters_.refused[static_cast<std::size_t>(swim_errc::malformed_message)];
    return e;
  }

  // ---- member table -------------------------------------------------------------------------
  [[nodiscard]] std::size_t hash_of(node_id id) const noexcept {
    std::uint64_t z = id * 0x9e3779b97f4a7c15ull;
    z ^= z >> 29;
    return static_cast<std::size_t>(z % index_.size());
  }
  [[nodiscard]] const std::uint32_t* find_slot(node_id id) const noexcept {
    for (std::size_t i = hash_of(id), n = 0; n < index_.size(); ++n, i = (i + 1) % index_.size()) {
      const std::uint32_t s = index_[i];
      if (s == no_slot) return nullptr;
      if (members_[s].id == id) return &index_[i];
    }
    return nullptr;
  }
  [[nodiscard]] const member_claim& alive_claim_of(const member_record& m) const noexcept {
    return m.alive_claim == claim_store::none ? no_claim_ : claims_store_->get(m.alive_claim);
  }
  [[nodiscard]] const member_claim& down_claim_of(const member_record& m) const noexcept {
    return m.down_claim == claim_store::none ? no_claim_ : claims_store_->get(m.down_claim);
  }
  /// `next` is already acquired: it replaces what `held` referred to.
  void replace_claim(claim_store::handle& held, claim_store::handle next) noexcept {
    claims_store_->release(held);
    held = next;
  }
  /// A member that is no longer suspect gives its suspicion entry back.
  void settle_suspicion(member_record& m) noexcept {
    if (m.state == member_state::suspect || m.suspicion == no_slot) return;
    free_suspicions_.push_back(m.suspicion);
    m.suspicion = no_slot;
  }
  [[nodiscard]] member_record* find(node_id id) noexcept {
    const std::uint32_t* s = find_slot(id);
    return s == nullptr ? nullptr : &members_[*s];
  }
  result<std::uint32_t> insert(node_id id) noexcept {
    if (free_.empty()) return error(swim_errc::member_table_full, "swim table");
    const std::uint32_t slot = free_.back();
    free_.pop_back();
    members_[slot] = member_record{};
    members_[slot].id = id;
    members_[slot].in_use = true;
    std::size_t i = hash_of(id);
    while (index_[i] != no_slot) i = (i + 1) % index_.size();
    index_[i] = slot;
    ++used_slots_;
    // Randomized round-robin: a newcomer takes a random place in the probe order.
    probe_order_.push_back(slot);
    const std::size_t j = uniform_below(random_, probe_order_.size());
    std::swap(probe_order_[j], probe_order_.back());
    return slot;
  }
  void erase(std::uint32_t slot) noexcept {
    member_record& m = members_[slot];
    cancel_timer(slot);
    // Backward-shift deletion keeps linear probing correct without tombstones.
    std::size_t i = hash_of(m.id);
    while (index_[i] != slot) i = (i + 1) % index_.size();
    std::size_t j = i;
    for (;;) {
      j = (j + 1) % index_.size();
      if (index_[j] == no_slot) break;
      const std::size_t home = hash_of(members_[index_[j]].id);
      const bool between = i <= j ? (i < home && home <= j) : (i < home || home <= j);
      if (!between) {
        index_[i] = index_[j];
        i = j;
      }
    }
    index_[i] = no_slot;
    auto it = std::find(probe_order_.begin(), probe_order_.end(), slot);
    if (it != probe_order_.end()) {
      const auto pos = static_cast<std::size_t>(it - probe_order_.begin());
      probe_order_.erase(it);
      if (probe_cursor_ > pos) --probe_cursor_;
    }
    m.in_use = false;
    m.state = member_state::absent;
    settle_suspicion(m);
    replace_claim(m.alive_claim, claim_store::none);
    replace_claim(m.down_claim, claim_store::none);
    free_.push_back(slot);
    --used_slots_;
  }
  static bool is_live(member_state s) noexcept {
    return s == member_state::alive || s == member_state::suspect ||
           s == member_state::leaving;
  }
  void note_state_change(member_state before, member_state after) noexcept {
    if (is_live(before) && !is_live(after)) --live_;
    if (!is_live(before) && is_live(after)) ++live_;
  }

  // ---- timers ---------------------------------------------------------------------------------
  void set_timer(std::uint32_t slot, timer_kind kind, time_point at) noexcept {
    member_record& m = members_[slot];
    if (m.timer_pos == no_slot) {
      m.timer_pos = static_cast<std::uint32_t>(timers_.size());
      timers_.push_back(slot);
    }
    m.timer = kind;
    m.deadline = at;
  }
  void cancel_timer(std::uint32_t slot) noexcept {
    member_record& m = members_[slot];
    if (m.timer_pos == no_slot) return;
    const std::uint32_t last = timers_.back();
    timers_[m.timer_pos] = last;
    members_[last].timer_pos = m.timer_pos;
    timers_.pop_back();
    m.timer_pos = no_slot;
    m.timer = timer_kind::none;
  }
  void run_timers(time_point now) noexcept {
    for (std::size_t i = 0; i < timers_.size();) {
      const std::uint32_t slot = timers_[i];
      member_record& m = members_[slot];
      if (m.deadline > now) {
        ++i;
        continue;
      }
      const timer_kind kind = m.timer;
      cancel_timer(slot);  // moves another timer into position i
      fire(now, slot, kind);
    }
  }
  void fire(time_point now, std::uint32_t slot, timer_kind kind) noexcept {
    member_record& m = members_[slot];
    if (kind == timer_kind::reap) {
      if (m.state == member_state::dead || m.state == member_state::left) erase(slot);
      return;
    }
    if (kind == timer_kind::suspicion) {
      member_claim c{};
      c.kind = item_kind::dead;
      c.subject = m.id;
      c.incarnation = m.incarnation;
      c.from = self_.id;
      if (!sign_claim(c)) return;
      const claim_store::handle h = claims_store_->acquire(c);
      if (h == claim_store::none) return;
      const member_state before = m.state;
      auto r = guard_.apply(m.state, m.incarnation, member_event::suspicion_timeout, 0);
      if (!r) {
        claims_store_->release(h);
        return;
      }
      note_state_change(before, m.state);
      settle_suspicion(m);
      replace_claim(m.down_claim, h);
      ++counters_.dead_verdicts;
      enqueue_claim(c);
      notify(notification_kind::member_failed, m);
      set_timer(slot, timer_kind::reap, now + ms(opts_.dead_retention_ms));
      return;
    }
    // leave_done
    const member_state before = m.state;
    if (!guard_.apply(m.state, m.incarnation, member_event::leave_done, 0)) return;
    note_state_change(before, m.state);
    notify(notification_kind::member_left, m);
    if (slot == self_slot_) {
      running_ = false;
      return;
    }
    set_timer(slot, timer_kind::reap, now + ms(opts_.dead_retention_ms));
  }

  // ---- self ---------------------------------------------------------------------------------
  /// With a store: start above every incarnation used before, and record it first.
  result<void> restore_incarnation() noexcept {
    const incarnation_store& store = self_.incarnations;
    if (!store.present()) return ok();
    WEFT_TRY_ASSIGN(const std::uint64_t used, store.load(store.context));
    if (used == ~std::uint64_t{0})
      return error(swim_errc::impossible_incarnation, "swim: stored incarnation exhausted");
    self_.incarnation = std::max(self_.incarnation, used + 1);
    return store.persist(store.context, self_.incarnation);
  }
  result<void> install_self() noexcept {
    WEFT_TRY(restore_incarnation());
    WEFT_TRY_ASSIGN(const std::uint32_t slot, insert(self_.id));
    self_slot_ = slot;
    member_record& me = members_[slot];
    me.addr = self_.addr;
    auto r = guard_.apply(me.state, me.incarnation, member_event::join, self_.incarnation);
    if (!r) return r.error();
    return sign_self_alive(self_.incarnation);
  }
  result<void> sign_self_alive(std::uint64_t inc) noexcept {
    member_record& me = members_[self_slot_];
    member_claim c{};
    c.kind = item_kind::alive;
    c.subject = self_.id;
    c.from = self_.id;
    c.incarnation = inc;
    c.addr = self_.addr;
    WEFT_TRY(c.key.assign(signer_.public_key()));
    c.admitter = self_.admitter;
    c.admission_epoch = self_.admission_epoch;
    c.admission = self_.admission;
    WEFT_TRY(sign_claim(c));
    const claim_store::handle h = claims_store_->acquire(c);
    if (h == claim_store::none) return error(swim_errc::member_table_full, "swim: claim store");
    replace_claim(me.alive_claim, h);
    return ok();
  }
  result<void> become_alive(time_point now) noexcept {
    member_record& me = members_[self_slot_];
    if (me.state == member_state::alive) return ok();
    const member_state before = me.state;
    auto r = guard_.apply(me.state, me.incarnation, member_event::alive, me.incarnation);
    if (!r) return refuse(static_cast<swim_errc>(r.error().code()));
    note_state_change(before, me.state);
    enqueue_claim(alive_claim_of(me));
    notify(notification_kind::joined_cluster, me);
    (void)now;
    return ok();
  }
  /// Someone claims we are suspect/dead (or alive at a newer incarnation): refute.
  void refute(std::uint64_t claimed) noexcept {
    member_record& me = members_[self_slot_];
    if (claimed < me.incarnation || !is_live(me.state) || me.state == member_state::leaving)
      return;
    if (claimed == ~std::uint64_t{0}) return;
    const std::uint64_t next = claimed + 1;
    if (next - me.incarnation > opts_.max_incarnation_jump) {
      ++counters_.refused[static_cast<std::size_t>(swim_errc::impossible_incarnation)];
      return;
    }
    const incarnation_store& store = self_.incarnations;
    if (store.present() && !store.persist(store.context, next)) {
      ++counters_.incarnation_persist_failures;
      return;
    }
    me.incarnation = next;
    if (!sign_self_alive(next)) return;
    ++counters_.refutations;
    bump_awareness(1);
    enqueue_claim(alive_claim_of(me));
  }
  /// We did not run for a while (a GC pause, a stopped VM): whatever we missed, others may
  /// be suspecting us and our own probe has no answer to count. Drop the probe instead of
  /// accusing its target, refute pre-emptively, and trust ourselves less for a while.
  void recover_from_stall(time_point now) noexcept {
    ++counters_.stalls;
    probe_.active = false;
    forwards_.clear();
    bump_awareness(1);
    next_probe_at_ = now + scaled(opts_.probe_interval_ms);
    const member_record& me = members_[self_slot_];
    if (me.state == member_state::alive || me.state == member_state::suspect)
      refute(me.incarnation);
  }
  void schedule_all(time_point now) noexcept {
    if (scheduled_) return;
    scheduled_ = true;
    last_tick_ = now;
    const auto jitter = [&](std::int64_t span_ms) {
      return duration{static_cast<std::int64_t>(
          uniform_below(random_, static_cast<std::uint64_t>(to_ns(ms(span_ms)))))};
    };
    next_probe_at_ = now + jitter(opts_.probe_interval_ms);
    next_gossip_at_ = now + jitter(opts_.gossip_interval_ms);
    next_push_pull_at_ = now + jitter(opts_.push_pull_interval_ms);
  }

  // ---- signing and verification -------------------------------------------------------------
  result<void> sign_claim(member_claim& c) noexcept {
    std::array<std::uint8_t, 256> buf{};
    byte_writer w(buf);
    WEFT_TRY(encode_claim(w, c, true));
    WEFT_TRY(signer_.sign(w.written(), c.signature.bytes));
    c.signature.size = static_cast<std::uint16_t>(Scheme::signature_bytes);
    return ok();
  }
  [[nodiscard]] bool verify_claim(const member_claim& c, byte_view key) const noexcept {
    std::array<std::uint8_t, 256> buf{};
    byte_writer w(buf);
    if (!encode_claim(w, c, true)) return false;
    return Scheme::verify(key, w.written(), c.signature.view());
  }
  [[nodiscard]] bool verify_payload(const payload_item& p, byte_view key) const noexcept {
    std::array<std::uint8_t, max_payload_bytes_cap + 128> buf{};
    byte_writer w(buf);
    if (!encode_payload_item(w, p, true)) return false;
    return Scheme::verify(key, w.written(), p.signature.view());
  }
  /// The key that vouches for `admitter`: a trust anchor or an admitted, known member.
  [[nodiscard]] const blob<max_public_key_bytes>* admitter_key(node_id admitter) noexcept {
    if (admitter >= anchor_id_base) {
      const std::uint64_t i = admitter - anchor_id_base;
      return i < anchor_count_ ? &anchors_[i] : nullptr;
    }
    member_record* m = find(admitter);
    if (m == nullptr || m->state == member_state::dead || m->state == member_state::left)
      return nullptr;
    return &alive_claim_of(*m).key;
  }
  result<void> verify_admission(const member_claim& c) noexcept {
    const blob<max_public_key_bytes>* k = admitter_key(c.admitter);
    if (k == nullptr) return error(swim_errc::not_admitted, "swim: admitter unknown");
    std::array<std::uint8_t, 96> msg{};
    auto n = admission_message(c.subject, c.key.view(), c.admission_epoch, msg);
    if (!n || !Scheme::verify(k->view(), byte_view(msg).first(*n), c.admission.view()))
      return error(swim_errc::not_admitted, "swim: admission signature");
    return ok();
  }
  /// Checks a claim's signature (and, for a newcomer, its admission) before it is applied.
  result<void> authenticate(const member_claim& c, const member_record* subject) noexcept {
    if (c.kind == item_kind::alive) {
      WEFT_TRY(check_admission(c, subject));
      if (!verify_claim(c, c.key.view())) return error(swim_errc::bad_signature, "swim: alive");
      return ok();
    }
    const member_record* signer =
        c.kind == item_kind::leave ? subject : (c.from == self_.id ? &members_[self_slot_]
                                                                   : find_const(c.from));
    if (signer == nullptr || alive_claim_of(*signer).key.size == 0)
      return error(swim_errc::unknown_member, "swim: accuser unknown");
    if (!verify_claim(c, alive_claim_of(*signer).key.view()))
      return error(swim_errc::bad_signature, "swim: claim");
    return ok();
  }
  [[nodiscard]] const member_record* find_const(node_id id) const noexcept {
    const std::uint32_t* s = find_slot(id);
    return s == nullptr ? nullptr : &members_[*s];
  }
  /// An alive claim's admission, ordered by epoch: below the one held for the subject (or
  /// below the revocation floor) is a replayed or superseded statement; the held epoch
  /// must come with the held key; a higher epoch is a re-issue (key rotation) and is
  /// verified like a newcomer's.
  result<void> check_admission(const member_claim& c, const member_record* subject) noexcept {
    if (c.admission_epoch < admission_floor_)
      return error(swim_errc::superseded_admission, "swim: revoked admission epoch");
    if (subject == nullptr || alive_claim_of(*subject).key.size == 0) return verify_admission(c);
    const member_claim& held = alive_claim_of(*subject);
    if (c.admission_epoch < held.admission_epoch)
      return error(swim_errc::superseded_admission, "swim: superseded admission");
    if (c.admission_epoch > held.admission_epoch) return verify_admission(c);
    if (!equal_bytes(held.key.view(), c.key.view()))
      return error(swim_errc::not_admitted, "swim: another key at the held epoch");
    return ok();
  }
  /// A compact alive claim (no key, no admission) is completed from the table: it can only
  /// speak for the key and admission we hold for the subject at the same epoch.
  result<void> complete_compact(member_claim& c) const noexcept {
    const member_record* held =
        c.subject == self_.id ? &members_[self_slot_] : find_const(c.subject);
    if (held == nullptr) return error(swim_errc::unknown_member, "swim: compact claim");
    const member_claim& alive = alive_claim_of(*held);
    if (alive.key.size == 0 || alive.admission_epoch != c.admission_epoch ||
        alive.admitter != c.admitter)
      return error(swim_errc::unknown_member, "swim: compact claim about a member not held");
    c.key = alive.key;
    c.admission = alive.admission;
    return ok();
  }

  // ---- claims ---------------------------------------------------------------------------------
  static member_event event_of(item_kind k) noexcept {
    switch (k) {
      case item_kind::alive: return member_event::alive;
      case item_kind::suspect: return member_event::suspect;
      case item_kind::dead: return member_event::dead;
      default: return member_event::leave;
    }
  }
  result<void> handle_claim(time_point now, const member_claim& received, bool relay) noexcept {
    if (received.subject == 0 || received.subject >= anchor_id_base)
      return refuse(swim_errc::malformed_message);
    const member_claim* claim = &received;
    if (received.kind == item_kind::alive && received.key.size == 0) {
      completed_ = received;
      if (auto k = complete_compact(completed_); !k) return refuse(swim_errc::unknown_member);
      claim = &completed_;
    }
    const member_claim& c = *claim;
    if (c.subject == self_.id) return handle_claim_about_self(c);
    member_record* m = find(c.subject);
    const member_state held_state = m == nullptr ? member_state::absent : m->state;
    const std::uint64_t held_inc = m == nullptr ? 0 : m->incarnation;
    auto d = decide(held_state, held_inc, event_of(c.kind), c.incarnation,
                    opts_.max_incarnation_jump);
    if (!d) {
      const auto code = static_cast<swim_errc>(d.error().code());
      guard_.count_refusal(code);
      if (code == swim_errc::stale_incarnation) {
        if (c.incarnation < held_inc) ++counters_.replays;
        if (c.incarnation < held_inc && c.kind != item_kind::alive && m->state == member_state::alive)
          relay_refutation(*m);
        else ++counters_.duplicates;  // the same claim again: ordinary gossip redundancy
        if (c.kind == item_kind::alive && c.incarnation == held_inc && c.addr != m->addr)
          ++counters_.address_conflicts;  // same incarnation, other address: refused
      }
      if (code == swim_errc::redundant_claim) ++counters_.duplicates;
      return refuse(code);
    }
    if (auto a = authenticate(c, m); !a) {
      const auto code = static_cast<swim_errc>(a.error().code());
      if (code == swim_errc::superseded_admission) ++counters_.replays;
      else ++counters_.forged;
      return refuse(code);
    }
    const claim_store::handle h = claims_store_->acquire(c);
    if (h == claim_store::none) return refuse(swim_errc::member_table_full);
    if (m == nullptr) {
      auto slot = insert(c.subject);
      if (!slot) {
        claims_store_->release(h);
        return refuse(swim_errc::member_table_full);
      }
      m = &members_[*slot];
    }
    const member_state before = m->state;
    const std::uint64_t before_inc = m->incarnation;
    auto r = guard_.apply(m->state, m->incarnation, event_of(c.kind), c.incarnation);
    if (!r) {
      claims_store_->release(h);
      return refuse(static_cast<swim_errc>(r.error().code()));
    }
    note_state_change(before, m->state);
    settle_suspicion(*m);
    const bool changed = apply_effects(now, *m, c, h, *r, before, before_inc);
    if (relay && changed) enqueue_claim(c);
    return ok();
  }
  result<void> handle_claim_about_self(const member_claim& c) noexcept {
    if (c.kind == item_kind::alive) {
      // Our own claim echoed back, or a claim from a previous life: outbid it.
      if (!verify_claim(c, signer_.public_key())) {
        ++counters_.forged;
        return refuse(swim_errc::bad_signature);
      }
      if (c.incarnation > members_[self_slot_].incarnation ||
          (c.incarnation == members_[self_slot_].incarnation && c.addr != self_.addr))
        refute(c.incarnation);
      return ok();
    }
    if (c.kind == item_kind::leave) return ok();
    const member_record* accuser = find_const(c.from);
    if (accuser == nullptr || !verify_claim(c, alive_claim_of(*accuser).key.view())) {
      ++counters_.forged;
      return refuse(swim_errc::bad_signature);
    }
    if (c.incarnation < members_[self_slot_].incarnation) {
      relay_refutation(members_[self_slot_]);  // someone missed our refutation: repeat it
      return ok();
    }
    refute(c.incarnation);
    return ok();
  }
  /// Side effects of an applied transition. Returns whether the claim is news to relay.
  /// `h` is the store's handle for `c`, which the record now keeps (or gives back).
  bool apply_effects(time_point now, member_record& m, const member_claim& c,
                     claim_store::handle h, const transition_result& r, member_state before,
                     std::uint64_t before_inc) noexcept {
    const std::uint32_t slot = *find_slot(m.id);
    switch (c.kind) {
      case item_kind::alive: {
        const bool moved = m.addr != c.addr && before != member_state::absent;
        m.addr = c.addr;
        replace_claim(m.alive_claim, h);
        cancel_timer(slot);
        if (moved) ++counters_.address_changes;
        notification_kind k = notification_kind::member_updated;
        if (r.rejoined) k = notification_kind::member_rejoined;
        else if (before == member_state::absent || before == member_state::joining)
          k = notification_kind::member_joined;
        else if (before == member_state::suspect) k = notification_kind::member_refuted;
        notify(k, m, moved);
        return true;
      }
      case item_kind::suspect: {
        if (before == member_state::suspect && before_inc == c.incarnation) {
          claims_store_->release(h);  // the first accuser's claim stays the one relayed
          return confirm_suspicion(now, m, c.from);
        }
        replace_claim(m.down_claim, h);
        start_suspicion(now, slot, c.from);
        notify(notification_kind::member_suspected, m);
        return true;
      }
      case item_kind::dead: {
        replace_claim(m.down_claim, h);
        ++counters_.dead_verdicts;
        notify(notification_kind::member_failed, m);
        set_timer(slot, timer_kind::reap, now + ms(opts_.dead_retention_ms));
        return true;
      }
      default: {  // leave
        replace_claim(m.down_claim, h);
        notify(notification_kind::member_leaving, m);
        set_timer(slot, timer_kind::leave_done, now + ms(opts_.leave_propagate_ms));
        return true;
      }
    }
  }
  [[nodiscard]] std::uint32_t expected_confirmations() const noexcept {
    const std::uint32_t k = opts_.suspicion_multiplier > 2 ? opts_.suspicion_multiplier - 2 : 0;
    return live_ < std::size_t{k} + 2 ? 0 : k;
  }
  void start_suspicion(time_point now, std::uint32_t slot, node_id accuser) noexcept {
    member_record& m = members_[slot];
    ++counters_.suspicions_started;
    if (m.suspicion == no_slot && !free_suspicions_.empty()) {
      m.suspicion = free_suspicions_.back();
      free_suspicions_.pop_back();
    }
    if (m.suspicion == no_slot) {
      ++counters_.suspicions_untracked;  // no confirmations: the longest timeout stays
    } else {
      suspicion_record& s = suspicions_[m.suspicion];
      s = suspicion_record{};
      s.suspect_since = now;
      s.confirmers[0] = accuser;
    }
    set_timer(slot, timer_kind::suspicion, now + suspicion_timeout(0));
  }
  bool confirm_suspicion(time_point now, member_record& m, node_id accuser) noexcept {
    if (m.suspicion == no_slot) return false;
    suspicion_record& s = suspicions_[m.suspicion];
    const std::uint32_t k = expected_confirmations();
    if (s.confirmation_count >= k || s.confirmation_count + 1 >= max_confirmers) return false;
    for (std::uint32_t i = 0; i <= s.confirmation_count; ++i)
      if (s.confirmers[i] == accuser) return false;
    s.confirmers[++s.confirmation_count] = accuser;
    ++counters_.confirmations;
    const time_point at = s.suspect_since + suspicion_timeout(s.confirmation_count);
    if (m.timer == timer_kind::suspicion) m.deadline = std::max(at, now);
    return true;
  }

  // ---- broadcast queues -------------------------------------------------------------------------
  /// Someone still spreads a suspicion we know was refuted: spread the refutation again
  /// (unless a claim about that member is already queued), so laggards hear it in time.
  void relay_refutation(const member_record& m) noexcept {
    if (alive_claim_of(m).signature.size == 0 || !is_live(m.state)) return;
    for (const auto& q : claims_)
      if (q.claim.subject == m.id) return;
    ++counters_.refutations_relayed;
    enqueue_claim(alive_claim_of(m));
  }
  void enqueue_claim(const member_claim& c) noexcept {
    for (auto& q : claims_) {
      if (q.claim.subject == c.subject) {  // a newer claim about a member replaces the old
        q.claim = c;
        q.transmits = 0;
        return;
      }
    }
    if (claims_.size() >= opts_.max_broadcasts) {
      // Full: drop the most-transmitted claim (it has spread furthest) and count it.
      auto worst = std::max_element(claims_.begin(), claims_.end(),
                                    [](const queued_claim& a, const queued_claim& b) {
                                      return a.transmits < b.transmits;
                                    });
      *worst = claims_.back();
      claims_.pop_back();
      ++counters_.broadcasts_dropped;
    }
    claims_.push_back(queued_claim{c, 0});
  }
  result<void> enqueue_payload(const payload_item& p) noexcept {
    if (payloads_.size() >= opts_.max_payload_broadcasts) return refuse(swim_errc::queue_full);
    payloads_.push_back(queued_payload{p, 0});
    return ok();
  }
  result<void> make_payload_item(payload_item& p, byte_view name, byte_view payload) noexcept {
    if (!running_) return refuse(swim_errc::not_running);
    if (payload.size() > opts_.max_payload_bytes || name.size() > max_name_bytes)
      return refuse(swim_errc::payload_too_large);
    p.origin = self_.id;
    WEFT_TRY(p.name.assign(name));
    WEFT_TRY(p.payload.assign(payload));
    std::array<std::uint8_t, max_payload_bytes_cap + 128> buf{};
    byte_writer w(buf);
    WEFT_TRY(encode_payload_item(w, p, true));
    WEFT_TRY(signer_.sign(w.written(), p.signature.bytes));
    p.signature.size = static_cast<std::uint16_t>(Scheme::signature_bytes);
    return ok();
  }

  /// Appends queued items, fewest transmissions first, while they fit in `budget` bytes.
  template <class Queue, class Encode>
  void pick(Queue& queue, byte_writer& items, std::size_t budget, std::uint32_t& count,
            node_id skip_subject, Encode encode) noexcept {
    order_scratch_.clear();
    for (std::uint32_t i = 0; i < queue.size(); ++i)
      if (!queue[i].picked) order_scratch_.push_back(i);
    std::sort(order_scratch_.begin(), order_scratch_.end(), [&](std::uint32_t a, std::uint32_t b) {
      return queue[a].transmits < queue[b].transmits;
    });
    for (std::uint32_t i : order_scratch_) {
      if (count >= opts_.max_items_per_packet || items.size() >= budget) break;
      if (skip_subject != 0 && subject_of(queue[i]) == skip_subject) continue;
      const std::size_t room = std::min(claim_scratch_.size(), budget - items.size());
      byte_writer trial(mutable_byte_view(claim_scratch_.data(), room));
      if (!encode(trial, queue[i])) continue;  // too big for what is left: try smaller ones
      (void)items.put(trial.written());
      ++count;
      queue[i].picked = true;
    }
  }
  static node_id subject_of(const queued_claim& q) noexcept { return q.claim.subject; }
  static node_id subject_of(const queued_payload&) noexcept { return 0; }
  /// Counts a transmission for every item the last packet carried; retires spent ones.
  template <class Queue>
  void settle(Queue& queue) noexcept {
    const std::uint32_t limit = retransmit_limit();
    for (std::size_t i = 0; i < queue.size();) {
      auto& q = queue[i];
      if (q.picked) {
        q.picked = false;
        if (++q.transmits >= limit) {
          q = queue.back();
          queue.pop_back();
          continue;
        }
      }
      ++i;
    }
  }

  /// Room for one more queued send of at most `size_bytes`, written at `used` into an
  /// arena of `arena_bytes`: every send checks both limits, and a full queue or arena is
  /// the same counted refusal whatever the send.
  result<void> check_send_room(std::size_t used, std::size_t size_bytes,
                               std::size_t arena_bytes) noexcept {
    if (sends_.size() >= opts_.max_outgoing_datagrams + opts_.max_outgoing_streams ||
        used + size_bytes > arena_bytes) {
      ++counters_.sends_dropped;
      return refuse(swim_errc::queue_full);
    }
    return ok();
  }

  /// Encodes header + piggybacked items (the buddy claim first) into one datagram.
  result<void> send_packet(address to, const packet_header& h, node_id buddy) noexcept {
    WEFT_TRY(check_send_room(datagram_used_, opts_.mtu_bytes, datagram_arena_.size()));
    byte_writer w(mutable_byte_view(datagram_arena_.data() + datagram_used_, opts_.mtu_bytes));
    WEFT_TRY(encode_header(w, h));
    const std::size_t head_room = array_head_size(opts_.max_items_per_packet);
    if (w.size() + head_room > opts_.mtu_bytes) return refuse(swim_errc::message_too_large);
    const std::size_t budget = opts_.mtu_bytes - w.size() - head_room;
    byte_writer items(mutable_byte_view(item_scratch_.data(), budget));
    std::uint32_t count = 0;
    if (buddy != 0) {  // Lifeguard buddy system: tell a suspect it is suspected
      const member_record* b = find_const(buddy);
      if (b != nullptr && b->state == member_state::suspect && encode_claim(items, down_claim_of(*b)))
        ++count;
    }
    // An alive claim larger than a whole packet (Ed25519 at a small MTU) goes compact:
    // receivers that hold the member can check it; newcomers learn it by push-pull.
    const auto enc_claim = [budget](byte_writer& out, const queued_claim& q) {
      const bool compact = q.claim.kind == item_kind::alive &&
                           encoded_claim_size(q.claim) > budget;
      return encode_claim(out, q.claim, false, compact);
    };
    const auto enc_payload = [](byte_writer& out, const queued_payload& q) {
      return encode_payload_item(out, q.item);
    };
    if (payloads_first(budget)) {
      pick(payloads_, items, budget, count, 0, enc_payload);
      pick(claims_, items, budget, count, buddy, enc_claim);
    } else {
      const std::size_t reserved =
          payloads_.empty() ? 0 : budget * opts_.app_share_percent / 100;
      pick(claims_, items, budget - reserved, count, buddy, enc_claim);
      pick(payloads_, items, budget, count, 0, enc_payload);
      pick(claims_, items, budget, count, buddy, enc_claim);
    }
    settle(claims_);
    settle(payloads_);
    if (h.kind == packet_kind::gossip && count == 0) return ok();
    WEFT_TRY(encode_array_head(w, count));
    WEFT_TRY(w.put(items.written()));
    datagram_used_ += w.size();
    sends_.push_back(outgoing{to, channel::datagram, w.written()});
    ++counters_.datagrams_sent;
    counters_.datagram_bytes_sent += w.size();
    return ok();
  }

  /// The app share reserves part of each packet for payload items; when even the
  /// smallest queued item is larger than that part (small MTUs), the share is kept over
  /// packets instead: every other packet with payloads queued packs them first.
  [[nodiscard]] bool payloads_first(std::size_t budget) noexcept {
    if (payloads_.empty() || opts_.app_share_percent == 0) return false;
    const std::size_t reserved = budget * opts_.app_share_percent / 100;
    std::size_t smallest = budget + 1;
    for (const queued_payload& q : payloads_)
      smallest = std::min(smallest, encoded_payload_size(q.item));
    if (smallest <= reserved) return false;
    return (packets_built_++ & 1) == 0;
  }

  result<void> send_push_pull(address to, bool is_reply) noexcept {
    WEFT_TRY(check_send_room(stream_used_, opts_.max_stream_message_bytes, stream_arena_.size()));
    const std::uint64_t entries = plan_push_pull();
    byte_writer w(mutable_byte_view(stream_arena_.data() + stream_used_,
                                    opts_.max_stream_message_bytes));
    packet_header h{};
    h.kind = packet_kind::push_pull;
    h.sender = self_.id;
    h.seq = is_reply ? 1 : 0;
    WEFT_TRY(encode_header(w, h));
    WEFT_TRY(encode_array_head(w, entries));
    for (const std::uint32_t slot : push_pull_slots_) {
      const member_record& m = members_[slot];
      if (!encode_claim(w, alive_claim_of(m))) return refuse(swim_errc::message_too_large);
      if (carries_down_claim(m) && !encode_claim(w, down_claim_of(m)))
        return refuse(swim_errc::message_too_large);
    }
    stream_used_ += w.size();
    sends_.push_back(outgoing{to, channel::stream, w.written()});
    ++counters_.streams_sent;
    counters_.stream_bytes_sent += w.size();
    return ok();
  }
  /// True when item_ is the alive claim of a member we do not hold and the next claim in
  /// the push-pull declares it dead or leaving: like memberlist, we do not learn members
  /// only to bury them (a member that reaped a dead record would otherwise take it back
  /// from the next push-pull and declare it dead a second time). The next claim is then
  /// refused as unknown_member.
  [[nodiscard]] bool reaped_member_claims(const byte_reader& r) noexcept {
    if (item_.kind != item_kind::alive || find_const(item_.claim.subject) != nullptr) return false;
    byte_reader ahead = r;
    if (!decode_item(ahead, peek_item_)) return false;
    return (peek_item_.kind == item_kind::dead || peek_item_.kind == item_kind::leave) &&
           peek_item_.claim.subject == item_.claim.subject;
  }
  [[nodiscard]] static bool carries_down_claim(const member_record& m) noexcept {
    return m.state != member_state::alive && m.state != member_state::joining &&
           m.down_claim != claim_store::none;
  }
  /// The encoded size of a member's claims in a push-pull, or 0 when it has none to send.
  [[nodiscard]] std::size_t push_pull_bytes(const member_record& m) noexcept {
    if (!m.in_use || alive_claim_of(m).signature.size == 0) return 0;
    byte_writer trial(claim_scratch_);
    if (!encode_claim(trial, alive_claim_of(m))) return 0;
    std::size_t size = trial.size();
    if (carries_down_claim(m)) {
      byte_writer down(claim_scratch_);
      if (!encode_claim(down, down_claim_of(m))) return 0;
      size += down.size();
    }
    return size;
  }
  /// Picks the members the next push-pull carries into push_pull_slots_: this member first,
  /// then others from a cursor that moves on with every exchange, up to
  /// max_push_pull_members and the stream message limit. A table larger than one exchange
  /// is thus covered by successive exchanges. Returns the number of claims.
  std::uint64_t plan_push_pull() noexcept {
    push_pull_slots_.clear();
    constexpr std::size_t header_room_bytes = 64;  // packet header and the array head
    std::size_t budget = opts_.max_stream_message_bytes - header_room_bytes;
    std::uint64_t entries = 0;
    const auto take = [&](std::uint32_t slot) {
      const std::size_t bytes = push_pull_bytes(members_[slot]);
      if (bytes == 0 || bytes > budget) return bytes == 0;
      budget -= bytes;
      entries += carries_down_claim(members_[slot]) ? 2 : 1;
      push_pull_slots_.push_back(slot);
      return true;
    };
    (void)take(self_slot_);
    const auto slots = static_cast<std::uint32_t>(members_.size());
    for (std::uint32_t visited = 0; visited < slots; ++visited) {
      if (push_pull_slots_.size() >= opts_.max_push_pull_members) break;
      const std::uint32_t slot = push_pull_cursor_;
      push_pull_cursor_ = (push_pull_cursor_ + 1) % slots;
      if (slot == self_slot_) continue;
      if (!take(slot)) {  // does not fit: the next exchange starts with it
        push_pull_cursor_ = slot;
        break;
      }
    }
    return entries;
  }

  // ---- probing ------------------------------------------------------------------------------------
  void bump_awareness(int delta) noexcept {
    const int next = static_cast<int>(awareness_) + delta;
    const int top = static_cast<int>(opts_.awareness_max_multiplier) - 1;
    awareness_ = static_cast<std::uint32_t>(std::clamp(next, 0, top));
  }
  [[nodiscard]] duration scaled(std::int64_t base_ms) const noexcept {
    return ms(base_ms) * (awareness_ + 1);
  }
  [[nodiscard]] duration push_pull_interval() const noexcept {
    // memberlist: beyond 32 members, scale by ceil(log2(n) - log2(32)) + 1.
    const double n = sizing_count();
    const auto mult = n <= 32 ? 1.0 : std::ceil(std::log2(n) - 5.0) + 1.0;
    return ms(opts_.push_pull_interval_ms) * static_cast<std::int64_t>(mult);
  }
  /// A random live member other than self and `exclude`, or nullptr.
  const node_id* random_peer(node_id exclude) noexcept {
    if (probe_order_.empty()) return nullptr;
    for (int attempt = 0; attempt < 16; ++attempt) {
      const member_record& m = members_[probe_order_[uniform_below(random_, probe_order_.size())]];
      if (m.id != self_.id && m.id != exclude && is_live(m.state)) return &m.id;
    }
    return nullptr;
  }
  void run_probe_round(time_point now) noexcept {
    if (probe_.active && !probe_.acked) probe_failed(now);
    probe_.active = false;
    next_probe_at_ = now + scaled(opts_.probe_interval_ms);
    ping_a_suspect();
    const member_record* target = next_probe_target();
    if (target == nullptr) return;
    probe_ = probe_state{true, false, false, target->id, ++seq_,
                         now + scaled(opts_.probe_timeout_ms), 0, 0};
    ++counters_.probes;
    packet_header h{};
    h.kind = packet_kind::ping;
    h.sender = self_.id;
    h.seq = probe_.seq;
    h.target = target->id;
    (void)send_packet(target->addr, h, target->id);
  }
  /// While we suspect members, ping one of them each round as well (carrying the
  /// suspicion): if it refuted and we missed it, its answer carries the refutation.
  void ping_a_suspect() noexcept {
    for (std::size_t tried = 0; tried < timers_.size(); ++tried) {
      const member_record& m = members_[timers_[suspect_cursor_++ % timers_.size()]];
      if (m.timer != timer_kind::suspicion || m.state != member_state::suspect) continue;
      packet_header h{};
      h.kind = packet_kind::ping;
      h.sender = self_.id;
      h.seq = ++seq_;  // not the probe's: its ack only delivers what it piggybacks
      h.target = m.id;
      ++counters_.suspect_pings;
      (void)send_packet(m.addr, h, m.id);
      return;
    }
  }
  const member_record* next_probe_target() noexcept {
    for (std::size_t tried = 0; tried <= probe_order_.size(); ++tried) {
      if (probe_cursor_ >= probe_order_.size()) {
        probe_cursor_ = 0;
        for (std::size_t i = probe_order_.size(); i > 1; --i)  // reshuffle each round
          std::swap(probe_order_[i - 1], probe_order_[uniform_below(random_, i)]);
      }
      if (probe_order_.empty()) return nullptr;
      const member_record& m = members_[probe_order_[probe_cursor_++]];
      if (m.id != self_.id && (m.state == member_state::alive || m.state == member_state::suspect))
        return &m;
    }
    return nullptr;
  }
  void send_indirect_probes(time_point) noexcept {
    probe_.indirect_sent = true;
    const member_record* target = find_const(probe_.target);
    if (target == nullptr) return;
    packet_header h{};
    h.kind = packet_kind::ping_req;
    h.sender = self_.id;
    h.seq = probe_.seq;
    h.target = target->id;
    h.target_addr = target->addr;
    for (std::uint32_t i = 0; i < opts_.indirect_checks; ++i) {
      const node_id* via = random_peer(probe_.target);
      if (via == nullptr) break;
      if (send_packet(members_[*find_slot(*via)].addr, h, 0)) {
        ++counters_.indirect_probes_sent;
        ++probe_.expected_nacks;
      }
    }
    send_stream_probe(*target);
  }
  /// memberlist's fallback probe: the target also gets a ping over the stream transport,
  /// so a lost datagram path (loss, a filtered port) is not taken for a dead member.
  /// It carries no items: it only decides whether the probe failed.
  void send_stream_probe(const member_record& target) noexcept {
    if (!opts_.stream_probe_fallback) return;
    packet_header h{};
    h.kind = packet_kind::ping;
    h.sender = self_.id;
    h.seq = probe_.seq;
    h.target = target.id;
    if (send_stream_control(target.addr, h)) ++counters_.stream_probes_sent;
  }
  /// A stream message without items (a fallback ping or its ack), written into the
  /// datagram arena: it is no larger than a packet head.
  result<void> send_stream_control(address to, const packet_header& h) noexcept {
    WEFT_TRY(check_send_room(datagram_used_, opts_.mtu_bytes, datagram_arena_.size()));
    byte_writer w(mutable_byte_view(datagram_arena_.data() + datagram_used_, opts_.mtu_bytes));
    WEFT_TRY(encode_header(w, h));
    WEFT_TRY(encode_array_head(w, 0));
    datagram_used_ += w.size();
    sends_.push_back(outgoing{to, channel::stream, w.written()});
    ++counters_.streams_sent;
    counters_.stream_bytes_sent += w.size();
    return ok();
  }
  /// A fallback ping (answered with an ack over the stream) or the ack of ours.
  result<void> handle_stream_probe(time_point now, address from, std::uint64_t items,
                                   const byte_reader& r) noexcept {
    if (items != 0 || !r.empty()) return refuse(swim_errc::malformed_message);
    if (header_.sender == self_.id) return refuse(swim_errc::malformed_message);
    WEFT_TRY(admit_sender(now, header_.sender));
    if (header_.kind == packet_kind::ack) {
      if (probe_.active && header_.seq == probe_.seq && !probe_.acked)
        ++counters_.stream_probe_acks;
      return handle_ack(header_.seq);
    }
    if (header_.target != self_.id) return refuse(swim_errc::unknown_member);
    packet_header h{};
    h.kind = packet_kind::ack;
    h.sender = self_.id;
    h.seq = header_.seq;
    return send_stream_control(from, h);
  }
  void probe_failed(time_point now) noexcept {
    ++counters_.probe_failures;
    // Lifeguard: a failed probe with missing nacks points at us, not at the target.
    int delta = 1;
    if (probe_.expected_nacks > 0)
      delta = probe_.nacks < probe_.expected_nacks
                  ? static_cast<int>(probe_.expected_nacks - probe_.nacks) : 0;
    bump_awareness(delta);
    member_record* m = find(probe_.target);
    if (m == nullptr || m->state != member_state::alive) {
      if (m != nullptr && m->state == member_state::suspect) {
        member_claim c = make_suspect(*m);
        (void)handle_claim(now, c, true);
      }
      return;
    }
    member_claim c = make_suspect(*m);
    (void)handle_claim(now, c, true);
  }
  member_claim make_suspect(const member_record& m) noexcept {
    member_claim c{};
    c.kind = item_kind::suspect;
    c.subject = m.id;
    c.incarnation = m.incarnation;
    c.from = self_.id;
    (void)sign_claim(c);
    return c;
  }
  void expire_forwards(time_point now) noexcept {
    for (std::size_t i = 0; i < forwards_.size();) {
      if (forwards_[i].deadline > now) {
        ++i;
        continue;
      }
      packet_header h{};
      h.kind = packet_kind::nack;
      h.sender = self_.id;
      h.seq = forwards_[i].their_seq;
      (void)send_packet(forwards_[i].requester, h, 0);
      forwards_[i] = forwards_.back();
      forwards_.pop_back();
    }
  }
  void gossip(time_point) noexcept {
    if (claims_.empty() && payloads_.empty()) return;
    packet_header h{};
    h.kind = packet_kind::gossip;
    h.sender = self_.id;
    for (std::uint32_t i = 0; i < opts_.gossip_fanout; ++i) {
      const node_id* peer = random_peer(0);
      if (peer == nullptr) return;
      (void)send_packet(members_[*find_slot(*peer)].addr, h, 0);
    }
  }

  // ---- receiving -----------------------------------------------------------------------------------
  /// Flood control, per probe interval: a known sender gets
  /// max_packets_per_sender_per_period; an unknown one gets its own
  /// max_packets_per_unknown_sender_per_period (so one flooder cannot use up what newcomers
  /// and members outside a partial view need) within a budget all unknown senders share.
  result<void> admit_sender(time_point now, node_id sender) noexcept {
    member_record* m = sender == self_.id ? nullptr : find(sender);
    if (m != nullptr)
      return spend(now, m->window_start, m->packets_in_window,
                   opts_.max_packets_per_sender_per_period);
    unknown_sender* own = unknown_sender_entry(now, sender);
    if (own == nullptr) return refuse(swim_errc::flood_limited);  // table full this period
    if (own->packets >= opts_.max_packets_per_unknown_sender_per_period)
      return refuse(swim_errc::flood_limited);
    WEFT_TRY(spend(now, unknown_window_start_, unknown_in_window_,
                   opts_.max_unknown_sender_packets_per_period));
    ++own->packets;
    return ok();
  }
  result<void> spend(time_point now, time_point& start, std::uint32_t& used,
                     std::uint32_t cap) noexcept {
    if (now - start >= ms(opts_.probe_interval_ms)) {
      start = now;
      used = 0;
    }
    if (used >= cap) return refuse(swim_errc::flood_limited);
    ++used;
    return ok();
  }
  /// The sender's entry in the bounded unknown-sender table; an entry whose period is over
  /// is reused. nullptr when every entry is in use this period.
  unknown_sender* unknown_sender_entry(time_point now, node_id sender) noexcept {
    unknown_sender* reusable = nullptr;
    for (unknown_sender& u : unknown_senders_) {
      const bool expired = now - u.window_start >= ms(opts_.probe_interval_ms);
      if (u.id == sender && !expired) return &u;
      if (reusable == nullptr && (u.id == 0 || expired)) reusable = &u;
    }
    if (reusable != nullptr) *reusable = unknown_sender{sender, now, 0};
    return reusable;
  }
  result<void> handle_primary(time_point now, address from) noexcept {
    packet_header h{};
    h.sender = self_.id;
    switch (header_.kind) {
      case packet_kind::ping:
        if (header_.target != self_.id) return refuse(swim_errc::unknown_member);
        h.kind = packet_kind::ack;
        h.seq = header_.seq;
        return send_packet(from, h, 0);
      case packet_kind::ping_req: {
        if (forwards_.size() >= opts_.max_forwarded_probes) return refuse(swim_errc::queue_full);
        forwards_.push_back(forward{++seq_, header_.seq, from, now + ms(opts_.probe_timeout_ms)});
        h.kind = packet_kind::ping;
        h.seq = seq_;
        h.target = header_.target;
        return send_packet(header_.target_addr, h, header_.target);
      }
      case packet_kind::ack: return handle_ack(header_.seq);
      case packet_kind::nack:
        if (probe_.active && header_.seq == probe_.seq) ++probe_.nacks;
        return ok();
      case packet_kind::reply: return handle_reply(now);
      default: return ok();
    }
  }
  result<void> handle_ack(std::uint64_t seq) noexcept {
    if (probe_.active && seq == probe_.seq) {
      if (!probe_.acked) bump_awareness(-1);
      probe_.acked = true;
      return ok();
    }
    for (std::size_t i = 0; i < forwards_.size(); ++i) {
      if (forwards_[i].own_seq != seq) continue;
      packet_header h{};
      h.kind = packet_kind::ack;
      h.sender = self_.id;
      h.seq = forwards_[i].their_seq;
      const address to = forwards_[i].requester;
      forwards_[i] = forwards_.back();
      forwards_.pop_back();
      return send_packet(to, h, 0);
    }
    return ok();  // a late ack: harmless
  }
  result<void> handle_items(time_point now, byte_reader& r, std::uint64_t n) noexcept {
    for (std::uint64_t i = 0; i < n; ++i) {
      auto d = decode_item(r, item_);
      if (!d) return refuse_error(d.error());
      if (is_member_claim(item_.kind)) (void)handle_claim(now, item_.claim, true);
      else (void)handle_payload(now, item_.payload);
    }
    if (!r.empty()) return refuse(swim_errc::malformed_message);
    return ok();
  }

  // ---- events, app messages, queries ---------------------------------------------------------
  bool seen_before(const payload_item& p) const noexcept {
    for (const seen_key& s : seen_)
      if (s.kind == p.kind && s.origin == p.origin && s.id == p.id && s.origin != 0) return true;
    return false;
  }
  void remember(const payload_item& p) noexcept {
    seen_[seen_next_] = seen_key{p.kind, p.origin, p.id};
    seen_next_ = (seen_next_ + 1) % seen_.size();
  }
  result<void> handle_payload(time_point now, const payload_item& p) noexcept {
    if (p.origin == self_.id || seen_before(p)) {
      ++counters_.duplicates;
      return ok();
    }
    if (p.payload.size > opts_.max_payload_bytes) return refuse(swim_errc::payload_too_large);
    const member_record* origin = find_const(p.origin);
    if (origin == nullptr || alive_claim_of(*origin).key.size == 0)
      return refuse(swim_errc::unknown_member);
    if (!verify_payload(p, alive_claim_of(*origin).key.view())) {
      ++counters_.forged;
      return refuse(swim_errc::bad_signature);
    }
    if (p.kind != item_kind::app) {
      // Lamport: too old to dedupe reliably means stale; otherwise witness the time.
      if (p.id + opts_.max_recent_events < lamport_) {
        ++counters_.replays;
        return refuse(swim_errc::stale_incarnation);
      }
      lamport_ = std::max(lamport_, p.id + 1);
    }
    remember(p);
    (void)enqueue_payload(p);  // relay; a full queue is counted there
    if (p.kind == item_kind::app) {
      notify_payload(notification_kind::app_message, p, 0);
    } else if (p.kind == item_kind::user_event) {
      deliver_event(now, p);
    } else {
      notify_payload(notification_kind::query, p, p.origin_addr);
    }
    return ok();
  }
  void deliver_event(time_point now, const payload_item& p) noexcept {
    if (opts_.coalesce_period_ms == 0) {
      notify_payload(notification_kind::user_event, p, 0);
      return;
    }
    for (auto& c : coalesced_) {
      if (equal_bytes(c.name.view(), p.name.view())) {
        if (p.id > c.id) c = p;  // only the newest event of a name survives the window
        return;
      }
    }
    if (coalesced_.size() >= opts_.max_coalesced_events) flush_coalesced(now, true);
    if (coalesced_.empty()) coalesce_flush_at_ = now + ms(opts_.coalesce_period_ms);
    coalesced_.push_back(p);
  }
  void flush_coalesced(time_point now, bool force) noexcept {
    if (coalesced_.empty() || (!force && now < coalesce_flush_at_)) return;
    std::sort(coalesced_.begin(), coalesced_.end(),
              [](const payload_item& a, const payload_item& b) { return a.id < b.id; });
    for (const payload_item& p : coalesced_) notify_payload(notification_kind::user_event, p, 0);
    coalesced_.clear();
  }
  result<void> handle_reply(time_point now) noexcept {
    for (pending_query& q : queries_) {
      if (q.id != header_.seq || q.deadline <= now) continue;
      for (const auto& r : responders_)
        if (r.first == q.id && r.second == header_.sender) return ok();  // one per member
      if (q.responses >= opts_.max_responses_per_query) return refuse(swim_errc::queue_full);
      ++q.responses;
      responders_.emplace_back(q.id, header_.sender);
      payload_item p{};
      p.kind = item_kind::query;
      p.origin = header_.sender;
      p.id = q.id;
      (void)p.payload.assign(header_.payload.view());
      notify_payload(notification_kind::query_response, p, 0);
      return ok();
    }
    ++counters_.late_responses;
    return refuse(swim_errc::unknown_query);
  }
  void expire_queries(time_point now) noexcept {
    for (std::size_t i = 0; i < queries_.size();) {
      if (queries_[i].deadline > now) {
        ++i;
        continue;
      }
      const std::uint64_t id = queries_[i].id;
      notification n{notification_kind::query_done};
      n.member = self_.id;
      n.id = id;
      push_note(n);
      std::erase_if(responders_, [id](const auto& r) { return r.first == id; });
      queries_[i] = queries_.back();
      queries_.pop_back();
    }
  }

  // ---- notifications ----------------------------------------------------------------------------
  void push_note(const notification& n) noexcept {
    if (notes_.size() >= opts_.max_pending_notifications) {
      ++counters_.notifications_dropped;
      return;
    }
    notes_.push_back(n);
  }
  void notify(notification_kind k, const member_record& m, bool moved = false) noexcept {
    notification n{k};
    n.member = m.id;
    n.addr = m.addr;
    n.incarnation = m.incarnation;
    n.address_changed = moved;
    push_note(n);
  }
  byte_view copy_note_bytes(byte_view b) noexcept {
    if (note_bytes_used_ + b.size() > note_bytes_.size()) return {};
    std::copy(b.begin(), b.end(), note_bytes_.begin() + static_cast<std::ptrdiff_t>(note_bytes_used_));
    const byte_view out(note_bytes_.data() + note_bytes_used_, b.size());
    note_bytes_used_ += b.size();
    return out;
  }
  void notify_payload(notification_kind k, const payload_item& p, address addr) noexcept {
    if (note_bytes_used_ + p.name.size + p.payload.size > note_bytes_.size()) {
      ++counters_.notifications_dropped;
      return;
    }
    notification n{k};
    n.member = p.origin;
    n.addr = addr;
    n.id = p.id;
    n.name = copy_note_bytes(p.name.view());
    n.payload = copy_note_bytes(p.payload.view());
    push_note(n);
  }

  // ---- state ----------------------------------------------------------------------------------------
  options opts_;
  identity self_;
  Scheme signer_;
  Random random_;
  lifecycle_guard guard_;
  counters counters_{};
  std::array<blob<max_public_key_bytes>, max_anchors> anchors_{};
  std::size_t anchor_count_ = 0;

  static inline const member_claim no_claim_{};  // what a record without a claim reads
  std::unique_ptr<claim_store> own_claims_;      // null when a shared store was given
  claim_store* claims_store_ = nullptr;
  record_table members_;                         // after own_claims_: destroyed before it
  std::vector<suspicion_record> suspicions_;     // options::max_suspects
  std::vector<std::uint32_t> free_suspicions_;
  std::vector<std::uint32_t> index_;
  std::vector<std::uint32_t> free_;
  std::vector<std::uint32_t> probe_order_;
  std::vector<std::uint32_t> timers_;
  std::size_t probe_cursor_ = 0;
  std::size_t suspect_cursor_ = 0;
  std::uint32_t self_slot_ = 0;
  std::size_t used_slots_ = 0;
  std::size_t live_ = 0;
  bool running_ = true;
  bool scheduled_ = false;

  probe_state probe_{};
  std::uint64_t seq_ = 0;
  std::uint32_t awareness_ = 0;
  time_point next_probe_at_{}, next_gossip_at_{}, next_push_pull_at_{}, last_tick_{};
  std::vector<forward> forwards_;
  std::vector<std::uint32_t> push_pull_slots_;  // members the push-pull being built carries
  std::uint32_t push_pull_cursor_ = 0;          // where the next push-pull's window starts
  time_point unknown_window_start_{};
  std::uint32_t unknown_in_window_ = 0;
  std::vector<unknown_sender> unknown_senders_;

  std::vector<queued_claim> claims_;
  std::vector<queued_payload> payloads_;
  std::vector<std::uint32_t> order_scratch_;

  std::uint64_t lamport_ = 1;
  std::uint64_t app_seq_ = 0;
  std::vector<seen_key> seen_;
  std::size_t seen_next_ = 0;
  std::vector<payload_item> coalesced_;
  time_point coalesce_flush_at_{};
  std::vector<pending_query> queries_;
  std::vector<std::pair<std::uint64_t, node_id>> responders_;

  packet_header header_{};
  gossip_item item_{};
  gossip_item peek_item_{};        // the next push-pull item, read ahead
  member_claim completed_{};         // a compact claim put back together
  std::uint64_t admission_floor_ = 0;  // revoke_admissions_below()
  std::uint64_t packets_built_ = 0;  // alternates who packs first when the share is too small
  std::vector<std::uint8_t> datagram_arena_, stream_arena_, item_scratch_, claim_scratch_;
  std::vector<std::uint8_t> note_bytes_;
  std::size_t datagram_used_ = 0, stream_used_ = 0, note_bytes_used_ = 0;
  std::vector<outgoing> sends_;
  std::vector<notification> notes_;
};

/// The default core: test admission scheme (replace with a crypto-backed scheme), xoshiro256.
using core = basic_core<test_admission_scheme, xoshiro256>;

}  // namespace swim
WEFT_END
