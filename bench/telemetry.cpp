// bench_telemetry: the cost on the calling thread of a counter increment (uncontended and
// with 2 threads), a histogram record, and one log call with 3 fields under weft's null,
// text (fmt), JSON-lines and binary sinks, next to the same call through spdlog (null sink,
// synchronous file sink on /dev/null, and async logger). Run with
//   ./bench_telemetry --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
// and read the median rows. The binary sink's queue is drained outside the timed region.
// Binary sink rows: steady_clock (default), coarse_monotonic_clock or cached_clock
// timestamps, a shared (multi-producer) or single_producer queue, and a fixed clock (the
// call without a clock).
#include <atomic>
#include <benchmark/benchmark.h>

#include <cstdio>
#include <memory>
#include <string_view>

#include <spdlog/async.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include "weft/telemetry/binary_sink.hpp"
#include "weft/telemetry/cached_clock.hpp"
#include "weft/telemetry/coarse_clock.hpp"
#include "weft/telemetry/log.hpp"
#include "weft/telemetry/metrics.hpp"
#include "weft/telemetry/text_sink.hpp"

namespace wt = weft::telemetry;

namespace {

wt::counter bench_counter({"bench_counter", "bench"}, nullptr);
wt::histogram bench_histogram({"bench_histogram", "bench"}, nullptr);

struct null_output {
  weft::result<void> write(weft::byte_view b) noexcept {
    benchmark::DoNotOptimize(b.data());
    return weft::ok();
  }
};

void counter_add(benchmark::State& state) {
  for (auto _ : state) bench_counter.add(1);
  benchmark::DoNotOptimize(bench_counter.value());
}
BENCHMARK(counter_add);
BENCHMARK(counter_add)->Threads(2)->UseRealTime();

// The floor for any in-memory counter: one relaxed load and store of a single word, with no
// shard lookup. Each increment waits for the previous store (store-to-load forwarding),
// so this is the latency a back-to-back counter loop cannot beat on this CPU.
std::atomic<std::uint64_t> bench_plain_word{0};
void plain_word_increment(benchmark::State& state) {
  for (auto _ : state)
    bench_plain_word.store(bench_plain_word.load(std::memory_order_relaxed) + 1,
                           std::memory_order_relaxed);
  benchmark::DoNotOptimize(bench_plain_word.load());
}
BENCHMARK(plain_word_increment);

void histogram_record(benchmark::State& state) {
  std::uint64_t v = 1;
  for (auto _ : state) {
    bench_histogram.record(v);
    v = v * 6364136223846793005u + 1442695040888963407u;  // spread over buckets
    v >>= 20;
  }
}
BENCHMARK(histogram_record);

template <class Sink>
WEFT_NOINLINE void log_once(Sink& sink, std::uint64_t i) {
  WEFT_LOG_INFO(sink, "append", wt::kv("term", i), wt::kv("delta", -7), wt::kv("peer", "n2"));
}

void weft_null_sink(benchmark::State& state) {
  wt::null_sink sink;
  std::uint64_t i = 0;
  for (auto _ : state) log_once(sink, ++i);
}
BENCHMARK(weft_null_sink);

void weft_text_sink(benchmark::State& state) {
  std::FILE* devnull = std::fopen("/dev/null", "w");
  weft::steady_clock clock;
  wt::text_sink<weft::steady_clock> sink(devnull, clock);
  std::uint64_t i = 0;
  for (auto _ : state) log_once(sink, ++i);
  std::fclose(devnull);
}
BENCHMARK(weft_text_sink);

void weft_json_sink(benchmark::State& state) {
  struct file_output {
    std::FILE* f;
    weft::result<void> write(weft::byte_view b) noexcept {
      std::fwrite(b.data(), 1, b.size(), f);
      return weft::ok();
    }
  } out{std::fopen("/dev/null", "w")};
  weft::steady_clock clock;
  wt::json_sink<file_output> sink(out, clock);
  std::uint64_t i = 0;
  for (auto _ : state) log_once(sink, ++i);
  std::fclose(out.f);
}
BENCHMARK(weft_json_sink);

// The sink's default queue (1024 slots of 128 bytes: 128 KiB, which stays in the L2 cache);
// the queue is flushed, untimed, each time it is full. One row repeats the call with
// 16384 slots (2 MiB) to show what a queue that falls out of cache costs.
constexpr std::size_t binary_queue_slots = wt::binary_sink_limits{}.queue_slots;
constexpr std::size_t large_queue_slots = 1 << 14;
constexpr wt::binary_sink_limits shared_limits{binary_queue_slots};
constexpr wt::binary_sink_limits single_producer_limits{
    .queue_slots = binary_queue_slots, .single_producer = true};
using bench_binary_sink = wt::binary_sink<weft::steady_clock, wt::level::info, shared_limits>;

// The timed call is the user's whole log call: clock read, slot claim, argument copy.
template <class Clock, wt::binary_sink_limits Limits>
void binary_sink_calls(benchmark::State& state) {
  Clock clock;
  auto sink = std::make_unique<wt::binary_sink<Clock, wt::level::info, Limits>>(clock);
  null_output out;
  std::uint64_t i = 0;
  for (auto _ : state) {
    log_once(*sink, ++i);
    if ((i & (Limits.queue_slots - 1)) == 0) {  // keep the queue from filling, untimed
      state.PauseTiming();
      (void)sink->flush(out);
      state.ResumeTiming();
    }
  }
  state.counters["dropped"] = static_cast<double>(sink->dropped());
}

void weft_binary_sink(benchmark::State& state) {
  binary_sink_calls<weft::steady_clock, shared_limits>(state);
}
BENCHMARK(weft_binary_sink);

void weft_binary_sink_coarse_clock(benchmark::State& state) {
  binary_sink_calls<wt::coarse_monotonic_clock, shared_limits>(state);
}
BENCHMARK(weft_binary_sink_coarse_clock);

void weft_binary_sink_single_producer(benchmark::State& state) {
  binary_sink_calls<weft::steady_clock, single_producer_limits>(state);
}
BENCHMARK(weft_binary_sink_single_producer);

void weft_binary_sink_single_producer_coarse_clock(benchmark::State& state) {
  binary_sink_calls<wt::coarse_monotonic_clock, single_producer_limits>(state);
}
BENCHMARK(weft_binary_sink_single_producer_coarse_clock);

// Timestamps from a cached_clock over steady_clock, refreshed every 1024 calls inside the
// timed loop (an event loop or the drain thread would refresh it once per tick).
template <wt::binary_sink_limits Limits>
void binary_sink_cached_clock_calls(benchmark::State& state) {
  weft::steady_clock source;
  wt::cached_clock<weft::steady_clock> clock(source);
  auto sink = std::make_unique<wt::binary_sink<wt::cached_clock<weft::steady_clock>,
                                               wt::level::info, Limits>>(clock);
  null_output out;
  std::uint64_t i = 0;
  for (auto _ : state) {
    log_once(*sink, ++i);
    if ((i & 1023) == 0) clock.refresh();
    if ((i & (Limits.queue_slots - 1)) == 0) {  // keep the queue from filling, untimed
      state.PauseTiming();
      (void)sink->flush(out);
      state.ResumeTiming();
    }
  }
  state.counters["dropped"] = static_cast<double>(sink->dropped());
}

void weft_binary_sink_cached_clock(benchmark::State& state) {
  binary_sink_cached_clock_calls<shared_limits>(state);
}
BENCHMARK(weft_binary_sink_cached_clock);

void weft_binary_sink_single_producer_cached_clock(benchmark::State& state) {
  binary_sink_cached_clock_calls<single_producer_limits>(state);
}
BENCHMARK(weft_binary_sink_single_producer_cached_clock);

void weft_binary_sink_single_producer_cached_clock_16k_slots(benchmark::State& state) {
  binary_sink_cached_clock_calls<wt::binary_sink_limits{.queue_slots = large_queue_slots,
                                                        .single_producer = true}>(state);
}
BENCHMARK(weft_binary_sink_single_producer_cached_clock_16k_slots);

void weft_binary_sink_fixed_clock(benchmark::State& state) {  // without the clock read
  binary_sink_calls<weft::manual_clock, shared_limits>(state);
}
BENCHMARK(weft_binary_sink_fixed_clock);

void steady_clock_now(benchmark::State& state) {  // what the clock read costs here
  weft::steady_clock clock;
  for (auto _ : state) benchmark::DoNotOptimize(clock.now());
}
BENCHMARK(steady_clock_now);

void coarse_clock_now(benchmark::State& state) {
  wt::coarse_monotonic_clock clock;
  for (auto _ : state) benchmark::DoNotOptimize(clock.now());
}
BENCHMARK(coarse_clock_now);

void weft_binary_sink_drain(benchmark::State& state) {  // the consumer's cost per record
  weft::steady_clock clock;
  auto sink = std::make_unique<bench_binary_sink>(clock);
  null_output out;
  for (auto _ : state) {
    state.PauseTiming();
    for (std::uint64_t i = 0; i < 1024; ++i) log_once(*sink, i);
    state.ResumeTiming();
    (void)sink->drain(out);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * 1024);
}
BENCHMARK(weft_binary_sink_drain);

void spdlog_call(benchmark::State& state, const std::shared_ptr<spdlog::logger>& logger) {
  std::uint64_t i = 0;
  for (auto _ : state) {
    ++i;
    logger->info("append term={} delta={} peer={}", i, -7, "n2");
  }
  logger->flush();
}

void spdlog_null_sink(benchmark::State& state) {
  auto logger = std::make_shared<spdlog::logger>(
      "null", std::make_shared<spdlog::sinks::null_sink_st>());
  spdlog_call(state, logger);
}
BENCHMARK(spdlog_null_sink);

void spdlog_file_sink(benchmark::State& state) {
  auto logger = std::make_shared<spdlog::logger>(
      "file", std::make_shared<spdlog::sinks::basic_file_sink_st>("/dev/null"));
  spdlog_call(state, logger);
}
BENCHMARK(spdlog_file_sink);

void spdlog_async_file_sink(benchmark::State& state) {
  auto pool = std::make_shared<spdlog::details::thread_pool>(binary_queue_slots, 1);
  auto logger = std::make_shared<spdlog::async_logger>(
      "async", std::make_shared<spdlog::sinks::basic_file_sink_mt>("/dev/null"), pool,
      spdlog::async_overflow_policy::overrun_oldest);
  spdlog_call(state, logger);
}
BENCHMARK(spdlog_async_file_sink);

}  // namespace

BENCHMARK_MAIN();
