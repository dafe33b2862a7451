// weft/core/ring_buffer.hpp - bounded FIFO queues. ring_buffer<T, N> stores its elements
// inline; dynamic_ring<T> allocates its slots once, at construction, from a capacity that
// comes from options. Both refuse a push when full: backpressure, never growth.
#pragma once

#include <cstddef>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

#include "weft/config.hpp"
#include "weft/core/result.hpp"

WEFT_BEGIN

namespace detail {
/// FIFO logic over slots it does not own; shared by every ring flavour.
template <class T>
class ring_core {
 public:
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  [[nodiscard]] bool full() const noexcept { return size_ == capacity_; }

  template <class... Args>
  [[nodiscard]] result<void> emplace_back(Args&&... args) noexcept {
    if (full()) return error(core_errc::capacity_exceeded, "ring_buffer");
    std::construct_at(slot(physical(size_)), std::forward<Args>(args)...);
    ++size_;
    return ok();
  }
  [[nodiscard]] result<void> push_back(const T& v) noexcept { return emplace_back(v); }
  [[nodiscard]] result<void> push_back(T&& v) noexcept { return emplace_back(std::move(v)); }

  void pop_front() noexcept {
    WEFT_ASSERT(size_ > 0);
    std::destroy_at(slot(head_));
    head_ = head_ + 1 == capacity_ ? 0 : head_ + 1;
    --size_;
  }
  void pop_back() noexcept {
    WEFT_ASSERT(size_ > 0);
    std::destroy_at(slot(physical(size_ - 1)));
    --size_;
  }
  void clear() noexcept {
    while (size_ > 0) pop_front();
    head_ = 0;
  }

  T& front() noexcept { return (*this)[0]; }
  const T& front() const noexcept { return (*this)[0]; }
  T& back() noexcept { return (*this)[size_ - 1]; }
  const T& back() const noexcept { return (*this)[size_ - 1]; }
  /// Element `i` counted from the front.
  T& operator[](std::size_t i) noexcept {
    WEFT_ASSERT(i < size_);
    return *slot(physical(i));
  }
  const T& operator[](std::size_t i) const noexcept {
    WEFT_ASSERT(i < size_);
    return *slot(physical(i));
  }

 protected:
  ring_core(T* slots, std::size_t capacity) noexcept : slots_(slots), capacity_(capacity) {}
  ~ring_core() = default;
  void rebind(T* slots) noexcept { slots_ = slots; }

 private:
  [[nodiscard]] std::size_t physical(std::size_t i) const noexcept {
    const std::size_t p = head_ + i;
    return p >= capacity_ ? p - capacity_ : p;
  }
  T* slot(std::size_t p) const noexcept { return std::launder(slots_ + p); }

  T* slots_;
  std::size_t capacity_;
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};
}  // namespace detail

template <class T, std::size_t Capacity>
class ring_buffer : public detail::ring_core<T> {
  static_assert(Capacity > 0, "ring_buffer needs a capacity of at least one element");

 public:
  ring_buffer() noexcept
      : detail::ring_core<T>(reinterpret_cast<T*>(storage_), Capacity) {}
  ring_buffer(const ring_buffer&) = delete;
  ring_buffer& operator=(const ring_buffer&) = delete;
  ~ring_buffer() { this->clear(); }

 private:
  alignas(T) unsigned char storage_[sizeof(T) * Capacity];
};

/// A ring whose capacity is chosen at run time; the one allocation happens in create().
template <class T>
class dynamic_ring : public detail::ring_core<T> {
 public:
  dynamic_ring() noexcept : detail::ring_core<T>(nullptr, 0) {}
  [[nodiscard]] static result<dynamic_ring> create(std::size_t capacity) noexcept {
    if (capacity == 0) return error(core_errc::invalid_argument, "dynamic_ring: capacity 0");
    auto* raw = static_cast<T*>(::operator new(sizeof(T) * capacity, std::align_val_t{alignof(T)},
                                               std::nothrow));
    if (raw == nullptr) return error(core_errc::capacity_exceeded, "dynamic_ring: allocation");
    return dynamic_ring(raw, capacity);
  }
  dynamic_ring(dynamic_ring&& other) noexcept
      : detail::ring_core<T>(other.slots_owned_, other.capacity()) {
    // Moving a ring with elements would need element moves; rings are moved only empty.
    WEFT_ASSERT(other.empty());
    slots_owned_ = other.slots_owned_;
    other.slots_owned_ = nullptr;
  }
  dynamic_ring& operator=(dynamic_ring&&) = delete;
  dynamic_ring(const dynamic_ring&) = delete;
  dynamic_ring& operator=(const dynamic_ring&) = delete;
  ~dynamic_ring() {
    this->clear();
    if (slots_owned_ != nullptr) ::operator delete(slots_owned_, std::align_val_t{alignof(T)});
  }

 private:
  dynamic_ring(T* slots, std::size_t capacity) noexcept
      : detail::ring_core<T>(slots, capacity), slots_owned_(slots) {}
  T* slots_owned_ = nullptr;
};

WEFT_END
