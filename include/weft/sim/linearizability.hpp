// weft/sim/linearizability.hpp - a linearizability checker for histories of
// invoke / ok / fail / info operations against a user-supplied sequential model.
// Algorithm: Wing & Gong's search with Lowe's memoization of (linearized set, model state),
// as porcupine does, with an explicit stack (no recursion) and a bound on the states it
// may visit (max_states: the answer is then `unknown`). On failure it reports a minimal
// window of operations that cannot be ordered from the state the search reached.
// The checker is an analysis tool: it allocates (never on a protocol's hot path).
#pragma once

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "weft/config.hpp"
#include "weft/core/random.hpp"

WEFT_BEGIN
namespace sim {

/// What a sequential model provides. `step` applies a completed operation whose output is
/// known and says whether that output is legal in `s`; `step_unknown` applies an operation
/// whose outcome is unknown (info) as if it took effect. `describe` prints for reports.
template <class M>
concept sequential_model =
    requires(const typename M::state& s, typename M::state& next, const typename M::input& in,
             const typename M::output& out, std::string& text) {
      { M::initial() } -> std::same_as<typename M::state>;
      { M::step(s, in, out, next) } -> std::same_as<bool>;
      { M::step_unknown(s, in, next) } -> std::same_as<bool>;
      { M::hash(s) } -> std::convertible_to<std::uint64_t>;
      { s == s } -> std::convertible_to<bool>;
      M::describe_op(in, &out, text);
      M::describe_state(s, text);
    };

enum class op_status : std::uint8_t {
  pending,  // invoked, no completion recorded (treated as info)
  ok,       // took effect with the recorded output
  fail,     // certainly did not take effect (dropped from the check)
  info,     // may or may not have taken effect; output unknown
};

template <class M>
struct operation {
  std::uint32_t process = 0;
  typename M::input input{};
  typename M::output output{};
  std::int64_t invoke_ns = 0;
  std::int64_t complete_ns = 0;
  op_status status = op_status::pending;
};

/// A history under construction: invoke(), then ok()/fail()/info() with the id returned.
template <class M>
class history {
  static_assert(sequential_model<M>,
                "M must model weft::sim::sequential_model; see docs/requirements/sequential_model.md");

 public:
  std::size_t invoke(std::uint32_t process, const typename M::input& in, std::int64_t at_ns) {
    operation<M> op;
    op.process = process;
    op.input = in;
    op.invoke_ns = at_ns;
    op.complete_ns = at_ns;
    ops_.push_back(op);
    return ops_.size() - 1;
  }
  void ok(std::size_t id, const typename M::output& out, std::int64_t at_ns) {
    finish(id, at_ns, op_status::ok);
    ops_[id].output = out;
  }
  void fail(std::size_t id, std::int64_t at_ns) { finish(id, at_ns, op_status::fail); }
  void info(std::size_t id, std::int64_t at_ns) { finish(id, at_ns, op_status::info); }
  [[nodiscard]] const std::vector<operation<M>>& operations() const noexcept { return ops_; }
  [[nodiscard]] std::vector<operation<M>>& operations() noexcept { return ops_; }
  [[nodiscard]] std::size_t size() const noexcept { return ops_.size(); }

 private:
  void finish(std::size_t id, std::int64_t at_ns, op_status status) {
    if (id >= ops_.size()) return;
    ops_[id].complete_ns = std::max(at_ns, ops_[id].invoke_ns);
    ops_[id].status = status;
  }
  std::vector<operation<M>> ops_;
};

enum class verdict : std::uint8_t { linearizable, not_linearizable, unknown };

constexpr const char* to_string(verdict v) noexcept {
  switch (v) {
    case verdict::linearizable: return "linearizable";
    case verdict::not_linearizable: return "not linearizable";
    case verdict::unknown: return "unknown";
  }
  return "?";
}

struct check_options {
  std::uint64_t max_states = 2'000'000;  // memoized (set, state) pairs before giving up
  bool minimize_window = true;
};

struct check_result {
  verdict answer = verdict::unknown;
  std::uint64_t states = 0;         // memoized configurations visited
  std::vector<std::size_t> window;  // op ids (non-linearizable only), by invocation time
  std::string report;               // printable explanation (non-linearizable only)
};

namespace detail {

template <class M>
class wgl_search {
 public:
  using state = typename M::state;

  wgl_search(const std::vector<operation<M>>& ops, const std::vector<std::size_t>& subset,
             const state& start, std::uint64_t max_states)
      : ops_(ops), max_states_(max_states), start_(start) {
    build(subset);
  }

  verdict run() {
    state current = start_;
    std::vector<std::pair<std::size_t, state>> calls;  // (call entry, state before it)
    std::size_t cursor = next_[head()];
    while (true) {
      const std::size_t first = next_[head()];
      if (first == end() || (!is_call_[first] && unknown_[first])) return verdict::linearizable;
      if (states_ > max_states_) return verdict::unknown;
      if (cursor == end() || (!is_call_[cursor] && unknown_[cursor])) {
        // Only unknown-outcome operations remain unlinearized ahead: all ok ops are in.
        return verdict::linearizable;
      }
      if (is_call_[cursor]) {
        const std::size_t local = local_[cursor];
        state next{};
        const operation<M>& op = ops_[global_[local]];
        const bool legal = unknown_[cursor] ? M::step_unknown(current, op.input, next)
                                            : M::step(current, op.input, op.output, next);
        if (legal && remember(local, next)) {
          calls.emplace_back(cursor, current);
          current = std::move(next);
          set_bit(local);
          lift(cursor);
          note_depth(current, calls.size());
          cursor = next_[head()];
          continue;
        }
        cursor = next_[cursor];
        continue;
      }
      // A return entry: its operation should have been linearized before this point.
      note_block(cursor, current, calls.size());
      if (calls.empty()) return verdict::not_linearizable;
      auto [call, before] = std::move(calls.back());
      calls.pop_back();
      current = std::move(before);
      clear_bit(local_[call]);
      unlift(call);
      cursor = next_[call];
    }
  }

  [[nodiscard]] std::uint64_t states() const noexcept { return states_; }
  /// The deepest point reached: the linearized ops, the state there and the op blocked.
  [[nodiscard]] const std::vector<std::size_t>& best_linearized() const noexcept {
    return best_linearized_;
  }
  [[nodiscard]] const state& best_state() const noexcept { return best_state_; }
  [[nodiscard]] std::size_t blocked_op() const noexcept { return blocked_op_; }

 private:
  static constexpr std::int64_t never = std::numeric_limits<std::int64_t>::max();
  std::size_t head() const noexcept { return 0; }
  std::size_t end() const noexcept { return next_.size(); }

  void build(const std::vector<std::size_t>& subset) {
    struct entry_key {
      std::int64_t at;
      int kind;  // 0 call, 1 return
      std::size_t local;
    };
    std::vector<entry_key> keys;
    for (std::size_t i = 0; i < subset.size(); ++i) {
      const operation<M>& op = ops_[subset[i]];
      const bool unknown = op.status != op_status::ok;
      keys.push_back({op.invoke_ns, 0, i});
      keys.push_back({unknown ? never : op.complete_ns, 1, i});
    }
    // Calls before returns at equal times: touching operations count as concurrent.
    std::stable_sort(keys.begin(), keys.end(), [](const entry_key& a, const entry_key& b) {
      return a.at != b.at ? a.at < b.at : a.kind < b.kind;
    });
    const std::size_t count = keys.size() + 1;  // entry 0 is the list head
    next_.assign(count, 0);
    prev_.assign(count, 0);
    is_call_.assign(count, false);
    unknown_.assign(count, false);
    local_.assign(count, 0);
    match_.assign(count, 0);
    global_ = subset;
    std::vector<std::size_t> call_of(subset.size(), 0);
    for (std::size_t i = 0; i < keys.size(); ++i) {
      const std::size_t e = i + 1;
      is_call_[e] = keys[i].kind == 0;
      local_[e] = keys[i].local;
      unknown_[e] = ops_[subset[keys[i].local]].status != op_status::ok;
      if (is_call_[e]) {
        call_of[keys[i].local] = e;
      } else {
        match_[call_of[keys[i].local]] = e;
      }
    }
    for (std::size_t e = 0; e < count; ++e) {
      next_[e] = e + 1;  // e + 1 == count means end()
      prev_[e] = e == 0 ? 0 : e - 1;
    }
    bits_.assign((subset.size() + 63) / 64, 0);
    xoshiro256 keygen(0x5eedull + subset.size());
    zobrist_.resize(subset.size());
    for (auto& z : zobrist_) z = keygen.next_u64();
  }
  // The list uses `count` (== next_.size()) as its end marker.
  void lift(std::size_t call) {
    unlink(call);
    unlink(match_[call]);
  }
  void unlift(std::size_t call) {
    relink(match_[call]);
    relink(call);
  }
  void unlink(std::size_t e) {
    next_[prev_[e]] = next_[e];
    if (next_[e] != end()) prev_[next_[e]] = prev_[e];
  }
  void relink(std::size_t e) {
    next_[prev_[e]] = e;
    if (next_[e] != end()) prev_[next_[e]] = e;
  }
  void set_bit(std::size_t local) {
    bits_[local / 64] |= 1ull << (local % 64);
    bits_hash_ ^= zobrist_[local];
  }
  void clear_bit(std::size_t local) {
    bits_[local / 64] &= ~(1ull << (local % 64));
    bits_hash_ ^= zobrist_[local];
  }
  /// Memoizes (linearized set + local, state); false when seen before.
  bool remember(std::size_t local, const state& s) {
    std::vector<std::uint64_t> key = bits_;
    key[local / 64] |= 1ull << (local % 64);
    const std::uint64_t h = (bits_hash_ ^ zobrist_[local]) * 0x9e3779b97f4a7c15ull ^
                            static_cast<std::uint64_t>(M::hash(s));
    auto range = cache_.equal_range(h);
    for (auto it = range.first; it != range.second; ++it) {
      const auto& [bits, st] = seen_[it->second];
      if (bits == key && st == s) return false;
    }
    seen_.emplace_back(std::move(key), s);
    cache_.emplace(h, seen_.size() - 1);
    ++states_;
    return true;
  }
  void note_depth(const state& s, std::size_t depth) {
    if (depth < best_depth_) return;
    if (depth > best_depth_ || best_linearized_.empty()) {
      best_depth_ = depth;
      record_best(s);
    }
  }
  void note_block(std::size_t return_entry, const state& s, std::size_t depth) {
    if (depth < best_depth_ || (depth == best_depth_ && blocked_op_ != npos)) return;
    best_depth_ = depth;
    record_best(s);
    blocked_op_ = global_[local_[return_entry]];
  }
  void record_best(const state& s) {
    best_linearized_.clear();
    for (std::size_t i = 0; i < global_.size(); ++i)
      if ((bits_[i / 64] >> (i % 64)) & 1u) best_linearized_.push_back(global_[i]);
    best_state_ = s;
    blocked_op_ = npos;
  }

 public:
  static constexpr std::size_t npos = std::numeric_limits<std::size_t>::max();

 private:
  const std::vector<operation<M>>& ops_;
  std::uint64_t max_states_;
  state start_;
  std::vector<std::size_t> next_, prev_, local_, match_, global_;
  std::vector<bool> is_call_, unknown_;
  std::vector<std::uint64_t> bits_;
  std::vector<std::uint64_t> zobrist_;
  std::uint64_t bits_hash_ = 0;
  std::unordered_multimap<std::uint64_t, std::size_t> cache_;
  std::vector<std::pair<std::vector<std::uint64_t>, state>> seen_;
  std::uint64_t states_ = 0;
  std::size_t best_depth_ = 0;
  std::vector<std::size_t> best_linearized_;
  state best_state_{};
  std::size_t blocked_op_ = npos;
};

template <class M>
void describe_operation(const std::vector<operation<M>>& ops, std::size_t id, std::string& out) {
  const operation<M>& op = ops[id];
  char head[96];
  std::snprintf(head, sizeof head, "  #%zu p%u [%lld ns .. ", id, op.process,
                static_cast<long long>(op.invoke_ns));
  out += head;
  if (op.status == op_status::ok) {
    std::snprintf(head, sizeof head, "%lld ns] ", static_cast<long long>(op.complete_ns));
    out += head;
    M::describe_op(op.input, &op.output, out);
  } else {
    out += op.status == op_status::pending ? "pending] " : "unknown outcome] ";
    M::describe_op(op.input, nullptr, out);
  }
  out += '\n';
}

}  // namespace detail

/// Models that split into independent parts (P-compositionality: a history is
/// linearizable when each part is) may say which part an operation touches; the checker
/// then searches each part alone, which is far cheaper. kv_model partitions by key.
template <class M>
concept partitioned_model = requires(const typename M::input& in) {
  { M::partition_of(in) } -> std::convertible_to<std::uint64_t>;
};

namespace detail {
template <class M>
check_result check_subset(const std::vector<operation<M>>& ops,
                          const std::vector<std::size_t>& subset, const check_options& options) {
  wgl_search<M> search(ops, subset, M::initial(), options.max_states);
  check_result out;
  out.answer = search.run();
  out.states = search.states();
  if (out.answer != verdict::not_linearizable) return out;

  // The window: from the deepest state reached, the blocked op and every unlinearized op
  // invoked before it completed; then drop ops (one at a time) while it stays unorderable.
  const std::size_t blocked = search.blocked_op();
  const auto& done = search.best_linearized();
  std::vector<std::size_t> window;
  for (std::size_t id : subset) {
    if (std::find(done.begin(), done.end(), id) != done.end()) continue;
    if (blocked == wgl_search<M>::npos || ops[id].invoke_ns <= ops[blocked].complete_ns)
      window.push_back(id);
  }
  auto start = search.best_state();
  std::size_t linearized = done.size();
  auto unorderable = [&](const std::vector<std::size_t>& candidate) {
    wgl_search<M> sub(ops, candidate, start, options.max_states);
    return sub.run() == verdict::not_linearizable;
  };
  if (!unorderable(window)) {  // defensive: fall back to the whole history from the start
    window = subset;
    start = M::initial();
    linearized = 0;
  }
  if (options.minimize_window) {
    for (std::size_t i = window.size(); i > 0; --i) {
      std::vector<std::size_t> smaller = window;
      smaller.erase(smaller.begin() + static_cast<std::ptrdiff_t>(i - 1));
      if (!smaller.empty() && unorderable(smaller)) window = std::move(smaller);
    }
  }
  out.window = window;
  char line[128];
  std::snprintf(line, sizeof line,
                "not linearizable: after %zu operation(s) linearized, model state ", linearized);
  out.report = line;
  M::describe_state(start, out.report);
  out.report += ", these operations cannot be ordered:\n";
  for (std::size_t id : window) describe_operation(ops, id, out.report);
  return out;
}
}  // namespace detail

/// Checks `h` against model M. Failed operations are ignored; pending and info operations
/// may have taken effect at any point after their invocation, or never.
template <class M>
check_result check(const history<M>& h, const check_options& options = {}) {
  const auto& ops = h.operations();
  std::vector<std::size_t> subset;
  for (std::size_t i = 0; i < ops.size(); ++i)
    if (ops[i].status != op_status::fail) subset.push_back(i);
  if constexpr (partitioned_model<M>) {
    std::vector<std::pair<std::uint64_t, std::size_t>> keyed;
    for (std::size_t id : subset)
      keyed.emplace_back(static_cast<std::uint64_t>(M::partition_of(ops[id].input)), id);
    std::stable_sort(keyed.begin(), keyed.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    check_result total;
    total.answer = verdict::linearizable;
    for (std::size_t i = 0; i < keyed.size();) {
      std::vector<std::size_t> part;
      const std::uint64_t key = keyed[i].first;
      for (; i < keyed.size() && keyed[i].first == key; ++i) part.push_back(keyed[i].second);
      check_result one = detail::check_subset(ops, part, options);
      total.states += one.states;
      if (one.answer == verdict::not_linearizable) {
        one.states = total.states;
        return one;
      }
      if (one.answer == verdict::unknown) total.answer = verdict::unknown;
    }
    return total;
  } else {
    return detail::check_subset(ops, subset, options);
  }
}

// ---- models -------------------------------------------------------------------------

namespace detail {
/// Appends `prefix` and the decimal `value` (snprintf: avoids operator+ on strings).
inline void append_int(std::string& text, const char* prefix, std::int64_t value) {
  char b[48];
  std::snprintf(b, sizeof b, "%s%lld", prefix, static_cast<long long>(value));
  text.append(b);
}
}  // namespace detail

/// A read/write/compare-and-set register of int64, initially 0.
struct register_model {
  enum class kind : std::uint8_t { read, write, cas };
  struct input {
    kind op = kind::read;
    std::int64_t value = 0;     // write: the value; cas: the new value
    std::int64_t expected = 0;  // cas only
  };
  struct output {
    std::int64_t value = 0;  // read: the value seen
    bool succeeded = true;   // cas: whether it swapped
  };
  using state = std::int64_t;
  static state initial() noexcept { return 0; }
  static bool step(const state& s, const input& in, const output& out, state& next) noexcept {
    switch (in.op) {
      case kind::read: next = s; return out.value == s;
      case kind::write: next = in.value; return true;
      case kind::cas:
        next = out.succeeded ? in.value : s;
        return out.succeeded == (s == in.expected);
    }
    return false;
  }
  static bool step_unknown(const state& s, const input& in, state& next) noexcept {
    next = in.op == kind::write || (in.op == kind::cas && s == in.expected) ? in.value : s;
    return true;
  }
  static std::uint64_t hash(const state& s) noexcept { return static_cast<std::uint64_t>(s); }
  static void describe_op(const input& in, const output* out, std::string& text) {
    char b[96];
    if (in.op == kind::read && out != nullptr)
      std::snprintf(b, sizeof b, "read -> %lld", static_cast<long long>(out->value));
    else if (in.op == kind::read)
      std::snprintf(b, sizeof b, "read -> ?");
    else if (in.op == kind::write)
      std::snprintf(b, sizeof b, "write %lld", static_cast<long long>(in.value));
    else
      std::snprintf(b, sizeof b, "cas %lld -> %lld%s", static_cast<long long>(in.expected),
                    static_cast<long long>(in.value),
                    out ? (out->succeeded ? " : ok" : " : failed") : " : ?");
    text += b;
  }
  static void describe_state(const state& s, std::string& text) {
    detail::append_int(text, "register=", s);
  }
};

/// A map from int64 keys to int64 values: get (absent reads as not found), put, remove.
struct kv_model {
  enum class kind : std::uint8_t { get, put, remove };
  struct input {
    kind op = kind::get;
    std::int64_t key = 0;
    std::int64_t value = 0;
  };
  struct output {
    bool found = false;
    std::int64_t value = 0;
  };
  using state = std::vector<std::pair<std::int64_t, std::int64_t>>;  // sorted by key
  static state initial() { return {}; }
  /// Keys are independent: the checker searches each key's operations alone.
  static std::uint64_t partition_of(const input& in) noexcept {
    return static_cast<std::uint64_t>(in.key);
  }
  static bool step(const state& s, const input& in, const output& out, state& next) {
    if (in.op != kind::get) return step_unknown(s, in, next);
    next = s;
    auto it = find(s, in.key);
    const bool present = it != s.end() && it->first == in.key;
    return out.found == present && (!present || it->second == out.value);
  }
  static bool step_unknown(const state& s, const input& in, state& next) {
    next = s;
    if (in.op == kind::get) return true;
    auto it = std::lower_bound(next.begin(), next.end(), in.key,
                               [](const auto& e, std::int64_t k) { return e.first < k; });
    const bool present = it != next.end() && it->first == in.key;
    if (in.op == kind::put) {
      if (present) it->second = in.value;
      else next.insert(it, {in.key, in.value});
    } else if (present) {
      next.erase(it);
    }
    return true;
  }
  static std::uint64_t hash(const state& s) noexcept {
    std::uint64_t h = 0x84222325ull;
    for (const auto& [k, v] : s)
      h = (h ^ static_cast<std::uint64_t>(k)) * 0x100000001b3ull ^
          static_cast<std::uint64_t>(v) * 0x9e3779b97f4a7c15ull;
    return h;
  }
  static void describe_op(const input& in, const output* out, std::string& text) {
    const char* names[] = {"get", "put", "remove"};
    text.append(names[static_cast<int>(in.op)]);
    detail::append_int(text, " ", in.key);
    if (in.op == kind::put) detail::append_int(text, " = ", in.value);
    if (in.op != kind::get) return;
    if (out == nullptr) text.append(" -> ?");
    else if (out->found) detail::append_int(text, " -> ", out->value);
    else text.append(" -> not found");
  }
  static void describe_state(const state& s, std::string& text) {
    text.append("{");
    for (const auto& [k, v] : s) {
      detail::append_int(text, " ", k);
      detail::append_int(text, ":", v);
    }
    text.append(" }");
  }

 private:
  static state::const_iterator find(const state& s, std::int64_t key) {
    return std::lower_bound(s.begin(), s.end(), key,
                            [](const auto& e, std::int64_t k) { return e.first < k; });
  }
};

/// A FIFO queue of int64: enqueue, dequeue (an empty queue answers `empty`).
struct queue_model {
  enum class kind : std::uint8_t { enqueue, dequeue };
  struct input {
    kind op = kind::enqueue;
    std::int64_t value = 0;
  };
  struct output {
    bool empty = false;
    std::int64_t value = 0;
  };
  using state = std::vector<std::int64_t>;
  static state initial() { return {}; }
  static bool step(const state& s, const input& in, const output& out, state& next) {
    if (in.op == kind::enqueue) return step_unknown(s, in, next);
    if (s.empty()) {
      next = s;
      return out.empty;
    }
    if (out.empty || out.value != s.front()) return false;
    next.assign(s.begin() + 1, s.end());
    return true;
  }
  static bool step_unknown(const state& s, const input& in, state& next) {
    next = s;
    if (in.op == kind::enqueue) next.push_back(in.value);
    else if (!next.empty()) next.erase(next.begin());
    return true;
  }
  static std::uint64_t hash(const state& s) noexcept {
    std::uint64_t h = 0x9ae16a3b2f90404full ^ s.size();
    for (std::int64_t v : s) h = (h ^ static_cast<std::uint64_t>(v)) * 0x100000001b3ull;
    return h;
  }
  static void describe_op(const input& in, const output* out, std::string& text) {
    if (in.op == kind::enqueue) {
      detail::append_int(text, "enqueue ", in.value);
    } else if (out == nullptr) {
      text.append("dequeue -> ?");
    } else if (out->empty) {
      text.append("dequeue -> empty");
    } else {
      detail::append_int(text, "dequeue -> ", out->value);
    }
  }
  static void describe_state(const state& s, std::string& text) {
    text.append("[");
    for (std::size_t i = 0; i < s.size(); ++i) detail::append_int(text, i ? " " : "", s[i]);
    text.append("]");
  }
};

static_assert(sequential_model<register_model> && sequential_model<kv_model> &&
              sequential_model<queue_model>);

}  // namespace sim
WEFT_END
