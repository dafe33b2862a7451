// The member lifecycle: every state x every event x every incarnation relation, generated
// and compared with an independent statement of the rules written out below.
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>

#include "weft/membership/swim/lifecycle.hpp"

namespace {
using namespace weft::swim;
using S = member_state;
using E = member_event;

// The rules as the issue states them, one legal arrow per line. '*' any incarnation,
// '=' at least the held one, '>' strictly newer.
struct arrow {
  S from;
  E event;
  S to;
  char rule;
};
constexpr arrow legal[] = {
    {S::absent, E::join, S::joining, '*'},      {S::absent, E::alive, S::alive, '*'},
    {S::joining, E::alive, S::alive, '='},      {S::joining, E::dead, S::dead, '='},
    {S::alive, E::alive, S::alive, '>'},        {S::alive, E::suspect, S::suspect, '='},
    {S::alive, E::dead, S::dead, '='},          {S::alive, E::leave, S::leaving, '='},
    {S::suspect, E::alive, S::alive, '>'},      {S::suspect, E::suspect, S::suspect, '='},
    {S::suspect, E::dead, S::dead, '='},        {S::suspect, E::suspicion_timeout, S::dead, '*'},
    {S::suspect, E::leave, S::leaving, '='},    {S::dead, E::join, S::joining, '>'},
    {S::dead, E::alive, S::alive, '>'},         {S::leaving, E::dead, S::dead, '='},
    {S::leaving, E::leave_done, S::left, '*'},  {S::left, E::join, S::joining, '>'},
    {S::left, E::alive, S::alive, '>'},
};
// Claims that repeat what is already held.
constexpr std::pair<S, E> redundant[] = {{S::dead, E::dead},       {S::leaving, E::leave},
                                         {S::left, E::dead},       {S::left, E::leave},
                                         {S::left, E::leave_done}};

const arrow* find_legal(S s, E e) {
  for (const arrow& a : legal)
    if (a.from == s && a.event == e) return &a;
  return nullptr;
}
bool is_redundant(S s, E e) {
  for (auto [rs, re] : redundant)
    if (rs == s && re == e) return true;
  return false;
}

enum class relation { older, same, newer, too_far };
constexpr std::uint64_t held = 100;
constexpr std::uint64_t max_jump = 1000;
std::uint64_t claim_for(relation r) {
  switch (r) {
    case relation::older: return held - 1;
    case relation::same: return held;
    case relation::newer: return held + 1;
    case relation::too_far: return held + max_jump + 1;
  }
  return 0;
}

// What the rules above say must happen: ok with (state, incarnation), or a refusal.
struct expectation {
  swim_errc refusal;
  S next;
  std::uint64_t incarnation;
};
expectation expected(S s, E e, std::uint64_t claimed) {
  const arrow* a = find_legal(s, e);
  if (a == nullptr) {
    if (s == S::absent) return {swim_errc::unknown_member, s, 0};
    if (is_redundant(s, e)) return {swim_errc::redundant_claim, s, held};
    if (e == E::join) return {swim_errc::already_member, s, held};
    return {swim_errc::illegal_transition, s, held};
  }
  if (s == S::absent) return {swim_errc::ok, a->to, claimed};
  if (a->rule == '*') return {swim_errc::ok, a->to, held};
  if (claimed > held + max_jump) return {swim_errc::impossible_incarnation, s, held};
  const bool fresh = a->rule == '>' ? claimed > held : claimed >= held;
  if (!fresh) return {swim_errc::stale_incarnation, s, held};
  return {swim_errc::ok, a->to, claimed};
}
}  // namespace

TEST_CASE("lifecycle table: every state x event x incarnation matches the rules",
          "[swim][lifecycle]") {
  std::size_t cases = 0, legal_cases = 0;
  for (std::size_t si = 0; si < member_state_count; ++si) {
    for (std::size_t ei = 0; ei < member_event_count; ++ei) {
      for (relation rel : {relation::older, relation::same, relation::newer, relation::too_far}) {
        const auto s = static_cast<S>(si);
        const auto e = static_cast<E>(ei);
        const std::uint64_t start_inc = s == S::absent ? 0 : held;
        const std::uint64_t claimed = claim_for(rel);
        const expectation want = expected(s, e, claimed);
        INFO(std::string(to_string(s)) + " --" + std::string(to_string(e)) + "(" +
             std::to_string(claimed) + ")-->");

        lifecycle_guard guard(max_jump);
        S state = s;
        std::uint64_t inc = start_inc;
        auto r = guard.apply(state, inc, e, claimed);
        ++cases;
        if (want.refusal == swim_errc::ok) {
          ++legal_cases;
          REQUIRE(r.has_value());
          CHECK(state == want.next);
          CHECK(inc == want.incarnation);
          CHECK(r->next == want.next);
          CHECK(r->state_changed == (want.next != s));
          CHECK(r->rejoined == ((s == S::dead || s == S::left) &&
                                (want.next == S::alive || want.next == S::joining)));
          CHECK(guard.applied() == 1);
          CHECK(guard.refused_total() == 0);
        } else {
          REQUIRE_FALSE(r.has_value());
          CHECK(r.error().is(want.refusal));
          CHECK(state == s);          // never applied
          CHECK(inc == start_inc);
          CHECK(guard.applied() == 0);
          CHECK(guard.refused(want.refusal) == 1);  // counted, by code
          CHECK(guard.refused_total() == 1);
        }
      }
    }
  }
  CHECK(cases == member_state_count * member_event_count * 4);
  CHECK(legal_cases > 0);
}

TEST_CASE("lifecycle table: the named illegal transitions are refused", "[swim][lifecycle]") {
  lifecycle_guard guard(1u << 20);
  S s = S::dead;
  std::uint64_t inc = 5;
  CHECK(guard.apply(s, inc, E::suspect, 9).error().is(swim_errc::illegal_transition));
  CHECK(s == S::dead);
  s = S::alive;
  CHECK(guard.apply(s, inc, E::suspect, 4).error().is(swim_errc::stale_incarnation));
  s = S::absent;
  inc = 0;
  CHECK(guard.apply(s, inc, E::leave, 1).error().is(swim_errc::unknown_member));
  CHECK(guard.refused_total() == 3);
  // The full cycle: joining -> alive -> suspect -> alive (refute) -> suspect -> dead ->
  // alive (rejoined) -> leaving -> left -> joining (rejoined).
  REQUIRE(guard.apply(s, inc, E::join, 1));
  REQUIRE(guard.apply(s, inc, E::alive, 1));
  REQUIRE(guard.apply(s, inc, E::suspect, 1));
  REQUIRE(guard.apply(s, inc, E::alive, 2));
  REQUIRE(guard.apply(s, inc, E::suspect, 2));
  REQUIRE(guard.apply(s, inc, E::suspicion_timeout, 0));
  CHECK(s == S::dead);
  auto back = guard.apply(s, inc, E::alive, 3);
  REQUIRE(back);
  CHECK(back->rejoined);
  REQUIRE(guard.apply(s, inc, E::leave, 3));
  REQUIRE(guard.apply(s, inc, E::leave_done, 0));
  CHECK(s == S::left);
  REQUIRE(guard.apply(s, inc, E::join, 4));
  CHECK(s == S::joining);
  CHECK(inc == 4);
  CHECK(guard.applied() == 10);
}
