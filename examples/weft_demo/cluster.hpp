// weft_demo/cluster.hpp - runs a weftd cluster on 127.0.0.1 as child processes: free
// ports, one TOML config and data directory per member under a temporary folder, start,
// SIGKILL, restart, SIGTERM, and reading /status. The destructor SIGKILLs every member
// still running and removes the folder, so a failing test or demo never leaves processes.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>

#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>
#include <vector>

#include "free_port.hpp"
#include "http_client.hpp"
#include "weft/membership/swim/sodium_admission.hpp"

namespace weft_demo {

/// The few /status fields the demo and tests use, read without a JSON library: weftd's
/// /status is flat enough that "key":value lookups after the "raft" object suffice.
struct node_status {
  std::string role;
  std::uint64_t term = 0;
  std::uint64_t leader = 0;  // 0 = none known
  std::uint64_t commit_index = 0;
  std::uint64_t applied_index = 0;
  std::uint64_t snapshot_index = 0;       // the log starts after it
  std::uint64_t snapshots_installed = 0;  // received from a leader since this process started
};

inline std::optional<std::uint64_t> json_number_after(std::string_view json, std::string_view key,
                                                      std::size_t from = 0) {
  std::string quoted(1, '"');  // built piecewise: g++ 12 -O3 warns falsely on "x" + string
  quoted.append(key).append("\":");
  const auto at = json.find(quoted, from);
  if (at == std::string_view::npos) return std::nullopt;
  std::size_t i = at + quoted.size();
  while (i < json.size() && json[i] == ' ') ++i;
  if (i >= json.size() || json[i] < '0' || json[i] > '9') return std::nullopt;
  std::uint64_t v = 0;
  for (; i < json.size() && json[i] >= '0' && json[i] <= '9'; ++i) v = v * 10 + static_cast<std::uint64_t>(json[i] - '0');
  return v;
}

inline std::optional<std::string> json_string_after(std::string_view json, std::string_view key,
                                                    std::size_t from = 0) {
  std::string quoted(1, '"');
  quoted.append(key).append("\":\"");
  const auto at = json.find(quoted, from);
  if (at == std::string_view::npos) return std::nullopt;
  const auto start = at + quoted.size();
  const auto end = json.find('"', start);
  if (end == std::string_view::npos) return std::nullopt;
  return std::string(json.substr(start, end - start));
}

inline std::optional<node_status> parse_status(std::string_view json) {
  const auto raft = json.find("\"raft\":");
  if (raft == std::string_view::npos) return std::nullopt;
  node_status s;
  auto role = json_string_after(json, "role", raft);
  auto term = json_number_after(json, "term", raft);
  if (!role || !term) return std::nullopt;
  s.role = *role;
  s.term = *term;
  s.leader = json_number_after(json, "leader", raft).value_or(0);  // null -> none
  s.commit_index = json_number_after(json, "commit_index", raft).value_or(0);
  s.applied_index = json_number_after(json, "applied_index", raft).value_or(0);
  s.snapshot_index = json_number_after(json, "snapshot_index", raft).value_or(0);
  s.snapshots_installed = json_number_after(json, "snapshots_installed", raft).value_or(0);
  return s;
}

struct cluster_options {
  std::string weftd_path;
  std::size_t members = 3;
  bool test_hooks = false;
  bool quiet = true;  // member logs go to <dir>/<id>.log instead of the terminal
  int request_timeout_ms = 2000;
  int snapshot_interval_entries = 0;  // 0: weftd's default
  bool plaintext_transport = false;   // true: TCP without Noise (benchmark comparison only)
};

class cluster {
 public:
  struct member {
    std::uint64_t id = 0;
    endpoint raft, swim, http;
    std::filesystem::path config, data_dir, log, seed_file, statement_file;
    std::string member_key;  // Ed25519 public key, hex: the Noise key its peers expect
    pid_t pid = -1;
  };

  explicit cluster(cluster_options options) : options_(std::move(options)) {}
  cluster(const cluster&) = delete;
  cluster& operator=(const cluster&) = delete;
  ~cluster() {
    for (auto& m : members_) kill_member(m.id, SIGKILL);
    if (!dir_.empty()) {
      std::error_code ignored;
      std::filesystem::remove_all(dir_, ignored);
    }
  }

  /// Writes configs under a fresh temporary folder and starts every member.
  bool start(std::string& error) {
    if (::access(options_.weftd_path.c_str(), X_OK) != 0) {
      error = "weftd not found at " + options_.weftd_path;
      return false;
    }
    std::string pattern = (std::filesystem::temp_directory_path() / "weft-demo-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      error = "cannot create a temporary folder";
      return false;
    }
    dir_ = pattern;
    if (!provision_admin(error)) return false;
    for (std::uint64_t id = 1; id <= options_.members; ++id) {
      member m;
      m.id = id;
      m.raft = {"127.0.0.1", pick_free_port()};
      m.swim = {"127.0.0.1", pick_free_port()};
      m.http = {"127.0.0.1", pick_free_port()};
      if (m.raft.port == 0 || m.swim.port == 0 || m.http.port == 0) {
        error = "no free port";
        return false;
      }
      m.config = dir_ / ("member-" + std::to_string(id) + ".toml");
      m.data_dir = dir_ / ("data-" + std::to_string(id));
      m.log = dir_ / ("member-" + std::to_string(id) + ".log");
      m.seed_file = dir_ / ("member-" + std::to_string(id) + ".seed");
      m.statement_file = dir_ / ("member-" + std::to_string(id) + ".statement");
      if (!provision_key(m, error)) return false;
      members_.push_back(m);
    }
    for (const auto& m : members_) write_config(m);
    for (const auto& m : members_)
      if (!start_member(m.id, error)) return false;
    return true;
  }

  bool start_member(std::uint64_t id, std::string& error) {
    member* m = find(id);
    if (m == nullptr || m->pid > 0) {
      error = "member " + std::to_string(id) + " unknown or running";
      return false;
    }
    const pid_t pid = ::fork();
    if (pid < 0) {
      error = "fork failed";
      return false;
    }
    if (pid == 0) {
      ::setpgid(0, 0);  // its own process group: a Ctrl-C reaches the driver, which stops it
      if (options_.quiet) {
        const int fd = ::open(m->log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
          ::dup2(fd, 1);
          ::dup2(fd, 2);
        }
      }
      const std::string config = m->config.string();
      ::execl(options_.weftd_path.c_str(), "weftd", config.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    m->pid = pid;
    return true;
  }

  /// Sends `signal` and reaps the member (SIGKILL: at once; SIGTERM: waits up to `wait`,
  /// then SIGKILL). Returns the exit status as waitpid reports it, or -1 if not running.
  int kill_member(std::uint64_t id, int signal, std::chrono::milliseconds wait = std::chrono::milliseconds(5000)) {
    member* m = find(id);
    if (m == nullptr || m->pid <= 0) return -1;
    ::kill(m->pid, signal);
    int status = 0;
    const auto deadline = std::chrono::steady_clock::now() + wait;
    while (true) {
      const pid_t r = ::waitpid(m->pid, &status, WNOHANG);
      if (r == m->pid || r < 0) break;
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(m->pid, SIGKILL);
        ::waitpid(m->pid, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    m->pid = -1;
    return status;
  }

  /// SIGTERM to every running member, then waits for each (SIGKILL after `wait`).
  void stop_all(std::chrono::milliseconds wait = std::chrono::milliseconds(5000)) {
    for (auto& m : members_)
      if (m.pid > 0) ::kill(m.pid, SIGTERM);
    for (auto& m : members_) kill_member(m.id, SIGTERM, wait);
  }

  [[nodiscard]] bool running(std::uint64_t id) const {
    const member* m = find(id);
    return m != nullptr && m->pid > 0;
  }

  std::optional<node_status> status_of(std::uint64_t id, std::chrono::milliseconds timeout = std::chrono::milliseconds(500)) {
    const member* m = find(id);
    if (m == nullptr || m->pid <= 0) return std::nullopt;
    http_client c(m->http);
    auto r = c.request("GET", "/status", {}, timeout);
    if (r.outcome != transport_outcome::answered || r.status != 200) return std::nullopt;
    return parse_status(r.body);
  }

  /// The leader that a majority of running members agree on (same id and term), or 0.
  std::uint64_t agreed_leader(std::uint64_t* term_out = nullptr) {
    std::vector<node_status> seen;
    for (const auto& m : members_)
      if (auto s = status_of(m.id)) seen.push_back(*s);
    for (const auto& s : seen) {
      if (s.leader == 0 || !running(s.leader)) continue;
      std::size_t votes = 0;
      bool leader_agrees = false;
      for (const auto& o : seen) {
        if (o.leader == s.leader && o.term == s.term) ++votes;
        if (o.role == "leader" && o.term == s.term && s.leader == leader_id_of(o)) leader_agrees = true;
      }
      if (votes * 2 > members_.size() && leader_agrees) {
        if (term_out != nullptr) *term_out = s.term;
        return s.leader;
      }
    }
    return 0;
  }

  /// Polls until a leader other than `not_this` is agreed, or `timeout` passes (then 0).
  std::uint64_t wait_for_leader(std::chrono::milliseconds timeout, std::uint64_t not_this = 0) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      const std::uint64_t l = agreed_leader();
      if (l != 0 && l != not_this) return l;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return 0;
  }

  std::string post(std::uint64_t id, std::string_view path) {
    const member* m = find(id);
    if (m == nullptr) return {};
    http_client c(m->http);
    auto r = c.request("POST", path, {}, std::chrono::milliseconds(1000));
    return r.outcome == transport_outcome::answered ? std::to_string(r.status) + " " + r.body : r.error;
  }

  [[nodiscard]] const std::vector<member>& members() const noexcept { return members_; }
  [[nodiscard]] const member* find(std::uint64_t id) const {
    for (const auto& m : members_)
      if (m.id == id) return &m;
    return nullptr;
  }
  member* find(std::uint64_t id) {
    for (auto& m : members_)
      if (m.id == id) return &m;
    return nullptr;
  }
  [[nodiscard]] const std::filesystem::path& directory() const noexcept { return dir_; }

 private:
  std::uint64_t leader_id_of(const node_status& s) const { return s.role == "leader" ? s.leader : 0; }

  static std::string addr(const endpoint& e) { return e.host + ":" + std::to_string(e.port); }

  static std::string hex(const unsigned char* bytes, std::size_t n) {
    std::string out(2 * n, '0');
    for (std::size_t i = 0; i < n; ++i) std::snprintf(&out[2 * i], 3, "%02x", bytes[i]);
    return out;
  }

  /// A fresh admin key for this cluster; only its public key is written (in every config).
  bool provision_admin(std::string& error) {
    if (sodium_init() < 0) {
      error = "libsodium did not initialise";
      return false;
    }
    std::array<std::uint8_t, crypto_sign_SEEDBYTES> seed{};
    randombytes_buf(seed.data(), seed.size());
    admin_.emplace(weft::crypto::libsodium::ed25519::secret_key_from_seed(seed));
    sodium_memzero(seed.data(), seed.size());
    admin_public_key_ = hex(admin_->public_key().data(), admin_->public_key().size());
    return true;
  }

  /// A fresh Ed25519 member key and its admission statement: the seed in a 0600 file beside
  /// the config, the statement in another, the public key in every peer's config (what
  /// `weft admit member` does for a cluster set up by hand).
  bool provision_key(member& m, std::string& error) const {
    std::array<unsigned char, crypto_sign_SEEDBYTES> seed{};
    std::array<unsigned char, crypto_sign_PUBLICKEYBYTES> public_key{};
    std::array<unsigned char, crypto_sign_SECRETKEYBYTES> secret_key{};
    if (sodium_init() < 0) {
      error = "libsodium did not initialise";
      return false;
    }
    randombytes_buf(seed.data(), seed.size());
    crypto_sign_seed_keypair(public_key.data(), secret_key.data(), seed.data());
    m.member_key = hex(public_key.data(), public_key.size());
    {
      std::ofstream out(m.seed_file);
      out << hex(seed.data(), seed.size()) << "\n";
    }
    sodium_memzero(seed.data(), seed.size());
    sodium_memzero(secret_key.data(), secret_key.size());
    if (::chmod(m.seed_file.c_str(), 0600) != 0) {
      error = "cannot restrict " + m.seed_file.string();
      return false;
    }
    std::array<std::uint8_t, weft::swim::max_signed_admission_bytes> statement{}, scratch{};
    auto issued = admin_->issue(m.id, public_key, 1, statement, scratch);
    if (!issued) {
      error = "cannot issue an admission statement";
      return false;
    }
    std::ofstream(m.statement_file) << hex(issued->data(), issued->size()) << "\n";
    return true;
  }

  void write_config(const member& m) const {
    std::ofstream out(m.config);
    out << "# written by weft_demo\n[node]\nid = " << m.id << "\ndata_dir = \"" << m.data_dir.string()
        << "\"\nraft_address = \"" << addr(m.raft) << "\"\nswim_address = \"" << addr(m.swim)
        << "\"\nhttp_address = \"" << addr(m.http) << "\"\n";
    for (const auto& p : members_) {
      if (p.id == m.id) continue;
      out << "\n[[peers]]\nid = " << p.id << "\nraft_address = \"" << addr(p.raft) << "\"\nswim_address = \""
          << addr(p.swim) << "\"\nhttp_address = \"" << addr(p.http) << "\"\n";
      if (!options_.plaintext_transport) out << "member_key = \"" << p.member_key << "\"\n";
    }
    out << "\n[security]\nmember_seed_file = \"" << m.seed_file.string() << "\"\nstatement_file = \""
        << m.statement_file.string() << "\"\nadmin_public_key = \"" << admin_public_key_ << "\"\n";
    if (options_.plaintext_transport) out << "transport = \"plaintext\"\n";
    if (options_.snapshot_interval_entries > 0)
      out << "\n[raft]\nsnapshot_interval_entries = " << options_.snapshot_interval_entries << "\n";
    out << "\n[http]\nrequest_timeout_ms = " << options_.request_timeout_ms << "\n";
    if (options_.test_hooks) out << "\n[debug]\ntest_hooks = true\n";
  }

  cluster_options options_;
  std::optional<weft::swim::admission_authority> admin_;
  std::string admin_public_key_;
  std::filesystem::path dir_;
  std::vector<member> members_;
};

}  // namespace weft_demo
