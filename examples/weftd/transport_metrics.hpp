// examples/weftd/transport_metrics.hpp - what the member's transports refused or dropped, as
// one Prometheus family: weftd_transport_refusals_total{transport="tcp"|"udp", kind="..."}.
// weft:hosted
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "weft/telemetry/metrics.hpp"
#include "weft/transport/tcp.hpp"
#include "weft/transport/udp.hpp"

namespace weftd {

/// Copies the transports' running counters into the registry at each scrape (their growth).
class transport_metrics {
 public:
  transport_metrics() {
    using tcp = weft::transport::tcp_counters;
    using udp = weft::transport::udp_counters;
    // Connections refused before they identified, by kind (both modes): an old binary
    // still deployed, a non-member, too few slots. Not their total inbound_refused: a sum
    // over kinds would count each refusal twice.
    add_tcp("table_full", &tcp::refused_table_full);
    add_tcp("resources", &tcp::refused_resources);
    add_tcp("bad_hello", &tcp::refused_bad_hello);
    add_tcp("wire_version", &tcp::refused_wire_version);
    add_tcp("unknown_member", &tcp::refused_unknown_member);
    // Noise refusals by kind.
    add_tcp("handshake", &tcp::refused_handshake);
    add_tcp("wrong_key", &tcp::refused_wrong_key);
    add_tcp("handshake_timeout", &tcp::handshake_timeouts);
    add_tcp("inbound_timeout", &tcp::inbound_timeouts);
    add_tcp("tampered", &tcp::refused_tampered);
    add_tcp("replayed", &tcp::refused_replayed);
    add_tcp("out_of_order", &tcp::refused_out_of_order);
    add_tcp("oversized", &tcp::refused_oversized);
    add_tcp("malformed_sealed", &tcp::refused_malformed_sealed);
    add_tcp("malformed_frame", &tcp::malformed_frames);
    add_udp("malformed", &udp::dropped_malformed);
    add_udp("version", &udp::dropped_version);
    add_udp("oversize", &udp::dropped_oversize);
    add_udp("mode_mismatch", &udp::dropped_mode_mismatch);
    add_udp("unknown_sender", &udp::dropped_unknown_sender);
    add_udp("unauthenticated", &udp::dropped_unauthenticated);
    add_udp("replayed", &udp::dropped_replayed);
    add_udp("stale_session", &udp::dropped_stale_session);
  }

  void observe(const weft::transport::tcp_counters& tcp, const weft::transport::udp_counters& udp) noexcept {
    for (const auto& s : tcp_) s->take(tcp.*(s->field));
    for (const auto& s : udp_) s->take(udp.*(s->field));
  }

 private:
  static constexpr std::string_view help =
      "Connections the TCP transport refused and datagrams the UDP transport dropped, by kind";

  template <class Counters>
  struct series {
    series(std::string_view transport, std::string_view kind, std::uint64_t Counters::*f)
        : labels{{{"transport", transport}, {"kind", kind}}},
          value({"weftd_transport_refusals", help, "", labels}),
          field(f) {}
    void take(std::uint64_t now) noexcept {
      if (now > seen) value.add(now - seen);
      seen = now;
    }
    std::array<weft::telemetry::label, 2> labels;
    weft::telemetry::counter value;
    std::uint64_t Counters::*field;
    std::uint64_t seen = 0;
  };

  void add_tcp(std::string_view kind, std::uint64_t weft::transport::tcp_counters::*f) {
    tcp_.push_back(std::make_unique<series<weft::transport::tcp_counters>>("tcp", kind, f));
  }
  void add_udp(std::string_view kind, std::uint64_t weft::transport::udp_counters::*f) {
    udp_.push_back(std::make_unique<series<weft::transport::udp_counters>>("udp", kind, f));
  }

  // Heap-allocated once at start-up: a registered counter must not move.
  std::vector<std::unique_ptr<series<weft::transport::tcp_counters>>> tcp_;
  std::vector<std::unique_ptr<series<weft::transport::udp_counters>>> udp_;
};

}  // namespace weftd
