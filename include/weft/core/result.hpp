// weft/core/result.hpp - result<T>: a value or a weft::error. No heap, no exceptions.
#pragma once

#include <memory>
#include <new>
#include <type_traits>
#include <utility>

#include "weft/config.hpp"
#include "weft/core/error.hpp"

WEFT_BEGIN

template <class T>
class [[nodiscard]] result {
  static_assert(!std::is_reference_v<T>, "result<T&> is not supported; use a pointer");
  static_assert(!std::is_same_v<std::remove_cv_t<T>, weft::error>, "result<error> is ambiguous");

 public:
  using value_type = T;
  using error_type = weft::error;

  template <class U = T>
    requires std::is_constructible_v<T, U&&> &&
             (!std::is_same_v<std::remove_cvref_t<U>, result>) &&
             (!std::is_same_v<std::remove_cvref_t<U>, error_type>) &&
             (!error_code_enum<std::remove_cvref_t<U>>)
  constexpr result(U&& value) noexcept(std::is_nothrow_constructible_v<T, U&&>)  // NOLINT
      : has_value_(true) {
    std::construct_at(&value_, std::forward<U>(value));
  }
  constexpr result(const error_type& failure) noexcept : has_value_(false) {  // NOLINT
    std::construct_at(&error_, failure);
  }
  template <error_code_enum E>
  constexpr result(E code) noexcept : result(error_type(code)) {}  // NOLINT

  constexpr result(const result& other) noexcept(std::is_nothrow_copy_constructible_v<T>)
      : has_value_(other.has_value_) {
    if (has_value_) std::construct_at(&value_, other.value_);
    else std::construct_at(&error_, other.error_);
  }
  constexpr result(result&& other) noexcept(std::is_nothrow_move_constructible_v<T>)
      : has_value_(other.has_value_) {
    if (has_value_) std::construct_at(&value_, std::move(other.value_));
    else std::construct_at(&error_, other.error_);
  }
  constexpr result& operator=(const result& other) noexcept(
      std::is_nothrow_copy_constructible_v<T>) {
    if (this != &other) {
      destroy();
      has_value_ = other.has_value_;
      if (has_value_) std::construct_at(&value_, other.value_);
      else std::construct_at(&error_, other.error_);
    }
    return *this;
  }
  constexpr result& operator=(result&& other) noexcept(std::is_nothrow_move_constructible_v<T>) {
    if (this != &other) {
      destroy();
      has_value_ = other.has_value_;
      if (has_value_) std::construct_at(&value_, std::move(other.value_));
      else std::construct_at(&error_, other.error_);
    }
    return *this;
  }
  constexpr ~result() { destroy(); }

  [[nodiscard]] constexpr bool has_value() const noexcept { return has_value_; }
  constexpr explicit operator bool() const noexcept { return has_value_; }

  [[nodiscard]] constexpr T& value() & noexcept { WEFT_ASSERT(has_value_); return value_; }
  [[nodiscard]] constexpr const T& value() const& noexcept {
    WEFT_ASSERT(has_value_);
    return value_;
  }
  [[nodiscard]] constexpr T&& value() && noexcept {
    WEFT_ASSERT(has_value_);
    return std::move(value_);
  }
  constexpr T& operator*() & noexcept { return value(); }
  constexpr const T& operator*() const& noexcept { return value(); }
  constexpr T&& operator*() && noexcept { return std::move(*this).value(); }
  constexpr T* operator->() noexcept { return &value(); }
  constexpr const T* operator->() const noexcept { return &value(); }

  [[nodiscard]] constexpr const error_type& error() const noexcept {
    WEFT_ASSERT(!has_value_);
    return error_;
  }

  template <class U>
  [[nodiscard]] constexpr T value_or(U&& fallback) const& noexcept {
    return has_value_ ? value_ : static_cast<T>(std::forward<U>(fallback));
  }

 private:
  constexpr void destroy() noexcept {
    if (has_value_) std::destroy_at(&value_);
  }
  union {
    T value_;
    error_type error_;
  };
  bool has_value_;
};

/// A result that carries no value: success, or an error.
template <>
class [[nodiscard]] result<void> {
 public:
  using value_type = void;
  using error_type = weft::error;
  constexpr result() noexcept = default;
  constexpr result(const error_type& failure) noexcept : error_(failure), failed_(true) {}  // NOLINT
  template <error_code_enum E>
  constexpr result(E code) noexcept : result(error_type(code)) {}  // NOLINT

  [[nodiscard]] constexpr bool has_value() const noexcept { return !failed_; }
  constexpr explicit operator bool() const noexcept { return !failed_; }
  constexpr void value() const noexcept { WEFT_ASSERT(!failed_); }
  [[nodiscard]] constexpr const error_type& error() const noexcept {
    WEFT_ASSERT(failed_);
    return error_;
  }

 private:
  error_type error_{};
  bool failed_ = false;
};

/// The success value of result<void>.
[[nodiscard]] constexpr result<void> ok() noexcept { return {}; }

WEFT_END

#define WEFT_RESULT_CONCAT_(a, b) a##b
#define WEFT_RESULT_CONCAT(a, b) WEFT_RESULT_CONCAT_(a, b)

/// Evaluates `expr` (a result); on failure returns its error from the enclosing function.
#define WEFT_TRY(expr)                                          \
  do {                                                          \
    auto&& weft_try_result_ = (expr);                           \
    if (WEFT_UNLIKELY(!weft_try_result_))                       \
      return weft_try_result_.error();                          \
  } while (0)

/// `WEFT_TRY_ASSIGN(auto x, f());` declares x from the value of f(), or returns its error.
#define WEFT_TRY_ASSIGN(declaration, expr)                                      \
  auto&& WEFT_RESULT_CONCAT(weft_try_r_, __LINE__) = (expr);                    \
  if (WEFT_UNLIKELY(!WEFT_RESULT_CONCAT(weft_try_r_, __LINE__)))                \
    return WEFT_RESULT_CONCAT(weft_try_r_, __LINE__).error();                   \
  declaration = std::move(*WEFT_RESULT_CONCAT(weft_try_r_, __LINE__))
