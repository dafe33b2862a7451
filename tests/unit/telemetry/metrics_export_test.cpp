// Metrics (counters, gauges, histograms, registry) and the Prometheus, OpenMetrics and
// OTLP/JSON exporters, including escaping of hostile label values and a promtool check.
#include <catch2/catch.hpp>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "weft/telemetry/catalogue.hpp"
#include "weft/telemetry/metrics.hpp"
#include "weft/telemetry/otlp_json.hpp"
#include "weft/telemetry/prometheus.hpp"

namespace wt = weft::telemetry;

namespace {

std::string exposition_text(const wt::registry& r, wt::exposition format) {
  std::string text;
  wt::string_output out(text);
  REQUIRE(wt::write_exposition(out, format, r).has_value());
  return text;
}

std::size_t count_of(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

/// Runs promtool over `text`; returns its exit status and puts its output in `report`.
/// Returns -1 (and WARNs) when promtool is not installed.
int promtool_check(const std::string& text, std::string& report) {
#ifdef WEFT_PROMTOOL
  std::string promtool = WEFT_PROMTOOL;
#else
  std::string promtool = "/usr/bin/promtool";
#endif
  if (std::FILE* probe = std::fopen(promtool.c_str(), "rb")) {
    std::fclose(probe);
  } else {
    WARN("promtool not found (" << promtool << "): SKIPPING the promtool check. "
         "Install the Debian package `prometheus` (tools/bootstrap.sh).");
    return -1;
  }
  const std::string base = std::string(WEFT_BINARY_DIR) + "/telemetry_promtool_" +
                           std::to_string(reinterpret_cast<std::uintptr_t>(&text));
  { std::ofstream(base + ".txt", std::ios::binary) << text; }
  const std::string command =
      promtool + " check metrics < " + base + ".txt > " + base + ".out 2>&1";
  const int status = std::system(command.c_str());
  std::ifstream in(base + ".out");
  std::stringstream ss;
  ss << in.rdbuf();
  report = ss.str();
  std::remove((base + ".txt").c_str());
  std::remove((base + ".out").c_str());
  return status;
}

}  // namespace

TEST_CASE("counter: shards sum to the exact total across threads", "[telemetry][metrics]") {
  wt::registry r;
  wt::counter c({"t_ops", "ops"}, &r);
  constexpr int threads = 12, per_thread = 20000;  // more threads than owned shards
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&c] {
      for (int i = 0; i < per_thread; ++i) c.add();
    });
  for (auto& w : workers) w.join();
  CHECK(c.value() == std::uint64_t{threads} * per_thread);
  c.add(5);
  CHECK(c.value() == std::uint64_t{threads} * per_thread + 5);
}

TEST_CASE("counter: shards are cache-line padded", "[telemetry][metrics]") {
  CHECK(sizeof(wt::counter) >= wt::counter::shard_count * wt::cache_line_bytes);
  CHECK(alignof(wt::counter) >= wt::cache_line_bytes);
}

TEST_CASE("gauge: set and add", "[telemetry][metrics]") {
  wt::registry r;
  wt::gauge g({"t_depth", "depth"}, &r);
  g.set(10);
  g.add(-15);
  CHECK(g.value() == -5);
}

TEST_CASE("histogram: bucket layout is exact below 16 and log-linear above",
          "[telemetry][metrics]") {
  using h = wt::histogram;
  for (std::uint64_t v = 0; v < 16; ++v) {
    CHECK(h::bucket_index(v) == v);
    CHECK(h::bucket_lower(v) == v);
    CHECK(h::bucket_upper(v) == v);
  }
  CHECK(h::bucket_index(16) == 16);
  CHECK(h::bucket_index(17) == 17);
  CHECK(h::bucket_index(31) == 31);
  CHECK(h::bucket_index(32) == 32);  // [32, 34)
  CHECK(h::bucket_index(33) == 32);
  CHECK(h::bucket_index(34) == 33);
  CHECK(h::bucket_index(~std::uint64_t{0}) == h::bucket_count - 1);
  CHECK(h::bucket_upper(h::bucket_count - 1) == ~std::uint64_t{0});
  for (std::size_t i = 1; i < h::bucket_count; ++i) {
    INFO("bucket " << i);
    REQUIRE(h::bucket_lower(i) == h::bucket_upper(i - 1) + 1);  // contiguous, no gaps
    REQUIRE(h::bucket_index(h::bucket_lower(i)) == i);
    REQUIRE(h::bucket_index(h::bucket_upper(i)) == i);
  }
}

TEST_CASE("histogram: count, sum and quantiles", "[telemetry][metrics]") {
  wt::registry r;
  wt::histogram h({"t_latency_seconds", "latency", "seconds", {}, 1e-9}, &r);
  for (std::uint64_t v = 1; v <= 1000; ++v) h.record(v * 1000);
  CHECK(h.count() == 1000);
  CHECK(h.sum() == 500500000);
  const auto median = static_cast<double>(h.quantile(0.5));
  CHECK(median == Approx(500000.0).epsilon(1.0 / 16));
  const auto p99 = static_cast<double>(h.quantile(0.99));
  CHECK(p99 == Approx(990000.0).epsilon(1.0 / 16));
  CHECK(h.quantile(0.0) <= 1000 + 1000 / 16);
}

TEST_CASE("histogram: the owner thread and the others all land in the buckets",
          "[telemetry][metrics]") {
  wt::registry r;
  wt::histogram h({"t_spread", "spread"}, &r);
  h.record(5);  // this thread becomes the owner (plain stores)
  constexpr int threads = 4, per_thread = 5000;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&h] {
      for (int i = 0; i < per_thread; ++i) h.record(1000);
    });
  for (int i = 0; i < per_thread; ++i) h.record(5);
  for (auto& w : workers) w.join();
  CHECK(h.bucket(wt::histogram::bucket_index(5)) == per_thread + 1);
  CHECK(h.bucket(wt::histogram::bucket_index(1000)) == std::uint64_t{threads} * per_thread);
  CHECK(h.count() == std::uint64_t{threads + 1} * per_thread + 1);
  CHECK(h.sum() == (per_thread + 1) * 5ull + std::uint64_t{threads} * per_thread * 1000);
}

TEST_CASE("registry: metrics join and leave with their lifetime", "[telemetry][metrics]") {
  wt::registry r;
  wt::counter a({"t_a", "a"}, &r);
  {
    wt::gauge b({"t_b", "b"}, &r);
    CHECK(r.size() == 2);
  }
  CHECK(r.size() == 1);
  wt::counter unregistered({"t_c", "c"}, nullptr);
  CHECK(r.size() == 1);
}

TEST_CASE("prometheus 0.0.4: families, _total, buckets and escaping", "[telemetry][export]") {
  wt::registry r;
  static constexpr std::array peer_a{wt::label{"peer", "a\"b\\c\nd"}};
  static constexpr std::array peer_b{wt::label{"peer", "caf\xC3\xA9\xFF"}};
  wt::counter sent_a({"weft_test_sent_bytes", "Bytes \\ sent\nto a peer", "bytes", peer_a}, &r);
  wt::gauge depth({"weft_test_queue_depth", "Depth", ""}, &r);
  wt::counter sent_b({"weft_test_sent_bytes", "Bytes \\ sent\nto a peer", "bytes", peer_b}, &r);
  wt::histogram fsync({"weft_test_fsync_duration_seconds", "fsync", "seconds", {}, 1e-9}, &r);
  sent_a.add(7);
  sent_b.add(9);
  depth.set(-3);
  fsync.record(1500);
  fsync.record(1500);
  fsync.record(2'000'000);

  const std::string text = exposition_text(r, wt::exposition::prometheus_0_0_4);
  CHECK(count_of(text, "# TYPE weft_test_sent_bytes_total counter\n") == 1);
  CHECK(text.find("# HELP weft_test_sent_bytes_total Bytes \\\\ sent\\nto a peer\n") !=
        std::string::npos);
  CHECK(text.find("weft_test_sent_bytes_total{peer=\"a\\\"b\\\\c\\nd\"} 7\n") != std::string::npos);
  // 0xFF is not UTF-8: replaced by U+FFFD; the valid é passes through.
  CHECK(text.find("weft_test_sent_bytes_total{peer=\"caf\xC3\xA9\xEF\xBF\xBD\"} 9\n") !=
        std::string::npos);
  CHECK(text.find("weft_test_queue_depth -3\n") != std::string::npos);
  CHECK(text.find("weft_test_fsync_duration_seconds_bucket{le=\"+Inf\"} 3\n") != std::string::npos);
  CHECK(text.find("weft_test_fsync_duration_seconds_count 3\n") != std::string::npos);
  CHECK(count_of(text, "weft_test_fsync_duration_seconds_bucket{le=") == 3);  // 2 non-empty + Inf
  CHECK(text.find("# EOF") == std::string::npos);
  CHECK(text.find("# UNIT") == std::string::npos);

  std::string report;
  const int status = promtool_check(text, report);
  if (status != -1) {
    INFO("promtool said:\n" << report << "\ntext:\n" << text);
    CHECK(status == 0);
    CHECK(report.find("error") == std::string::npos);
  }
}

TEST_CASE("promtool rejects what it should (the check can fail)", "[telemetry][export]") {
  std::string report;
  const int status = promtool_check("# TYPE foo_ms counter\nfoo_ms 1\n", report);
  if (status != -1) CHECK(status != 0);
}

TEST_CASE("promtool accepts the whole metric catalogue", "[telemetry][export]") {
  wt::catalogue::raft_leader_changes.add(2);
  wt::catalogue::wal_fsync_duration.record(3'000'000);
  wt::catalogue::transport_peer_metrics peer("node-2");
  peer.sent_bytes.add(100);
  const std::string text = exposition_text(wt::default_registry(), wt::exposition::prometheus_0_0_4);
  CHECK(text.find("weft_transport_sent_bytes_total{peer=\"node-2\"} 100\n") != std::string::npos);
  std::string report;
  const int status = promtool_check(text, report);
  if (status != -1) {
    INFO("promtool said:\n" << report << "\ntext:\n" << text);
    CHECK(status == 0);
  }
}

TEST_CASE("openmetrics: every family with a unit ends with it", "[telemetry][export]") {
  const std::string text =
      exposition_text(wt::default_registry(), wt::exposition::openmetrics_1_0);
  std::istringstream lines(text);
  std::size_t units = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("# UNIT ", 0) != 0) continue;
    ++units;
    const auto space = line.find(' ', 7);
    REQUIRE(space != std::string::npos);
    const std::string name = line.substr(7, space - 7), unit = line.substr(space + 1);
    INFO(line);
    CHECK(name.size() > unit.size());
    CHECK(name.substr(name.size() - unit.size() - 1) == "_" + unit);
  }
  CHECK(units >= 3);  // fsync seconds, written bytes, apply lag entries
}

TEST_CASE("openmetrics 1.0: # EOF, _total on samples only, UNIT, escaped HELP",
          "[telemetry][export]") {
  wt::registry r;
  static constexpr std::array labels{wt::label{"peer", "q\"uote"}};
  static constexpr std::array hostile{wt::label{"peer", "a\\b\nc\xFF"}};  // and non-UTF-8
  wt::counter c({"weft_test_written_bytes", "Say \"hi\"", "bytes", labels}, &r);
  wt::counter c2({"weft_test_written_bytes", "Say \"hi\"", "bytes", hostile}, &r);
  c2.add(4);
  wt::histogram h({"weft_test_apply_seconds", "apply", "seconds", {}, 1e-9}, &r);
  c.add(3);
  h.record(1'000'000'000);
  const std::string text = exposition_text(r, wt::exposition::openmetrics_1_0);
  CHECK(text.find("# TYPE weft_test_written_bytes counter\n") != std::string::npos);
  CHECK(text.find("# UNIT weft_test_written_bytes bytes\n") != std::string::npos);
  CHECK(text.find("# HELP weft_test_written_bytes Say \\\"hi\\\"\n") != std::string::npos);
  CHECK(text.find("weft_test_written_bytes_total{peer=\"q\\\"uote\"} 3\n") != std::string::npos);
  CHECK(text.find("weft_test_written_bytes_total{peer=\"a\\\\b\\nc\xEF\xBF\xBD\"} 4\n") !=
        std::string::npos);
  CHECK(text.find("weft_test_apply_seconds_sum 1.0\n") != std::string::npos);
  REQUIRE(text.size() >= 6);
  CHECK(text.substr(text.size() - 6) == "# EOF\n");
  CHECK(count_of(text, "# EOF") == 1);
}

TEST_CASE("exporters report a full fixed buffer", "[telemetry][export]") {
  wt::registry r;
  wt::counter c({"weft_test_x", "x"}, &r);
  char small[16];
  wt::buffer_output out(small, sizeof small);
  const auto written = wt::write_exposition(out, wt::exposition::prometheus_0_0_4, r);
  REQUIRE_FALSE(written.has_value());
  CHECK(written.error().is(wt::telemetry_errc::output_full));
  CHECK(out.view().size() == sizeof small);
}

TEST_CASE("OTLP/JSON metrics: camelCase, string int64, integer enums, escaping",
          "[telemetry][export]") {
  wt::registry r;
  static constexpr std::array labels{wt::label{"peer", "a\"\\\n\x01\xFE"}};
  wt::counter c({"weft_test_msgs", "msgs", "", labels}, &r);
  wt::gauge g({"weft_test_depth", "depth"}, &r);
  wt::histogram h({"weft_test_fsync_seconds", "fsync", "seconds", {}, 1e-9}, &r);
  c.add(std::uint64_t{1} << 40);
  g.set(-2);
  h.record(1000);
  h.record(1000);
  std::string text;
  wt::string_output out(text);
  REQUIRE(wt::write_otlp_metrics(out, 1'700'000'000'000'000'000u, 1'700'000'001'000'000'000u,
                                 {"edge-node"}, r)
              .has_value());
  CHECK(text.rfind("{\"resourceMetrics\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\","
                   "\"value\":{\"stringValue\":\"edge-node\"}}]},\"scopeMetrics\":[",
                   0) == 0);
  CHECK(text.find("\"sum\":{\"dataPoints\":[{\"attributes\":[{\"key\":\"peer\",\"value\":{"
                  "\"stringValue\":\"a\\\"\\\\\\n\\u0001\xEF\xBF\xBD\"}}],"
                  "\"startTimeUnixNano\":\"1700000000000000000\","
                  "\"timeUnixNano\":\"1700000001000000000\",\"asInt\":\"1099511627776\"}],"
                  "\"aggregationTemporality\":2,\"isMonotonic\":true}") != std::string::npos);
  CHECK(text.find("\"gauge\":{\"dataPoints\":[{\"attributes\":[],") != std::string::npos);
  CHECK(text.find("\"asInt\":\"-2\"") != std::string::npos);
  CHECK(text.find("\"bucketCounts\":[\"2\",\"0\"],\"explicitBounds\":[1.0") != std::string::npos);
  CHECK(text.find("\"count\":\"2\"") != std::string::npos);
  CHECK(text.find("\"aggregationTemporality\":2}") != std::string::npos);
  CHECK(text.find("_") == text.find("_test"));  // no snake_case keys: only metric names
  CHECK(text.find("weft_test_depth") != std::string::npos);
}

TEST_CASE("OTLP/JSON traces: hex ids, kind and status as integers", "[telemetry][export]") {
  wt::span s;
  auto ctx = wt::parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  REQUIRE(ctx.has_value());
  s.context = *ctx;
  s.parent = {1, 2, 3, 4, 5, 6, 7, 8};
  s.name = "raft.append \"x\"";
  s.kind = wt::span_kind::client;
  s.status = wt::span_status::error;
  s.start_unix_ns = 1;
  s.end_unix_ns = 18'446'744'073'709'551'615u;
  REQUIRE(s.attributes.push_back(wt::kv("peer", "n\xC0")).has_value());
  REQUIRE(s.attributes.push_back(wt::kv("entries", 3)).has_value());
  REQUIRE(s.attributes.push_back(wt::kv("big", ~std::uint64_t{0})).has_value());
  REQUIRE(s.attributes.push_back(wt::kv("ratio", 0.5)).has_value());
  std::string text;
  wt::string_output out(text);
  REQUIRE(wt::write_otlp_traces(out, std::span<const wt::span>(&s, 1)).has_value());
  CHECK(text.find("\"spans\":[{\"traceId\":\"4bf92f3577b34da6a3ce929d0e0e4736\","
                  "\"spanId\":\"00f067aa0ba902b7\",\"parentSpanId\":\"0102030405060708\","
                  "\"flags\":1,\"name\":\"raft.append \\\"x\\\"\",\"kind\":3,"
                  "\"startTimeUnixNano\":\"1\",\"endTimeUnixNano\":\"18446744073709551615\"") !=
        std::string::npos);
  CHECK(text.find("{\"key\":\"peer\",\"value\":{\"stringValue\":\"n\xEF\xBF\xBD\"}}") !=
        std::string::npos);
  CHECK(text.find("{\"key\":\"entries\",\"value\":{\"intValue\":\"3\"}}") != std::string::npos);
  CHECK(text.find("{\"key\":\"big\",\"value\":{\"stringValue\":\"18446744073709551615\"}}") !=
        std::string::npos);
  CHECK(text.find("{\"key\":\"ratio\",\"value\":{\"doubleValue\":0.5}}") != std::string::npos);
  CHECK(text.find("\"status\":{\"code\":2}") != std::string::npos);
}

TEST_CASE("UTF-8 validation rejects overlongs, surrogates and out-of-range", "[telemetry][export]") {
  using wt::detail::utf8_sequence_length;
  CHECK(utf8_sequence_length("a") == 1);
  CHECK(utf8_sequence_length("\xC3\xA9") == 2);
  CHECK(utf8_sequence_length("\xE2\x82\xAC") == 3);
  CHECK(utf8_sequence_length("\xF0\x9F\x98\x80") == 4);
  CHECK(utf8_sequence_length("\xC0\xAF") == 0);          // overlong '/'
  CHECK(utf8_sequence_length("\xE0\x80\xAF") == 0);      // overlong
  CHECK(utf8_sequence_length("\xED\xA0\x80") == 0);      // surrogate
  CHECK(utf8_sequence_length("\xF4\x90\x80\x80") == 0);  // above U+10FFFF
  CHECK(utf8_sequence_length("\xE2\x82") == 0);          // cut short
  CHECK(utf8_sequence_length("\x80") == 0);              // lone continuation
}
