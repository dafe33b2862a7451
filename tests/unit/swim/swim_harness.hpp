// swim_harness.hpp - a deterministic in-test network driving many SWIM cores: seeded loss,
// delay, pause and crash. Shared by tests/unit/swim, tests/sim/swim.cpp and bench/swim.cpp.
// (The weft::sim simulator is being written concurrently; this stays small on purpose.)
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <queue>
#include <type_traits>
#include <vector>

#include "weft/membership/swim/swim.hpp"

namespace swim_test {

using namespace weft;
using namespace weft::swim;
using namespace std::chrono_literals;

inline constexpr std::uint64_t anchor_seed = 0xa11ce;

/// Options sized for simulations of many cores in one process. Only the member table
/// grows with n: a push-pull carries at most max_push_pull_members claims (about 80 bytes
/// each with the test scheme, twice that for a buried member), and notifications are
/// drained after every step, so neither buffer needs to scale with the cluster.
inline options sim_options(std::uint32_t members) {
  options o;
  o.max_members = members + 8;
  o.max_broadcasts = 256;
  o.max_outgoing_datagrams = 64;
  o.max_outgoing_streams = 2;
  const std::size_t carried = std::min(members, o.max_push_pull_members);
  o.max_stream_message_bytes = std::max<std::size_t>(4096, carried * 80 + 1024);
  o.max_notification_bytes = 16 * 1024;
  o.max_pending_notifications = std::min(members * 4 + 64, 1024u);
  return o;
}

/// Options for a cluster of `members` in which each member's table holds a partial view of
/// about `view` members (see cluster's `view` argument): the log n terms still use the real
/// cluster size (cluster_size_hint), only the table and the buffers sized by it shrink.
inline options partial_view_options(std::uint32_t members, std::uint32_t view) {
  options o = sim_options(view);
  o.cluster_size_hint = members;
  o.max_outgoing_datagrams = 32;
  return o;
}

inline test_admission_scheme member_scheme(std::size_t index) {
  return test_admission_scheme(1000 + index);
}

/// Builds core `index` (id index+1, address index+1) admitted by the test anchor; with
/// `claims`, its member claims are kept in that store (shared with other cores).
inline core make_core(const options& o, std::size_t index, std::uint64_t seed,
                      std::uint64_t incarnation = 1, address addr = 0,
                      claim_store* claims = nullptr) {
  const test_admission_scheme anchor(anchor_seed);
  const auto scheme = member_scheme(index);
  identity self;
  self.id = index + 1;
  self.addr = addr != 0 ? addr : static_cast<address>(index + 1);
  self.incarnation = incarnation;
  self.admitter = anchor_id_base;
  self.admission = *admit(anchor, self.id, scheme.public_key());
  const byte_view anchors[] = {anchor.public_key()};
  auto c = core::create(o, self, scheme, xoshiro256(seed * 7919 + index), anchors, claims);
  return std::move(*c);
}

struct in_flight {
  time_point at;
  std::uint64_t order;
  address from, to;
  channel via;
  std::vector<std::uint8_t> bytes;
  bool operator>(const in_flight& o) const {
    return at != o.at ? at > o.at : order > o.order;
  }
};

/// Builds the test-scheme cores of `cluster`, in the cluster's shared claim store unless
/// `own_stores` (each core its own store, as on real nodes: the results must not differ).
struct test_core_maker {
  bool own_stores = false;
  core operator()(const options& o, std::size_t index, std::uint64_t seed,
                  std::uint64_t incarnation, address addr, claim_store* claims) const {
    return make_core(o, index, seed, incarnation, addr, own_stores ? nullptr : claims);
  }
};

/// The shared claim store of a cluster of n: every core's alive claim and the suspect,
/// dead and leave claims in circulation, with room for many distinct accusations.
inline std::uint32_t shared_claim_capacity(std::size_t n) {
  return static_cast<std::uint32_t>(std::min<std::size_t>((n + 4) * 64 + 4096, 1u << 26));
}

/// The network over cores of type Core, each built by Maker(options, index, seed,
/// incarnation, address); `cluster` is the one over test-scheme cores.
template <class Core, class Maker>
class basic_cluster {
 public:
  /// `view` 0: every member starts knowing every other. Otherwise each member starts
  /// knowing member 0 (the subject of the dissemination experiments) and `view` others drawn
  /// at random, and learns more only as far as its table (options::max_members) allows: a
  /// simulation of n members in O(n * view) memory instead of O(n^2).
  basic_cluster(std::size_t n, const options& o, std::uint64_t seed, bool full_tables = true,
                std::size_t view = 0, Maker maker = {})
      : maker_(std::move(maker)), rng_(seed) {
    claim_pool = std::make_unique<claim_store>(shared_claim_capacity(n));
    cores.reserve(n + 4);
    for (std::size_t i = 0; i < n; ++i) add_core(o, seed);
    for (auto& c : cores) (void)c.bootstrap(now);
    if (full_tables && view == 0)
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < n; ++j)
          if (i != j) (void)cores[i].add_member(now, cores[j].self_claim());
    if (full_tables && view != 0) introduce_partial_views(view);
    for (std::size_t i = 0; i < n; ++i) drain(i);
  }

  std::size_t add_core(const options& o, std::uint64_t seed, std::uint64_t incarnation = 1,
                       address addr = 0) {
    const std::size_t index = cores.size();
    cores.push_back(make(o, index, seed, incarnation, addr));
    crashed.push_back(false);
    paused.push_back(false);
    map_address(cores.back().address_of(cores.back().id()), index);
    return index;
  }
  void map_address(address a, std::size_t index) {
    if (a >= by_address_.size()) by_address_.resize(a + 1, npos);
    by_address_[a] = index;
  }

  /// Advances simulated time by `span` in steps of `step`.
  void run_for(duration span, duration step = 100ms) {
    const time_point end = now + span;
    while (now < end) {
      now += step;
      deliver_until(now);
      for (std::size_t i = 0; i < cores.size(); ++i) {
        if (crashed[i] || paused[i]) continue;
        cores[i].tick(now);
        drain(i);
      }
    }
  }

  // One store for the member claims of every core (declared before the cores: they give
  // their claims back to it when they go). Makers that take no store ignore it.
  std::unique_ptr<claim_store> claim_pool;
  std::vector<Core> cores;
  std::vector<bool> crashed, paused;
  time_point now{};
  double loss = 0;
  std::int64_t delay_min_us = 500, delay_max_us = 5000;
  std::function<void(std::size_t, const notification&)> on_note;
  std::function<bool(address, address)> drop_link;  // true: the link from -> to is cut
  std::function<bool(address, address)> drop_datagrams;  // the same for datagrams only
  std::size_t max_datagram_bytes = 0, max_stream_bytes = 0;
  std::uint64_t datagrams = 0, datagram_bytes = 0, streams = 0, stream_bytes = 0;
  std::uint64_t lost = 0;

  /// Replaces core `index` by a fresh process (new incarnation, maybe a new address).
  void restart(std::size_t index, const options& o, std::uint64_t seed, std::uint64_t incarnation,
               address addr) {
    cores[index] = make(o, index, seed, incarnation, addr);
    crashed[index] = false;
    paused[index] = false;
    map_address(addr, index);
  }

  /// Sends what core `i` has produced and hands its notifications to on_note.
  void drain(std::size_t i) {
    Core& c = cores[i];
    const address from = c.address_of(c.id());
    for (const outgoing& o : c.sends()) {
      if (o.via == channel::datagram) {
        ++datagrams;
        datagram_bytes += o.bytes.size();
        max_datagram_bytes = std::max(max_datagram_bytes, o.bytes.size());
        if (loss > 0 && chance(rng_, loss)) {
          ++lost;
          continue;
        }
      } else {
        ++streams;
        stream_bytes += o.bytes.size();
        max_stream_bytes = std::max(max_stream_bytes, o.bytes.size());
      }
      const auto delay = static_cast<std::int64_t>(uniform_between(
          rng_, static_cast<std::uint64_t>(delay_min_us), static_cast<std::uint64_t>(delay_max_us)));
      queue_.push(in_flight{now + microseconds(delay), order_++, from, o.to, o.via,
                            std::vector<std::uint8_t>(o.bytes.begin(), o.bytes.end())});
    }
    if (on_note)
      for (const notification& n : c.notifications()) on_note(i, n);
    c.clear_outputs();
  }

 private:
  static constexpr std::size_t npos = ~std::size_t{0};

  Core make(const options& o, std::size_t index, std::uint64_t seed, std::uint64_t incarnation,
            address addr) {
    if constexpr (std::is_invocable_v<const Maker&, const options&, std::size_t, std::uint64_t,
                                      std::uint64_t, address, claim_store*>)
      return maker_(o, index, seed, incarnation, addr, claim_pool.get());
    else
      return maker_(o, index, seed, incarnation, addr);
  }

  void introduce_partial_views(std::size_t view) {
    const std::size_t n = cores.size();
    for (std::size_t i = 0; i < n; ++i) {
      if (i != 0) (void)cores[i].add_member(now, cores[0].self_claim());
      for (std::size_t k = 0; k < view; ++k) {
        const auto j = static_cast<std::size_t>(uniform_between(rng_, 0, n - 1));
        if (j != i) (void)cores[i].add_member(now, cores[j].self_claim());
      }
    }
  }

  void deliver_until(time_point t) {
    while (!queue_.empty() && queue_.top().at <= t) {
      in_flight m = queue_.top();
      queue_.pop();
      const std::size_t to = m.to < by_address_.size() ? by_address_[m.to] : npos;
      if (to == npos || crashed[to] || paused[to]) continue;
      if (drop_link && drop_link(m.from, m.to)) continue;
      if (m.via == channel::datagram && drop_datagrams && drop_datagrams(m.from, m.to)) continue;
      if (m.via == channel::datagram) (void)cores[to].step(m.at, m.from, m.bytes);
      else (void)cores[to].step_stream(m.at, m.from, m.bytes);
      drain(to);
    }
  }

  Maker maker_;
  xoshiro256 rng_;
  std::uint64_t order_ = 0;
  std::vector<std::size_t> by_address_;
  std::priority_queue<in_flight, std::vector<in_flight>, std::greater<>> queue_;
};

using cluster = basic_cluster<core, test_core_maker>;

}  // namespace swim_test
