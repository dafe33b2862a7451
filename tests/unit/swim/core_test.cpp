// The SWIM core, driven through the in-test network: probing, indirect probes, suspicion
// and refutation, Lifeguard, leave, address change, admission, bounds and bad input.
#include <catch2/catch.hpp>

#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "swim_harness.hpp"
#include "swim_packets.hpp"

using namespace swim_test;

namespace {
struct tally {
  std::vector<std::size_t> failed_about;  // member ids marked dead, by anyone
  std::size_t failed = 0, left = 0, updated_moved = 0, suspected = 0;
};
void count_into(cluster& c, tally& t) {
  c.on_note = [&t](std::size_t, const notification& n) {
    if (n.kind == notification_kind::member_failed) {
      ++t.failed;
      t.failed_about.push_back(n.member);
    }
    if (n.kind == notification_kind::member_left) ++t.left;
    if (n.kind == notification_kind::member_suspected) ++t.suspected;
    if (n.address_changed) ++t.updated_moved;
  };
}

member_claim signed_claim(member_claim c, const test_admission_scheme& by) {
  std::array<std::uint8_t, 256> buf{};
  byte_writer w(buf);
  REQUIRE(encode_claim(w, c, true));
  REQUIRE(by.sign(w.written(), c.signature.bytes));
  c.signature.size = test_admission_scheme::signature_bytes;
  return c;
}

// Counts the items of each kind one encoded datagram carries.
std::array<std::size_t, 8> items_in(byte_view packet) {
  std::array<std::size_t, 8> kinds{};
  byte_reader r(packet);
  packet_header h;
  auto n = decode_header(r, h, 255);
  REQUIRE(n);
  gossip_item item;
  for (std::uint64_t i = 0; i < *n; ++i) {
    REQUIRE(decode_item(r, item));
    ++kinds[static_cast<std::size_t>(item.kind)];
  }
  return kinds;
}
}  // namespace

TEST_CASE("options validate their limits", "[swim][core]") {
  options o;
  CHECK(o.validate());
  o.probe_timeout_ms = 2000;
  CHECK(o.validate().error().is(core_errc::invalid_options));
  o = options{};
  o.mtu_bytes = 100;
  CHECK_FALSE(o.validate());
  o = options{};
  o.max_payload_bytes = 400;
  o.mtu_bytes = 244;
  CHECK_FALSE(o.validate());
}

TEST_CASE("a healthy cluster stays alive and keeps probing", "[swim][core]") {
  cluster c(6, sim_options(6), 1);
  tally t;
  count_into(c, t);
  c.run_for(30s);
  CHECK(t.failed == 0);
  for (auto& core : c.cores) {
    CHECK(core.stats().probes >= 20);
    CHECK(core.live_count() == 6);
    for (node_id id = 1; id <= 6; ++id) CHECK(core.state_of(id) == member_state::alive);
  }
}

TEST_CASE("a crashed member is suspected, then declared dead by every live member",
          "[swim][core]") {
  cluster c(8, sim_options(8), 2);
  tally t;
  count_into(c, t);
  c.run_for(3s);
  c.crashed[3] = true;
  c.run_for(90s);
  for (std::size_t i = 0; i < 8; ++i) {
    if (i == 3) continue;
    const auto s = c.cores[i].state_of(4);
    CHECK((s == member_state::dead || s == member_state::absent));
    CHECK(c.cores[i].live_count() == 7);
  }
  CHECK(t.failed == 7);
  for (auto id : t.failed_about) CHECK(id == 4);
  CHECK(t.suspected >= 1);
}

TEST_CASE("indirect probes save a member whose direct link is cut", "[swim][core]") {
  cluster c(6, sim_options(6), 3);
  tally t;
  count_into(c, t);
  c.drop_link = [](address from, address to) {
    return (from == 1 && to == 2) || (from == 2 && to == 1);
  };
  c.run_for(120s);
  CHECK(t.failed == 0);
  CHECK(c.cores[0].stats().indirect_probes_sent > 0);
  CHECK(c.cores[0].state_of(2) == member_state::alive);
}

TEST_CASE("the fallback stream probe saves a member whose datagrams are all lost",
          "[swim][core]") {
  // Member 2 can neither send nor receive datagrams (a filtered port): direct and indirect
  // probes of it fail; only the ping over the stream transport reaches it.
  const auto run = [](bool fallback) {
    options o = sim_options(6);
    o.stream_probe_fallback = fallback;
    cluster c(6, o, 3);
    tally t;
    count_into(c, t);
    c.drop_datagrams = [](address from, address to) { return from == 2 || to == 2; };
    c.run_for(60s);
    std::uint64_t stream_probes = 0, stream_acks = 0;
    for (const core& k : c.cores) {
      stream_probes += k.stats().stream_probes_sent;
      stream_acks += k.stats().stream_probe_acks;
    }
    return std::array<std::uint64_t, 4>{t.suspected, t.failed, stream_probes, stream_acks};
  };
  const auto with = run(true);
  CHECK(with[0] == 0);  // no suspicion, so no false verdict
  CHECK(with[1] == 0);
  CHECK(with[2] > 0);
  CHECK(with[3] > 0);
  const auto without = run(false);
  CHECK(without[0] > 0);  // the same cut without the fallback: member 2 is suspected
  CHECK(without[2] == 0);
}

TEST_CASE("a stream ping is answered over the stream; malformed ones are refused",
          "[swim][core][bad-input]") {
  cluster c(3, sim_options(3), 5);
  core& k = c.cores[0];
  std::array<std::uint8_t, 64> buf{};
  const auto stream_ping = [&buf](node_id target, bool with_item) {
    byte_writer w(buf);
    packet_header h;
    h.kind = packet_kind::ping;
    h.sender = 2;
    h.seq = 77;
    h.target = target;
    REQUIRE(encode_header(w, h));
    REQUIRE(encode_array_head(w, with_item ? 1 : 0));
    return byte_view(w.written());
  };
  REQUIRE(k.step_stream(c.now, 2, stream_ping(1, false)));
  REQUIRE(k.sends().size() == 1);
  CHECK(k.sends()[0].via == channel::stream);
  CHECK(k.sends()[0].to == 2);
  byte_reader r(k.sends()[0].bytes);
  packet_header ack;
  REQUIRE(decode_header(r, ack, 0));
  CHECK(ack.kind == packet_kind::ack);
  CHECK(ack.seq == 77);
  k.clear_outputs();
  CHECK(!k.step_stream(c.now, 2, stream_ping(3, false)));  // not for us
  CHECK(k.stats().refused_by(swim_errc::unknown_member) == 1);
  CHECK(!k.step_stream(c.now, 2, stream_ping(1, true)));  // items on a stream ping
  CHECK(k.stats().refused_by(swim_errc::malformed_message) == 1);
  CHECK(k.sends().empty());
}

TEST_CASE("a push-pull does not bring back a dead member this core does not hold",
          "[swim][core]") {
  cluster c(3, sim_options(3), 6);
  core& k = c.cores[0];
  const member_claim alive = make_core(sim_options(3), 8, 1).self_claim();  // member 9
  member_claim dead;
  dead.kind = item_kind::dead;
  dead.subject = 9;
  dead.incarnation = alive.incarnation;
  dead.from = 2;
  dead = signed_claim(dead, member_scheme(1));
  const auto push_pull = [](const std::vector<member_claim>& claims) {
    std::vector<std::uint8_t> buf(4096);
    byte_writer w(buf);
    packet_header h;
    h.kind = packet_kind::push_pull;
    h.sender = 2;
    h.seq = 1;  // a reply: nothing is sent back
    REQUIRE(encode_header(w, h));
    REQUIRE(encode_array_head(w, claims.size()));
    for (const auto& claim : claims) REQUIRE(encode_claim(w, claim));
    buf.resize(w.size());
    return buf;
  };
  (void)k.step_stream(c.now, 2, push_pull({alive, dead}));
  CHECK(k.state_of(9) == member_state::absent);  // memberlist ignores the dead it never knew
  CHECK(k.notifications().empty());
  CHECK(k.stats().refused_by(swim_errc::unknown_member) == 1);
  (void)k.step_stream(c.now, 2, push_pull({alive}));  // alive alone is still learned
  CHECK(k.state_of(9) == member_state::alive);
  (void)k.step_stream(c.now, 2, push_pull({alive, dead}));  // and a held one is buried
  CHECK(k.state_of(9) == member_state::dead);
}

TEST_CASE("a paused member is suspected and refutes with a higher incarnation",
          "[swim][core][lifeguard]") {
  cluster c(6, sim_options(6), 4);
  tally t;
  count_into(c, t);
  c.run_for(2s);
  c.paused[2] = true;
  c.run_for(3500ms);
  c.paused[2] = false;
  c.run_for(30s);
  CHECK(t.failed == 0);
  CHECK(t.suspected >= 1);
  CHECK(c.cores[2].incarnation() > 1);
  CHECK(c.cores[2].stats().refutations >= 1);
  CHECK(c.cores[2].stats().stalls == 1);  // it noticed its own pause and refuted first
  for (auto& core : c.cores) CHECK(core.state_of(3) == member_state::alive);
}

TEST_CASE("suspicion timeout shrinks with confirmations (memberlist formula)",
          "[swim][core][lifeguard]") {
  cluster c(100, sim_options(100), 5);
  const core& k = c.cores[0];
  REQUIRE(k.live_count() == 100);
  // min = 4 * log10(100) * 1 s = 8 s, max = 6 * min = 48 s, k = 4 - 2 = 2 confirmations.
  const double min_s = 8, max_s = 48;
  const auto secs = [](duration d) { return static_cast<double>(d.count()) / 1e9; };
  CHECK(secs(k.suspicion_timeout(0)) == Approx(max_s));
  CHECK(secs(k.suspicion_timeout(1)) == Approx(max_s - (max_s - min_s) * std::log(2.0) / std::log(3.0)));
  CHECK(secs(k.suspicion_timeout(2)) == Approx(min_s));
  CHECK(secs(k.suspicion_timeout(5)) == Approx(min_s));
  // lambda * ceil(log10(n + 1)) = 4 * 3.
  CHECK(k.retransmit_limit() == 12);
}

TEST_CASE("graceful leave: alive -> leaving -> left everywhere, no failure", "[swim][core]") {
  cluster c(6, sim_options(6), 6);
  tally t;
  count_into(c, t);
  c.run_for(2s);
  REQUIRE(c.cores[4].leave(c.now));
  c.run_for(5s);
  CHECK_FALSE(c.cores[4].running());
  CHECK(t.failed == 0);
  CHECK(t.left == 6);  // five peers and the member itself
  for (std::size_t i = 0; i < 6; ++i)
    if (i != 4) CHECK(c.cores[i].state_of(5) == member_state::left);
  CHECK(c.cores[4].leave(c.now).error().is(swim_errc::not_running));
}

TEST_CASE("a known member that comes back on a new address is updated (memberlist 157)",
          "[swim][core]") {
  const options o = sim_options(6);
  cluster c(6, o, 7);
  tally t;
  count_into(c, t);
  c.run_for(2s);
  c.restart(3, o, 77, 5, 200);  // same id 4, incarnation 5, address 200
  REQUIRE(c.cores[3].join(c.now, 1));
  c.drain(3);
  c.run_for(10s);
  for (std::size_t i = 0; i < 6; ++i) {
    CHECK(c.cores[i].state_of(4) == member_state::alive);
    CHECK(c.cores[i].address_of(4) == 200);
  }
  CHECK(t.updated_moved >= 5);
  CHECK(t.failed == 0);
}

TEST_CASE("forged, unadmitted and replayed claims are dropped and counted",
          "[swim][core][admission]") {
  cluster c(4, sim_options(4), 8);
  core& k = c.cores[0];
  const test_admission_scheme stranger(424242);
  const test_admission_scheme fake_anchor(99);

  SECTION("a newcomer admitted by an unknown key") {
    member_claim a;
    a.kind = item_kind::alive;
    a.subject = 50;
    a.incarnation = 1;
    a.from = 50;
    a.addr = 50;
    REQUIRE(a.key.assign(stranger.public_key()));
    a.admitter = anchor_id_base;
    a.admission = *admit(fake_anchor, 50, stranger.public_key());
    a = signed_claim(a, stranger);
    const auto pkt = gossip_packet(2, {a});
    (void)k.step(c.now, 2, pkt);
    CHECK(k.state_of(50) == member_state::absent);
    CHECK(k.stats().refused_by(swim_errc::not_admitted) == 1);
    CHECK(k.stats().forged == 1);
    // Admitted by a member key instead: accepted.
    a.admitter = 2;
    a.admission = *admit(member_scheme(1), 50, stranger.public_key());
    a = signed_claim(a, stranger);
    REQUIRE(k.add_member(c.now, a));
    CHECK(k.state_of(50) == member_state::alive);
  }
  SECTION("a suspicion signed with the wrong key") {
    member_claim s;
    s.kind = item_kind::suspect;
    s.subject = 3;
    s.incarnation = 1;
    s.from = 2;
    s = signed_claim(s, stranger);
    (void)k.step(c.now, 2, gossip_packet(2, {s}));
    CHECK(k.state_of(3) == member_state::alive);
    CHECK(k.stats().refused_by(swim_errc::bad_signature) == 1);
    // The same claim signed by member 2 itself is applied.
    s = signed_claim(s, member_scheme(1));
    (void)k.step(c.now, 2, gossip_packet(2, {s}));
    CHECK(k.state_of(3) == member_state::suspect);
  }
  SECTION("a replayed alive claim from an older incarnation") {
    const member_claim old = c.cores[2].self_claim();
    c.paused[2] = true;  // let it be suspected, then refute at a higher incarnation
    c.run_for(3s);
    c.paused[2] = false;
    c.run_for(10s);
    REQUIRE(c.cores[2].incarnation() > 1);
    const auto before = k.stats().replays;
    (void)k.step(c.now, 4, gossip_packet(4, {old}));
    CHECK(k.stats().replays == before + 1);
    CHECK(k.incarnation_of(3) == c.cores[2].incarnation());
  }
  SECTION("a claim with an impossible incarnation") {
    member_claim s;
    s.kind = item_kind::suspect;
    s.subject = 3;
    s.incarnation = (std::uint64_t{1} << 40);
    s.from = 2;
    s = signed_claim(s, member_scheme(1));
    (void)k.step(c.now, 2, gossip_packet(2, {s}));
    CHECK(k.stats().refused_by(swim_errc::impossible_incarnation) == 1);
    CHECK(k.lifecycle().refused(swim_errc::impossible_incarnation) == 1);
    CHECK(k.state_of(3) == member_state::alive);
  }
}

TEST_CASE("bad input is refused with counters, never asserted", "[swim][core][bad-input]") {
  cluster c(3, sim_options(3), 9);
  core& k = c.cores[0];
  xoshiro256 rng(5);
  std::vector<std::uint8_t> junk(300);
  for (int round = 0; round < 2000; ++round) {
    junk.resize(uniform_below(rng, 300));
    for (auto& b : junk) b = static_cast<std::uint8_t>(rng.next_u64());
    if (!junk.empty() && round % 2 == 0) junk[0] = 0x86;  // look like a header half the time
    const auto r = k.step(c.now + milliseconds(round * 20), 2, junk);
    if (!r) CHECK(std::string(r.error().domain().name) == "swim");
    c.drain(0);
  }
  CHECK(k.stats().refused_by(swim_errc::malformed_message) > 100);
  std::vector<std::uint8_t> huge(k.config().mtu_bytes + 1, 0x80);
  CHECK(k.step(c.now, 2, huge).error().is(swim_errc::message_too_large));
  CHECK(k.step_stream(c.now, 2, junk).has_value() == false);
  CHECK(k.member_count() == 3);  // nothing admitted from junk
}

TEST_CASE("a flooding sender is limited per protocol period", "[swim][core][bad-input]") {
  cluster c(3, sim_options(3), 10);
  core& k = c.cores[0];
  packet_header h;
  h.kind = packet_kind::ping;
  h.sender = 2;
  h.target = 1;
  std::array<std::uint8_t, 64> buf{};
  byte_writer w(buf);
  REQUIRE(encode_header(w, h));
  REQUIRE(encode_array_head(w, 0));
  const auto limit = k.config().max_packets_per_sender_per_period;
  for (std::uint32_t i = 0; i < limit + 50; ++i) {
    (void)k.step(c.now, 2, w.written());
    c.drain(0);
  }
  CHECK(k.stats().refused_by(swim_errc::flood_limited) == 50);
}

TEST_CASE("Lifeguard local health backs probing off; a ping to a suspect carries the suspicion",
          "[swim][core][lifeguard]") {
  SECTION("a member that hears nothing trusts itself less and probes less often") {
    cluster c(5, sim_options(5), 40);
    c.drop_link = [](address, address to) { return to == 1; };  // member 1 is deaf
    c.run_for(14s);
    core& k = c.cores[0];
    // Each failed probe with three missing nacks raises the score by three (and the next
    // probe comes score + 1 intervals later): three failures by 14 s reach the top.
    CHECK(k.health_score() == k.config().awareness_max_multiplier - 1);
    CHECK(k.stats().dead_verdicts == 0);  // its suspicions run 24 s: it still probes
    const auto probes_before = k.stats().probes;
    c.run_for(14s);
    // At the top score the probe interval is 8 x 1 s: one or two probes in 14 s, not 14.
    CHECK(k.stats().probes - probes_before >= 1);
    CHECK(k.stats().probes - probes_before <= 2);
  }
  SECTION("buddy system: the suspicion rides first in the ping to the suspect") {
    cluster c(4, sim_options(4), 41);
    core& k = c.cores[0];
    member_claim s;
    s.kind = item_kind::suspect;
    s.subject = 3;
    s.incarnation = 1;
    s.from = 2;
    s = signed_claim(s, member_scheme(1));
    (void)k.step(c.now, 2, gossip_packet(2, {s}));
    REQUIRE(k.state_of(3) == member_state::suspect);
    c.drain(0);
    std::size_t pings_to_suspect = 0;
    for (int round = 1; round <= 3; ++round) {
      k.tick(c.now + std::chrono::seconds(round));
      for (const outgoing& out : k.sends()) {
        if (out.via != channel::datagram) continue;  // the fallback stream ping has no items
        byte_reader r(out.bytes);
        packet_header h;
        auto n = decode_header(r, h, 255);
        REQUIRE(n);
        if (h.kind != packet_kind::ping || h.target != 3) continue;
        ++pings_to_suspect;
        REQUIRE(*n > 0);
        gossip_item first;
        REQUIRE(decode_item(r, first));
        CHECK(first.kind == item_kind::suspect);
        CHECK(first.claim.subject == 3);
      }
      k.clear_outputs();
    }
    CHECK(pings_to_suspect > 0);
  }
}

TEST_CASE("a payload is sent retransmit_limit() times, then retired", "[swim][core]") {
  cluster c(4, sim_options(4), 42);
  core& k = c.cores[0];
  REQUIRE(k.broadcast(as_bytes("once around")));
  std::size_t sent = 0;
  for (int round = 1; round <= 100 && k.payload_queue_size() > 0; ++round) {
    k.tick(c.now + milliseconds(round * 200));
    for (const outgoing& out : k.sends())
      if (out.via == channel::datagram) sent += items_in(out.bytes)[static_cast<std::size_t>(item_kind::app)];
    k.clear_outputs();
  }
  CHECK(k.payload_queue_size() == 0);
  CHECK(sent == k.retransmit_limit());
}

TEST_CASE("claims about unknown members are refused and counted", "[swim][core][bad-input]") {
  cluster c(3, sim_options(3), 43);
  core& k = c.cores[0];
  for (item_kind kind : {item_kind::suspect, item_kind::dead, item_kind::leave}) {
    member_claim u;
    u.kind = kind;
    u.subject = 77;
    u.incarnation = 1;
    u.from = kind == item_kind::leave ? 77 : 2;
    u = signed_claim(u, member_scheme(1));
    (void)k.step(c.now, 2, gossip_packet(2, {u}));
    c.drain(0);
  }
  CHECK(k.stats().refused_by(swim_errc::unknown_member) == 3);
  CHECK(k.lifecycle().refused(swim_errc::unknown_member) == 3);
  CHECK(k.member_count() == 3);
  CHECK(k.state_of(77) == member_state::absent);
}

TEST_CASE("unknown senders each get their own budget, within a shared one",
          "[swim][core][bad-input]") {
  cluster c(3, sim_options(3), 10);
  core& k = c.cores[0];
  const auto ping_from = [&](node_id sender) {
    packet_header h;
    h.kind = packet_kind::ping;
    h.sender = sender;
    h.target = 1;
    std::array<std::uint8_t, 64> buf{};
    byte_writer w(buf);
    REQUIRE(encode_header(w, h));
    REQUIRE(encode_array_head(w, 0));
    const bool admitted = k.step(c.now, 900, w.written()).has_value();
    c.drain(0);
    return admitted;
  };
  const auto& o = k.config();
  std::uint32_t flooder_admitted = 0;
  for (std::uint32_t i = 0; i < o.max_unknown_sender_packets_per_period; ++i)
    flooder_admitted += ping_from(500) ? 1 : 0;
  CHECK(flooder_admitted == o.max_packets_per_unknown_sender_per_period);
  // Another unknown sender (a newcomer) still gets through in the same period.
  CHECK(ping_from(501));
  // Rotating sender ids: the table of unknown senders and the shared budget bound it.
  std::uint32_t rotated_admitted = 0;
  for (node_id id = 1000; id < 1000 + 4 * o.max_unknown_senders; ++id)
    rotated_admitted += ping_from(id) ? 1 : 0;
  CHECK(rotated_admitted == o.max_unknown_senders - 2);
  CHECK(k.stats().refused_by(swim_errc::flood_limited) ==
        o.max_unknown_sender_packets_per_period - o.max_packets_per_unknown_sender_per_period +
            3 * o.max_unknown_senders + 2);
  // The next period starts afresh.
  c.now += milliseconds(o.probe_interval_ms);
  CHECK(ping_from(500));
}

TEST_CASE("the member table is bounded", "[swim][core][bad-input]") {
  options o = sim_options(8);
  o.max_members = 4;
  cluster c(1, o, 11);
  core& k = c.cores[0];
  for (std::size_t i = 1; i < 6; ++i) {
    const core other = make_core(sim_options(8), i, 11);
    (void)k.add_member(c.now, other.self_claim());
  }
  CHECK(k.member_count() == 4);
  CHECK(k.stats().refused_by(swim_errc::member_table_full) == 2);
}

TEST_CASE("datagrams respect a small MTU (244 bytes) under churn", "[swim][core][mtu]") {
  options o = sim_options(20);
  o.mtu_bytes = 244;
  o.max_payload_bytes = 100;
  cluster c(20, o, 12);
  tally t;
  count_into(c, t);
  c.run_for(2s);
  for (std::size_t i : {3u, 7u, 11u}) c.crashed[i] = true;
  c.run_for(60s);
  CHECK(c.max_datagram_bytes <= 244);
  for (auto id : t.failed_about) CHECK((id == 4 || id == 8 || id == 12));
  CHECK(t.failed == 3 * 17);
  // A burst of 20 newcomers: gossip packs claims up to, never over, the MTU.
  core& k = c.cores[0];
  std::vector<member_claim> burst;
  for (std::size_t i = 30; i < 50; ++i) burst.push_back(make_core(o, i, 1).self_claim());
  for (std::size_t i = 0; i < burst.size(); i += 2)
    (void)k.step(c.now, 2, gossip_packet(2, {burst.begin() + static_cast<long>(i),
                                             burst.begin() + static_cast<long>(i + 2)}));
  c.drain(0);
  k.tick(c.now + 1s);
  std::size_t biggest = 0;
  for (const outgoing& out : k.sends()) {
    CHECK(out.bytes.size() <= 244);
    biggest = std::max(biggest, out.bytes.size());
  }
  CHECK(biggest > 244 - 70);  // packed: less than one more claim's worth left over
  k.clear_outputs();
}

TEST_CASE("application messages keep a fair share of packet space (memberlist 299)",
          "[swim][core][fairness]") {
  // A 80-byte application payload: bigger than the scraps membership claims leave over.
  const std::string app(80, 'a');
  options o = sim_options(64);
  o.mtu_bytes = 512;
  for (std::uint32_t share : {25u, 0u}) {
    o.app_share_percent = share;
    cluster c(2, o, 14);
    core& k = c.cores[0];
    std::vector<member_claim> burst;
    for (std::size_t i = 10; i < 50; ++i) burst.push_back(make_core(o, i, 1).self_claim());
    for (std::size_t i = 0; i < burst.size(); i += 4)
      (void)k.step(c.now, 2, gossip_packet(2, {burst.begin() + static_cast<long>(i),
                                               burst.begin() + static_cast<long>(i + 4)}));
    c.drain(0);
    REQUIRE(k.broadcast(as_bytes(app)));
    // Ask for one gossip packet directly and look inside it.
    std::size_t app_items = 0, claim_items = 0;
    c.cores[0].tick(c.now + 10s);
    for (const outgoing& out : k.sends()) {
      if (out.via != channel::datagram) continue;
      const auto kinds = items_in(out.bytes);
      app_items += kinds[static_cast<std::size_t>(item_kind::app)];
      claim_items += kinds[static_cast<std::size_t>(item_kind::alive)];
      CHECK(out.bytes.size() <= 512);
    }
    CHECK(claim_items > 0);
    if (share > 0) CHECK(app_items > 0);
    else CHECK(app_items == 0);  // starved: membership churn took every byte
    k.clear_outputs();
  }
}

TEST_CASE("user events are Lamport-ordered and coalesced by name", "[swim][core][events]") {
  options o = sim_options(5);
  o.coalesce_period_ms = 500;
  cluster c(5, o, 15);
  std::vector<std::vector<std::string>> got(5);
  std::vector<std::vector<std::uint64_t>> times(5);
  c.on_note = [&](std::size_t i, const notification& n) {
    if (n.kind != notification_kind::user_event) return;
    got[i].emplace_back(as_chars(n.payload));
    times[i].push_back(n.id);
  };
  c.run_for(1s);
  REQUIRE(c.cores[0].send_user_event(c.now, as_bytes("deploy"), as_bytes("v1")));
  REQUIRE(c.cores[0].send_user_event(c.now, as_bytes("deploy"), as_bytes("v2")));
  REQUIRE(c.cores[0].send_user_event(c.now, as_bytes("restart"), as_bytes("r1")));
  c.drain(0);
  c.run_for(5s);
  for (std::size_t i = 0; i < 5; ++i) {
    INFO("member " << i);
    // v1 and v2 share a name and a window: only v2 survives; restart is its own name.
    REQUIRE(got[i].size() == 2);
    CHECK(got[i][0] == "v2");
    CHECK(got[i][1] == "r1");
    CHECK(times[i][0] < times[i][1]);
  }
}

TEST_CASE("queries collect one response per member until the timeout", "[swim][core][events]") {
  cluster c(5, sim_options(5), 16);
  struct ask {
    std::size_t who;
    address to;
    std::uint64_t id;
  };
  std::vector<ask> to_answer;
  std::size_t responses = 0, done = 0;
  c.on_note = [&](std::size_t i, const notification& n) {
    if (n.kind == notification_kind::query) to_answer.push_back({i, n.addr, n.id});
    if (n.kind == notification_kind::query_response && as_chars(n.payload) == "pong") ++responses;
    if (n.kind == notification_kind::query_done) ++done;
  };
  c.run_for(1s);
  auto id = c.cores[0].query(c.now, as_bytes("ping?"), as_bytes(""), 3000);
  REQUIRE(id);
  c.drain(0);
  for (int step = 0; step < 60; ++step) {
    c.run_for(100ms);
    for (const ask& a : to_answer) {
      CHECK(a.id == *id);
      REQUIRE(c.cores[a.who].respond(a.to, a.id, as_bytes("pong")));
      REQUIRE(c.cores[a.who].respond(a.to, a.id, as_bytes("pong")));  // duplicate: ignored
      c.drain(a.who);
    }
    to_answer.clear();
  }
  CHECK(responses == 4);
  CHECK(done == 1);
  // A response after the timeout is refused and counted.
  REQUIRE(c.cores[1].respond(1, *id, as_bytes("late")));
  c.drain(1);
  c.run_for(1s);
  CHECK(c.cores[0].stats().late_responses == 1);
}

TEST_CASE("a member joins through a seed with push-pull", "[swim][core]") {
  const options o = sim_options(8);
  cluster c(5, o, 17);
  std::size_t joined = 0;
  c.on_note = [&](std::size_t i, const notification& n) {
    if (i == 5 && n.kind == notification_kind::joined_cluster) ++joined;
  };
  const std::size_t j = c.add_core(o, 17);
  REQUIRE(c.cores[j].join(c.now, 1));
  c.drain(j);
  c.run_for(15s);
  CHECK(joined == 1);
  for (auto& k : c.cores) {
    CHECK(k.state_of(6) == member_state::alive);
    CHECK(k.live_count() == 6);
  }
}

TEST_CASE("push-pull carries at most max_push_pull_members; rotation covers the table",
          "[swim][core]") {
  options o = sim_options(48);
  o.max_push_pull_members = 8;
  o.push_pull_interval_ms = 2000;
  cluster c(40, o, 18);
  c.run_for(10s);
  const std::size_t j = c.add_core(o, 18);
  REQUIRE(c.cores[j].join(c.now, 1));
  c.drain(j);
  c.run_for(200s);
  // An alive claim of the test scheme is under 80 bytes: 8 of them and a header.
  CHECK(c.max_stream_bytes <= 8 * 80 + 32);
  CHECK(c.max_stream_bytes > 4 * 40);  // the exchanges were not empty
  // Old members' claims are no longer gossiped: the joiner learned them from successive
  // push-pull windows.
  CHECK(c.cores[j].live_count() == 41);
  for (std::size_t i = 0; i < 40; ++i) CHECK(c.cores[i].state_of(c.cores[j].id()) == member_state::alive);
}

TEST_CASE("push-pull of a table larger than the stream limit still goes out, in part",
          "[swim][core]") {
  options o = sim_options(40);
  o.max_stream_message_bytes = o.mtu_bytes;  // 1400 bytes: fewer than 40 claims
  cluster c(40, o, 19);
  const std::size_t j = c.add_core(o, 19);
  REQUIRE(c.cores[j].join(c.now, 1));
  c.drain(j);
  c.run_for(5s);
  CHECK(c.cores[0].stats().refused_by(swim_errc::message_too_large) == 0);
  CHECK(c.cores[j].state_of(1) == member_state::alive);
  CHECK(c.max_stream_bytes <= o.max_stream_message_bytes);
}

namespace {
struct memory_incarnations {
  std::uint64_t stored = 0;
  bool fail = false;
  static result<std::uint64_t> load(void* self) noexcept {
    return static_cast<memory_incarnations*>(self)->stored;
  }
  static result<void> persist(void* self, std::uint64_t incarnation) noexcept {
    auto* m = static_cast<memory_incarnations*>(self);
    if (m->fail) return error(core_errc::capacity_exceeded, "test store: disk full");
    m->stored = incarnation;
    return ok();
  }
  incarnation_store hook() noexcept { return {this, &load, &persist}; }
};

result<core> core_with_store(memory_incarnations& store, std::uint64_t incarnation) {
  const test_admission_scheme anchor(anchor_seed);
  const auto scheme = member_scheme(0);
  identity self;
  self.id = 1;
  self.addr = 1;
  self.incarnation = incarnation;
  self.admission = *admit(anchor, self.id, scheme.public_key());
  self.incarnations = store.hook();
  const byte_view anchors[] = {anchor.public_key()};
  return core::create(sim_options(4), self, scheme, xoshiro256(5), anchors);
}
}  // namespace

TEST_CASE("a restarted member comes back above every incarnation it used", "[swim][core]") {
  memory_incarnations store;
  auto first = core_with_store(store, 1);
  REQUIRE(first);
  CHECK(store.stored == 1);
  time_point now{};
  REQUIRE(first->bootstrap(now));
  // Two stalls: each refutes pre-emptively with a new, persisted incarnation.
  for (int stall = 0; stall < 2; ++stall) {
    now += 5s;
    first->tick(now);
    first->clear_outputs();
  }
  const std::uint64_t used = first->incarnation();
  CHECK(used >= 3);
  CHECK(store.stored == used);
  // The restart asks for incarnation 1 (a process that forgot); the store wins.
  auto second = core_with_store(store, 1);
  REQUIRE(second);
  CHECK(second->incarnation() == used + 1);
  CHECK(second->self_claim().incarnation == used + 1);
  CHECK(store.stored == used + 1);
  // A store that cannot persist: no new incarnation is signed, and creation fails.
  REQUIRE(second->bootstrap(now));
  store.fail = true;
  now += 5s;
  second->tick(now);
  CHECK(second->incarnation() == used + 1);
  CHECK(second->stats().incarnation_persist_failures == 1);
  CHECK_FALSE(core_with_store(store, 1));
}
