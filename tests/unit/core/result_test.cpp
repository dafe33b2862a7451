#include <catch2/catch.hpp>

#include <memory>
#include <string>

#include "weft/core/result.hpp"

namespace {
weft::result<int> half(int x) noexcept {
  if (x % 2 != 0) return weft::error(weft::core_errc::invalid_argument, "half");
  return x / 2;
}
weft::result<int> quarter(int x) noexcept {
  WEFT_TRY_ASSIGN(const int h, half(x));
  return half(h);
}
weft::result<void> check_even(int x) noexcept {
  WEFT_TRY(half(x));
  return weft::ok();
}
}  // namespace

TEST_CASE("result carries a value or an error", "[core][result]") {
  const auto good = half(8);
  REQUIRE(good.has_value());
  CHECK(*good == 4);
  const auto bad = half(3);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().is(weft::core_errc::invalid_argument));
  CHECK_FALSE(bad.error().is(weft::core_errc::truncated));
  CHECK(std::string(bad.error().where()) == "half");
  CHECK(bad.error().message() == "invalid argument");
  CHECK(bad.error().domain().name == "core");
  CHECK(bad.value_or(-1) == -1);
}

TEST_CASE("WEFT_TRY and WEFT_TRY_ASSIGN propagate the first error", "[core][result]") {
  CHECK(*quarter(8) == 2);
  CHECK(quarter(6).error().is(weft::core_errc::invalid_argument));  // 6 -> 3 fails
  CHECK(check_even(4).has_value());
  CHECK_FALSE(check_even(5).has_value());
}

TEST_CASE("result owns non-trivial values correctly", "[core][result]") {
  auto counter = std::make_shared<int>(0);
  {
    weft::result<std::shared_ptr<int>> r = counter;
    CHECK(counter.use_count() == 2);
    auto copy = r;
    CHECK(counter.use_count() == 3);
    auto moved = std::move(copy);
    CHECK(counter.use_count() == 3);
    moved = weft::error(weft::core_errc::truncated);
    CHECK(counter.use_count() == 2);
    CHECK(moved.error() == weft::core_errc::truncated);
  }
  CHECK(counter.use_count() == 1);
}

TEST_CASE("errors compare by domain and code, not by where", "[core][error]") {
  const weft::error a(weft::core_errc::truncated, "a");
  const weft::error b(weft::core_errc::truncated, "b");
  const weft::error c(weft::core_errc::out_of_range, "a");
  CHECK(a == b);
  CHECK_FALSE(a == c);
  const weft::error unset;
  CHECK(unset.domain().name == "unknown");
}

namespace {
int handler_calls = 0;
void counting_handler(const char*, const char*, int) noexcept { ++handler_calls; }
}  // namespace

TEST_CASE("the assert handler can be replaced and restored", "[core][assert]") {
  const auto previous = weft::set_assert_handler(&counting_handler);
  CHECK(previous != nullptr);
  const auto mine = weft::set_assert_handler(previous);
  CHECK(mine == &counting_handler);
  CHECK(handler_calls == 0);
}

#include <sys/wait.h>
#include <unistd.h>

#include "weft/core/static_vector.hpp"

namespace {
[[noreturn]] void exiting_handler(const char*, const char*, int) noexcept { ::_exit(42); }
}  // namespace

TEST_CASE("a broken invariant reaches the installed handler", "[core][assert]") {
  // In a child process, so the handler may end it: pop_back on an empty vector.
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    weft::set_assert_handler(&exiting_handler);
    weft::static_vector<int, 2> v;
    v.pop_back();
    ::_exit(0);  // not reached when the assertion fires
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 42);
}
