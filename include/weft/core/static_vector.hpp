// weft/core/static_vector.hpp - a vector with its capacity fixed at compile time and its
// elements stored inline: never allocates. A full vector refuses with an error.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

#include "weft/config.hpp"
#include "weft/core/result.hpp"

WEFT_BEGIN

template <class T, std::size_t Capacity>
class static_vector {
  static_assert(Capacity > 0, "static_vector needs a capacity of at least one element");

 public:
  using value_type = T;
  using size_type = std::size_t;
  using iterator = T*;
  using const_iterator = const T*;

  constexpr static_vector() noexcept = default;
  static_vector(const static_vector& other) noexcept(std::is_nothrow_copy_constructible_v<T>) {
    for (const T& v : other) std::construct_at(slot(size_++), v);
  }
  static_vector(static_vector&& other) noexcept(std::is_nothrow_move_constructible_v<T>) {
    for (T& v : other) std::construct_at(slot(size_++), std::move(v));
    other.clear();
  }
  static_vector& operator=(const static_vector& other) noexcept(
      std::is_nothrow_copy_constructible_v<T>) {
    if (this != &other) {
      clear();
      for (const T& v : other) std::construct_at(slot(size_++), v);
    }
    return *this;
  }
  static_vector& operator=(static_vector&& other) noexcept(
      std::is_nothrow_move_constructible_v<T>) {
    if (this != &other) {
      clear();
      for (T& v : other) std::construct_at(slot(size_++), std::move(v));
      other.clear();
    }
    return *this;
  }
  ~static_vector() { clear(); }

  [[nodiscard]] static constexpr size_type capacity() noexcept { return Capacity; }
  [[nodiscard]] size_type size() const noexcept { return size_; }
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  [[nodiscard]] bool full() const noexcept { return size_ == Capacity; }

  template <class... Args>
  [[nodiscard]] result<void> emplace_back(Args&&... args) noexcept {
    if (full()) return error(core_errc::capacity_exceeded, "static_vector");
    std::construct_at(slot(size_), std::forward<Args>(args)...);
    ++size_;
    return ok();
  }
  [[nodiscard]] result<void> push_back(const T& v) noexcept { return emplace_back(v); }
  [[nodiscard]] result<void> push_back(T&& v) noexcept { return emplace_back(std::move(v)); }

  void pop_back() noexcept {
    WEFT_ASSERT(size_ > 0);
    std::destroy_at(slot(--size_));
  }
  void clear() noexcept {
    while (size_ > 0) std::destroy_at(slot(--size_));
  }
  /// Shrinks to `count` elements; never grows.
  void truncate(size_type count) noexcept {
    while (size_ > count) std::destroy_at(slot(--size_));
  }
  /// Removes the element at `it`, keeping order. Returns the iterator after it.
  iterator erase(const_iterator it) noexcept {
    const auto index = static_cast<size_type>(it - begin());
    WEFT_ASSERT(index < size_);
    for (size_type i = index; i + 1 < size_; ++i) *slot(i) = std::move(*slot(i + 1));
    pop_back();
    return begin() + index;
  }

  T& operator[](size_type i) noexcept { WEFT_ASSERT(i < size_); return *slot(i); }
  const T& operator[](size_type i) const noexcept { WEFT_ASSERT(i < size_); return *slot(i); }
  T& front() noexcept { return (*this)[0]; }
  const T& front() const noexcept { return (*this)[0]; }
  T& back() noexcept { return (*this)[size_ - 1]; }
  const T& back() const noexcept { return (*this)[size_ - 1]; }
  T* data() noexcept { return slot(0); }
  const T* data() const noexcept { return slot(0); }

  iterator begin() noexcept { return slot(0); }
  iterator end() noexcept { return slot(size_); }
  const_iterator begin() const noexcept { return slot(0); }
  const_iterator end() const noexcept { return slot(size_); }

  friend bool operator==(const static_vector& a, const static_vector& b) noexcept {
    if (a.size_ != b.size_) return false;
    for (size_type i = 0; i < a.size_; ++i)
      if (!(a[i] == b[i])) return false;
    return true;
  }

 private:
  T* slot(size_type i) noexcept { return std::launder(reinterpret_cast<T*>(storage_)) + i; }
  const T* slot(size_type i) const noexcept {
    return std::launder(reinterpret_cast<const T*>(storage_)) + i;
  }
  alignas(T) unsigned char storage_[sizeof(T) * Capacity];
  size_type size_ = 0;
};

WEFT_END
