// weft/membership/swim/lifecycle.hpp - the member lifecycle as one explicit transition
// table. Every change to a member record goes through lifecycle_guard::apply(); a cell
// that refuses answers with a typed swim_errc and is counted, never applied.
//
//   absent --join--> joining --alive--> alive <--suspect/alive(refute)--> suspect
//   alive/suspect --dead (or suspicion_timeout for suspect)--> dead
//   alive/suspect --leave--> leaving --leave_done--> left
//   dead/left --alive or join with a higher incarnation--> alive / joining (rejoined)
//
// Incarnation numbers order all claims: each cell names the incarnation a claim needs
// relative to the one held (any, at least, strictly greater).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "weft/config.hpp"
#include "weft/core/result.hpp"
#include "weft/membership/swim/errors.hpp"

WEFT_BEGIN
namespace swim {

enum class member_state : std::uint8_t { absent, joining, alive, suspect, dead, leaving, left };
inline constexpr std::size_t member_state_count = 7;

enum class member_event : std::uint8_t {
  join,               // an admitted member announces itself (or we start joining)
  alive,              // a claim "member is alive at incarnation i"
  suspect,            // a claim "member is suspected at incarnation i"
  dead,               // a claim "member is dead at incarnation i" (from another member)
  suspicion_timeout,  // our own suspicion timer for the member ran out
  leave,              // the member announces a graceful leave at incarnation i
  leave_done,         // the leave has been disseminated: the member is gone
};
inline constexpr std::size_t member_event_count = 7;

/// What incarnation a claim needs, relative to the one held.
enum class incarnation_rule : std::uint8_t { any, at_least, greater };

/// One cell of the table: either a target state and its incarnation rule, or a refusal.
struct transition_cell {
  member_state next;
  incarnation_rule needs;
  swim_errc refusal;  // ok when the cell is a legal transition
};

constexpr std::string_view to_string(member_state s) noexcept {
  switch (s) {
    case member_state::absent: return "absent";
    case member_state::joining: return "joining";
    case member_state::alive: return "alive";
    case member_state::suspect: return "suspect";
    case member_state::dead: return "dead";
    case member_state::leaving: return "leaving";
    case member_state::left: return "left";
  }
  return "?";
}

constexpr std::string_view to_string(member_event e) noexcept {
  switch (e) {
    case member_event::join: return "join";
    case member_event::alive: return "alive";
    case member_event::suspect: return "suspect";
    case member_event::dead: return "dead";
    case member_event::suspicion_timeout: return "suspicion_timeout";
    case member_event::leave: return "leave";
    case member_event::leave_done: return "leave_done";
  }
  return "?";
}

namespace detail {
constexpr transition_cell go(member_state next, incarnation_rule needs) noexcept {
  return {next, needs, swim_errc::ok};
}
constexpr transition_cell no(swim_errc why) noexcept {
  return {member_state::absent, incarnation_rule::any, why};
}
using S = member_state;
using R = incarnation_rule;
using E = swim_errc;
}  // namespace detail

/// THE table: rows are member_state, columns are member_event, in declaration order.
inline constexpr std::array<std::array<transition_cell, member_event_count>, member_state_count>
    lifecycle_table = [] {
      using namespace detail;
      const auto illegal = no(E::illegal_transition);
      const auto unknown = no(E::unknown_member);
      const auto known = no(E::already_member);
      const auto redundant = no(E::redundant_claim);
      std::array<std::array<transition_cell, member_event_count>, member_state_count> t{};
      //        join                    alive                   suspect
      //        dead                    suspicion_timeout       leave
      //        leave_done
      t[0] = {go(S::joining, R::any), go(S::alive, R::any), unknown,  // absent
              unknown, unknown, unknown,
              unknown};
      t[1] = {known, go(S::alive, R::at_least), illegal,  // joining
              go(S::dead, R::at_least), illegal, illegal,
              illegal};
      t[2] = {known, go(S::alive, R::greater), go(S::suspect, R::at_least),  // alive
              go(S::dead, R::at_least), illegal, go(S::leaving, R::at_least),
              illegal};
      t[3] = {known, go(S::alive, R::greater), go(S::suspect, R::at_least),  // suspect
              go(S::dead, R::at_least), go(S::dead, R::any), go(S::leaving, R::at_least),
              illegal};
      t[4] = {go(S::joining, R::greater), go(S::alive, R::greater), illegal,  // dead
              redundant, illegal, illegal,
              illegal};
      t[5] = {known, illegal, illegal,  // leaving
              go(S::dead, R::at_least), illegal, redundant,
              go(S::left, R::any)};
      t[6] = {go(S::joining, R::greater), go(S::alive, R::greater), illegal,  // left
              redundant, illegal, redundant,
              redundant};
      return t;
    }();

constexpr const transition_cell& cell(member_state s, member_event e) noexcept {
  return lifecycle_table[static_cast<std::size_t>(s)][static_cast<std::size_t>(e)];
}

/// The outcome of a legal transition.
struct transition_result {
  member_state next;
  std::uint64_t incarnation;  // the incarnation the record holds afterwards
  bool state_changed;         // next != the state before
  bool incarnation_changed;
  bool rejoined;              // dead/left -> joining/alive under a higher incarnation
};

/// Decides (without applying) what `event` with incarnation `claimed` does to a member in
/// `state` holding incarnation `held`. A claim more than `max_jump` ahead of a known
/// member's incarnation is impossible (a forged or corrupted number, not a restart).
constexpr result<transition_result> decide(member_state state, std::uint64_t held,
                                           member_event event, std::uint64_t claimed,
                                           std::uint64_t max_jump) noexcept {
  const transition_cell& c = cell(state, event);
  if (c.refusal != swim_errc::ok) return error(c.refusal, "swim lifecycle");
  const bool known = state != member_state::absent;
  if (c.needs != incarnation_rule::any) {
    if (known && claimed > held && claimed - held > max_jump)
      return error(swim_errc::impossible_incarnation, "swim lifecycle");
    const bool fresh = c.needs == incarnation_rule::greater ? claimed > held : claimed >= held;
    if (known && !fresh) return error(swim_errc::stale_incarnation, "swim lifecycle");
  }
  const std::uint64_t next_inc =
      (!known || (c.needs != incarnation_rule::any && claimed > held)) ? claimed : held;
  const bool terminal = state == member_state::dead || state == member_state::left;
  return transition_result{c.next, next_inc, c.next != state, next_inc != held,
                           terminal && (c.next == member_state::alive ||
                                        c.next == member_state::joining)};
}

/// Counts applied transitions and every refusal by code. The core owns one.
class lifecycle_guard {
 public:
  constexpr explicit lifecycle_guard(std::uint64_t max_jump) noexcept : max_jump_(max_jump) {}

  /// Applies `event` to (state, incarnation) in place when legal; otherwise leaves both
  /// untouched, counts the refusal and returns it.
  constexpr result<transition_result> apply(member_state& state, std::uint64_t& incarnation,
                                            member_event event,
                                            std::uint64_t claimed) noexcept {
    auto r = decide(state, incarnation, event, claimed, max_jump_);
    if (!r) {
      ++refused_[r.error().code()];
      ++refused_total_;
      return r;
    }
    state = r->next;
    incarnation = r->incarnation;
    ++applied_;
    return r;
  }

  /// Counts a refusal found by decide() before apply() was called (the core checks a
  /// claim against the table before it spends a signature verification on it).
  constexpr void count_refusal(swim_errc code) noexcept {
    ++refused_[static_cast<std::size_t>(code)];
    ++refused_total_;
  }

  [[nodiscard]] constexpr std::uint64_t applied() const noexcept { return applied_; }
  [[nodiscard]] constexpr std::uint64_t refused_total() const noexcept { return refused_total_; }
  [[nodiscard]] constexpr std::uint64_t refused(swim_errc code) const noexcept {
    return refused_[static_cast<std::size_t>(code)];
  }
  [[nodiscard]] constexpr std::uint64_t max_jump() const noexcept { return max_jump_; }

 private:
  std::uint64_t max_jump_;
  std::uint64_t applied_ = 0;
  std::uint64_t refused_total_ = 0;
  std::array<std::uint64_t, swim_errc_count> refused_{};
};

}  // namespace swim
WEFT_END
