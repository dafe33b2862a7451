// weft/runtime/detail/storage_thread.hpp - the node's storage thread (WAL syncs off the
// event loop) and the bounded queue of ready batches whose messages wait for those syncs.
// weft:hosted (pthreads, eventfd)
#pragma once

#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <utility>
#include <vector>

#include "weft/config.hpp"
#include "weft/consensus/raft/types.hpp"
#include "weft/core/result.hpp"
#include "weft/runtime/errors.hpp"
#include "weft/storage/wal.hpp"
#include "weft/transport/peer_metrics.hpp"

WEFT_BEGIN
namespace runtime::detail {

/// What sync_worker and job_worker share: one thread, the eventfd on which it announces a
/// finished piece of work to the event loop, and the mutex, condition variables and stop
/// flag its serve() loop waits on. start_thread(), stop_thread() and the accessors are for
/// the loop thread; signal_completion() for the worker thread.
class worker_thread {
 public:
  worker_thread(const worker_thread&) = delete;
  worker_thread& operator=(const worker_thread&) = delete;

  [[nodiscard]] bool running() const noexcept { return started_; }
  [[nodiscard]] int completion_fd() const noexcept { return completion_fd_; }

 protected:
  worker_thread() noexcept = default;
  ~worker_thread() = default;  // the derived class stops the thread before its members go

  [[nodiscard]] result<void> start_thread(void* (*run)(void*), void* self, const char* eventfd_failed,
                                          const char* thread_failed) noexcept {
    if (started_) return ok();
    completion_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (completion_fd_ < 0) return error(runtime_errc::system_error, eventfd_failed);
    stopping_ = false;
    if (::pthread_create(&thread_, nullptr, run, self) != 0) {
      ::close(completion_fd_);
      completion_fd_ = -1;
      return error(runtime_errc::system_error, thread_failed);
    }
    started_ = true;
    return ok();
  }

  /// Asks serve() to finish what it was given and return, then joins the thread.
  void stop_thread() noexcept {
    if (!started_) return;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_one();
    ::pthread_join(thread_, nullptr);
    started_ = false;
    ::close(completion_fd_);
    completion_fd_ = -1;
  }

  /// Wakes the event loop; called without mutex_ held. A full counter still wakes it.
  void signal_completion() noexcept {
    const std::uint64_t one = 1;
    (void)!::write(completion_fd_, &one, sizeof one);
  }

  std::mutex mutex_;
  std::condition_variable wake_;  // work waits, or stop
  std::condition_variable idle_;  // a piece of work finished
  bool stopping_ = false;         // under mutex_

 private:
  pthread_t thread_{};
  bool started_ = false;  // loop thread only
  int completion_fd_ = -1;
};

/// One thread that runs the file system's sync() for wal_sync_tickets, newest first: a
/// ticket that arrives while a sync runs replaces any still waiting (one sync then covers
/// them all: group commit across batches). Completion is announced on an eventfd the event
/// loop watches. Threading: request(), wait_idle(), take_completion() and stop() are called
/// from the loop thread only; the worker thread touches nothing but the fields under
/// mutex_ and `FS::sync` (which must be safe to call while the loop writes to the file).
template <class FS>
class sync_worker : public worker_thread {
 public:
  /// What the worker finished since the last take_completion().
  struct completion {
    storage::wal_sync_ticket ticket{};  // the newest ticket synced (file 0: none)
    bool failed = false;
    error failure{};
    std::uint64_t syncs = 0;        // syncs run
    std::int64_t sync_ns = 0;       // their total duration
    std::uint64_t bytes = 0;        // record bytes they covered
  };

  sync_worker() noexcept = default;
  ~sync_worker() { stop(); }

  [[nodiscard]] result<void> start(FS& fs) noexcept {
    if (running()) return ok();
    fs_ = &fs;
    return start_thread(&run, this, "node: storage thread eventfd", "node: storage thread");
  }

  /// Queues a sync of ticket.file (a later ticket replaces one not yet started).
  void request(const storage::wal_sync_ticket& ticket) noexcept {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      waiting_ = ticket;
      has_waiting_ = true;
    }
    wake_.notify_one();
  }

  /// Returns once no sync runs or waits (the loop then owns every file the tickets named).
  void wait_idle() noexcept {
    std::unique_lock<std::mutex> lock(mutex_);
    idle_.wait(lock, [this] { return !has_waiting_ && !busy_; });
  }

  /// Moves out what finished; false when nothing did.
  bool take_completion(completion& out) noexcept {
    std::lock_guard<std::mutex> lock(mutex_);
    if (finished_.syncs == 0 && !finished_.failed) return false;
    out = finished_;
    finished_.syncs = 0;
    finished_.sync_ns = 0;
    finished_.bytes = 0;
    return true;
  }

  /// Finishes what was requested, then joins the thread.
  void stop() noexcept { stop_thread(); }

 private:
  static void* run(void* self) noexcept {
    static_cast<sync_worker*>(self)->serve();
    return nullptr;
  }

  void serve() noexcept {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      wake_.wait(lock, [this] { return has_waiting_ || stopping_; });
      if (!has_waiting_) return;  // stopping, nothing left
      const storage::wal_sync_ticket ticket = waiting_;
      has_waiting_ = false;
      busy_ = true;
      const bool skip = finished_.failed;  // after a failure nothing is durable any more
      lock.unlock();
      const auto before = std::chrono::steady_clock::now();
      const result<void> synced = skip ? result<void>(ok()) : fs_->sync(ticket.file);
      const auto took = std::chrono::steady_clock::now() - before;
      lock.lock();
      busy_ = false;
      if (!skip) record(ticket, synced, std::chrono::duration_cast<std::chrono::nanoseconds>(took).count());
      idle_.notify_all();
      lock.unlock();
      signal_completion();
      lock.lock();
    }
  }

  void record(const storage::wal_sync_ticket& ticket, const result<void>& synced, std::int64_t ns) noexcept {
    if (!synced) {
      finished_.failed = true;
      finished_.failure = synced.error();
      return;
    }
    finished_.ticket = ticket;
    ++finished_.syncs;
    finished_.sync_ns += ns;
    finished_.bytes += ticket.bytes;
  }

  FS* fs_ = nullptr;
  // Under mutex_:
  storage::wal_sync_ticket waiting_{};
  bool has_waiting_ = false;
  bool busy_ = false;
  completion finished_{};
};

/// One thread that runs one job at a time off the loop (the node's snapshot file writes),
/// beside sync_worker so that a long write never holds the WAL's syncs behind it. request(),
/// wait_idle(), take_finished() and stop() are called from the loop thread only; what a
/// job reads and writes belongs to it from request() until take_finished() returns true
/// (the mutex orders the two threads' accesses).
class job_worker : public worker_thread {
 public:
  using job_fn = void (*)(void* context) noexcept;

  job_worker() noexcept = default;
  ~job_worker() { stop(); }

  [[nodiscard]] result<void> start() noexcept {
    return start_thread(&run, this, "node: job thread eventfd", "node: job thread");
  }

  /// Starts `job(context)` on the thread; the caller runs one job at a time.
  void request(job_fn job, void* context) noexcept {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = job;
      context_ = context;
      finished_ = false;
    }
    wake_.notify_one();
  }

  void wait_idle() noexcept {
    std::unique_lock<std::mutex> lock(mutex_);
    idle_.wait(lock, [this] { return job_ == nullptr; });
  }

  /// True once after each job finished.
  bool take_finished() noexcept {
    std::lock_guard<std::mutex> lock(mutex_);
    return std::exchange(finished_, false);
  }

  /// Finishes a job already started, then joins the thread.
  void stop() noexcept { stop_thread(); }

 private:
  static void* run(void* self) noexcept {
    static_cast<job_worker*>(self)->serve();
    return nullptr;
  }

  void serve() noexcept {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      wake_.wait(lock, [this] { return job_ != nullptr || stopping_; });
      if (job_ == nullptr) return;
      const job_fn job = job_;
      void* const context = context_;
      lock.unlock();
      job(context);
      lock.lock();
      job_ = nullptr;
      finished_ = true;
      idle_.notify_all();
      lock.unlock();
      signal_completion();
      lock.lock();
    }
  }

  // Under mutex_:
  job_fn job_ = nullptr;  // the job running or about to
  void* context_ = nullptr;
  bool finished_ = false;
};

/// Ready batches whose WAL records were written but not yet synced, oldest first, with the
/// encoded send_after_persist messages each must hold back until then (docs/raft.md: in
/// submission order). Bounded in batches, messages and bytes (node_options); allocated once.
class held_batches {
 public:
  struct batch {
    std::uint64_t sequence = 0;  // durable once the WAL's durable sequence reaches it
    raft::index_t last_index = 0;
    raft::term_t last_term = 0;
    bool has_entries = false;    // report persisted(last_index, last_term) on release
    std::size_t messages = 0;
  };
  struct message {
    transport::peer_id to = 0;
    std::size_t offset = 0;
    std::size_t size = 0;
  };

  void allocate(std::size_t max_batches, std::size_t max_messages, std::size_t max_bytes) {
    batches_.assign(max_batches, batch{});
    messages_.assign(max_messages, message{});
    bytes_.assign(max_bytes, 0);
    clear();
  }
  void clear() noexcept {
    batch_head_ = batch_count_ = message_head_ = message_count_ = 0;
    byte_head_ = byte_tail_ = 0;
  }
  [[nodiscard]] bool empty() const noexcept { return batch_count_ == 0; }
  [[nodiscard]] bool batches_full() const noexcept { return batch_count_ == batches_.size(); }
  [[nodiscard]] std::size_t size() const noexcept { return batch_count_; }

  /// Opens a batch (the caller checked batches_full()).
  void push_batch(const batch& b) noexcept {
    batches_[(batch_head_ + batch_count_) % batches_.size()] = b;
    batches_[(batch_head_ + batch_count_) % batches_.size()].messages = 0;
    ++batch_count_;
  }

  /// Adds a message to the newest batch; false when no slot or no contiguous room is left.
  [[nodiscard]] bool push_message(transport::peer_id to, byte_view bytes) noexcept {
    if (message_count_ == messages_.size() || bytes.empty()) return false;
    std::size_t at = 0;
    if (!place(bytes.size(), at)) return false;
    std::memcpy(bytes_.data() + at, bytes.data(), bytes.size());
    messages_[(message_head_ + message_count_) % messages_.size()] = {to, at, bytes.size()};
    ++message_count_;
    ++newest().messages;
    return true;
  }

  [[nodiscard]] const batch& oldest() const noexcept { return batches_[batch_head_]; }

  /// Hands the oldest batch's messages to `send(to, bytes)` and drops the batch.
  template <class Send>
  void release_oldest(Send&& send) noexcept {
    const batch b = batches_[batch_head_];
    for (std::size_t i = 0; i < b.messages; ++i) {
      const message& m = messages_[message_head_];
      send(m.to, byte_view(bytes_.data() + m.offset, m.size));
      message_head_ = (message_head_ + 1) % messages_.size();
      --message_count_;
    }
    batch_head_ = (batch_head_ + 1) % batches_.size();
    --batch_count_;
    if (message_count_ == 0) byte_head_ = byte_tail_ = 0;
    else byte_head_ = messages_[message_head_].offset;
  }

 private:
  batch& newest() noexcept { return batches_[(batch_head_ + batch_count_ - 1) % batches_.size()]; }

  // Byte ring: live bytes run from byte_head_ to byte_tail_, wrapping to 0 when a message
  // does not fit before the end (the gap at the end is skipped).
  [[nodiscard]] bool place(std::size_t size, std::size_t& at) noexcept {
    const bool wrapped = message_count_ != 0 && byte_tail_ <= byte_head_;
    if (!wrapped) {
      if (bytes_.size() - byte_tail_ >= size) at = byte_tail_;
      else if (byte_head_ > size || (message_count_ == 0 && bytes_.size() >= size)) at = 0;
      else return false;
    } else {
      if (byte_head_ - byte_tail_ <= size) return false;
      at = byte_tail_;
    }
    byte_tail_ = at + size;
    return true;
  }

  std::vector<batch> batches_;
  std::vector<message> messages_;
  std::vector<std::uint8_t> bytes_;
  std::size_t batch_head_ = 0, batch_count_ = 0;
  std::size_t message_head_ = 0, message_count_ = 0;
  std::size_t byte_head_ = 0, byte_tail_ = 0;
};

}  // namespace runtime::detail
WEFT_END
