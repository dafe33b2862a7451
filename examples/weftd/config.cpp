// weftd configuration loader: toml++ parse, per-site overrides, strict validation.
#include "config.hpp"

#include <toml++/toml.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <set>
#include <sstream>

#include "weft/core/bytes.hpp"
#include "weft/transport/socket.hpp"

namespace weftd {
namespace {

struct failure {
  std::string text;
};

std::string render(const toml::node& value) {
  std::ostringstream out;
  if (value.is_string()) out << '"' << *value.value<std::string>() << '"';
  else if (value.is_table()) out << "{...}";
  else if (value.is_array()) out << "[...]";
  else if (value.is_integer()) out << *value.value<std::int64_t>();
  else if (value.is_boolean()) out << (*value.value<bool>() ? "true" : "false");
  else if (value.is_floating_point()) out << *value.value<double>();
  else out << "(value)";
  return out.str();
}

[[noreturn]] void fail(const std::string& key, const toml::node& value, const std::string& why) {
  throw failure{"config: " + key + " = " + render(value) + ": " + why};
}

void check_keys(const toml::table& table, const std::string& where, const std::set<std::string>& allowed) {
  for (const auto& [key, value] : table) {
    const std::string name(key.str());
    if (allowed.count(name) == 0) fail(where + name, value, "unknown key");
  }
}

std::int64_t integer(const toml::table& t, const std::string& where, const char* key, std::int64_t fallback,
                     std::int64_t min, std::int64_t max) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return fallback;
  const auto v = n->value<std::int64_t>();
  if (!n->is_integer() || !v || *v < min || *v > max)
    fail(where + key, *n, "must be an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]");
  return *v;
}

std::string text(const toml::table& t, const std::string& where, const char* key, bool required) {
  const toml::node* n = t.get(key);
  if (n == nullptr) {
    if (required) throw failure{"config: " + where + key + " is missing"};
    return {};
  }
  if (!n->is_string()) fail(where + key, *n, "must be a string");
  return *n->value<std::string>();
}

std::string endpoint(const toml::table& t, const std::string& where, const char* key) {
  std::string s = text(t, where, key, true);
  const auto parsed = weft::transport::ipv4_endpoint::parse(s);
  if (!parsed || parsed->port == 0) fail(where + key, *t.get(key), "must be \"a.b.c.d:port\" with a port in [1, 65535]");
  return s;
}

/// 64 hex digits into 32 bytes; false on anything else.
bool parse_hex32(std::string_view hex, std::array<std::uint8_t, 32>& out) {
  if (hex.size() != 64) return false;
  const auto nibble = [](char ch) -> int {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < 32; ++i) {
    const int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  return true;
}

/// Copies every key of `from` over `into`, recursing into tables.
void overlay(toml::table& into, const toml::table& from) {
  for (const auto& [key, value] : from) {
    if (value.is_table() && into.get(key) != nullptr && into.get(key)->is_table()) {
      overlay(*into.get(key)->as_table(), *value.as_table());
    } else {
      into.insert_or_assign(key, value);
    }
  }
}

void read_node(const toml::table& root, config& c) {
  const toml::node* node = root.get("node");
  if (node == nullptr || !node->is_table()) throw failure{"config: [node] table is missing"};
  const toml::table& t = *node->as_table();
  check_keys(t, "node.", {"id", "data_dir", "raft_address", "swim_address", "http_address", "site"});
  c.id = static_cast<std::uint64_t>(integer(t, "node.", "id", 0, 1, (std::int64_t{1} << 31) - 1));
  if (t.get("id") == nullptr) throw failure{"config: node.id is missing"};
  c.data_dir = text(t, "node.", "data_dir", true);
  if (c.data_dir.empty()) fail("node.data_dir", *t.get("data_dir"), "must not be empty");
  c.raft_address = endpoint(t, "node.", "raft_address");
  c.swim_address = endpoint(t, "node.", "swim_address");
  c.http_address = endpoint(t, "node.", "http_address");
  c.site = text(t, "node.", "site", false);
}

void read_peers(const toml::table& root, config& c) {
  const toml::node* peers = root.get("peers");
  if (peers == nullptr) return;
  if (!peers->is_array_of_tables()) fail("peers", *peers, "must be an array of tables ([[peers]])");
  std::set<std::uint64_t> ids{c.id};
  std::size_t i = 0;
  for (const toml::node& p : *peers->as_array()) {
    const std::string where = "peers[" + std::to_string(i++) + "].";
    const toml::table& t = *p.as_table();
    check_keys(t, where, {"id", "raft_address", "swim_address", "http_address", "member_key"});
    peer_config pc;
    if (t.get("id") == nullptr) throw failure{"config: " + where + "id is missing"};
    pc.id = static_cast<std::uint64_t>(integer(t, where, "id", 0, 1, (std::int64_t{1} << 31) - 1));
    if (!ids.insert(pc.id).second) fail(where + "id", *t.get("id"), "duplicates another member's id");
    pc.raft_address = endpoint(t, where, "raft_address");
    pc.swim_address = endpoint(t, where, "swim_address");
    pc.http_address = endpoint(t, where, "http_address");
    if (const toml::node* key = t.get("member_key")) {
      if (!key->is_string() || !parse_hex32(*key->value<std::string>(), pc.member_key))
        fail(where + "member_key", *key, "must be an Ed25519 public key in 64 hex digits (weft admit)");
    } else if (c.noise) {
      throw failure{"config: " + where + "member_key is missing (needed when security.transport = \"noise\")"};
    }
    c.peers.push_back(pc);
  }
  if (c.peers.size() > 15) fail("peers", *peers, "at most 15 peers (16 members)");
}

/// The first whitespace-separated word of a file, or nothing when it cannot be read.
std::optional<std::string> first_word(const std::string& config_path, const std::string& name) {
  std::filesystem::path file(name);
  if (file.is_relative()) file = std::filesystem::path(config_path).parent_path() / file;
  std::ifstream in(file);
  std::string word;
  if (!in || !(in >> word)) return std::nullopt;
  return word;
}

/// [security]: Ed25519 SWIM admission (admin key, this member's statement and seed, all
/// from `weft admit`), Noise sessions and sealed SWIM datagrams between members unless
/// transport = "plaintext".
/// The seed and statement live in files so that configs can be shared.
void read_security(const toml::table& root, const std::string& config_path, config& c) {
  const toml::node* n = root.get("security");
  if (n == nullptr) throw failure{"config: [security] table is missing (admin_public_key, member_seed_file, statement_file: weft admit)"};
  if (!n->is_table()) fail("security", *n, "must be a table");
  const toml::table& t = *n->as_table();
  check_keys(t, "security.",
             {"transport", "member_seed_file", "admin_public_key", "statement_file", "revoked_below_epoch"});
  if (const toml::node* mode = t.get("transport")) {
    const auto value = mode->value<std::string>();
    if (!mode->is_string() || (*value != "noise" && *value != "plaintext"))
      fail("security.transport", *mode, "must be \"noise\" or \"plaintext\"");
    c.noise = *value == "noise";
  }
  c.member_seed_file = text(t, "security.", "member_seed_file", true);
  const auto seed = first_word(config_path, c.member_seed_file);
  if (!seed) fail("security.member_seed_file", *t.get("member_seed_file"), "cannot be read");
  if (!parse_hex32(*seed, c.member_seed))
    fail("security.member_seed_file", *t.get("member_seed_file"), "must hold an Ed25519 seed in 64 hex digits (weft admit)");
  const std::string admin = text(t, "security.", "admin_public_key", true);
  if (!parse_hex32(admin, c.admin_public_key))
    fail("security.admin_public_key", *t.get("admin_public_key"), "must be an Ed25519 public key in 64 hex digits (weft admit)");
  const std::string statement_file = text(t, "security.", "statement_file", true);
  const auto statement = first_word(config_path, statement_file);
  if (!statement) fail("security.statement_file", *t.get("statement_file"), "cannot be read");
  if (statement->size() > 1024) fail("security.statement_file", *t.get("statement_file"), "holds more than a statement");
  c.admission_statement.resize(statement->size() / 2);
  auto decoded = weft::from_hex(*statement, c.admission_statement);
  if (!decoded || *decoded != c.admission_statement.size())
    fail("security.statement_file", *t.get("statement_file"), "must hold a statement in hex (weft admit member)");
  c.revoked_below_epoch = static_cast<std::uint64_t>(
      integer(t, "security.", "revoked_below_epoch", 0, 0, std::numeric_limits<std::int64_t>::max()));
}

void read_tunables(const toml::table& root, config& c) {
  if (const toml::node* n = root.get("raft")) {
    if (!n->is_table()) fail("raft", *n, "must be a table");
    const toml::table& t = *n->as_table();
    check_keys(t, "raft.", {"tick_ms", "election_ticks_min", "election_ticks_max", "heartbeat_ticks",
                            "snapshot_interval_entries"});
    c.tick_ms = integer(t, "raft.", "tick_ms", c.tick_ms, 1, 10000);
    c.election_ticks_min = integer(t, "raft.", "election_ticks_min", c.election_ticks_min, 2, 100000);
    c.election_ticks_max = integer(t, "raft.", "election_ticks_max", c.election_ticks_max, 2, 100000);
    c.heartbeat_ticks = integer(t, "raft.", "heartbeat_ticks", c.heartbeat_ticks, 1, 100000);
    // At most 98304: with up to 32768 uncommitted entries it must fit the 131072-entry log.
    c.snapshot_interval_entries =
        integer(t, "raft.", "snapshot_interval_entries", c.snapshot_interval_entries, 16, 98304);
    if (c.election_ticks_max < c.election_ticks_min)
      fail("raft.election_ticks_max", *t.get("election_ticks_max"), "must be >= raft.election_ticks_min");
    if (c.heartbeat_ticks >= c.election_ticks_min) {
      const toml::node* h = t.get("heartbeat_ticks");
      if (h == nullptr) h = t.get("election_ticks_min");
      fail(h == t.get("heartbeat_ticks") ? "raft.heartbeat_ticks" : "raft.election_ticks_min", *h,
           "heartbeat_ticks must be below election_ticks_min");
    }
  }
  if (const toml::node* n = root.get("http")) {
    if (!n->is_table()) fail("http", *n, "must be a table");
    const toml::table& t = *n->as_table();
    check_keys(t, "http.", {"max_body_bytes", "max_header_bytes", "request_timeout_ms", "idle_timeout_ms",
                            "max_connections", "max_pending_requests"});
    c.max_body_bytes = integer(t, "http.", "max_body_bytes", c.max_body_bytes, 1, 64 * 1024);
    c.max_header_bytes = integer(t, "http.", "max_header_bytes", c.max_header_bytes, 512, 1 << 20);
    c.request_timeout_ms = integer(t, "http.", "request_timeout_ms", c.request_timeout_ms, 10, 600000);
    c.idle_timeout_ms = integer(t, "http.", "idle_timeout_ms", c.idle_timeout_ms, 100, 3600000);
    c.max_connections = integer(t, "http.", "max_connections", c.max_connections, 1, 100000);
    c.max_pending_requests = integer(t, "http.", "max_pending_requests", c.max_pending_requests, 1, 1 << 20);
  }
  if (const toml::node* n = root.get("debug")) {
    if (!n->is_table()) fail("debug", *n, "must be a table");
    const toml::table& t = *n->as_table();
    check_keys(t, "debug.", {"test_hooks"});
    if (const toml::node* h = t.get("test_hooks")) {
      if (!h->is_boolean()) fail("debug.test_hooks", *h, "must be true or false");
      c.test_hooks = *h->value<bool>();
    }
  }
}

}  // namespace

bool load_config(const std::string& path, config& out, std::string& problem) {
  try {
    toml::table root;
    try {
      root = toml::parse_file(path);
    } catch (const toml::parse_error& e) {
      std::ostringstream where;
      where << "config: " << path << ":" << e.source().begin.line << ":" << e.source().begin.column << ": "
            << e.description();
      problem = where.str();
      return false;
    }
    check_keys(root, "", {"node", "peers", "raft", "http", "debug", "sites", "security"});
    // Per-site overrides: [sites.<node.site>.<table>] is laid over <table>.
    const toml::node* node = root.get("node");
    std::string site;
    if (node != nullptr && node->is_table()) {
      if (const toml::node* s = node->as_table()->get("site"); s != nullptr && s->is_string())
        site = *s->value<std::string>();
    }
    if (const toml::node* sites = root.get("sites")) {
      if (!sites->is_table()) fail("sites", *sites, "must be a table of site names");
      for (const auto& [name, body] : *sites->as_table()) {
        const std::string where = "sites." + std::string(name.str());
        if (!body.is_table()) fail(where, body, "must be a table");
        check_keys(*body.as_table(), where + ".", {"raft", "http", "debug"});
      }
      if (!site.empty()) {
        if (const toml::node* mine = sites->as_table()->get(site); mine != nullptr && mine->is_table())
          overlay(root, *mine->as_table());
      }
    }
    config c;
    read_node(root, c);
    read_security(root, path, c);
    read_peers(root, c);
    read_tunables(root, c);
    out = c;
    return true;
  } catch (const failure& f) {
    problem = f.text;
    return false;
  } catch (const std::exception& e) {
    problem = std::string("config: ") + e.what();
    return false;
  }
}

}  // namespace weftd
