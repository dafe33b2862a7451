// One function compiled three ways by compare_codegen.cmake:
//   -DWEFT_CODEGEN_PLAIN      no instrumentation at all
//   (nothing)                 a log statement and three metric updates under null_sink
//   -DWEFT_CODEGEN_LIVE       the same under a live sink (negative control: must differ)
// The first two must compile to the same machine code.
#include <cstdint>

#include "weft/telemetry/concepts.hpp"
#include "weft/telemetry/log.hpp"
#include "weft/telemetry/metrics.hpp"

namespace wt = weft::telemetry;

extern wt::counter proposals_committed;
extern wt::gauge pending;
extern wt::histogram apply_lag;
extern "C" void weft_codegen_live_write(const void* site, std::size_t fields) noexcept;

struct live_sink : wt::metrics_recorder {
  static constexpr wt::level min_level = wt::level::info;
  void write(const wt::callsite& cs, std::span<const wt::field> fields) noexcept {
    weft_codegen_live_write(&cs, fields.size());
  }
};

#if defined(WEFT_CODEGEN_LIVE)
using policy = live_sink;
#else
using policy = wt::null_sink;
#endif

template <wt::sink Sink>
int step(Sink& telemetry, int x) noexcept {
#if !defined(WEFT_CODEGEN_PLAIN)
  WEFT_LOG_INFO(telemetry, "step", wt::kv("x", x), wt::kv("peer", "n2"));
  telemetry.add(proposals_committed, 1);
  telemetry.set(pending, x);
  telemetry.record(apply_lag, static_cast<std::uint64_t>(x));
#else
  (void)telemetry;
#endif
  return x * 3 + 1;
}

extern "C" int weft_codegen_subject(int x) noexcept {
  policy telemetry;
  return step(telemetry, x);
}
