#include <catch2/catch.hpp>

#include <sys/eventfd.h>
#include <unistd.h>

#include <csignal>
#include <cstdint>
#include <vector>

#include "weft/runtime/event_loop.hpp"

namespace {
struct recorder {
  std::vector<int> order;
  int reads = 0;
};
void record_1(void* c) noexcept { static_cast<recorder*>(c)->order.push_back(1); }
void record_2(void* c) noexcept { static_cast<recorder*>(c)->order.push_back(2); }
void record_3(void* c) noexcept { static_cast<recorder*>(c)->order.push_back(3); }
}  // namespace

TEST_CASE("timers fire in deadline order, ties in insertion order", "[runtime][event_loop]") {
  weft::runtime::event_loop loop;
  REQUIRE(loop.init());
  recorder r;
  REQUIRE(loop.add_timer(weft::milliseconds(20), &record_3, &r));
  REQUIRE(loop.add_timer(weft::milliseconds(5), &record_1, &r));
  REQUIRE(loop.add_timer(weft::milliseconds(5), &record_2, &r));
  const auto cancelled = loop.add_timer(weft::milliseconds(1), &record_3, &r);
  REQUIRE(cancelled);
  loop.cancel_timer(*cancelled);
  loop.cancel_timer(*cancelled);  // twice is harmless
  const auto start = loop.now();
  while (r.order.size() < 3 && loop.now() - start < weft::seconds(5))
    REQUIRE(loop.run_once(weft::milliseconds(50)));
  CHECK(r.order == std::vector<int>{1, 2, 3});
}

TEST_CASE("the timer heap is bounded", "[runtime][event_loop]") {
  weft::runtime::event_loop loop;
  weft::runtime::event_loop_options options;
  options.max_timers = 2;
  REQUIRE(loop.init(options));
  recorder r;
  REQUIRE(loop.add_timer(weft::seconds(10), &record_1, &r));
  REQUIRE(loop.add_timer(weft::seconds(10), &record_1, &r));
  const auto full = loop.add_timer(weft::seconds(10), &record_1, &r);
  REQUIRE_FALSE(full);
  CHECK(full.error().is(weft::runtime::runtime_errc::too_many_timers));
  options.max_timers = 0;
  weft::runtime::event_loop bad;
  CHECK(bad.init(options).error().is(weft::core_errc::invalid_options));
}

TEST_CASE("fd readiness reaches the watcher until it unwatches", "[runtime][event_loop]") {
  weft::runtime::event_loop loop;
  REQUIRE(loop.init());
  const int efd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  REQUIRE(efd >= 0);
  struct ctx_t {
    int fd;
    int reads = 0;
  } ctx{efd};
  auto on_read = [](void* c, std::uint32_t) noexcept {
    auto* x = static_cast<ctx_t*>(c);
    std::uint64_t v = 0;
    while (::read(x->fd, &v, sizeof v) == sizeof v) ++x->reads;
  };
  REQUIRE(loop.watch(efd, EPOLLIN, on_read, &ctx));
  CHECK(loop.watch(efd, EPOLLIN, on_read, &ctx).error().is(weft::core_errc::invalid_argument));
  const std::uint64_t one = 1;
  REQUIRE(::write(efd, &one, sizeof one) == sizeof one);
  REQUIRE(loop.run_once(weft::milliseconds(100)));
  CHECK(ctx.reads == 1);
  loop.unwatch(efd);
  REQUIRE(::write(efd, &one, sizeof one) == sizeof one);
  REQUIRE(loop.run_once(weft::milliseconds(10)));
  CHECK(ctx.reads == 1);
  CHECK(loop.modify(efd, EPOLLIN).error().is(weft::runtime::runtime_errc::not_watched));
  ::close(efd);
}

TEST_CASE("SIGTERM arrives as an event, not as process death", "[runtime][event_loop]") {
  weft::runtime::event_loop loop;
  REQUIRE(loop.init());
  int seen = 0;
  REQUIRE(loop.watch_signals({SIGUSR1}, [](void* c, int s) noexcept {
    *static_cast<int*>(c) = s;
  }, &seen));
  REQUIRE(::raise(SIGUSR1) == 0);
  for (int i = 0; i < 10 && seen == 0; ++i) REQUIRE(loop.run_once(weft::milliseconds(50)));
  CHECK(seen == SIGUSR1);
}
