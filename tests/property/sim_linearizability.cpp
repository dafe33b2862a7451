// Property tests for the linearizability checker: histories generated from a sequential
// run (each operation takes effect at a random point inside its interval) must pass;
// the same histories with one observed value corrupted must fail.
#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "weft/core/random.hpp"
#include "weft/sim/linearizability.hpp"

using namespace weft;
using namespace weft::sim;

namespace {
struct planned {
  std::uint32_t process;
  std::int64_t invoke, point, complete;
  bool unknown;   // recorded as info
  bool applied;   // for unknown ops: whether it took effect
};

/// Intervals for `count` ops over `processes` processes, each sequential per process.
std::vector<planned> plan(xoshiro256& random, std::uint32_t processes, std::size_t count,
                          double unknown_rate) {
  std::vector<std::int64_t> free_at(processes, 0);
  std::vector<planned> out;
  for (std::size_t i = 0; i < count; ++i) {
    const auto p = static_cast<std::uint32_t>(uniform_below(random, processes));
    const std::int64_t invoke = free_at[p] + static_cast<std::int64_t>(uniform_below(random, 20));
    const std::int64_t complete = invoke + 1 + static_cast<std::int64_t>(uniform_below(random, 40));
    const std::int64_t point =
        invoke + static_cast<std::int64_t>(uniform_below(random, static_cast<std::uint64_t>(complete - invoke)));
    const bool unknown = chance(random, unknown_rate);
    out.push_back({p, invoke, point, complete, unknown, chance(random, 0.5)});
    free_at[p] = complete + 1;
  }
  return out;
}

/// Records the planned ops into a history with outputs from applying the model in
/// linearization-point order. `make` picks each op's input.
template <class M, class Make>
history<M> run_sequential(const std::vector<planned>& ops, xoshiro256& random, Make make) {
  std::vector<std::size_t> order(ops.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return ops[a].point < ops[b].point; });
  std::vector<typename M::input> inputs(ops.size());
  std::vector<typename M::output> outputs(ops.size());
  for (std::size_t i = 0; i < ops.size(); ++i) inputs[i] = make(random, i);
  typename M::state s = M::initial();
  for (std::size_t i : order) {
    if (ops[i].unknown && !ops[i].applied) continue;
    typename M::state next{};
    outputs[i] = M::observe(s, inputs[i]);
    REQUIRE(M::step(s, inputs[i], outputs[i], next));
    s = next;
  }
  history<M> h;
  for (std::size_t i = 0; i < ops.size(); ++i) {
    const auto id = h.invoke(ops[i].process, inputs[i], ops[i].invoke);
    if (ops[i].unknown) h.info(id, ops[i].complete);
    else h.ok(id, outputs[i], ops[i].complete);
  }
  return h;
}

// The models plus "what would this op observe in state s".
struct reg : register_model {
  static output observe(const state& s, const input& in) {
    if (in.op == kind::cas) return {0, s == in.expected};
    return {s, true};
  }
};
struct que : queue_model {
  static output observe(const state& s, const input& in) {
    if (in.op == kind::enqueue || s.empty()) return {in.op == kind::dequeue, 0};
    return {false, s.front()};
  }
};
struct kv : kv_model {
  static output observe(const state& s, const input& in) {
    for (const auto& [k, v] : s)
      if (k == in.key) return {true, v};
    return {false, 0};
  }
};
}  // namespace

TEST_CASE("checker accepts sequential runs and rejects corrupted ones", "[sim][lin][property]") {
  rc::prop("register histories", [](std::uint64_t seed) {
    xoshiro256 random(seed);
    const auto processes = static_cast<std::uint32_t>(uniform_between(random, 1, 5));
    const auto count = static_cast<std::size_t>(uniform_between(random, 1, 60));
    const auto ops = plan(random, processes, count, 0.05);
    std::int64_t next_value = 1;
    auto h = run_sequential<reg>(ops, random, [&](xoshiro256& r, std::size_t) {
      const auto pick = uniform_below(r, 4);
      if (pick == 0) return reg::input{reg::kind::write, next_value++, 0};
      if (pick == 1)
        return reg::input{reg::kind::cas, next_value++,
                          static_cast<std::int64_t>(uniform_below(r, static_cast<std::uint64_t>(next_value)))};
      return reg::input{reg::kind::read, 0, 0};
    });
    RC_ASSERT(check(h).answer == verdict::linearizable);
    // Corrupt one completed read to a value no write ever wrote.
    std::vector<std::size_t> reads;
    for (std::size_t i = 0; i < h.size(); ++i)
      if (h.operations()[i].status == op_status::ok &&
          h.operations()[i].input.op == reg::kind::read)
        reads.push_back(i);
    RC_PRE(!reads.empty());
    h.operations()[reads[uniform_below(random, reads.size())]].output.value = -7;
    const auto bad = check(h);
    RC_ASSERT(bad.answer == verdict::not_linearizable);
    RC_ASSERT(!bad.window.empty());
  });

  rc::prop("queue histories", [](std::uint64_t seed) {
    xoshiro256 random(seed);
    const auto processes = static_cast<std::uint32_t>(uniform_between(random, 1, 4));
    const auto count = static_cast<std::size_t>(uniform_between(random, 1, 40));
    const auto ops = plan(random, processes, count, 0.0);
    std::int64_t next_value = 1;
    auto h = run_sequential<que>(ops, random, [&](xoshiro256& r, std::size_t) {
      if (chance(r, 0.55)) return que::input{que::kind::enqueue, next_value++};
      return que::input{que::kind::dequeue, 0};
    });
    RC_ASSERT(check(h).answer == verdict::linearizable);
    std::vector<std::size_t> taken;
    for (std::size_t i = 0; i < h.size(); ++i) {
      const auto& op = h.operations()[i];
      if (op.input.op == que::kind::dequeue && !op.output.empty) taken.push_back(i);
    }
    RC_PRE(!taken.empty());
    h.operations()[taken[uniform_below(random, taken.size())]].output.value = 1'000'000;
    RC_ASSERT(check(h).answer == verdict::not_linearizable);
  });

  rc::prop("key-value histories (checked per key)", [](std::uint64_t seed) {
    xoshiro256 random(seed);
    const auto processes = static_cast<std::uint32_t>(uniform_between(random, 1, 6));
    const auto count = static_cast<std::size_t>(uniform_between(random, 1, 120));
    const auto ops = plan(random, processes, count, 0.05);
    std::int64_t next_value = 1;
    auto h = run_sequential<kv>(ops, random, [&](xoshiro256& r, std::size_t) {
      const auto key = static_cast<std::int64_t>(uniform_below(r, 4));
      const auto pick = uniform_below(r, 5);
      if (pick == 0) return kv::input{kv::kind::put, key, next_value++};
      if (pick == 1) return kv::input{kv::kind::remove, key, 0};
      return kv::input{kv::kind::get, key, 0};
    });
    RC_ASSERT(check(h).answer == verdict::linearizable);
    std::vector<std::size_t> gets;
    for (std::size_t i = 0; i < h.size(); ++i) {
      const auto& op = h.operations()[i];
      if (op.status == op_status::ok && op.input.op == kv::kind::get) gets.push_back(i);
    }
    RC_PRE(!gets.empty());
    auto& victim = h.operations()[gets[uniform_below(random, gets.size())]];
    victim.output = {true, -5};  // a value never put
    const auto bad = check(h);
    RC_ASSERT(bad.answer == verdict::not_linearizable);
    for (std::size_t id : bad.window)
      RC_ASSERT(h.operations()[id].input.key == victim.input.key);  // the key's own window
  });
}
