// weft/telemetry/catalogue.hpp - the metrics weft's components export, declared once so that
// names, types, units and labels agree everywhere (docs/telemetry.md lists them). Including
// this header registers the process-wide series in default_registry() at static init;
// per-peer transport series are made with transport_peer_metrics when a peer is added.
#pragma once

#include <array>
#include <string_view>

#include "weft/config.hpp"
#include "weft/telemetry/metrics.hpp"

WEFT_BEGIN
namespace telemetry::catalogue {

// --- consensus (weft::raft) -----------------------------------------------------------
inline constexpr metric_info raft_has_leader_info{
    "weft_raft_has_leader", "1 when this node knows a leader for the current term, else 0"};
inline constexpr metric_info raft_leader_changes_info{
    "weft_raft_leader_changes", "Times the known leader changed (including to none)"};
inline constexpr metric_info raft_term_info{"weft_raft_term", "Current Raft term"};
inline constexpr metric_info raft_proposals_committed_info{
    "weft_raft_proposals_committed", "Proposals committed by a quorum"};
inline constexpr metric_info raft_proposals_applied_info{
    "weft_raft_proposals_applied", "Committed entries applied to the state machine"};
inline constexpr metric_info raft_proposals_pending_info{
    "weft_raft_proposals_pending", "Proposals accepted by this node and not yet committed"};
inline constexpr metric_info raft_proposals_failed_info{
    "weft_raft_proposals_failed", "Proposals refused or dropped (not leader, full, lost term)"};
inline constexpr metric_info raft_apply_lag_info{
    "weft_raft_apply_lag_entries", "Committed index minus applied index", "entries"};

inline gauge raft_has_leader{raft_has_leader_info};
inline counter raft_leader_changes{raft_leader_changes_info};
inline gauge raft_term{raft_term_info};
inline counter raft_proposals_committed{raft_proposals_committed_info};
inline counter raft_proposals_applied{raft_proposals_applied_info};
inline gauge raft_proposals_pending{raft_proposals_pending_info};
inline counter raft_proposals_failed{raft_proposals_failed_info};
inline gauge raft_apply_lag{raft_apply_lag_info};

// --- write-ahead log (weft::storage::wal) -----------------------------------------------
/// Record nanoseconds; exported in seconds.
inline constexpr metric_info wal_fsync_duration_info{
    "weft_wal_fsync_duration_seconds", "Duration of WAL fsync calls", "seconds", {}, 1e-9};
inline constexpr metric_info wal_written_bytes_info{
    "weft_wal_written_bytes", "Bytes appended to the WAL", "bytes"};
inline constexpr metric_info wal_torn_tail_repairs_info{
    "weft_wal_torn_tail_repairs", "Torn or corrupt WAL tails truncated during recovery"};
inline constexpr metric_info wal_possible_acknowledged_loss_info{
    "weft_wal_possible_acknowledged_loss",
    "WAL recoveries that cut off a tail whose first record was written whole and damaged later"};

inline histogram wal_fsync_duration{wal_fsync_duration_info};
inline counter wal_written_bytes{wal_written_bytes_info};
inline counter wal_torn_tail_repairs{wal_torn_tail_repairs_info};
inline counter wal_possible_acknowledged_loss{wal_possible_acknowledged_loss_info};

// --- membership (weft::swim) -------------------------------------------------------------
inline constexpr metric_info swim_health_score_info{
    "weft_swim_health_score", "Lifeguard local health multiplier (0 is healthy)"};
inline constexpr metric_info swim_probes_info{"weft_swim_probes", "Direct probes sent"};
inline constexpr metric_info swim_probe_failures_info{
    "weft_swim_probe_failures", "Probes that got no ack, direct or indirect, in time"};
inline constexpr metric_info swim_suspects_info{
    "weft_swim_suspect_transitions", "Members this node marked suspect"};
inline constexpr metric_info swim_deads_info{
    "weft_swim_dead_transitions", "Members this node declared dead"};
inline constexpr metric_info swim_refutes_info{
    "weft_swim_refutes", "Times this node refuted a suspicion of itself"};
inline constexpr metric_info swim_queue_depth_info{
    "weft_swim_broadcast_queue_depth", "Gossip updates waiting to be piggybacked"};
inline constexpr metric_info swim_members_info{
    "weft_swim_members_alive", "Members this node believes alive (itself included)"};

inline gauge swim_health_score{swim_health_score_info};
inline counter swim_probes{swim_probes_info};
inline counter swim_probe_failures{swim_probe_failures_info};
inline counter swim_suspects{swim_suspects_info};
inline counter swim_deads{swim_deads_info};
inline counter swim_refutes{swim_refutes_info};
inline gauge swim_queue_depth{swim_queue_depth_info};
inline gauge swim_members{swim_members_info};

// --- transport (per peer: label `peer`) ----------------------------------------------------
/// Series of one peer. `peer_name` (the label value) must outlive the object; construct it
/// when the peer is added (not on a hot path) and destroy it when the peer is removed.
struct transport_peer_metrics {
  explicit transport_peer_metrics(std::string_view peer_name,
                                  registry* owner = &default_registry()) noexcept
      : labels{{label{"peer", peer_name}}},
        sent_bytes({"weft_transport_sent_bytes", "Bytes sent to the peer", "bytes", labels}, owner),
        received_bytes({"weft_transport_received_bytes", "Bytes received from the peer",
                        "bytes", labels},
                       owner),
        sent_messages({"weft_transport_sent_messages", "Messages sent to the peer", "", labels},
                      owner),
        received_messages({"weft_transport_received_messages",
                           "Messages received from the peer", "", labels},
                          owner),
        send_failures({"weft_transport_send_failures",
                       "Sends to the peer that failed (error from the socket or session)", "",
                       labels},
                      owner),
        dropped_messages({"weft_transport_dropped_messages",
                          "Messages for the peer dropped because a queue was full", "", labels},
                         owner) {}

  std::array<label, 1> labels;
  counter sent_bytes;
  counter received_bytes;
  counter sent_messages;
  counter received_messages;
  counter send_failures;
  counter dropped_messages;
};

}  // namespace telemetry::catalogue
WEFT_END
