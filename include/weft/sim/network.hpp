// weft/sim/network.hpp - the simulated network: per-node endpoints modelling
// weft::transport::datagram_transport and stream_transport over a faulty world.
// Per path: one-way latency (minimum + exponential), loss, duplication and replay,
// reordering, a capacity with counted drops; partitions (symmetric, asymmetric, isolate,
// random halves), swizzle-clog and an MTU. Message bytes live in a pooled slab sized at
// construction: the steady state does not allocate. Guide: docs/sim.md.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "weft/config.hpp"
#include "weft/core/bytes.hpp"
#include "weft/core/random.hpp"
#include "weft/core/result.hpp"
#include "weft/sim/world.hpp"
#include "weft/transport/concepts.hpp"

WEFT_BEGIN
namespace sim {

enum class channel : std::uint8_t { datagram = 0, stream = 1 };

/// Limits and fault rates of the simulated network. Probabilities are per message.
struct network_options {
  std::size_t max_datagram_size_bytes = 1400;   // the MTU; 244 for a BLE-like link
  std::size_t max_message_size_bytes = 4096;    // largest stream message (slab slot size)
  std::size_t max_in_flight_messages = 4096;    // slab slots shared by all paths
  std::uint32_t path_capacity_messages = 256;   // in flight per directed path
  std::int64_t latency_min_ns = 100'000;        // one-way floor
  std::int64_t latency_mean_ns = 400'000;       // mean of the exponential part above it
  double loss_probability = 0.0;                // datagrams only
  double duplicate_probability = 0.0;           // datagrams only
  std::int64_t replay_delay_max_ns = 50'000'000;  // a duplicate arrives up to this much later
  double reorder_probability = 0.0;             // datagrams get extra delay
  std::int64_t reorder_delay_max_ns = 5'000'000;

  [[nodiscard]] result<void> validate() const noexcept {
    auto bad = [](const char* where) { return error(sim_errc::invalid_options, where); };
    if (max_datagram_size_bytes == 0 || max_datagram_size_bytes > max_message_size_bytes)
      return bad("network_options: max_datagram_size_bytes not in [1, max_message_size_bytes]");
    if (max_in_flight_messages == 0 || max_in_flight_messages > 0xffffffu)
      return bad("network_options: max_in_flight_messages");
    if (path_capacity_messages == 0) return bad("network_options: path_capacity_messages");
    if (latency_min_ns < 0 || latency_mean_ns < 0 || replay_delay_max_ns < 0 ||
        reorder_delay_max_ns < 0)
      return bad("network_options: negative delay");
    for (double p : {loss_probability, duplicate_probability, reorder_probability})
      if (!(p >= 0.0 && p <= 1.0)) return bad("network_options: probability not in [0, 1]");
    return ok();
  }
};

/// Counters; every message that does not arrive is counted under one reason.
struct network_stats {
  std::uint64_t sent = 0;
  std::uint64_t delivered = 0;
  std::uint64_t lost = 0;              // random datagram loss
  std::uint64_t duplicated = 0;
  std::uint64_t reordered = 0;
  std::uint64_t dropped_capacity = 0;  // path or slab full (datagrams)
  std::uint64_t dropped_partition = 0;
  std::uint64_t dropped_down = 0;      // receiver crashed or stream broken
  std::uint64_t refused_too_large = 0;
  std::uint64_t refused_queue_full = 0;  // stream backpressure
  std::uint64_t disconnects = 0;
};

/// Where a node's messages go. `on_disconnect` reports a broken stream to `peer`: stream
/// messages in flight on it are gone; later sends open a new connection.
struct receiver {
  void (*on_message)(void* context, node_id self, node_id from, channel ch,
                     byte_view payload) noexcept = nullptr;
  void (*on_disconnect)(void* context, node_id self, node_id peer) noexcept = nullptr;
  void* context = nullptr;
};

class network;

/// One node's transport: models both transport concepts.
class endpoint {
 public:
  constexpr endpoint() noexcept = default;
  constexpr endpoint(network* net, node_id self) noexcept : net_(net), self_(self) {}
  [[nodiscard]] result<void> send_datagram(transport::peer_id to, byte_view payload) noexcept;
  [[nodiscard]] std::size_t max_datagram_size() const noexcept;
  [[nodiscard]] result<void> send_message(transport::peer_id to, byte_view payload) noexcept;
  [[nodiscard]] std::size_t max_message_size() const noexcept;
  [[nodiscard]] node_id self() const noexcept { return self_; }

 private:
  network* net_ = nullptr;
  node_id self_ = 0;
};
static_assert(transport::datagram_transport<endpoint>,
              "sim::endpoint must model datagram_transport; see docs/requirements/transport.md");
static_assert(transport::stream_transport<endpoint>,
              "sim::endpoint must model stream_transport; see docs/requirements/transport.md");

class network {
 public:
  network(world& w, const network_options& options) noexcept : world_(w), options_(options) {
    status_ = options.validate();
    if (!status_) return;
    const std::size_t n = w.node_count();
    paths_.resize(n * n);
    for (auto& p : paths_) {
      p.latency_min_ns = options.latency_min_ns;
      p.latency_mean_ns = options.latency_mean_ns;
    }
    receivers_.resize(n);
    bytes_.resize(options.max_in_flight_messages * options.max_message_size_bytes);
    slots_.resize(options.max_in_flight_messages);
    free_.reserve(options.max_in_flight_messages);
    for (std::size_t i = options.max_in_flight_messages; i > 0; --i)
      free_.push_back(static_cast<std::uint32_t>(i - 1));
    swizzle_order_.reserve(n);
    random_ = w.random().fork();
    auto kind = w.event_kind("deliver", "slot", "from");
    deliver_kind_ = kind ? *kind : 0;
    kind = w.event_kind("disconnect", "peer", "");
    disconnect_kind_ = kind ? *kind : 0;
    kind = w.event_kind("swizzle", "step", "");
    swizzle_kind_ = kind ? *kind : 0;
    status_ = w.add_listener(&network::on_lifecycle, this);
  }
  network(const network&) = delete;
  network& operator=(const network&) = delete;

  [[nodiscard]] const result<void>& status() const noexcept { return status_; }
  [[nodiscard]] const network_options& options() const noexcept { return options_; }
  [[nodiscard]] const network_stats& stats() const noexcept { return stats_; }
  [[nodiscard]] endpoint endpoint_for(node_id n) noexcept { return {this, n}; }
  void set_receiver(node_id n, receiver r) noexcept {
    if (n < receivers_.size()) receivers_[n] = r;
  }
  /// Changes the fault rates mid-run (same limits); refused when invalid.
  result<void> set_rates(double loss, double duplicate, double reorder) noexcept {
    network_options next = options_;
    next.loss_probability = loss;
    next.duplicate_probability = duplicate;
    next.reorder_probability = reorder;
    WEFT_TRY(next.validate());
    options_ = next;
    return ok();
  }
  /// Per-path latency (one direction).
  result<void> set_latency(node_id from, node_id to, duration minimum, duration mean) noexcept {
    if (from >= nodes() || to >= nodes()) return error(sim_errc::unknown_node, "set_latency");
    path(from, to).latency_min_ns = std::max<std::int64_t>(0, to_ns(minimum));
    path(from, to).latency_mean_ns = std::max<std::int64_t>(0, to_ns(mean));
    return ok();
  }

  // ---- sending -----------------------------------------------------------------------
  [[nodiscard]] result<void> send(node_id from, node_id to, channel ch,
                                  byte_view payload) noexcept {
    if (!status_) return status_.error();
    if (from >= nodes() || to >= nodes())
      return error(transport::transport_errc::unknown_peer, "sim::network::send");
    const std::size_t limit = ch == channel::datagram ? options_.max_datagram_size_bytes
                                                      : options_.max_message_size_bytes;
    if (payload.size() > limit) {
      ++stats_.refused_too_large;
      return error(transport::transport_errc::message_too_large, "sim::network::send");
    }
    if (!world_.is_up(from)) return error(transport::transport_errc::closed, "sim::network");
    path_state& p = path(from, to);
    ++stats_.sent;
    return ch == channel::datagram ? send_datagram_on(p, from, to, payload)
                                   : send_stream_on(p, from, to, payload);
  }

  // ---- partitions --------------------------------------------------------------------
  /// Cuts (or restores) the one-way path from -> to.
  void set_blocked(node_id from, node_id to, bool blocked) noexcept {
    if (from >= nodes() || to >= nodes()) return;
    path_state& p = path(from, to);
    if (p.blocked == blocked) return;
    p.blocked = blocked;
    if (blocked) break_stream(from, to);
  }
  /// Every node in `side` (a bitmask over node ids < 64, or use set_blocked) cut from the rest.
  void partition(std::span<const node_id> side) noexcept {
    std::vector<std::uint8_t>& in = scratch_side(side);
    for (node_id a = 0; a < nodes(); ++a)
      for (node_id b = 0; b < nodes(); ++b)
        if (in[a] != in[b]) set_blocked(a, b, true);
  }
  /// Asymmetric: messages from `senders` to `receivers` are cut, the other way works.
  void partition_one_way(std::span<const node_id> senders,
                         std::span<const node_id> receivers) noexcept {
    for (node_id a : senders)
      for (node_id b : receivers)
        if (a != b) set_blocked(a, b, true);
  }
  void isolate(node_id n) noexcept {
    for (node_id b = 0; b < nodes(); ++b)
      if (b != n) {
        set_blocked(n, b, true);
        set_blocked(b, n, true);
      }
  }
  /// Splits the nodes at random into two non-empty halves (nodes >= 2).
  void partition_random_halves() noexcept {
    if (nodes() < 2) return;
    shuffle_order();
    const auto cut = static_cast<std::size_t>(uniform_between(random_, 1, nodes() - 1));
    partition(std::span<const node_id>(swizzle_order_.data(), cut));
  }
  void heal() noexcept {
    for (auto& p : paths_) p.blocked = false;
    swizzle_active_ = false;
  }
  [[nodiscard]] bool blocked(node_id from, node_id to) const noexcept {
    return from < nodes() && to < nodes() && paths_[from * nodes() + to].blocked;
  }
  /// Swizzle-clog: isolates the nodes one by one every `step`, in random order, then
  /// restores them in another random order, one per `step`.
  result<void> swizzle_clog(duration step) noexcept {
    shuffle_order();
    swizzle_active_ = true;
    swizzle_step_ns_ = std::max<std::int64_t>(1, to_ns(step));
    swizzle_index_ = 0;
    return schedule_swizzle();
  }

 private:
  struct path_state {
    std::int64_t latency_min_ns = 0;
    std::int64_t latency_mean_ns = 0;
    std::int64_t last_stream_at_ns = 0;
    std::uint32_t in_flight = 0;
    std::uint32_t stream_generation = 0;
    bool blocked = false;
  };
  struct slot {
    std::uint32_t size = 0;
    std::uint32_t refs = 0;
    std::uint32_t generation = 0;  // stream generation at send
    node_id from = 0;
    node_id to = 0;
    channel ch = channel::datagram;
  };

  [[nodiscard]] std::uint32_t nodes() const noexcept {
    return static_cast<std::uint32_t>(receivers_.size());
  }
  path_state& path(node_id from, node_id to) noexcept { return paths_[from * nodes() + to]; }

  std::int64_t draw_latency(const path_state& p) noexcept {
    std::int64_t extra = 0;
    if (p.latency_mean_ns > 0)
      extra = static_cast<std::int64_t>(
          exponential(random_, static_cast<double>(p.latency_mean_ns)));
    return p.latency_min_ns + std::min<std::int64_t>(extra, 1'000'000'000'000);
  }

  result<std::uint32_t> take_slot(node_id from, node_id to, channel ch, byte_view payload,
                                  std::uint32_t generation) noexcept {
    if (free_.empty()) return error(transport::transport_errc::queue_full, "sim::network slab");
    const std::uint32_t index = free_.back();
    free_.pop_back();
    slot& s = slots_[index];
    s = slot{static_cast<std::uint32_t>(payload.size()), 0, generation, from, to, ch};
    if (!payload.empty())
      std::memcpy(bytes_.data() + index * options_.max_message_size_bytes, payload.data(),
                  payload.size());
    return index;
  }
  void release(std::uint32_t index) noexcept {
    slot& s = slots_[index];
    WEFT_ASSERT(s.refs > 0);
    if (--s.refs != 0) return;
    --path(s.from, s.to).in_flight;
    free_.push_back(index);
  }
  result<void> deliver_at(std::uint32_t index, std::int64_t at_ns) noexcept {
    event e;
    e.at_ns = at_ns;
    e.fn = &network::deliver_thunk;
    e.context = this;
    e.arg0 = index;
    e.arg1 = slots_[index].from;
    e.node = slots_[index].to;
    e.kind = deliver_kind_;
    WEFT_TRY(world_.schedule(e));
    ++slots_[index].refs;
    return ok();
  }

  result<void> send_datagram_on(path_state& p, node_id from, node_id to,
                                byte_view payload) noexcept {
    if (chance(random_, options_.loss_probability)) {
      ++stats_.lost;
      return ok();  // a successful send only means queued
    }
    if (p.in_flight >= options_.path_capacity_messages || free_.empty()) {
      ++stats_.dropped_capacity;
      return ok();
    }
    auto index = take_slot(from, to, channel::datagram, payload, 0);
    if (!index) {
      ++stats_.dropped_capacity;
      return ok();
    }
    ++p.in_flight;
    std::int64_t at_ns = world_.now_ns() + draw_latency(p);
    if (chance(random_, options_.reorder_probability)) {
      ++stats_.reordered;
      at_ns += static_cast<std::int64_t>(
          uniform_below(random_, static_cast<std::uint64_t>(options_.reorder_delay_max_ns) + 1));
    }
    if (!deliver_at(*index, at_ns)) return undo(*index);
    if (chance(random_, options_.duplicate_probability)) {
      const auto replay = static_cast<std::int64_t>(
          uniform_below(random_, static_cast<std::uint64_t>(options_.replay_delay_max_ns) + 1));
      if (deliver_at(*index, world_.now_ns() + draw_latency(p) + replay)) ++stats_.duplicated;
    }
    return ok();
  }
  result<void> undo(std::uint32_t index) noexcept {
    ++slots_[index].refs;
    release(index);
    ++stats_.dropped_capacity;
    return ok();
  }

  result<void> send_stream_on(path_state& p, node_id from, node_id to,
                              byte_view payload) noexcept {
    if (p.blocked || !world_.is_up(to))
      return error(transport::transport_errc::not_connected, "sim::network::send_message");
    if (p.in_flight >= options_.path_capacity_messages || free_.empty()) {
      ++stats_.refused_queue_full;
      return error(transport::transport_errc::queue_full, "sim::network::send_message");
    }
    WEFT_TRY_ASSIGN(const std::uint32_t index,
                    take_slot(from, to, channel::stream, payload, p.stream_generation));
    ++p.in_flight;
    // In order: never before the previous message on this path (ties keep send order).
    const std::int64_t at_ns = std::max(world_.now_ns() + draw_latency(p), p.last_stream_at_ns);
    if (auto scheduled = deliver_at(index, at_ns); !scheduled) {
      ++slots_[index].refs;
      release(index);
      ++stats_.refused_queue_full;
      return error(transport::transport_errc::queue_full, "sim::network: event queue");
    }
    p.last_stream_at_ns = at_ns;
    return ok();
  }

  static void deliver_thunk(void* context, const event& e) noexcept {
    static_cast<network*>(context)->deliver(static_cast<std::uint32_t>(e.arg0));
  }
  void deliver(std::uint32_t index) noexcept {
    const slot s = slots_[index];
    const path_state& p = path(s.from, s.to);
    bool arrives = true;
    if (p.blocked) {
      ++stats_.dropped_partition;
      arrives = false;
    } else if (!world_.is_up(s.to) ||
               (s.ch == channel::stream && s.generation != p.stream_generation)) {
      ++stats_.dropped_down;
      arrives = false;
    }
    if (arrives) {
      ++stats_.delivered;
      const receiver& r = receivers_[s.to];
      if (r.on_message != nullptr)
        r.on_message(r.context, s.to, s.from, s.ch,
                     byte_view(bytes_.data() + index * options_.max_message_size_bytes, s.size));
    }
    release(index);
  }

  void break_stream(node_id a, node_id b) noexcept {
    ++path(a, b).stream_generation;
    ++path(b, a).stream_generation;
    path(a, b).last_stream_at_ns = 0;
    path(b, a).last_stream_at_ns = 0;
    ++stats_.disconnects;
    notify_disconnect(a, b);
    notify_disconnect(b, a);
  }
  void notify_disconnect(node_id self, node_id peer) noexcept {
    if (!world_.is_up(self) || receivers_[self].on_disconnect == nullptr) return;
    event e;
    e.at_ns = world_.now_ns();
    e.fn = &network::disconnect_thunk;
    e.context = this;
    e.arg0 = peer;
    e.node = self;
    e.kind = disconnect_kind_;
    e.flags = event_needs_up | event_epoch_bound;
    (void)world_.schedule(e);  // a full queue loses the notice, not the broken stream
  }
  static void disconnect_thunk(void* context, const event& e) noexcept {
    auto* self = static_cast<network*>(context);
    const receiver& r = self->receivers_[e.node];
    if (r.on_disconnect != nullptr)
      r.on_disconnect(r.context, e.node, static_cast<node_id>(e.arg0));
  }
  static void on_lifecycle(void* context, node_id n, lifecycle what) noexcept {
    auto* self = static_cast<network*>(context);
    if (what != lifecycle::crashed) return;
    for (node_id peer = 0; peer < self->nodes(); ++peer)
      if (peer != n) self->break_stream(n, peer);
  }

  std::vector<std::uint8_t>& scratch_side(std::span<const node_id> side) noexcept {
    side_.assign(nodes(), 0);
    for (node_id n : side)
      if (n < nodes()) side_[n] = 1;
    return side_;
  }
  void shuffle_order() noexcept {
    swizzle_order_.clear();
    for (node_id n = 0; n < nodes(); ++n) swizzle_order_.push_back(n);
    for (std::size_t i = swizzle_order_.size(); i > 1; --i)
      std::swap(swizzle_order_[i - 1], swizzle_order_[uniform_below(random_, i)]);
  }
  result<void> schedule_swizzle() noexcept {
    event e;
    e.at_ns = world_.now_ns() + swizzle_step_ns_;
    e.fn = &network::swizzle_thunk;
    e.context = this;
    e.arg0 = swizzle_index_;
    e.kind = swizzle_kind_;
    return world_.schedule(e);
  }
  static void swizzle_thunk(void* context, const event&) noexcept {
    static_cast<network*>(context)->swizzle_step();
  }
  void swizzle_step() noexcept {
    if (!swizzle_active_) return;
    const std::uint32_t n = nodes();
    if (swizzle_index_ < n) {
      isolate(swizzle_order_[swizzle_index_]);
    } else if (swizzle_index_ == n) {
      shuffle_order();  // restore in a fresh random order
      restore(swizzle_order_[0]);
    } else if (swizzle_index_ < 2 * n) {
      restore(swizzle_order_[swizzle_index_ - n]);
    }
    ++swizzle_index_;
    if (swizzle_index_ < 2 * n) (void)schedule_swizzle();
    else swizzle_active_ = false;
  }
  /// Reopens n's paths to every node that is itself not still clogged.
  void restore(node_id n) noexcept {
    restored_.resize(nodes(), 0);
    if (swizzle_index_ == nodes()) std::fill(restored_.begin(), restored_.end(), 0);
    restored_[n] = 1;
    for (node_id b = 0; b < nodes(); ++b)
      if (restored_[b] != 0) {
        set_blocked(n, b, false);
        set_blocked(b, n, false);
      }
  }

  world& world_;
  network_options options_;
  result<void> status_{};
  xoshiro256 random_{0};
  network_stats stats_{};
  std::vector<path_state> paths_;
  std::vector<receiver> receivers_;
  std::vector<std::uint8_t> bytes_;
  std::vector<slot> slots_;
  std::vector<std::uint32_t> free_;
  std::vector<node_id> swizzle_order_;
  std::vector<std::uint8_t> side_;
  std::vector<std::uint8_t> restored_;
  std::int64_t swizzle_step_ns_ = 0;
  std::uint32_t swizzle_index_ = 0;
  bool swizzle_active_ = false;
  std::uint16_t deliver_kind_ = 0;
  std::uint16_t disconnect_kind_ = 0;
  std::uint16_t swizzle_kind_ = 0;
};

inline result<void> endpoint::send_datagram(transport::peer_id to, byte_view payload) noexcept {
  return net_->send(self_, to, channel::datagram, payload);
}
inline std::size_t endpoint::max_datagram_size() const noexcept {
  return net_->options().max_datagram_size_bytes;
}
inline result<void> endpoint::send_message(transport::peer_id to, byte_view payload) noexcept {
  return net_->send(self_, to, channel::stream, payload);
}
inline std::size_t endpoint::max_message_size() const noexcept {
  return net_->options().max_message_size_bytes;
}

}  // namespace sim
WEFT_END
