// Property tests for telemetry: the histogram's relative-error bound, binary log round trips
// under arbitrary field values, decoding of arbitrarily damaged streams, and traceparent
// round trips. RC_PARAMS=seed=... reproduces a failure.
#include <catch2/catch.hpp>
#include <rapidcheck.h>
#include <rapidcheck/catch.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "weft/telemetry/binary_log.hpp"
#include "weft/telemetry/binary_sink.hpp"
#include "weft/telemetry/metrics.hpp"
#include "weft/telemetry/trace.hpp"

namespace wt = weft::telemetry;

namespace {
struct memory_output {
  std::vector<std::uint8_t> bytes;
  weft::result<void> write(weft::byte_view b) noexcept {
    bytes.insert(bytes.end(), b.begin(), b.end());
    return weft::ok();
  }
};
struct collector {
  std::vector<wt::decoded_event> events;
  std::vector<std::string> strings;  // copies of string values, in order
  std::size_t problems = 0;
  void on_event(const wt::decoded_event& e) {
    events.push_back(e);
    for (const auto& f : e.fields)
      if (f.value.kind == wt::field_kind::string) strings.emplace_back(f.value.text);
  }
  void on_dropped(std::uint64_t) {}
  void on_problem(const wt::decode_problem&) { ++problems; }
};
using sink_type = wt::binary_sink<weft::manual_clock, wt::level::trace,
                                  wt::binary_sink_limits{64, 512, 64}>;
}  // namespace

TEST_CASE("histogram: every value lies in its bucket, whose width is <= value / 16",
          "[telemetry][property]") {
  rc::prop("relative error bound", [] {
    const unsigned shift = *rc::gen::inRange(0u, 64u);
    const std::uint64_t v = *rc::gen::arbitrary<std::uint64_t>() >> shift;
    const std::size_t i = wt::histogram::bucket_index(v);
    RC_ASSERT(i < wt::histogram::bucket_count);
    const std::uint64_t lower = wt::histogram::bucket_lower(i);
    const std::uint64_t upper = wt::histogram::bucket_upper(i);
    RC_ASSERT(lower <= v);
    RC_ASSERT(v <= upper);
    // Documented bound: (upper - lower + 1) <= lower / 2^precision_bits for v >= 16, and
    // buckets are exact below 16; so |reported - v| / v <= 2^-4 for any reported value in
    // the bucket.
    if (v < wt::histogram::sub_buckets) {
      RC_ASSERT(lower == upper);
    } else {
      RC_ASSERT(upper - lower + 1 <= (lower >> wt::histogram::precision_bits));
      const double mid = static_cast<double>(lower) + static_cast<double>(upper - lower) / 2;
      RC_ASSERT(std::fabs(mid - static_cast<double>(v)) / static_cast<double>(v) <= 1.0 / 32);
    }
  });
  rc::prop("quantile of one recorded value is within 1/32 of it", [] {
    const std::uint64_t v = *rc::gen::inRange<std::uint64_t>(1, std::uint64_t{1} << 62);
    wt::histogram h({"p", "p"}, nullptr);
    h.record(v);
    const double q = static_cast<double>(h.quantile(*rc::gen::inRange(0, 101) / 100.0));
    RC_ASSERT(std::fabs(q - static_cast<double>(v)) / static_cast<double>(v) <= 1.0 / 32);
  });
}

TEST_CASE("binary log: arbitrary field values round-trip exactly", "[telemetry][property]") {
  rc::prop("round trip", [] {
    const auto u = *rc::gen::arbitrary<std::uint64_t>();
    const auto i = *rc::gen::arbitrary<std::int64_t>();
    const auto bits = *rc::gen::arbitrary<std::uint64_t>();
    double d;
    std::memcpy(&d, &bits, 8);
    const auto b = *rc::gen::arbitrary<bool>();
    const auto text = *rc::gen::container<std::string>(*rc::gen::inRange<std::size_t>(0, 200),
                                                         rc::gen::arbitrary<char>());
    const auto ts = *rc::gen::arbitrary<std::int64_t>();
    weft::manual_clock clock(weft::time_point_from_ns(ts));
    sink_type s(clock);
    WEFT_LOG_WARN(s, "m", wt::kv("u", u), wt::kv("i", i), wt::kv("d", d), wt::kv("b", b),
                  wt::kv("s", std::string_view(text)));
    memory_output out;
    RC_ASSERT(s.flush(out).has_value());
    std::vector<wt::decoded_callsite> table(4096);
    collector c;
    wt::decode_log_stream(out.bytes, table, c);
    RC_ASSERT(c.problems == 0u);
    RC_ASSERT(c.events.size() == 1u);
    const auto& e = c.events[0];
    RC_ASSERT(e.ts_ns == ts);
    RC_ASSERT(e.fields.size() == 5u);
    RC_ASSERT(e.fields[0].value.u == u);
    RC_ASSERT(e.fields[1].value.i == i);
    std::uint64_t back;
    std::memcpy(&back, &e.fields[2].value.f, 8);
    RC_ASSERT(back == bits);
    RC_ASSERT(e.fields[3].value.b == b);
    RC_ASSERT(c.strings.size() == 1u);
    RC_ASSERT(c.strings[0] == text);
    RC_ASSERT(std::string(e.fields[4].key) == "s");
  });
}

TEST_CASE("binary log: damaged streams decode every intact frame", "[telemetry][property]") {
  rc::prop("flips and cuts", [] {
    const int count = *rc::gen::inRange(1, 40);
    weft::manual_clock clock;
    sink_type s(clock);
    for (int n = 0; n < count; ++n) WEFT_LOG_INFO(s, "e", wt::kv("n", n));
    memory_output out;
    RC_ASSERT(s.flush(out).has_value());
    std::vector<std::uint8_t> bytes = out.bytes;
    // Remember where each frame starts, then damage a few random bytes.
    std::vector<std::size_t> starts;
    for (std::size_t at = 0; at < bytes.size(); at += 8 + bytes[at + 2] + (std::size_t{bytes[at + 3]} << 8))
      starts.push_back(at);
    std::vector<bool> damaged(starts.size(), false), absent(starts.size(), false);
    const int flips = *rc::gen::inRange(0, 5);
    for (int k = 0; k < flips; ++k) {
      const auto at = *rc::gen::inRange<std::size_t>(0, bytes.size());
      bytes[at] ^= static_cast<std::uint8_t>(*rc::gen::inRange(1, 256));
    }
    for (std::size_t at = 0; at < bytes.size(); ++at) {  // two flips may cancel: compare
      if (bytes[at] == out.bytes[at]) continue;
      std::size_t frame = 0;
      while (frame + 1 < starts.size() && starts[frame + 1] <= at) ++frame;
      damaged[frame] = true;
    }
    const auto cut = *rc::gen::inRange<std::size_t>(0, bytes.size() / 4 + 1);
    bytes.resize(bytes.size() - cut);
    for (std::size_t f = 0; f < starts.size(); ++f) {
      const std::size_t end = f + 1 < starts.size() ? starts[f + 1] : out.bytes.size();
      if (starts[f] < bytes.size() && end > bytes.size()) damaged[f] = true;  // cut inside
      if (starts[f] >= bytes.size()) absent[f] = true;  // cut away whole: nothing to see
    }
    std::vector<wt::decoded_callsite> table(4096);
    collector c;
    const auto summary = wt::decode_log_stream(bytes, table, c);
    // Every undamaged event frame is decoded (frame 0 is the registration).
    std::size_t intact_events = 0;
    for (std::size_t f = 1; f < starts.size(); ++f) intact_events += (damaged[f] || absent[f]) ? 0 : 1;
    RC_ASSERT(c.events.size() >= intact_events);
    // A frame the cut removed whole leaves no trace, flipped or not: a stream cut at a
    // frame boundary is a clean, shorter stream.
    bool any_damage = false;
    for (std::size_t f = 0; f < starts.size(); ++f) any_damage = any_damage || (damaged[f] && !absent[f]);
    if (any_damage) RC_ASSERT(summary.problems > 0u);
    else RC_ASSERT(summary.problems == 0u);
    // Decoded values are the ones written, in order (no invented events).
    int last = -1;
    for (const auto& e : c.events) {
      RC_ASSERT(e.fields.size() == 1u);
      const auto n = static_cast<int>(e.fields[0].value.i);
      RC_ASSERT(n > last);
      RC_ASSERT(n < count);
      last = n;
    }
  });
  rc::prop("random bytes never crash the decoder", [] {
    const auto bytes = *rc::gen::container<std::vector<std::uint8_t>>(rc::gen::arbitrary<std::uint8_t>());
    std::vector<wt::decoded_callsite> table(64);
    collector c;
    const auto summary = wt::decode_log_stream(bytes, table, c);
    RC_ASSERT(summary.skipped_bytes <= bytes.size());
  });
}

TEST_CASE("traceparent: format then parse is the identity for valid contexts",
          "[telemetry][property]") {
  rc::prop("round trip", [] {
    wt::trace_context ctx;
    for (auto& b : ctx.trace) b = *rc::gen::arbitrary<std::uint8_t>();
    for (auto& b : ctx.span) b = *rc::gen::arbitrary<std::uint8_t>();
    ctx.flags = *rc::gen::arbitrary<std::uint8_t>();
    const auto text = wt::format_traceparent(ctx);
    const auto back = wt::parse_traceparent(std::string_view(text.data(), text.size()));
    RC_ASSERT(back.has_value() == ctx.valid());
    if (ctx.valid()) RC_ASSERT(*back == ctx);
  });
}
