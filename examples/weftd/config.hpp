// weftd configuration: the TOML file of docs/weftd.md, validated into plain values.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace weftd {

struct peer_config {
  std::uint64_t id = 0;
  std::string raft_address;
  std::string swim_address;
  std::string http_address;
  std::array<std::uint8_t, 32> member_key{};  // Ed25519 public key (security.transport = "noise")
  bool operator==(const peer_config&) const = default;
};

struct config {
  // [node]
  std::uint64_t id = 0;
  std::string data_dir;
  std::string raft_address;
  std::string swim_address;
  std::string http_address;
  std::string site;
  // [[peers]]
  std::vector<peer_config> peers;
  // [raft]
  std::int64_t tick_ms = 10;
  std::int64_t election_ticks_min = 30;
  std::int64_t election_ticks_max = 60;
  std::int64_t heartbeat_ticks = 5;
  std::int64_t snapshot_interval_entries = 50000;  // snapshot + compaction every N applied
  // [http]
  std::int64_t max_body_bytes = 65536;
  std::int64_t max_header_bytes = 8192;
  std::int64_t request_timeout_ms = 5000;
  std::int64_t idle_timeout_ms = 30000;
  std::int64_t max_connections = 1024;
  std::int64_t max_pending_requests = 16384;
  // [security]
  bool noise = true;  // transport = "noise" (default: Noise TCP, sealed UDP) or "plaintext"
  std::string member_seed_file;               // resolved against the config file's folder
  std::array<std::uint8_t, 32> member_seed{};  // read from member_seed_file
  std::array<std::uint8_t, 32> admin_public_key{};  // SWIM admission trust anchor
  std::vector<std::uint8_t> admission_statement;    // read from statement_file
  std::uint64_t revoked_below_epoch = 0;  // SWIM refuses admissions of a lower epoch
  // [debug]
  bool test_hooks = false;

  bool operator==(const config&) const = default;
};

/// Reads and validates `path`. On failure returns false and sets `problem` to one line
/// naming the key and the value (without the "error: " prefix).
bool load_config(const std::string& path, config& out, std::string& problem);

}  // namespace weftd
