// Recording a metric or a binary-sink log event allocates nothing and takes no lock: this
// binary replaces the global operator new with one that counts, and the test records
// through the public API many times after a warm-up and expects the count not to move.
// Locks are ruled out by construction: every shared word a record touches is a lock-free
// atomic (checked at compile time), so a record never waits for another thread.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>
#include <new>
#include <vector>

#include "weft/telemetry/binary_sink.hpp"
#include "weft/telemetry/log.hpp"
#include "weft/telemetry/metrics.hpp"

namespace {
std::atomic<std::uint64_t> allocations{0};
}  // namespace

// g++ sees the replaced operator new inline beside std::free in operator delete and takes
// them for a mismatched pair; here both sides are malloc/free by construction.
#if defined(__GNUC__) && !defined(__clang__)
#  pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

// Counting replacements of the global allocation functions (this test binary only). Every
// plain and nothrow form is replaced, so that whatever allocates (Catch uses nothrow new)
// is freed by the matching replacement; the aligned forms stay the runtime's, in pairs.
namespace {
void* counted_malloc(std::size_t size) noexcept {
  allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(size == 0 ? 1 : size);
}
}  // namespace
void* operator new(std::size_t size) {
  if (void* p = counted_malloc(size)) return p;
  std::abort();  // a test binary out of memory; -fno-exceptions builds cannot throw
}
void* operator new[](std::size_t size) { return ::operator new(size); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept { return counted_malloc(size); }
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept { return counted_malloc(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace wt = weft::telemetry;

namespace {

static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(std::atomic<std::int64_t>::is_always_lock_free);
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);

struct discard_output {
  std::uint64_t bytes = 0;
  weft::result<void> write(weft::byte_view b) noexcept {
    bytes += b.size();
    return weft::ok();
  }
};

/// Allocations made while `body` runs on this thread (no other thread runs meanwhile).
template <class Body>
std::uint64_t allocations_during(Body&& body) {
  const std::uint64_t before = allocations.load();
  body();
  return allocations.load() - before;
}

}  // namespace

TEST_CASE("the allocation counter sees an allocation (the check can fail)", "[telemetry][cost]") {
  const auto made = allocations_during([] {
    std::vector<int> v(100);
    CHECK(v.size() == 100);
  });
  CHECK(made >= 1);
}

TEST_CASE("counters, gauges and histograms record without allocating", "[telemetry][cost]") {
  wt::registry r;
  wt::counter c({"t_cost_ops", "ops"}, &r);
  wt::gauge g({"t_cost_depth", "depth"}, &r);
  wt::histogram h({"t_cost_latency_seconds", "latency", "seconds", {}, 1e-9}, &r);
  c.add();  // warm-up: this thread takes its shard and the histogram's owner slot
  h.record(1);
  const auto made = allocations_during([&] {
    for (std::uint64_t i = 0; i < 100000; ++i) {
      c.add();
      g.add(1);
      h.record(i * 37);
    }
  });
  CHECK(made == 0);
  CHECK(c.value() == 100001);
  CHECK(h.count() == 100001);
}

TEST_CASE("a binary-sink log call allocates nothing, accepted or dropped", "[telemetry][cost]") {
  weft::manual_clock clock;
  wt::binary_sink<weft::manual_clock, wt::level::info, wt::binary_sink_limits{64, 118, 16}> sink(
      clock);
  discard_output out;
  const auto log_once = [&sink](std::uint64_t i) {
    WEFT_LOG_INFO(sink, "cost", wt::kv("i", i), wt::kv("half", static_cast<double>(i) / 2));
  };
  log_once(0);  // warm-up: the callsite registers
  REQUIRE(sink.flush(out).has_value());
  const auto made = allocations_during([&] {
    for (std::uint64_t i = 1; i <= 1000; ++i) {
      log_once(i);  // 64 slots: most of these are dropped and counted
      clock.advance(weft::nanoseconds(1));
    }
    REQUIRE(sink.flush(out).has_value());
    for (std::uint64_t i = 0; i < 50; ++i) log_once(i);
  });
  CHECK(made == 0);
  CHECK(sink.dropped() > 0);
  CHECK(out.bytes > 0);
}
