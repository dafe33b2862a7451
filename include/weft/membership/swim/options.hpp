// weft/membership/swim/options.hpp - every SWIM/Lifeguard knob and limit, units last.
// Defaults follow hashicorp/memberlist's LAN profile.
#pragma once

#include <cstddef>
#include <cstdint>

#include "weft/config.hpp"
#include "weft/core/error.hpp"
#include "weft/core/result.hpp"
#include "weft/membership/swim/messages.hpp"

WEFT_BEGIN
namespace swim {

struct options {
  // Failure detection.
  std::int64_t probe_interval_ms = 1000;
  std::int64_t probe_timeout_ms = 500;
  std::uint32_t indirect_checks = 3;             // k members asked to probe on our behalf
  std::uint32_t awareness_max_multiplier = 8;    // Lifeguard local health: max back-off
  std::uint32_t suspicion_multiplier = 4;        // min timeout = mult * log10(n) * interval
  std::uint32_t suspicion_max_timeout_multiplier = 6;  // max timeout = this * min timeout
  std::int64_t stall_threshold_ms = 2500;        // a gap between ticks this long is a stall
  // With the indirect probes, also ping the target over the stream transport (memberlist's
  // TCP fallback): a lost datagram path is then not taken for a dead member.
  bool stream_probe_fallback = true;
  // Dissemination.
  std::int64_t gossip_interval_ms = 200;
  std::uint32_t gossip_fanout = 3;
  std::uint32_t retransmit_multiplier = 4;       // lambda: limit = lambda * ceil(log10(n+1))
  std::size_t mtu_bytes = 1400;
  std::uint32_t app_share_percent = 25;          // packet space reserved for payload items
  std::int64_t push_pull_interval_ms = 30000;    // scaled up beyond 32 members
  std::int64_t leave_propagate_ms = 1000;        // leaving -> left after this
  std::int64_t dead_retention_ms = 30000;        // dead/left records are reaped after this
  // The n of the log n terms (retransmit limit, suspicion timeout, push-pull scaling) when
  // this member's table is a partial view of a larger cluster; 0: the live member count.
  std::uint32_t cluster_size_hint = 0;
  // User events and queries.
  std::int64_t coalesce_period_ms = 0;           // 0 delivers user events at once
  std::int64_t query_timeout_ms_max = 60000;
  // Limits.
  std::uint32_t max_members = 1024;
  std::uint32_t max_broadcasts = 1024;           // queued member claims
  std::uint32_t max_payload_broadcasts = 64;     // queued events, app messages, queries
  std::size_t max_payload_bytes = 256;           // one event/app/query/reply payload
  std::uint32_t max_items_per_packet = 64;
  std::size_t max_stream_message_bytes = 128 * 1024;
  // Members one push-pull carries (this member and a window that rotates over the table);
  // an exchange also stops at max_stream_message_bytes. Larger tables take several
  // exchanges: memberlist sends the whole table and fails beyond its stream limit.
  std::uint32_t max_push_pull_members = 256;
  std::uint32_t max_outgoing_datagrams = 256;    // between two clear_outputs()
  std::uint32_t max_outgoing_streams = 2;
  std::uint32_t max_pending_notifications = 4096;
  std::size_t max_notification_bytes = 64 * 1024;
  std::uint32_t max_forwarded_probes = 64;       // indirect probes run for others
  std::uint32_t max_packets_per_sender_per_period = 64;
  std::uint32_t max_unknown_sender_packets_per_period = 256;  // all unknown senders
  // Each unknown sender's own budget, tracked in a table of max_unknown_senders entries
  // (a sender id is not authenticated: the shared budget above still caps id rotation).
  std::uint32_t max_packets_per_unknown_sender_per_period = 16;
  std::uint32_t max_unknown_senders = 64;
  // Suspects whose confirmations are counted (Lifeguard); a suspicion started beyond this
  // runs at the longest timeout (counters::suspicions_untracked).
  std::uint32_t max_suspects = 64;
  std::uint32_t max_recent_events = 256;         // dedupe window for events and queries
  std::uint32_t max_coalesced_events = 64;
  std::uint32_t max_pending_queries = 16;
  std::uint32_t max_responses_per_query = 64;
  std::uint64_t max_incarnation_jump = std::uint64_t{1} << 32;

  [[nodiscard]] result<void> validate() const noexcept {
    const auto bad = [](const char* why) { return result<void>(error(core_errc::invalid_options, why)); };
    if (probe_interval_ms <= 0 || probe_timeout_ms <= 0 || probe_timeout_ms > probe_interval_ms)
      return bad("swim: probe_timeout_ms must be in (0, probe_interval_ms]");
    if (stall_threshold_ms <= probe_interval_ms)
      return bad("swim: stall_threshold_ms must exceed probe_interval_ms");
    if (gossip_interval_ms <= 0 || push_pull_interval_ms <= 0 || leave_propagate_ms < 0 ||
        dead_retention_ms < 0 || coalesce_period_ms < 0 || query_timeout_ms_max <= 0)
      return bad("swim: intervals must be positive");
    if (awareness_max_multiplier == 0 || awareness_max_multiplier > 64)
      return bad("swim: awareness_max_multiplier in [1, 64]");
    if (suspicion_multiplier == 0 || suspicion_max_timeout_multiplier == 0)
      return bad("swim: suspicion multipliers must be positive");
    if (retransmit_multiplier == 0) return bad("swim: retransmit_multiplier must be positive");
    if (mtu_bytes < 128 || mtu_bytes > 65507) return bad("swim: mtu_bytes in [128, 65507]");
    if (app_share_percent > 90) return bad("swim: app_share_percent at most 90");
    if (max_payload_bytes > max_payload_bytes_cap || max_payload_bytes + 96 > mtu_bytes)
      return bad("swim: max_payload_bytes must fit the cap and the MTU");
    if (max_members < 2 || max_broadcasts == 0 || max_payload_broadcasts == 0 ||
        max_items_per_packet == 0 || max_items_per_packet > 255 || max_outgoing_datagrams == 0 ||
        max_outgoing_streams == 0 || max_pending_notifications == 0 ||
        max_forwarded_probes == 0 || max_packets_per_sender_per_period == 0 ||
        max_recent_events == 0 || max_coalesced_events == 0 || max_pending_queries == 0 ||
        max_responses_per_query == 0 || max_incarnation_jump == 0 ||
        max_push_pull_members == 0 || max_packets_per_unknown_sender_per_period == 0 ||
        max_unknown_senders == 0 || max_suspects == 0)
      return bad("swim: every limit must be positive (max_items_per_packet <= 255)");
    if (max_stream_message_bytes < mtu_bytes) return bad("swim: stream limit below the MTU");
    return ok();
  }
};

}  // namespace swim
WEFT_END
