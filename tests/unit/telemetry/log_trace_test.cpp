// Structured logging (levels, callsites, JSON lines, text, binary sink and its decoder under
// corruption) and trace context (traceparent, binary form, id generation).
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <limits>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "weft/core/random.hpp"
#include "weft/telemetry/binary_log.hpp"
#include "weft/telemetry/binary_sink.hpp"
#include "weft/telemetry/cached_clock.hpp"
#if defined(__unix__)
#  include "weft/telemetry/coarse_clock.hpp"
#endif
#include "weft/telemetry/log.hpp"
#include "weft/telemetry/prometheus.hpp"
#include "weft/telemetry/trace.hpp"
#include "weft/wire/frame.hpp"
#if __has_include(<fmt/format.h>)
#  include "weft/telemetry/text_sink.hpp"
#  define WEFT_TEST_HAVE_FMT 1
#endif

namespace wt = weft::telemetry;

namespace {

struct memory_output {
  std::vector<std::uint8_t> bytes;
  std::size_t fail_after_writes = ~std::size_t{0};
  std::size_t writes = 0;
  weft::result<void> write(weft::byte_view b) noexcept {
    if (writes == fail_after_writes) return weft::error(weft::core_errc::capacity_exceeded, "test");
    ++writes;
    bytes.insert(bytes.end(), b.begin(), b.end());
    return weft::ok();
  }
};

struct collected {
  std::vector<std::string> lines;
  std::vector<wt::decode_problem> problems;
  std::uint64_t dropped = 0;
  void on_event(const wt::decoded_event& e) {
    std::string line;
    wt::string_output out(line);
    wt::format_decoded_event(out, e);
    lines.push_back(line);
  }
  void on_dropped(std::uint64_t n) { dropped += n; }
  void on_problem(const wt::decode_problem& p) { problems.push_back(p); }
};

collected decode(const std::vector<std::uint8_t>& bytes, wt::decode_summary* summary = nullptr) {
  std::vector<wt::decoded_callsite> table(4096);
  collected c;
  const auto s = wt::decode_log_stream(bytes, table, c);
  if (summary != nullptr) *summary = s;
  return c;
}

/// A sink that records what reached it, to test level filtering.
struct recording_sink : wt::metrics_recorder {
  static constexpr wt::level min_level = wt::level::info;
  std::vector<std::string> messages;
  std::vector<std::size_t> field_counts;
  void write(const wt::callsite& cs, std::span<const wt::field> fields) noexcept {
    messages.emplace_back(cs.message);
    field_counts.push_back(fields.size());
  }
};
static_assert(wt::sink<recording_sink>);
static_assert(wt::sink<wt::null_sink>);
static_assert(!wt::sink<int>);

using test_sink = wt::binary_sink<weft::manual_clock, wt::level::debug,
                                  wt::binary_sink_limits{8, 118, 64}>;

int side_effects = 0;
int touch() {
  ++side_effects;
  return 1;
}

}  // namespace

TEST_CASE("levels below the sink minimum are not evaluated", "[telemetry][log]") {
  recording_sink s;
  side_effects = 0;
  WEFT_LOG_DEBUG(s, "hidden", wt::kv("x", touch()));
  WEFT_LOG_INFO(s, "shown", wt::kv("x", touch()), wt::kv("y", "z"));
  WEFT_LOG_ERROR(s, "bad");
  REQUIRE(s.messages == std::vector<std::string>{"shown", "bad"});
  CHECK(s.field_counts == std::vector<std::size_t>{2, 0});
  CHECK(side_effects == 1);
  wt::null_sink n;
  WEFT_LOG_ERROR(n, "never", wt::kv("x", touch()));
  CHECK(side_effects == 1);
}

TEST_CASE("callsites are static and get one id each", "[telemetry][log]") {
  recording_sink s;
  std::vector<const wt::callsite*> seen;
  struct capture : recording_sink {
    std::vector<const wt::callsite*>* out;
    void write(const wt::callsite& cs, std::span<const wt::field>) noexcept { out->push_back(&cs); }
  } c;
  c.out = &seen;
  for (int i = 0; i < 3; ++i) WEFT_LOG_INFO(c, "loop");
  WEFT_LOG_INFO(c, "other");
  REQUIRE(seen.size() == 4);
  CHECK(seen[0] == seen[1]);
  CHECK(seen[1] == seen[2]);
  CHECK(seen[2] != seen[3]);
  CHECK(seen[0]->id() == seen[0]->id());
  CHECK(seen[0]->id() != 0);
  CHECK(seen[0]->id() != seen[3]->id());
  CHECK(seen[0]->line + 1 == seen[3]->line);
}

TEST_CASE("JSON lines escape keys, strings and non-finite doubles", "[telemetry][log]") {
  memory_output sink_bytes;
  weft::manual_clock clock(weft::time_point_from_ns(42));
  wt::json_sink<memory_output, weft::manual_clock> s(sink_bytes, clock);
  WEFT_LOG_WARN(s, "a \"quoted\"\nmessage", wt::kv("peer", "n\\2\x01\xFF"), wt::kv("n", -3),
                wt::kv("u", 18446744073709551615u), wt::kv("nan", std::numeric_limits<double>::quiet_NaN()), wt::kv("ok", false));
  const std::string line(sink_bytes.bytes.begin(), sink_bytes.bytes.end());
  CHECK(line.rfind("{\"ts_ns\":42,\"level\":\"warn\",\"msg\":\"a \\\"quoted\\\"\\nmessage\",\"file\":", 0) == 0);
  CHECK(line.find(",\"fields\":{\"peer\":\"n\\\\2\\u0001\xEF\xBF\xBD\",\"n\":-3,"
                  "\"u\":18446744073709551615,\"nan\":\"NaN\",\"ok\":false}}\n") != std::string::npos);
  CHECK(std::count(line.begin(), line.end(), '\n') == 1);
}

#ifdef WEFT_TEST_HAVE_FMT
TEST_CASE("text sink writes one human line through fmt", "[telemetry][log]") {
  std::FILE* file = std::tmpfile();
  REQUIRE(file != nullptr);
  weft::manual_clock clock(weft::time_point_from_ns(7));
  wt::text_sink<weft::manual_clock> s(file, clock);
  WEFT_LOG_INFO(s, "leader elected", wt::kv("term", 5), wt::kv("id", "n\n1"), wt::kv("r", 0.25));
  std::rewind(file);
  char buffer[512] = {};
  REQUIRE(std::fgets(buffer, sizeof buffer, file) != nullptr);
  std::fclose(file);
  const std::string line = buffer;
  CHECK(line.rfind("7 info leader elected term=5 id=\"n\\n1\" r=0.25 (", 0) == 0);
  CHECK(line.back() == '\n');
  CHECK(s.dropped() == 0);
}
#endif

TEST_CASE("binary sink round-trips through the decoder", "[telemetry][log]") {
  weft::manual_clock clock(weft::time_point_from_ns(1000));
  test_sink s(clock);
  WEFT_LOG_INFO(s, "append", wt::kv("term", 3u), wt::kv("delta", -7), wt::kv("ok", true),
                wt::kv("ratio", 0.125), wt::kv("peer", "n\"2"));
  clock.advance(weft::nanoseconds(5));
  for (int i = 0; i < 2; ++i) WEFT_LOG_DEBUG(s, "tick", wt::kv("i", i));
  memory_output out;
  REQUIRE(s.flush(out).value() == 3);
  wt::decode_summary summary;
  const collected c = decode(out.bytes, &summary);
  CHECK(c.problems.empty());
  CHECK(summary.frames_ok == 5);  // 2 callsite registrations + 3 events
  REQUIRE(c.lines.size() == 3);
  CHECK(c.lines[0].rfind("1000 info \"append\" term=3 delta=-7 ok=true ratio=0.125 peer=\"n\\\"2\" (", 0) == 0);
  INFO(c.lines[1]);
  CHECK(c.lines[1].rfind("1005 debug \"tick\" i=0 (", 0) == 0);
  CHECK(c.lines[2].rfind("1005 debug \"tick\" i=1 (", 0) == 0);
}

TEST_CASE("binary sink: a full queue counts drops, reports them in-band, loses nothing accepted",
          "[telemetry][log]") {
  weft::manual_clock clock;
  wt::registry r;
  test_sink s(clock, &r);  // 8 slots
  for (int i = 0; i < 20; ++i) WEFT_LOG_INFO(s, "burst", wt::kv("i", i));
  CHECK(s.dropped() == 12);
  CHECK(r.size() == 1);  // the drop counter is a registered metric, in the exposition
  std::string exposition;
  wt::string_output text(exposition);
  REQUIRE(wt::write_exposition(text, wt::exposition::prometheus_0_0_4, r));
  CHECK(exposition.find("\nweft_log_dropped_records_total 12\n") != std::string::npos);
  memory_output out;
  REQUIRE(s.flush(out).value() == 8);
  const collected c = decode(out.bytes);
  CHECK(c.problems.empty());
  CHECK(c.dropped == 12);
  REQUIRE(c.lines.size() == 8);
  for (int i = 0; i < 8; ++i)
    CHECK(c.lines[static_cast<std::size_t>(i)].find("i=" + std::to_string(i) + " ") != std::string::npos);
}

TEST_CASE("binary sink: a failed output write keeps the record for the next drain",
          "[telemetry][log]") {
  weft::manual_clock clock;
  test_sink s(clock);
  WEFT_LOG_INFO(s, "first", wt::kv("k", 1));
  WEFT_LOG_INFO(s, "second", wt::kv("k", 2));
  memory_output out;
  out.fail_after_writes = 2;  // registration + event of "first", then fail
  CHECK_FALSE(s.drain(out).has_value());
  out.fail_after_writes = ~std::size_t{0};
  REQUIRE(s.flush(out).value() == 1);
  const collected c = decode(out.bytes);
  REQUIRE(c.lines.size() == 2);
  CHECK(c.lines[0].find("\"first\" k=1") != std::string::npos);
  CHECK(c.lines[1].find("\"second\" k=2") != std::string::npos);
}

TEST_CASE("binary sink: concurrent producers, flush on shutdown loses nothing accepted",
          "[telemetry][log]") {
  weft::manual_clock clock;
  wt::binary_sink<weft::manual_clock, wt::level::info, wt::binary_sink_limits{256, 118, 64}> s(clock);
  constexpr int threads = 3, per_thread = 2000;
  std::atomic<bool> stop{false};
  memory_output out;
  std::thread consumer([&] {
    while (!stop.load()) (void)s.drain(out);
  });
  std::vector<std::thread> producers;
  for (int t = 0; t < threads; ++t)
    producers.emplace_back([&s, t] {
      for (int i = 0; i < per_thread; ++i) WEFT_LOG_INFO(s, "work", wt::kv("t", t), wt::kv("i", i));
    });
  for (auto& p : producers) p.join();
  stop = true;
  consumer.join();
  REQUIRE(s.flush(out).has_value());
  wt::decode_summary summary;
  const collected c = decode(out.bytes, &summary);
  CHECK(c.problems.empty());
  CHECK(summary.events + s.dropped() == std::size_t{threads} * per_thread);
  CHECK(c.dropped == s.dropped());
  // Per producer, accepted records arrive in order.
  std::vector<int> last(threads, -1);
  for (const auto& line : c.lines) {
    const int t = line[line.find(" t=") + 3] - '0';
    const int i = std::stoi(line.substr(line.find(" i=") + 3));
    CHECK(i > last[static_cast<std::size_t>(t)]);
    last[static_cast<std::size_t>(t)] = i;
  }
}

TEST_CASE("binary sink, single producer: same stream, drops counted, drain frees slots",
          "[telemetry][log]") {
  weft::manual_clock clock;
  constexpr wt::binary_sink_limits shared{8, 118, 64};
  constexpr wt::binary_sink_limits single{.queue_slots = 8, .max_callsites = 64,
                                          .single_producer = true};
  wt::binary_sink<weft::manual_clock, wt::level::info, shared> a(clock);
  wt::binary_sink<weft::manual_clock, wt::level::info, single> b(clock);
  memory_output out_a, out_b;
  const auto log_item = [](auto& sink, int round, int i) {  // one source line for both
    WEFT_LOG_INFO(sink, "item", wt::kv("round", round), wt::kv("i", i));
  };
  for (int round = 0; round < 3; ++round) {  // wraps the ring several times
    for (int i = 0; i < 10; ++i) {  // 8 fit, 2 dropped per round
      clock.advance(weft::nanoseconds(3));
      log_item(a, round, i);
      log_item(b, round, i);
    }
    REQUIRE(a.flush(out_a).has_value());
    REQUIRE(b.flush(out_b).has_value());
  }
  CHECK(b.dropped() == 6);
  CHECK(a.dropped() == b.dropped());
  const collected ca = decode(out_a.bytes), cb = decode(out_b.bytes);
  CHECK(cb.problems.empty());
  CHECK(cb.lines.size() == 24);
  CHECK(cb.dropped == 6);
  CHECK(ca.lines == cb.lines);
}

TEST_CASE("binary sink, single producer: room comes back as the consumer drains, record by "
          "record, also while the producer runs", "[telemetry][log]") {
  weft::manual_clock clock;
  constexpr wt::binary_sink_limits single{.queue_slots = 8, .max_callsites = 64,
                                          .single_producer = true};
  wt::binary_sink<weft::manual_clock, wt::level::info, single> s(clock);
  memory_output out;
  const auto log_item = [&s](int i) { WEFT_LOG_INFO(s, "item", wt::kv("i", i)); };
  for (int i = 0; i < 8; ++i) log_item(i);
  log_item(8);  // full: the producer's copy of the consumer position is stale, and so is
  CHECK(s.dropped() == 1);  // the fresh one
  REQUIRE(s.drain(out, 3).value() == 3);
  for (int i = 9; i < 13; ++i) log_item(i);  // three fit again, the fourth does not
  CHECK(s.dropped() == 2);
  REQUIRE(s.flush(out).has_value());
  const collected c = decode(out.bytes);
  REQUIRE(c.lines.size() == 11);
  CHECK(c.lines.back().find(" i=11") != std::string::npos);

  // One producer thread against a draining consumer: accepted records arrive, in order.
  wt::binary_sink<weft::manual_clock, wt::level::info, single> shared_with_consumer(clock);
  memory_output streamed;
  std::atomic<bool> stop{false};
  std::thread consumer([&] {
    while (!stop.load()) (void)shared_with_consumer.drain(streamed);
  });
  constexpr int records = 20000;
  for (int i = 0; i < records; ++i) WEFT_LOG_INFO(shared_with_consumer, "seq", wt::kv("i", i));
  stop = true;
  consumer.join();
  REQUIRE(shared_with_consumer.flush(streamed).has_value());
  wt::decode_summary summary;
  const collected d = decode(streamed.bytes, &summary);
  CHECK(d.problems.empty());
  CHECK(summary.events + shared_with_consumer.dropped() == records);
  int last = -1;
  for (const auto& line : d.lines) {
    const int i = std::stoi(line.substr(line.find(" i=") + 3));
    REQUIRE(i > last);
    last = i;
  }
}

TEST_CASE("cached clock: the source's time as of the last refresh, never going back",
          "[telemetry][log]") {
  weft::manual_clock source;
  source.advance(weft::nanoseconds(100));
  wt::cached_clock<weft::manual_clock> cached(source);
  CHECK(weft::to_ns(cached.now()) == 100);
  source.advance(weft::nanoseconds(50));
  CHECK(weft::to_ns(cached.now()) == 100);  // not refreshed yet
  cached.refresh();
  CHECK(weft::to_ns(cached.now()) == 150);

  // Records between refreshes share a timestamp and keep their order in the stream.
  wt::binary_sink<wt::cached_clock<weft::manual_clock>, wt::level::info,
                  wt::binary_sink_limits{8, 118, 64}> s(cached);
  WEFT_LOG_INFO(s, "a", wt::kv("n", 1));
  source.advance(weft::nanoseconds(7));
  WEFT_LOG_INFO(s, "a", wt::kv("n", 2));
  cached.refresh();
  WEFT_LOG_INFO(s, "a", wt::kv("n", 3));
  memory_output out;
  REQUIRE(s.flush(out).has_value());
  const collected c = decode(out.bytes);
  REQUIRE(c.lines.size() == 3);
  CHECK(c.lines[0].rfind("150 ", 0) == 0);
  CHECK(c.lines[1].rfind("150 ", 0) == 0);
  CHECK(c.lines[2].rfind("157 ", 0) == 0);
}

#if defined(__unix__)
TEST_CASE("coarse clock: monotonic, close to steady_clock", "[telemetry][log]") {
  const wt::coarse_monotonic_clock coarse;
  const weft::steady_clock steady;
  const auto resolution = wt::coarse_monotonic_clock::resolution();
  REQUIRE(resolution > weft::duration{0});
  REQUIRE(resolution <= weft::milliseconds(100));
  auto previous = coarse.now();
  for (int i = 0; i < 1000; ++i) {
    const auto t = coarse.now();
    REQUIRE(t >= previous);
    previous = t;
  }
  // Same epoch as the precise clock, behind it by at most one tick (plus scheduling slack).
  const auto gap = steady.now() - coarse.now();
  CHECK(gap > -resolution);
  CHECK(gap < resolution + weft::milliseconds(50));
}
#endif

TEST_CASE("binary sink: values too big for a slot are cut and flagged", "[telemetry][log]") {
  weft::manual_clock clock;
  test_sink s(clock);
  const std::string big(500, 'x');
  WEFT_LOG_INFO(s, "big", wt::kv("a", 1), wt::kv("text", std::string_view(big)), wt::kv("b", 2));
  memory_output out;
  REQUIRE(s.flush(out).has_value());
  const collected c = decode(out.bytes);
  REQUIRE(c.lines.size() == 1);
  CHECK(c.lines[0].find("a=1 text=\"xxxx") != std::string::npos);
  CHECK(c.lines[0].find(" b=2") == std::string::npos);
  CHECK(c.lines[0].find("[truncated]") != std::string::npos);
}

namespace {
std::vector<std::uint8_t> sample_stream(int events) {
  weft::manual_clock clock;
  wt::binary_sink<weft::manual_clock, wt::level::info, wt::binary_sink_limits{64, 118, 64}> s(clock);
  for (int i = 0; i < events; ++i) {
    clock.advance(weft::nanoseconds(1));
    WEFT_LOG_INFO(s, "event", wt::kv("seq", i), wt::kv("name", "abc"));
  }
  memory_output out;
  REQUIRE(s.flush(out).has_value());
  return out.bytes;
}
std::vector<int> sequence_numbers(const collected& c) {
  std::vector<int> seqs;
  for (const auto& line : c.lines) seqs.push_back(std::stoi(line.substr(line.find("seq=") + 4)));
  return seqs;
}
}  // namespace

TEST_CASE("decoder: a flipped byte costs exactly the frame it is in", "[telemetry][log]") {
  const auto clean = sample_stream(10);
  const collected reference = decode(clean);
  REQUIRE(reference.lines.size() == 10);
  REQUIRE(reference.problems.empty());
  // Each event frame has the same size; frame 0 is the callsite registration.
  const std::size_t registration_size = 8 + clean[2] + (std::size_t{clean[3]} << 8);
  const std::size_t event_size = (clean.size() - registration_size) / 10;
  for (std::size_t victim = 0; victim < 10; ++victim) {
    for (std::size_t offset : {std::size_t{0}, std::size_t{2}, std::size_t{5}, event_size - 1}) {
      auto bytes = clean;
      bytes[registration_size + victim * event_size + offset] ^= 0x40;
      const collected c = decode(bytes);
      INFO("event " << victim << " offset " << offset);
      CHECK(c.lines.size() == 9);
      CHECK_FALSE(c.problems.empty());
      std::vector<int> expected;
      for (int i = 0; i < 10; ++i)
        if (static_cast<std::size_t>(i) != victim) expected.push_back(i);
      CHECK(sequence_numbers(c) == expected);
      for (const auto& p : c.problems) {
        CHECK(p.offset >= registration_size + victim * event_size);
        CHECK(p.offset < registration_size + (victim + 1) * event_size);
      }
    }
  }
}

TEST_CASE("decoder: a corrupt registration leaves events readable but unnamed",
          "[telemetry][log]") {
  auto bytes = sample_stream(3);
  bytes[10] ^= 0x01;  // inside the registration payload
  const collected c = decode(bytes);
  REQUIRE(c.lines.size() == 3);
  CHECK(c.lines[0].find("? callsite#") != std::string::npos);
  CHECK(c.lines[0].find("?=") != std::string::npos);  // keys unknown, values intact
  std::size_t unknown = 0;
  for (const auto& p : c.problems) unknown += p.code == wt::telemetry_errc::unknown_callsite;
  CHECK(unknown == 3);
}

TEST_CASE("decoder: truncation keeps every complete frame and reports the tail",
          "[telemetry][log]") {
  const auto clean = sample_stream(5);
  std::size_t event_frame_bytes = 0;  // size of the last frame: walk the frames
  for (std::size_t at = 0; at < clean.size(); at += event_frame_bytes) {
    REQUIRE(clean[at] == 0xF5);
    event_frame_bytes = 8 + clean[at + 2] + (std::size_t{clean[at + 3]} << 8);
  }
  for (std::size_t cut = 1; cut < event_frame_bytes; ++cut) {
    const std::vector<std::uint8_t> bytes(clean.begin(), clean.end() - static_cast<std::ptrdiff_t>(cut));
    wt::decode_summary summary;
    const collected c = decode(bytes, &summary);
    INFO("cut " << cut);
    CHECK(c.lines.size() == 4);
    REQUIRE(c.problems.size() == 1);
    CHECK(c.problems[0].code == wt::telemetry_errc::truncated_frame);
    CHECK(c.problems[0].offset + c.problems[0].length_bytes == bytes.size());
  }
}

TEST_CASE("decoder: garbage between frames is skipped and reported", "[telemetry][log]") {
  auto bytes = sample_stream(2);
  const std::vector<std::uint8_t> junk{0xF5, 0x7E, 0xFF, 0xFF, 0x00, 0xF5, 0x01, 0x02};
  bytes.insert(bytes.begin() + 0, junk.begin(), junk.end());
  bytes.insert(bytes.end(), junk.begin(), junk.begin() + 3);
  bytes.insert(bytes.end() - 3, {0x11, 0x22});
  wt::decode_summary summary;
  const collected c = decode(bytes, &summary);
  CHECK(c.lines.size() == 2);
  CHECK(summary.problems >= 2);
  CHECK(summary.skipped_bytes == junk.size() + 2 + 3);
}

TEST_CASE("decoder: a mebibyte of false syncs costs CRC work linear in its size",
          "[telemetry][log]") {
  // Every 4 bytes a sync with a plausible length (0x0FF0 = 4,080): a reader that checked
  // each candidate's CRC from scratch would hash about 1,000 bytes per input byte.
  const std::vector<std::uint8_t> false_sync{0xF5, 0x7E, 0xF0, 0x0F};
  std::vector<std::uint8_t> bytes;
  const auto add_false_syncs = [&](std::size_t n_bytes) {
    for (std::size_t i = 0; i < n_bytes; i += false_sync.size())
      bytes.insert(bytes.end(), false_sync.begin(), false_sync.end());
  };
  const auto intact = sample_stream(3);
  add_false_syncs(512 * 1024);
  bytes.insert(bytes.end(), intact.begin(), intact.end());
  add_false_syncs(512 * 1024);
  bytes.insert(bytes.end(), intact.begin(), intact.end());

  wt::decode_summary summary;
  const collected c = decode(bytes, &summary);
  CHECK(c.lines.size() == 6);  // the intact frames behind and between the false syncs
  CHECK(summary.skipped_bytes == 1024 * 1024);
  CHECK(summary.candidate_frames >= 1024 * 1024 / 4 - 2 * 4096);  // each one was tried...
  CHECK(summary.crc_bytes <= bytes.size());  // ...yet every byte was hashed at most once

  // A length above what a writer makes (4,088) is not a candidate at all.
  const std::vector<std::uint8_t> too_long{0xF5, 0x7E, 0xF9, 0x0F};  // 4,089
  std::vector<std::uint8_t> long_syncs;
  for (int i = 0; i < 2048; ++i) long_syncs.insert(long_syncs.end(), too_long.begin(), too_long.end());
  long_syncs.insert(long_syncs.end(), intact.begin(), intact.end());
  const collected d = decode(long_syncs, &summary);
  CHECK(d.lines.size() == 3);
  CHECK(summary.candidate_frames == 4);  // the intact stream's own frames
}

TEST_CASE("traceparent: parse and format the W3C example", "[telemetry][trace]") {
  constexpr std::string_view header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  const auto ctx = wt::parse_traceparent(header);
  REQUIRE(ctx.has_value());
  CHECK(ctx->trace[0] == 0x4b);
  CHECK(ctx->trace[15] == 0x36);
  CHECK(ctx->span[7] == 0xb7);
  CHECK(ctx->sampled());
  const auto text = wt::format_traceparent(*ctx);
  CHECK(std::string_view(text.data(), text.size()) == header);
  // A future version may append fields after a dash.
  CHECK(wt::parse_traceparent(std::string(header).replace(0, 2, "01") + "-extra").has_value());
}

TEST_CASE("traceparent: malformed headers are refused", "[telemetry][trace]") {
  const std::string good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  const std::vector<std::string> bad{
      "",
      good.substr(0, 54),
      good + "-",                                                       // v00 is exact
      "ff" + good.substr(2),                                            // version ff
      "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",       // uppercase
      "00-00000000000000000000000000000000-00f067aa0ba902b7-01",       // zero trace id
      "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",       // zero span id
      "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",       // separator
      "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",       // non-hex
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x",
      "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",      // future, no dash
  };
  for (const auto& text : bad) {
    INFO(text);
    const auto r = wt::parse_traceparent(text);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().is(wt::telemetry_errc::invalid_traceparent));
  }
}

TEST_CASE("trace context: binary form round-trips and rejects bad input", "[telemetry][trace]") {
  weft::xoshiro256 random(7);
  const auto root = wt::new_root_context(random);
  const auto child = wt::new_child_context(root, random);
  CHECK(root.valid());
  CHECK(child.trace == root.trace);
  CHECK(child.span != root.span);
  std::array<std::uint8_t, wt::trace_context_binary_size> buffer{};
  weft::byte_writer w(buffer);
  REQUIRE(wt::encode_trace_context(child, w).has_value());
  CHECK(w.size() == wt::trace_context_binary_size);
  weft::byte_reader r(buffer);
  const auto back = wt::decode_trace_context(r);
  REQUIRE(back.has_value());
  CHECK(*back == child);

  auto bad_version = buffer;
  bad_version[0] = 1;
  weft::byte_reader r1(bad_version);
  CHECK(wt::decode_trace_context(r1).error().is(wt::telemetry_errc::invalid_trace_context));
  std::array<std::uint8_t, wt::trace_context_binary_size> zeros{};
  weft::byte_reader r2(zeros);
  CHECK(wt::decode_trace_context(r2).error().is(wt::telemetry_errc::invalid_trace_context));
  weft::byte_reader r3(weft::byte_view(buffer).first(25));
  CHECK(wt::decode_trace_context(r3).error().is(weft::core_errc::truncated));
  std::array<std::uint8_t, 10> small{};
  weft::byte_writer w2(small);
  CHECK_FALSE(wt::encode_trace_context(child, w2).has_value());
}

TEST_CASE("binary sink re-registers callsites so a damaged registration heals",
          "[telemetry][log]") {
  weft::manual_clock clock;
  wt::binary_sink<weft::manual_clock, wt::level::info, wt::binary_sink_limits{8, 118, 64, 3}> s(clock);
  for (int i = 0; i < 4; ++i) WEFT_LOG_INFO(s, "again", wt::kv("i", i));
  memory_output out;
  REQUIRE(s.flush(out).value() == 4);
  wt::decode_summary clean_summary;
  (void)decode(out.bytes, &clean_summary);
  CHECK(clean_summary.frames_ok == 6);  // registration, 3 events, registration, event
  out.bytes[6] ^= 0x10;                 // damage the first registration
  const collected c = decode(out.bytes);
  REQUIRE(c.lines.size() == 4);
  CHECK(c.lines[0].find("? callsite#") != std::string::npos);
  CHECK(c.lines[3].find("info \"again\" i=3") != std::string::npos);
}

TEST_CASE("trace context crosses a weft frame: the span continues on the other side",
          "[telemetry][trace]") {
  weft::xoshiro256 sender_random(1), receiver_random(2);
  const wt::trace_context sender_span = wt::new_root_context(sender_random);
  const weft::wire::frame_options options{.max_payload_size_bytes = 256};
  std::vector<std::uint8_t> stream(512);
  weft::byte_writer w{weft::mutable_byte_view(stream)};
  const auto field = wt::to_frame_trace_field(sender_span);
  const std::uint8_t payload[] = {1, 2, 3};
  REQUIRE(weft::wire::encode_frame(weft::byte_view(payload), w, options, &field));
  REQUIRE(weft::wire::encode_frame(weft::byte_view(payload), w, options));  // untraced
  CHECK(w.size() == 2 * weft::wire::frame_header_size_bytes +
                        weft::wire::frame_trace_field_size_bytes + 2 * sizeof payload);

  std::vector<std::uint8_t> storage(weft::wire::frame_header_size_bytes + 256);
  weft::wire::frame_decoder decoder(storage, options);
  REQUIRE(decoder.feed(w.written()).has_value());
  const auto first = decoder.next();
  REQUIRE(first);
  REQUIRE(first->has_value());
  CHECK(weft::equal_bytes(**first, weft::byte_view(payload)));
  REQUIRE(decoder.trace() != nullptr);
  const wt::trace_context remote_parent = wt::from_frame_trace_field(*decoder.trace());
  const wt::trace_context receiver_span = wt::new_child_context(remote_parent, receiver_random);
  wt::span continued;
  continued.context = receiver_span;
  continued.parent = remote_parent.span;
  CHECK(continued.context.trace == sender_span.trace);
  CHECK(continued.parent == sender_span.span);
  CHECK(continued.context.span != sender_span.span);
  CHECK(continued.context.sampled());

  const auto second = decoder.next();
  REQUIRE(second);
  REQUIRE(second->has_value());
  CHECK(decoder.trace() == nullptr);
  CHECK(decoder.finish());
}

TEST_CASE("frame trace field: decoded strictly", "[telemetry][trace]") {
  weft::xoshiro256 random(3);
  const auto field = wt::to_frame_trace_field(wt::new_root_context(random));
  const std::uint8_t payload[] = {9};
  std::array<std::uint8_t, 64> good{};
  const auto framed = weft::wire::encode_frame(weft::byte_view(payload), weft::mutable_byte_view(good), {}, &field);
  REQUIRE(framed);
  const std::vector<std::uint8_t> frame(framed->begin(), framed->end());
  const auto scan_of = [](std::vector<std::uint8_t> bytes) { return weft::wire::scan_frame(bytes); };
  const auto rechecksum = [](std::vector<std::uint8_t>& bytes) {  // damage the field, not the CRC
    const weft::byte_view all(bytes);
    const std::uint32_t crc = weft::crc32c_extend(weft::crc32c(all.first(4)), all.subspan(8));
    weft::store_be<std::uint32_t>(bytes.data() + 4, crc);
  };
  REQUIRE(scan_of(frame));
  CHECK(scan_of(frame)->has_trace);

  auto future_version = frame;
  future_version[8] = 1;
  rechecksum(future_version);
  CHECK(scan_of(future_version).error().is(weft::wire::frame_errc::bad_trace_field));

  auto zero_trace = frame;
  for (std::size_t i = 9; i < 25; ++i) zero_trace[i] = 0;
  rechecksum(zero_trace);
  CHECK(scan_of(zero_trace).error().is(weft::wire::frame_errc::bad_trace_field));

  auto zero_span = frame;
  for (std::size_t i = 25; i < 33; ++i) zero_span[i] = 0;
  rechecksum(zero_span);
  CHECK(scan_of(zero_span).error().is(weft::wire::frame_errc::bad_trace_field));

  // The flag with a body too short to hold the field.
  std::vector<std::uint8_t> short_body(8 + 4, 0xaa);
  weft::store_be<std::uint32_t>(short_body.data(), weft::wire::frame_trace_flag | 4u);
  rechecksum(short_body);
  CHECK(scan_of(short_body).error().is(weft::wire::frame_errc::bad_trace_field));

  // An invalid field is refused on encode too.
  weft::wire::frame_trace_field bad{};
  std::array<std::uint8_t, 64> out{};
  CHECK(weft::wire::encode_frame(weft::byte_view(payload), weft::mutable_byte_view(out), {}, &bad)
            .error().is(weft::wire::frame_errc::bad_trace_field));
  // The trace flag bit can no longer be a length: options above 2^31 - 1 are refused.
  CHECK_FALSE(weft::wire::frame_options{.max_payload_size_bytes = 0x80000000u}.validate());
}

TEST_CASE("decoded events stay one line: keys and file names from the stream are escaped",
          "[telemetry][log]") {
  wt::decoded_callsite site;
  site.known = true;
  site.message = "m";
  site.file = "dir name/x\ny.cpp";  // a damaged or hostile registration
  site.line = 7;
  wt::decoded_event e;
  e.site = &site;
  wt::decoded_field f;
  f.key = "k\nk=1";
  f.value.kind = wt::field_kind::u64;
  f.value.u = 3;
  (void)e.fields.push_back(f);
  wt::decoded_field plain;
  plain.key = "peer";
  plain.value.kind = wt::field_kind::u64;
  plain.value.u = 4;
  (void)e.fields.push_back(plain);
  std::string line;
  wt::string_output out(line);
  wt::format_decoded_event(out, e);
  CHECK(line.find('\n') == line.size() - 1);
  CHECK(line.find(R"("k\nk=1"=3)") != std::string::npos);
  CHECK(line.find(" peer=4") != std::string::npos);  // plain tokens stay as they were
  CHECK(line.find(R"(("dir name/x\ny.cpp":7))") != std::string::npos);
}
