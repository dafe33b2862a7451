// Unit tests for the simulator's world, network and disk.
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "weft/sim/disk.hpp"
#include "weft/sim/network.hpp"
#include "weft/sim/world.hpp"

using namespace weft;
using weft::sim::node_id;

namespace {
struct recorder {
  std::vector<std::uint64_t> order;
  std::vector<std::int64_t> times;
  sim::world* w = nullptr;
  static void fn(void* context, const sim::event& e) noexcept {
    auto* self = static_cast<recorder*>(context);
    self->order.push_back(e.arg0);
    self->times.push_back(self->w->now_ns());
  }
};

struct inbox {
  struct message {
    node_id to, from;
    sim::channel ch;
    std::string text;
    std::int64_t at_ns;
  };
  std::vector<message> got;
  std::vector<std::pair<node_id, node_id>> disconnects;
  sim::world* w = nullptr;
  static void on_message(void* c, node_id self, node_id from, sim::channel ch,
                         byte_view payload) noexcept {
    auto* me = static_cast<inbox*>(c);
    me->got.push_back({self, from, ch, std::string(as_chars(payload)), me->w->now_ns()});
  }
  static void on_disconnect(void* c, node_id self, node_id peer) noexcept {
    static_cast<inbox*>(c)->disconnects.emplace_back(self, peer);
  }
  sim::receiver as_receiver() { return {&on_message, &on_disconnect, this}; }
};
}  // namespace

TEST_CASE("world orders events by time then insertion", "[sim][world]") {
  sim::world w({.seed = 7, .nodes = 2});
  REQUIRE(w.status());
  recorder r;
  r.w = &w;
  for (std::uint64_t i = 0; i < 5; ++i) {
    sim::event e;
    e.at_ns = i % 2 == 0 ? 1000 : 500;
    e.fn = &recorder::fn;
    e.context = &r;
    e.arg0 = i;
    REQUIRE(w.schedule(e));
  }
  while (w.step()) {}
  REQUIRE(r.order == std::vector<std::uint64_t>{1, 3, 0, 2, 4});
  REQUIRE(r.times == std::vector<std::int64_t>{500, 500, 1000, 1000, 1000});
  REQUIRE(w.events_processed() == 5);
}

TEST_CASE("world refuses bad options and a full queue", "[sim][world]") {
  sim::world bad({.nodes = 0});
  REQUIRE_FALSE(bad.status());
  REQUIRE(bad.status().error() == sim::sim_errc::invalid_options);
  sim::world w({.nodes = 1, .max_pending_events = 16});
  recorder r;
  sim::event e;
  e.fn = &recorder::fn;
  e.context = &r;
  for (int i = 0; i < 16; ++i) REQUIRE(w.schedule(e));
  auto full = w.schedule(e);
  REQUIRE_FALSE(full);
  REQUIRE(full.error() == sim::sim_errc::event_queue_full);
}

TEST_CASE("node clocks drift, jump and are independent", "[sim][world]") {
  sim::world w({.seed = 1, .nodes = 3});
  REQUIRE(w.set_clock_drift(1, 1000));  // +1000 ppm: 1 ms fast per second
  REQUIRE(w.set_clock_offset(2, milliseconds(5)));
  w.run_for(seconds(1));
  REQUIRE(to_ns(w.clock(0).now()) == 1'000'000'000);
  REQUIRE(to_ns(w.clock(1).now()) == 1'001'000'000);
  REQUIRE(to_ns(w.clock(2).now()) == 1'005'000'000);
  REQUIRE(w.jump_clock(0, -milliseconds(300)));
  REQUIRE(to_ns(w.clock(0).now()) == 700'000'000);
  // A timer of 1 s on the fast clock fires after slightly less than 1 s of world time.
  recorder r;
  r.w = &w;
  REQUIRE(w.after(1, seconds(1), &recorder::fn, &r, 9));
  w.run_for(seconds(2));
  REQUIRE(r.times.size() == 1);
  REQUIRE(r.times[0] < 2'000'000'000);
  REQUIRE(r.times[0] > 1'998'000'000);
  REQUIRE_FALSE(w.set_clock_drift(7, 1));
}

TEST_CASE("crash drops timers; pause defers them in order", "[sim][world]") {
  sim::world w({.seed = 3, .nodes = 2});
  recorder r;
  r.w = &w;
  REQUIRE(w.after(0, milliseconds(10), &recorder::fn, &r, 1));
  REQUIRE(w.after(1, milliseconds(10), &recorder::fn, &r, 2));
  REQUIRE(w.after(1, milliseconds(20), &recorder::fn, &r, 3));
  REQUIRE(w.crash(0));
  REQUIRE(w.pause(1, milliseconds(50)));
  w.run_for(milliseconds(100));
  REQUIRE(r.order == std::vector<std::uint64_t>{2, 3});
  REQUIRE(r.times == std::vector<std::int64_t>{50'000'000, 50'000'000});
  REQUIRE(w.events_dropped() == 1);
  REQUIRE_FALSE(w.is_up(0));
  REQUIRE(w.restart(0));
  REQUIRE(w.is_up(0));
}

TEST_CASE("network delivers within latency bounds and honours the MTU", "[sim][network]") {
  sim::world w({.seed = 11, .nodes = 3});
  sim::network net(w, {.max_datagram_size_bytes = 244, .latency_min_ns = 1000,
                       .latency_mean_ns = 0});
  REQUIRE(net.status());
  inbox box;
  box.w = &w;
  for (node_id n = 0; n < 3; ++n) net.set_receiver(n, box.as_receiver());
  auto ep = net.endpoint_for(0);
  REQUIRE(ep.max_datagram_size() == 244);
  REQUIRE(ep.send_datagram(1, as_bytes("hello")));
  std::vector<std::uint8_t> big(245, 1);
  auto refused = ep.send_datagram(1, big);
  REQUIRE_FALSE(refused);
  REQUIRE(refused.error() == transport::transport_errc::message_too_large);
  REQUIRE(ep.send_message(2, byte_view(big)));  // streams have their own (larger) limit
  auto unknown = ep.send_datagram(9, as_bytes("x"));
  REQUIRE(unknown.error() == transport::transport_errc::unknown_peer);
  while (w.step()) {}
  REQUIRE(box.got.size() == 2);
  REQUIRE(box.got[0].text == "hello");
  REQUIRE(box.got[0].at_ns == 1000);
  REQUIRE(net.stats().refused_too_large == 1);
}

TEST_CASE("network loss, duplication and capacity are counted", "[sim][network]") {
  sim::world w({.seed = 5, .nodes = 2, .max_pending_events = 1 << 14});
  sim::network net(w, {.path_capacity_messages = 64, .loss_probability = 0.3,
                       .duplicate_probability = 0.2});
  inbox box;
  box.w = &w;
  net.set_receiver(1, box.as_receiver());
  for (int i = 0; i < 1000; ++i) {
    REQUIRE(net.send(0, 1, sim::channel::datagram, as_bytes("m")));
    if (i % 10 == 9) w.run_for(microseconds(200));
  }
  while (w.step()) {}
  const auto& s = net.stats();
  REQUIRE(s.lost > 200);
  REQUIRE(s.lost < 400);
  REQUIRE(s.duplicated > 50);
  REQUIRE(s.delivered == s.sent - s.lost - s.dropped_capacity + s.duplicated);
  REQUIRE(box.got.size() == s.delivered);
}

TEST_CASE("streams stay ordered and break only with a reported disconnect", "[sim][network]") {
  sim::world w({.seed = 9, .nodes = 3, .max_pending_events = 1 << 14});
  sim::network net(w, {.latency_min_ns = 1000, .latency_mean_ns = 500'000,
                       .loss_probability = 0.5, .reorder_probability = 0.5});
  inbox box;
  box.w = &w;
  for (node_id n = 0; n < 3; ++n) net.set_receiver(n, box.as_receiver());
  for (int i = 0; i < 100; ++i) {
    REQUIRE(net.send(0, 1, sim::channel::stream, as_bytes(std::to_string(i))));
    w.run_for(microseconds(10));
  }
  while (w.step()) {}
  REQUIRE(box.got.size() == 100);
  for (int i = 0; i < 100; ++i) REQUIRE(box.got[static_cast<std::size_t>(i)].text == std::to_string(i));
  // A partition breaks the stream: in-flight messages go, both ends hear about it.
  box.got.clear();
  REQUIRE(net.send(0, 1, sim::channel::stream, as_bytes("lost")));
  const node_id side[] = {0};
  net.partition(side);
  auto refused = net.send(0, 1, sim::channel::stream, as_bytes("refused"));
  REQUIRE(refused.error() == transport::transport_errc::not_connected);
  while (w.step()) {}
  REQUIRE(box.got.empty());
  REQUIRE(box.disconnects.size() >= 2);
  net.heal();
  REQUIRE(net.send(0, 1, sim::channel::stream, as_bytes("again")));
  while (w.step()) {}
  REQUIRE(box.got.size() == 1);
  REQUIRE(box.got[0].text == "again");
}

TEST_CASE("partitions: asymmetric, isolate, random halves, swizzle-clog", "[sim][network]") {
  sim::world w({.seed = 21, .nodes = 5});
  sim::network net(w, {});
  const node_id senders[] = {0};
  const node_id receivers[] = {1, 2};
  net.partition_one_way(senders, receivers);
  REQUIRE(net.blocked(0, 1));
  REQUIRE_FALSE(net.blocked(1, 0));
  net.heal();
  net.isolate(3);
  for (node_id n = 0; n < 5; ++n)
    if (n != 3) REQUIRE((net.blocked(3, n) && net.blocked(n, 3)));
  net.heal();
  net.partition_random_halves();
  int cut = 0;
  for (node_id a = 0; a < 5; ++a)
    for (node_id b = 0; b < 5; ++b) cut += net.blocked(a, b) ? 1 : 0;
  REQUIRE(cut >= 8);  // k * (5 - k) * 2 with 1 <= k <= 4
  net.heal();
  REQUIRE(net.swizzle_clog(milliseconds(10)));
  w.run_for(milliseconds(55));  // all five clogged
  for (node_id a = 0; a < 5; ++a)
    for (node_id b = 0; b < 5; ++b)
      if (a != b) REQUIRE(net.blocked(a, b));
  w.run_for(milliseconds(60));  // all restored
  for (node_id a = 0; a < 5; ++a)
    for (node_id b = 0; b < 5; ++b) REQUIRE_FALSE(net.blocked(a, b));
}

namespace {
std::string read_all(sim::disk& d, std::string_view name) {
  auto h = d.open(name, storage::open_mode::open_existing);
  if (!h) return "<" + std::string(h.error().message()) + ">";
  std::string out(4096, '\0');
  auto n = d.read(*h, 0, mutable_byte_view(reinterpret_cast<std::uint8_t*>(out.data()), out.size()));
  (void)d.close(*h);
  if (!n) return "<" + std::string(n.error().message()) + ">";
  out.resize(*n);
  return out;
}
}  // namespace

TEST_CASE("disk: fsync is the only durability point", "[sim][disk]") {
  sim::world w({.seed = 2, .nodes = 1});
  sim::disk d(w, 0, {.unsynced_survival_probability = 0.0});
  REQUIRE(d.status());
  auto h = d.open("log", storage::open_mode::create_exclusive);
  REQUIRE(h);
  REQUIRE(d.write(*h, 0, as_bytes("durable")));
  REQUIRE(d.sync(*h));
  REQUIRE(d.sync_directory());
  REQUIRE(d.write(*h, 7, as_bytes("+volatile")));
  REQUIRE(read_all(d, "log") == "durable+volatile");
  auto h2 = d.open("new", storage::open_mode::create_exclusive);
  REQUIRE(h2);
  REQUIRE(d.write(*h2, 0, as_bytes("x")));
  REQUIRE(d.sync(*h2));  // contents synced but the create is not
  REQUIRE(w.crash(0));
  REQUIRE(d.read(*h, 0, mutable_byte_view{}).error() == storage::fs_errc::crashed);
  REQUIRE(w.restart(0));
  REQUIRE(d.read(*h, 0, mutable_byte_view{}).error() == storage::fs_errc::bad_handle);
  REQUIRE(read_all(d, "log") == "durable");
  REQUIRE(read_all(d, "new") == "<file not found>");
  REQUIRE(d.open("log", storage::open_mode::create_exclusive).error() ==
          storage::fs_errc::already_exists);
}

TEST_CASE("disk: rename durability and torn writes at sector granularity", "[sim][disk]") {
  sim::world w({.seed = 4, .nodes = 1});
  sim::disk d(w, 0, {.torn_write_probability = 1.0, .unsynced_survival_probability = 0.0});
  auto h = d.open("a", storage::open_mode::create_or_open);
  REQUIRE(h);
  REQUIRE(d.sync_directory());
  std::vector<std::uint8_t> block(2048, 0xab);
  REQUIRE(d.write(*h, 0, block));
  REQUIRE(d.rename("a", "b"));
  REQUIRE(w.crash(0));
  REQUIRE(w.restart(0));
  const std::string a = read_all(d, "a");
  REQUIRE(read_all(d, "b") == "<file not found>");
  REQUIRE(!a.empty());
  REQUIRE(a.size() % 512 == 0);  // a torn prefix of whole sectors
  REQUIRE(a.size() < 2048);
  REQUIRE(d.stats().torn == 1);
}

TEST_CASE("disk: latent errors, bit rot, misdirected writes", "[sim][disk]") {
  sim::world w({.seed = 6, .nodes = 1});
  sim::disk d(w, 0, {.latent_error_probability = 1.0});
  auto h = d.open("f", storage::open_mode::create_or_open);
  std::vector<std::uint8_t> data(1024, 7), out(1024);
  REQUIRE(d.write(*h, 0, data));
  REQUIRE(*d.read(*h, 0, out) == 1024);  // faults off: clean
  d.enable_faults(true);
  REQUIRE(d.read(*h, 0, out).error() == storage::fs_errc::io_error);
  d.enable_faults(false);
  REQUIRE(d.read(*h, 0, out).error() == storage::fs_errc::io_error);  // sticky
  REQUIRE(d.write(*h, 0, data));  // rewriting remaps the sector
  REQUIRE(*d.read(*h, 0, out) == 1024);
  REQUIRE(d.flip_bit("f", 10, 3));
  REQUIRE(*d.read(*h, 0, out) == 1024);
  REQUIRE(out[10] == (7 ^ 8));

  sim::disk m(w, 0, {.misdirect_probability = 1.0});
  m.enable_faults(true);
  auto g = m.open("g", storage::open_mode::create_or_open);
  REQUIRE(m.write(*g, 0, as_bytes("hello")));
  std::vector<std::uint8_t> first(5);
  REQUIRE(*m.size(*g) > 5);  // landed at least one sector further on
  REQUIRE(*m.read(*g, 0, first) == 5);
  REQUIRE(as_chars(first) != "hello");
  REQUIRE(m.stats().misdirected == 1);
}

TEST_CASE("disk fault budget refuses impossible budgets and is respected", "[sim][disk]") {
  REQUIRE(sim::disk_fault_budget{1, 2}.validate(3));
  REQUIRE(sim::disk_fault_budget{2, 2}.validate(3).error() ==
          sim::sim_errc::impossible_fault_budget);
  REQUIRE_FALSE(sim::disk_fault_budget{0, 4}.validate(3));
  sim::world w({.seed = 8, .nodes = 5});
  std::vector<std::unique_ptr<sim::disk>> disks;
  std::vector<sim::disk*> raw;
  for (node_id n = 0; n < 5; ++n) {
    disks.push_back(std::make_unique<sim::disk>(w, n, sim::disk_options{}));
    raw.push_back(disks.back().get());
  }
  bool saw_two = false;
  for (int round = 0; round < 200; ++round) {
    REQUIRE(sim::rotate_disk_faults(raw, {2, 3}, w.random()));
    int faulty = 0;
    for (auto* d : raw) faulty += d->faults_enabled() ? 1 : 0;
    REQUIRE(faulty <= 2);
    saw_two = saw_two || faulty == 2;
  }
  REQUIRE(saw_two);
  REQUIRE_FALSE(sim::rotate_disk_faults(raw, {3, 3}, w.random()));
}
