// weft/telemetry/prometheus.hpp - exporters for the Prometheus text format 0.0.4 and
// OpenMetrics 1.0 text. Series of one family (same name, different labels) are grouped
// under one HELP/TYPE; counters get `_total`; histograms export their non-empty buckets as
// cumulative `le` buckets (upper bounds inclusive), then `+Inf`, `_sum` and `_count`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "weft/config.hpp"
#include "weft/core/result.hpp"
#include "weft/telemetry/concepts.hpp"
#include "weft/telemetry/metrics.hpp"
#include "weft/telemetry/text_output.hpp"

WEFT_BEGIN
namespace telemetry {

enum class exposition : std::uint8_t { prometheus_0_0_4, openmetrics_1_0 };

/// Content-Type header values for an HTTP endpoint serving each format.
inline constexpr std::string_view prometheus_content_type = "text/plain; version=0.0.4";
inline constexpr std::string_view openmetrics_content_type =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

namespace detail {

template <class O>
void append_labels(O& out, std::span<const label> labels, std::string_view extra_name = {},
                   std::string_view extra_value = {}) noexcept {
  if (labels.empty() && extra_name.empty()) return;
  out.append("{");
  bool first = true;
  for (const label& l : labels) {
    if (!first) out.append(",");
    first = false;
    append_metric_name(out, l.name, true);
    out.append("=\"");
    append_label_value(out, l.value);
    out.append("\"");
  }
  if (!extra_name.empty()) {
    if (!first) out.append(",");
    out.append(extra_name);
    out.append("=\"");
    out.append(extra_value);
    out.append("\"");
  }
  out.append("}");
}

/// A sample value: an exact integer, or a double (scaled values, sums in base units).
struct sample_value {
  bool integral = true;
  std::int64_t i = 0;
  std::uint64_t u = 0;
  bool is_signed = false;
  double d = 0;
};
inline sample_value integer_value(std::uint64_t v) noexcept { return {true, 0, v, false, 0}; }
inline sample_value signed_value(std::int64_t v) noexcept { return {true, v, 0, true, 0}; }
inline sample_value double_value(double v) noexcept { return {false, 0, 0, false, v}; }

template <class O>
void append_sample(O& out, const metric_base& m, std::string_view suffix, sample_value value,
                   bool om, std::string_view extra_name = {},
                   std::string_view extra_value = {}) noexcept {
  append_metric_name(out, m.info().name);
  out.append(suffix);
  append_labels(out, m.info().labels, extra_name, extra_value);
  out.append(" ");
  if (!value.integral) append_double(out, value.d, om);
  else if (value.is_signed) append_i64(out, value.i);
  else append_u64(out, value.u);
  out.append("\n");
}

template <class O>
void append_histogram_samples(O& out, const histogram& h, bool om) noexcept {
  const double scale = h.info().export_scale;
  std::uint64_t cumulative = 0;
  char le_text[48];
  for (std::size_t i = 0; i < histogram::bucket_count; ++i) {
    const std::uint64_t n = h.bucket(i);
    if (n == 0) continue;
    cumulative += n;
    buffer_output le(le_text, sizeof le_text);
    append_double(le, static_cast<double>(histogram::bucket_upper(i)) * scale, om);
    append_sample(out, h, "_bucket", integer_value(cumulative), om, "le", le.view());
  }
  append_sample(out, h, "_bucket", integer_value(cumulative), om, "le", "+Inf");
  if (scale == 1.0) append_sample(out, h, "_sum", integer_value(h.sum()), om);
  else append_sample(out, h, "_sum", double_value(static_cast<double>(h.sum()) * scale), om);
  append_sample(out, h, "_count", integer_value(cumulative), om);
}

template <class O>
void append_family_header(O& out, const metric_base& m, bool om) noexcept {
  const std::string_view type = m.kind() == metric_kind::counter ? "counter"
                                : m.kind() == metric_kind::gauge ? "gauge"
                                                                 : "histogram";
  // Prometheus 0.0.4 names the counter family with its `_total`; OpenMetrics without.
  const std::string_view family_suffix = (m.kind() == metric_kind::counter && !om) ? "_total" : "";
  out.append("# HELP ");
  append_metric_name(out, m.info().name);
  out.append(family_suffix);
  out.append(" ");
  append_help_text(out, m.info().help, om);
  out.append("\n# TYPE ");
  append_metric_name(out, m.info().name);
  out.append(family_suffix);
  out.append(" ");
  out.append(type);
  out.append("\n");
  if (om && !m.info().unit.empty()) {
    out.append("# UNIT ");
    append_metric_name(out, m.info().name);
    out.append(" ");
    append_metric_name(out, m.info().unit, true);
    out.append("\n");
  }
}

template <class O>
void append_series(O& out, const metric_base& m, bool om) noexcept {
  switch (m.kind()) {
    case metric_kind::counter: {
      const std::uint64_t v = static_cast<const counter&>(m).value();
      const double scale = m.info().export_scale;
      append_sample(out, m, "_total",
                    scale == 1.0 ? integer_value(v) : double_value(static_cast<double>(v) * scale),
                    om);
      break;
    }
    case metric_kind::gauge: {
      const std::int64_t v = static_cast<const gauge&>(m).value();
      const double scale = m.info().export_scale;
      append_sample(out, m, "",
                    scale == 1.0 ? signed_value(v) : double_value(static_cast<double>(v) * scale),
                    om);
      break;
    }
    case metric_kind::histogram:
      append_histogram_samples(out, static_cast<const histogram&>(m), om);
      break;
  }
}

}  // namespace detail

/// Writes every metric of `metrics` in the chosen exposition format. Families appear once,
/// in registration order of their first series. Fails only when `out` overflowed.
template <text_output O>
[[nodiscard]] result<void> write_exposition(O& out, exposition format,
                                            const registry& metrics = default_registry()) noexcept {
  const bool om = format == exposition::openmetrics_1_0;
  metrics.for_each([&](const metric_base& family) {
    // A family is written when its first series is met; later series of it are skipped.
    for (const metric_base* m = family.previous(); m != nullptr; m = m->previous())
      if (m->info().name == family.info().name) return;
    detail::append_family_header(out, family, om);
    for (const metric_base* m = &family; m != nullptr; m = m->next())
      if (m->info().name == family.info().name && m->kind() == family.kind())
        detail::append_series(out, *m, om);
  });
  if (om) out.append("# EOF\n");
  if (out.overflowed()) return error(telemetry_errc::output_full, "write_exposition");
  return ok();
}

}  // namespace telemetry
WEFT_END
