// The linearizability checker on classic histories: Herlihy & Wing (1990) queue examples
// and the Knossos documentation's register examples, encoded here by hand.
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>

#include "weft/sim/linearizability.hpp"

using namespace weft::sim;
using reg = register_model;
using que = queue_model;

namespace {
// Times are ticks; each event of the written history gets the next tick.
reg::input read() { return {reg::kind::read, 0, 0}; }
reg::input write(std::int64_t v) { return {reg::kind::write, v, 0}; }
reg::input cas(std::int64_t from, std::int64_t to) { return {reg::kind::cas, to, from}; }
reg::output value(std::int64_t v) { return {v, true}; }
que::input enq(std::int64_t v) { return {que::kind::enqueue, v}; }
que::input deq() { return {que::kind::dequeue, 0}; }
que::output got(std::int64_t v) { return {false, v}; }
que::output none() { return {false, 0}; }
}  // namespace

TEST_CASE("Herlihy-Wing H1: concurrent enqueues, either order, is linearizable", "[sim][lin]") {
  history<que> h;
  const auto a = h.invoke(0, enq(1), 1);  // A: q.Enq(x)
  const auto b = h.invoke(1, enq(2), 2);  // B: q.Enq(y)
  h.ok(b, none(), 3);
  h.ok(a, none(), 4);
  const auto bd = h.invoke(1, deq(), 5);  // B: q.Deq() -> x
  h.ok(bd, got(1), 6);
  const auto ad = h.invoke(0, deq(), 7);  // A: q.Deq() -> y
  h.ok(ad, got(2), 8);
  (void)h.invoke(0, enq(3), 9);            // A: q.Enq(z), pending
  REQUIRE(check(h).answer == verdict::linearizable);
}

TEST_CASE("Herlihy-Wing H2: a dequeue overtakes an earlier completed enqueue", "[sim][lin]") {
  history<que> h;
  const auto a = h.invoke(0, enq(1), 1);  // A: Enq(x) completes before B's Enq(y) starts
  h.ok(a, none(), 2);
  const auto b = h.invoke(1, enq(2), 3);
  const auto ad = h.invoke(0, deq(), 4);
  h.ok(b, none(), 5);
  h.ok(ad, got(2), 6);                     // ... yet A dequeues y
  const auto result = check(h);
  REQUIRE(result.answer == verdict::not_linearizable);
  REQUIRE(result.report.find("dequeue -> 2") != std::string::npos);
}

TEST_CASE("Herlihy-Wing H3: a pending enqueue may take effect", "[sim][lin]") {
  history<que> h;
  (void)h.invoke(0, enq(1), 1);            // A: Enq(x), never completes
  const auto bd = h.invoke(1, deq(), 2);  // B: Deq() -> x
  h.ok(bd, got(1), 3);
  REQUIRE(check(h).answer == verdict::linearizable);
}

TEST_CASE("Herlihy-Wing H4: one element dequeued twice", "[sim][lin]") {
  history<que> h;
  const auto a = h.invoke(0, enq(1), 1);
  const auto b = h.invoke(1, enq(2), 2);
  h.ok(a, none(), 3);
  h.ok(b, none(), 4);
  const auto ad = h.invoke(0, deq(), 5);
  const auto cd = h.invoke(2, deq(), 6);
  h.ok(ad, got(2), 7);
  h.ok(cd, got(2), 8);
  const auto result = check(h);
  REQUIRE(result.answer == verdict::not_linearizable);
  // Knossos-style: from the deepest state reached ([1] after enq, enq, deq -> 2) the other
  // dequeue of 2 cannot be placed.
  REQUIRE(result.window.size() == 1);
  REQUIRE((result.window[0] == ad || result.window[0] == cd));
  REQUIRE(result.report.find("model state [1]") != std::string::npos);
}

TEST_CASE("Knossos: a crashed write concurrent with a read of its value", "[sim][lin]") {
  history<reg> h;
  const auto r = h.invoke(0, read(), 1);
  const auto w = h.invoke(1, write(3), 2);
  h.info(w, 3);
  h.ok(r, value(3), 4);
  REQUIRE(check(h).answer == verdict::linearizable);
  // Had the write certainly failed, reading 3 would be impossible.
  history<reg> failed;
  const auto r2 = failed.invoke(0, read(), 1);
  const auto w2 = failed.invoke(1, write(3), 2);
  failed.fail(w2, 3);
  failed.ok(r2, value(3), 4);
  REQUIRE(check(failed).answer == verdict::not_linearizable);
}

TEST_CASE("Knossos: rethink-fail-minimal reads a value never durable", "[sim][lin]") {
  history<reg> h;
  const auto w0 = h.invoke(0, write(0), 1);
  h.ok(w0, value(0), 2);
  const auto r1 = h.invoke(1, read(), 3);
  const auto w4 = h.invoke(2, write(4), 4);
  h.ok(r1, value(3), 5);
  h.ok(w4, value(4), 6);
  const auto r3 = h.invoke(3, read(), 7);
  h.ok(r3, value(4), 8);
  const auto result = check(h);
  REQUIRE(result.answer == verdict::not_linearizable);
  // The minimal window is the read of 3 alone: nothing can make it legal.
  REQUIRE(result.window.size() == 1);
  REQUIRE(result.window[0] == r1);
  REQUIRE(result.report.find("read -> 3") != std::string::npos);
}

TEST_CASE("register: stale read after a completed write; CAS semantics", "[sim][lin]") {
  history<reg> h;
  const auto w = h.invoke(0, write(1), 1);
  h.ok(w, value(0), 2);
  const auto r = h.invoke(1, read(), 3);
  h.ok(r, value(0), 4);
  REQUIRE(check(h).answer == verdict::not_linearizable);

  history<reg> c;
  const auto c1 = c.invoke(0, cas(0, 5), 1);
  const auto c2 = c.invoke(1, cas(0, 6), 2);
  c.ok(c1, {0, true}, 3);
  c.ok(c2, {0, false}, 4);
  const auto r2 = c.invoke(2, read(), 5);
  c.ok(r2, value(5), 6);
  REQUIRE(check(c).answer == verdict::linearizable);
  c.operations()[c2].output.succeeded = true;  // both CAS from 0 succeeding is impossible
  REQUIRE(check(c).answer == verdict::not_linearizable);
}

TEST_CASE("kv map model", "[sim][lin]") {
  using kv = kv_model;
  history<kv> h;
  const auto p1 = h.invoke(0, {kv::kind::put, 1, 10}, 1);
  const auto g2 = h.invoke(1, {kv::kind::get, 2, 0}, 2);
  h.ok(p1, {}, 3);
  h.ok(g2, {false, 0}, 4);
  const auto g1 = h.invoke(1, {kv::kind::get, 1, 0}, 5);
  h.ok(g1, {true, 10}, 6);
  const auto rm = h.invoke(0, {kv::kind::remove, 1, 0}, 7);
  h.ok(rm, {}, 8);
  const auto g1b = h.invoke(1, {kv::kind::get, 1, 0}, 9);
  h.ok(g1b, {false, 0}, 10);
  REQUIRE(check(h).answer == verdict::linearizable);
  h.operations()[g1b].output = {true, 10};  // a read of a removed key
  REQUIRE(check(h).answer == verdict::not_linearizable);
}

TEST_CASE("the search is bounded: max_states answers unknown", "[sim][lin]") {
  history<reg> h;
  // Many overlapping writes of distinct values, then a read of a value never written.
  for (int i = 0; i < 20; ++i) (void)h.invoke(static_cast<std::uint32_t>(i), write(i + 1), 1);
  const auto r = h.invoke(99, read(), 2);
  h.ok(r, value(12345), 3);
  check_options tight;
  tight.max_states = 100;
  REQUIRE(check(h, tight).answer == verdict::unknown);
}
