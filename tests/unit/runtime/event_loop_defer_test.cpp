// event_loop::defer: a call that runs once the fd events of a round were dispatched.
#include <catch2/catch.hpp>

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>
#include <vector>

#include "weft/runtime/event_loop.hpp"

namespace {

struct round_log {
  weft::runtime::event_loop* loop = nullptr;
  std::vector<int> order;  // fd callbacks record their fd's tag, the deferred call 0
  int fd_a = -1;
  int fd_b = -1;
  bool defer_failed = false;
};

void deferred(void* c) noexcept { static_cast<round_log*>(c)->order.push_back(0); }

void drain(int fd) {
  std::uint64_t value = 0;
  (void)::read(fd, &value, sizeof value);
}

/// Each fd's callback drains it and records it; the first one of the round defers.
void on_a(void* c, std::uint32_t) noexcept {
  auto& log = *static_cast<round_log*>(c);
  drain(log.fd_a);
  if (log.order.empty()) log.defer_failed = !log.loop->defer(&deferred, &log);
  log.order.push_back(1);
}
void on_b(void* c, std::uint32_t) noexcept {
  auto& log = *static_cast<round_log*>(c);
  drain(log.fd_b);
  if (log.order.empty()) log.defer_failed = !log.loop->defer(&deferred, &log);
  log.order.push_back(2);
}

void signal_fd(int fd) {
  const std::uint64_t one = 1;
  REQUIRE(::write(fd, &one, sizeof one) == static_cast<ssize_t>(sizeof one));
}

}  // namespace

TEST_CASE("a call deferred by an fd callback runs after every event of that round",
          "[runtime][event_loop]") {
  weft::runtime::event_loop loop;
  REQUIRE(loop.init());
  round_log log;
  log.loop = &loop;
  log.fd_a = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  log.fd_b = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  REQUIRE(log.fd_a >= 0);
  REQUIRE(log.fd_b >= 0);
  REQUIRE(loop.watch(log.fd_a, EPOLLIN, &on_a, &log));
  REQUIRE(loop.watch(log.fd_b, EPOLLIN, &on_b, &log));
  signal_fd(log.fd_a);
  signal_fd(log.fd_b);
  const auto ran = loop.run_once(weft::milliseconds(100));
  REQUIRE(ran);
  CHECK_FALSE(log.defer_failed);
  CHECK(*ran == 3);
  REQUIRE(log.order.size() == 3);
  CHECK(log.order.back() == 0);  // after both fd callbacks, in the same run_once
  CHECK_FALSE(loop.has_deferred());
  loop.unwatch(log.fd_a);
  loop.unwatch(log.fd_b);
  ::close(log.fd_a);
  ::close(log.fd_b);
}

TEST_CASE("a call deferred from outside runs in the next run_once, which does not block",
          "[runtime][event_loop]") {
  weft::runtime::event_loop loop;
  REQUIRE(loop.init());
  round_log log;
  REQUIRE(loop.defer(&deferred, &log));
  CHECK(loop.has_deferred());
  const auto start = loop.now();
  const auto ran = loop.run_once(weft::seconds(5));
  REQUIRE(ran);
  CHECK(*ran == 1);
  CHECK(log.order == std::vector<int>{0});
  CHECK(loop.now() - start < weft::seconds(5));  // it returned without waiting out max_wait
}

TEST_CASE("deferred calls are bounded and can be cancelled by their owner", "[runtime][event_loop]") {
  weft::runtime::event_loop loop;
  weft::runtime::event_loop_options options;
  options.max_deferred = 2;
  REQUIRE(loop.init(options));
  round_log kept, dropped;
  REQUIRE(loop.defer(&deferred, &dropped));
  REQUIRE(loop.defer(&deferred, &kept));
  const auto full = loop.defer(&deferred, &kept);
  REQUIRE_FALSE(full);
  CHECK(full.error().is(weft::runtime::runtime_errc::too_many_timers));
  CHECK_FALSE(loop.defer(nullptr, &kept));
  loop.cancel_deferred(&dropped);
  REQUIRE(loop.run_once(weft::milliseconds(0)));
  CHECK(kept.order == std::vector<int>{0});
  CHECK(dropped.order.empty());
  options.max_deferred = 0;
  CHECK_FALSE(options.validate());
}
