// weft/runtime/event_loop.hpp - a single-threaded epoll event loop for drivers: fd
// readiness callbacks, a bounded timer heap and SIGINT/SIGTERM through signalfd.
// weft:hosted (Linux). Why epoll and not Asio: see docs/runtime.md.
//
// Callbacks are plain function pointers with a context pointer, so registering one never
// allocates; every table is sized from event_loop_options when init() runs. Objects that
// register themselves (transports) are therefore not movable: construct them in place.
#pragma once

#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <initializer_list>
#include <vector>

#include "weft/config.hpp"
#include "weft/core/result.hpp"
#include "weft/core/time.hpp"
#include "weft/runtime/errors.hpp"

WEFT_BEGIN
namespace runtime {

using io_callback = void (*)(void* context, std::uint32_t epoll_events) noexcept;
using timer_callback = void (*)(void* context) noexcept;
using signal_callback = void (*)(void* context, int signal_number) noexcept;

struct event_loop_options {
  std::size_t max_watches = 1024;       // fds registered at once
  std::size_t max_timers = 4096;        // timers pending at once
  std::size_t max_events_per_poll = 64; // epoll_wait batch
  std::size_t max_deferred = 64;        // defer() calls pending at once

  [[nodiscard]] result<void> validate() const noexcept {
    if (max_watches == 0 || max_timers == 0 || max_events_per_poll == 0 || max_deferred == 0)
      return error(core_errc::invalid_options, "event_loop_options: zero capacity");
    if (max_watches > (1u << 24)) return error(core_errc::invalid_options, "max_watches");
    return ok();
  }
};

/// Names a pending timer; stale after it fires or is cancelled (cancel is then a no-op).
struct timer_id {
  std::uint32_t slot = 0;
  std::uint32_t generation = 0;
};

class event_loop {
 public:
  event_loop() noexcept = default;
  event_loop(const event_loop&) = delete;
  event_loop& operator=(const event_loop&) = delete;
  ~event_loop() { close_all(); }

  [[nodiscard]] result<void> init(const event_loop_options& options = {}) noexcept;

  [[nodiscard]] result<void> watch(int fd, std::uint32_t epoll_events, io_callback callback,
                                   void* context) noexcept;
  [[nodiscard]] result<void> modify(int fd, std::uint32_t epoll_events) noexcept;
  void unwatch(int fd) noexcept;

  [[nodiscard]] result<timer_id> add_timer(duration delay, timer_callback callback,
                                           void* context) noexcept;
  void cancel_timer(timer_id id) noexcept;

  /// Runs `callback(context)` once, inside run_once, after the fd events of that round were
  /// dispatched: work that should see everything one epoll round delivered (a node's ready
  /// loop after every message read) without an eventfd write, read and extra round. Called
  /// from a callback, it runs in the same run_once; from outside, in the next one (which
  /// then does not block). Full (max_deferred) is runtime_errc::too_many_timers.
  [[nodiscard]] result<void> defer(timer_callback callback, void* context) noexcept;
  [[nodiscard]] bool has_deferred() const noexcept { return !deferred_.empty(); }
  /// Drops every pending deferred call with this context (its owner is going away).
  void cancel_deferred(const void* context) noexcept;

  /// Blocks SIGINT/SIGTERM (or the given set) for this thread and delivers them here.
  [[nodiscard]] result<void> watch_signals(std::initializer_list<int> signals,
                                           signal_callback callback, void* context) noexcept;

  /// Waits at most `max_wait` for events, then runs due timers. Returns callbacks run.
  [[nodiscard]] result<std::size_t> run_once(duration max_wait) noexcept;
  /// Runs until stop() is called from a callback.
  [[nodiscard]] result<void> run() noexcept;
  void stop() noexcept { stopping_ = true; }
  [[nodiscard]] bool stopping() const noexcept { return stopping_; }

  [[nodiscard]] time_point now() const noexcept { return clock_.now(); }
  /// The epoll descriptor: readable when run_once(0) has work, so another loop (Asio's)
  /// can host this one. -1 before init().
  [[nodiscard]] int native_handle() const noexcept { return epoll_fd_; }

 private:
  struct watch_slot {
    int fd = -1;
    std::uint32_t generation = 0;
    io_callback callback = nullptr;
    void* context = nullptr;
  };
  struct timer_slot {
    std::uint32_t generation = 0;
    bool pending = false;
    timer_callback callback = nullptr;
    void* context = nullptr;
  };
  struct heap_entry {
    time_point deadline;
    std::uint64_t sequence;  // ties fire in the order they were added
    std::uint32_t slot;
    std::uint32_t generation;
  };
  static bool later(const heap_entry& a, const heap_entry& b) noexcept {
    return a.deadline != b.deadline ? a.deadline > b.deadline : a.sequence > b.sequence;
  }

  [[nodiscard]] watch_slot* find_watch(int fd) noexcept;
  std::size_t run_due_timers() noexcept;
  std::size_t run_deferred() noexcept;
  [[nodiscard]] int poll_timeout_ms(duration max_wait) const noexcept;
  static void on_signal_fd(void* context, std::uint32_t events) noexcept;
  void close_all() noexcept;

  steady_clock clock_{};
  int epoll_fd_ = -1;
  int signal_fd_ = -1;
  signal_callback signal_callback_ = nullptr;
  void* signal_context_ = nullptr;
  bool stopping_ = false;
  std::vector<watch_slot> watches_;
  std::vector<timer_slot> timers_;
  std::vector<std::uint32_t> free_timer_slots_;
  std::vector<heap_entry> heap_;
  std::vector<epoll_event> events_;
  struct deferred_call {
    timer_callback callback;
    void* context;
  };
  std::vector<deferred_call> deferred_;  // capacity max_deferred
  std::vector<deferred_call> running_;   // the calls of the current run_deferred()
  std::uint64_t timer_sequence_ = 0;
};

inline result<void> event_loop::init(const event_loop_options& options) noexcept {
  WEFT_TRY(options.validate());
  if (epoll_fd_ >= 0) return error(core_errc::invalid_argument, "event_loop: init twice");
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) return error(runtime_errc::system_error, "epoll_create1");
  // The only allocations: every table at its capacity, here.
  watches_.resize(options.max_watches);
  timers_.resize(options.max_timers);
  free_timer_slots_.reserve(options.max_timers);
  for (std::size_t i = options.max_timers; i > 0; --i)
    free_timer_slots_.push_back(static_cast<std::uint32_t>(i - 1));
  heap_.reserve(options.max_timers);
  events_.resize(options.max_events_per_poll);
  deferred_.reserve(options.max_deferred);
  running_.reserve(options.max_deferred);
  return ok();
}

inline result<void> event_loop::defer(timer_callback callback, void* context) noexcept {
  if (callback == nullptr) return error(core_errc::invalid_argument, "defer");
  if (deferred_.size() == deferred_.capacity()) return error(runtime_errc::too_many_timers, "defer");
  deferred_.push_back({callback, context});
  return ok();
}

inline void event_loop::cancel_deferred(const void* context) noexcept {
  std::erase_if(deferred_, [context](const deferred_call& call) { return call.context == context; });
  for (deferred_call& call : running_)
    if (call.context == context) call.callback = nullptr;
}

/// Runs the calls deferred so far, and those they defer in turn (bounded: a call that keeps
/// deferring itself waits for the next run_once rather than starving the fds).
inline std::size_t event_loop::run_deferred() noexcept {
  std::size_t ran = 0;
  for (int pass = 0; pass < 4 && !deferred_.empty(); ++pass) {
    running_.assign(deferred_.begin(), deferred_.end());
    deferred_.clear();
    for (std::size_t i = 0; i < running_.size(); ++i) {  // by index: cancel_deferred may edit it
      const deferred_call call = running_[i];
      if (call.callback == nullptr) continue;
      call.callback(call.context);
      ++ran;
    }
  }
  running_.clear();
  return ran;
}

inline event_loop::watch_slot* event_loop::find_watch(int fd) noexcept {
  for (auto& w : watches_)
    if (w.fd == fd) return &w;
  return nullptr;
}

inline result<void> event_loop::watch(int fd, std::uint32_t epoll_events, io_callback callback,
                                      void* context) noexcept {
  if (fd < 0 || callback == nullptr) return error(core_errc::invalid_argument, "watch");
  if (find_watch(fd) != nullptr) return error(core_errc::invalid_argument, "watch: twice");
  watch_slot* slot = find_watch(-1);
  if (slot == nullptr) return error(runtime_errc::too_many_watches, "watch");
  const auto index = static_cast<std::uint64_t>(slot - watches_.data());
  epoll_event ev{};
  ev.events = epoll_events;
  ev.data.u64 = index | (static_cast<std::uint64_t>(slot->generation + 1) << 32);
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0)
    return error(runtime_errc::system_error, "epoll_ctl add");
  slot->fd = fd;
  slot->generation += 1;
  slot->callback = callback;
  slot->context = context;
  return ok();
}

inline result<void> event_loop::modify(int fd, std::uint32_t epoll_events) noexcept {
  watch_slot* slot = find_watch(fd);
  if (slot == nullptr) return error(runtime_errc::not_watched, "modify");
  epoll_event ev{};
  ev.events = epoll_events;
  ev.data.u64 = static_cast<std::uint64_t>(slot - watches_.data()) |
                (static_cast<std::uint64_t>(slot->generation) << 32);
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev) != 0)
    return error(runtime_errc::system_error, "epoll_ctl mod");
  return ok();
}

inline void event_loop::unwatch(int fd) noexcept {
  watch_slot* slot = find_watch(fd);
  if (slot == nullptr) return;
  (void)::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  slot->fd = -1;  // the generation stays, so events already fetched for it are ignored
  slot->callback = nullptr;
  slot->context = nullptr;
}

inline result<timer_id> event_loop::add_timer(duration delay, timer_callback callback,
                                              void* context) noexcept {
  if (callback == nullptr) return error(core_errc::invalid_argument, "add_timer");
  if (free_timer_slots_.empty()) return error(runtime_errc::too_many_timers, "add_timer");
  const std::uint32_t slot = free_timer_slots_.back();
  free_timer_slots_.pop_back();
  timer_slot& t = timers_[slot];
  t.generation += 1;
  t.pending = true;
  t.callback = callback;
  t.context = context;
  heap_.push_back({now() + std::max(delay, duration::zero()), timer_sequence_++, slot,
                   t.generation});
  std::push_heap(heap_.begin(), heap_.end(), &later);
  return timer_id{slot, t.generation};
}

inline void event_loop::cancel_timer(timer_id id) noexcept {
  if (id.slot >= timers_.size()) return;
  timer_slot& t = timers_[id.slot];
  if (!t.pending || t.generation != id.generation) return;
  t.pending = false;  // its heap entry is dropped lazily when it reaches the top
}

inline std::size_t event_loop::run_due_timers() noexcept {
  std::size_t fired = 0;
  const time_point current = now();
  while (!heap_.empty() && heap_.front().deadline <= current) {
    std::pop_heap(heap_.begin(), heap_.end(), &later);
    const heap_entry due = heap_.back();
    heap_.pop_back();
    timer_slot& t = timers_[due.slot];
    const bool live = t.pending && t.generation == due.generation;
    const timer_callback callback = t.callback;
    void* const context = t.context;
    t.pending = false;
    free_timer_slots_.push_back(due.slot);
    if (live) {
      callback(context);
      ++fired;
    }
  }
  return fired;
}

inline int event_loop::poll_timeout_ms(duration max_wait) const noexcept {
  duration wait = std::max(max_wait, duration::zero());
  if (!deferred_.empty()) return 0;
  if (!heap_.empty()) wait = std::min(wait, std::max(heap_.front().deadline - now(), duration::zero()));
  // Round up so that a timer is never polled for just before it is due.
  const auto ms = (wait.count() + 999'999) / 1'000'000;
  return static_cast<int>(std::min<std::int64_t>(ms, 60'000));
}

inline result<std::size_t> event_loop::run_once(duration max_wait) noexcept {
  if (epoll_fd_ < 0) return error(runtime_errc::stopped, "run_once: not initialised");
  const int n = ::epoll_wait(epoll_fd_, events_.data(), static_cast<int>(events_.size()),
                             poll_timeout_ms(max_wait));
  if (n < 0 && errno != EINTR) return error(runtime_errc::system_error, "epoll_wait");
  std::size_t ran = 0;
  for (int i = 0; i < n; ++i) {
    const std::uint64_t data = events_[static_cast<std::size_t>(i)].data.u64;
    const auto index = static_cast<std::size_t>(data & 0xffffffffu);
    const auto generation = static_cast<std::uint32_t>(data >> 32);
    if (index >= watches_.size()) continue;
    const watch_slot& w = watches_[index];
    if (w.fd < 0 || w.generation != generation) continue;  // unwatched during this batch
    w.callback(w.context, events_[static_cast<std::size_t>(i)].events);
    ++ran;
  }
  ran += run_deferred();
  return ran + run_due_timers();
}

inline result<void> event_loop::run() noexcept {
  while (!stopping_) WEFT_TRY(run_once(seconds(1)));
  return ok();
}

inline result<void> event_loop::watch_signals(std::initializer_list<int> signals,
                                              signal_callback callback, void* context) noexcept {
  if (signal_fd_ >= 0) return error(core_errc::invalid_argument, "watch_signals: twice");
  sigset_t set;
  sigemptyset(&set);
  for (int s : signals) sigaddset(&set, s);
  if (::pthread_sigmask(SIG_BLOCK, &set, nullptr) != 0)
    return error(runtime_errc::system_error, "pthread_sigmask");
  signal_fd_ = ::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (signal_fd_ < 0) return error(runtime_errc::system_error, "signalfd");
  signal_callback_ = callback;
  signal_context_ = context;
  return watch(signal_fd_, EPOLLIN, &on_signal_fd, this);
}

inline void event_loop::on_signal_fd(void* context, std::uint32_t) noexcept {
  auto* self = static_cast<event_loop*>(context);
  signalfd_siginfo info{};
  while (::read(self->signal_fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info))
    self->signal_callback_(self->signal_context_, static_cast<int>(info.ssi_signo));
}

inline void event_loop::close_all() noexcept {
  if (signal_fd_ >= 0) ::close(signal_fd_);
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
  signal_fd_ = -1;
  epoll_fd_ = -1;
}

}  // namespace runtime
WEFT_END
