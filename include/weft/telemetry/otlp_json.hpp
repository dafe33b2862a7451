// weft/telemetry/otlp_json.hpp - OTLP/JSON export of metrics (ExportMetricsServiceRequest)
// and spans (ExportTraceServiceRequest), following the OTLP JSON encoding rules: keys in
// lowerCamelCase, trace and span ids as lowercase hex (not base64), enums as integers,
// 64-bit integers as decimal strings, non-finite doubles as "NaN"/"Infinity" strings.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string_view>

#include "weft/config.hpp"
#include "weft/core/result.hpp"
#include "weft/telemetry/concepts.hpp"
#include "weft/telemetry/metrics.hpp"
#include "weft/telemetry/text_output.hpp"
#include "weft/telemetry/trace.hpp"

WEFT_BEGIN
namespace telemetry {

/// Who is exporting: becomes the resource (`service.name`) and the instrumentation scope.
struct otlp_resource {
  std::string_view service_name = "weft";
  std::string_view scope_name = "weft";
  std::string_view scope_version = WEFT_VERSION_STRING;
};

namespace detail {

template <class O>
void json_u64_string(O& out, std::uint64_t v) noexcept {
  out.append("\"");
  append_u64(out, v);
  out.append("\"");
}

template <class O>
void json_double(O& out, double v) noexcept {
  if (std::isnan(v)) return out.append("\"NaN\"");
  if (std::isinf(v)) return out.append(v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
  append_double(out, v, true);
}

template <class O>
void json_hex(O& out, const std::uint8_t* bytes, std::size_t n) noexcept {
  char text[32];
  format_lower_hex(bytes, n, text);
  out.append("\"");
  out.append(std::string_view(text, 2 * n));
  out.append("\"");
}

template <class O>
void json_key_value(O& out, std::string_view key, std::string_view string_value) noexcept {
  out.append("{\"key\":");
  append_json_string(out, key);
  out.append(",\"value\":{\"stringValue\":");
  append_json_string(out, string_value);
  out.append("}}");
}

template <class O>
void json_attribute(O& out, const field& f) noexcept {
  out.append("{\"key\":");
  append_json_string(out, f.key);
  out.append(",\"value\":{");
  switch (f.kind) {
    case field_kind::u64:
      if (f.u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        out.append("\"stringValue\":");  // beyond int64: keep the exact digits
        json_u64_string(out, f.u);
      } else {
        out.append("\"intValue\":");
        json_u64_string(out, f.u);
      }
      break;
    case field_kind::i64:
      out.append("\"intValue\":\"");
      append_i64(out, f.i);
      out.append("\"");
      break;
    case field_kind::f64:
      out.append("\"doubleValue\":");
      json_double(out, f.f);
      break;
    case field_kind::boolean: out.append(f.b ? "\"boolValue\":true" : "\"boolValue\":false"); break;
    case field_kind::string:
      out.append("\"stringValue\":");
      append_json_string(out, f.text);
      break;
  }
  out.append("}}");
}

template <class O>
void json_resource_and_scope_open(O& out, const otlp_resource& res, std::string_view scope_key) noexcept {
  out.append("{\"resource\":{\"attributes\":[");
  json_key_value(out, "service.name", res.service_name);
  out.append("]},\"");
  out.append(scope_key);
  out.append("\":[{\"scope\":{\"name\":");
  append_json_string(out, res.scope_name);
  out.append(",\"version\":");
  append_json_string(out, res.scope_version);
  out.append("},");
}

template <class O>
void json_point_open(O& out, const metric_base& m, std::uint64_t start_ns, std::uint64_t now_ns) noexcept {
  out.append("{\"attributes\":[");
  bool first = true;
  for (const label& l : m.info().labels) {
    if (!first) out.append(",");
    first = false;
    json_key_value(out, l.name, l.value);
  }
  out.append("],\"startTimeUnixNano\":");
  json_u64_string(out, start_ns);
  out.append(",\"timeUnixNano\":");
  json_u64_string(out, now_ns);
}

template <class O>
void json_number_value(O& out, const metric_base& m, std::int64_t raw) noexcept {
  if (m.info().export_scale == 1.0) {
    out.append(",\"asInt\":\"");
    append_i64(out, raw);
    out.append("\"}");
  } else {
    out.append(",\"asDouble\":");
    json_double(out, static_cast<double>(raw) * m.info().export_scale);
    out.append("}");
  }
}

template <class O>
void json_histogram_point(O& out, const histogram& h) noexcept {
  const double scale = h.info().export_scale;
  std::uint64_t total = 0;
  out.append(",\"bucketCounts\":[");
  bool first = true;
  for (std::size_t i = 0; i < histogram::bucket_count; ++i) {
    const std::uint64_t n = h.bucket(i);
    if (n == 0) continue;
    total += n;
    if (!first) out.append(",");
    first = false;
    json_u64_string(out, n);
  }
  out.append(first ? "\"0\"" : ",\"0\"");  // the (last bound, +inf) bucket
  out.append("],\"explicitBounds\":[");
  first = true;
  for (std::size_t i = 0; i < histogram::bucket_count; ++i) {
    if (h.bucket(i) == 0) continue;
    if (!first) out.append(",");
    first = false;
    json_double(out, static_cast<double>(histogram::bucket_upper(i)) * scale);
  }
  out.append("],\"count\":");
  json_u64_string(out, total);
  out.append(",\"sum\":");
  json_double(out, static_cast<double>(h.sum()) * scale);
  out.append("}");
}

template <class O>
void json_metric(O& out, const metric_base& m, std::uint64_t start_ns, std::uint64_t now_ns) noexcept {
  out.append("{\"name\":");
  append_json_string(out, m.info().name);
  out.append(",\"description\":");
  append_json_string(out, m.info().help);
  out.append(",\"unit\":");
  append_json_string(out, m.info().unit);
  switch (m.kind()) {
    case metric_kind::counter:
      out.append(",\"sum\":{\"dataPoints\":[");
      json_point_open(out, m, start_ns, now_ns);
      json_number_value(out, m, static_cast<std::int64_t>(static_cast<const counter&>(m).value()));
      out.append("],\"aggregationTemporality\":2,\"isMonotonic\":true}}");  // CUMULATIVE
      break;
    case metric_kind::gauge:
      out.append(",\"gauge\":{\"dataPoints\":[");
      json_point_open(out, m, start_ns, now_ns);
      json_number_value(out, m, static_cast<const gauge&>(m).value());
      out.append("]}}");
      break;
    case metric_kind::histogram:
      out.append(",\"histogram\":{\"dataPoints\":[");
      json_point_open(out, m, start_ns, now_ns);
      json_histogram_point(out, static_cast<const histogram&>(m));
      out.append("],\"aggregationTemporality\":2}}");
      break;
  }
}

template <class O>
void json_span(O& out, const span& s) noexcept {
  out.append("{\"traceId\":");
  json_hex(out, s.context.trace.data(), s.context.trace.size());
  out.append(",\"spanId\":");
  json_hex(out, s.context.span.data(), s.context.span.size());
  bool has_parent = false;
  for (auto b : s.parent) has_parent = has_parent || b != 0;
  if (has_parent) {
    out.append(",\"parentSpanId\":");
    json_hex(out, s.parent.data(), s.parent.size());
  }
  out.append(",\"flags\":");
  append_u64(out, s.context.flags);
  out.append(",\"name\":");
  append_json_string(out, s.name);
  out.append(",\"kind\":");
  append_u64(out, static_cast<std::uint64_t>(s.kind));
  out.append(",\"startTimeUnixNano\":");
  json_u64_string(out, s.start_unix_ns);
  out.append(",\"endTimeUnixNano\":");
  json_u64_string(out, s.end_unix_ns);
  out.append(",\"attributes\":[");
  for (std::size_t i = 0; i < s.attributes.size(); ++i) {
    if (i != 0) out.append(",");
    json_attribute(out, s.attributes[i]);
  }
  out.append("],\"status\":{\"code\":");
  append_u64(out, static_cast<std::uint64_t>(s.status));
  out.append("}}");
}

}  // namespace detail

/// One ExportMetricsServiceRequest with every metric of `metrics` (cumulative temporality;
/// times are Unix nanoseconds supplied by the caller, who owns the wall clock).
template <text_output O>
[[nodiscard]] result<void> write_otlp_metrics(O& out, std::uint64_t start_unix_ns,
                                              std::uint64_t now_unix_ns,
                                              const otlp_resource& resource = {},
                                              const registry& metrics = default_registry()) noexcept {
  out.append("{\"resourceMetrics\":[");
  detail::json_resource_and_scope_open(out, resource, "scopeMetrics");
  out.append("\"metrics\":[");
  bool first = true;
  metrics.for_each([&](const metric_base& m) {
    if (!first) out.append(",");
    first = false;
    detail::json_metric(out, m, start_unix_ns, now_unix_ns);
  });
  out.append("]}]}]}");
  if (out.overflowed()) return error(telemetry_errc::output_full, "write_otlp_metrics");
  return ok();
}

/// One ExportTraceServiceRequest holding `spans`.
template <text_output O>
[[nodiscard]] result<void> write_otlp_traces(O& out, std::span<const span> spans,
                                             const otlp_resource& resource = {}) noexcept {
  out.append("{\"resourceSpans\":[");
  detail::json_resource_and_scope_open(out, resource, "scopeSpans");
  out.append("\"spans\":[");
  for (std::size_t i = 0; i < spans.size(); ++i) {
    if (i != 0) out.append(",");
    detail::json_span(out, spans[i]);
  }
  out.append("]}]}]}");
  if (out.overflowed()) return error(telemetry_errc::output_full, "write_otlp_traces");
  return ok();
}

}  // namespace telemetry
WEFT_END
