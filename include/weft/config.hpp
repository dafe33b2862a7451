// weft/config.hpp - the one place for configuration: version, feature detection,
// the ABI namespace and the assertion handler.
#pragma once

#include <atomic>
#include <cstdio>

#define WEFT_VERSION_MAJOR 0
#define WEFT_VERSION_MINOR 1
#define WEFT_VERSION_PATCH 0
#define WEFT_VERSION_STRING "0.1.0"

// User value, otherwise auto-detect.
#ifndef WEFT_USE_EXCEPTIONS
#  if defined(__cpp_exceptions) || defined(__EXCEPTIONS)
#    define WEFT_USE_EXCEPTIONS 1
#  else
#    define WEFT_USE_EXCEPTIONS 0
#  endif
#endif

// Assertions are on unless the user turns them off; they guard internal invariants only,
// never input from outside (that gets a weft::result error).
#ifndef WEFT_ENABLE_ASSERTS
#  define WEFT_ENABLE_ASSERTS 1
#endif

// Configuration is folded into an inline namespace so that two translation units built
// with different settings fail to link instead of silently breaking the ODR.
#define WEFT_ABI_CONCAT_(a, b) a##b
#define WEFT_ABI_CONCAT(a, b) WEFT_ABI_CONCAT_(a, b)
#if WEFT_ENABLE_ASSERTS
#  define WEFT_ABI_NAME WEFT_ABI_CONCAT(v0_1_a, WEFT_USE_EXCEPTIONS)
#else
#  define WEFT_ABI_NAME WEFT_ABI_CONCAT(v0_1_n, WEFT_USE_EXCEPTIONS)
#endif
#define WEFT_BEGIN namespace weft { inline namespace WEFT_ABI_NAME {
#define WEFT_END } }

#if defined(__GNUC__) || defined(__clang__)
#  define WEFT_LIKELY(x) __builtin_expect(!!(x), 1)
#  define WEFT_UNLIKELY(x) __builtin_expect(!!(x), 0)
#  define WEFT_ALWAYS_INLINE inline __attribute__((always_inline))
#  define WEFT_NOINLINE __attribute__((noinline))
#else
#  define WEFT_LIKELY(x) (x)
#  define WEFT_UNLIKELY(x) (x)
#  define WEFT_ALWAYS_INLINE inline
#  define WEFT_NOINLINE
#endif

WEFT_BEGIN

/// Called when an internal invariant does not hold. It must not return normally into weft
/// for production use; test handlers may record and longjmp, or log and trap.
using assert_handler = void (*)(const char* expression, const char* file, int line) noexcept;

namespace detail {
[[noreturn]] inline void default_assert_handler(const char* expression, const char* file,
                                                int line) noexcept {
  std::fprintf(stderr, "weft: internal invariant failed: %s (%s:%d)\n", expression, file, line);
  std::fflush(stderr);
  __builtin_trap();
}
inline std::atomic<assert_handler>& assert_handler_slot() noexcept {
  static std::atomic<assert_handler> slot{&default_assert_handler};
  return slot;
}
WEFT_NOINLINE inline void assert_failed(const char* expression, const char* file,
                                        int line) noexcept {
  assert_handler_slot().load(std::memory_order_acquire)(expression, file, line);
  // A handler that returns leaves a broken invariant behind; stop here all the same.
  __builtin_trap();
}
}  // namespace detail

/// Installs `handler` for failed WEFT_ASSERTs and returns the previous one.
inline assert_handler set_assert_handler(assert_handler handler) noexcept {
  if (handler == nullptr) handler = &detail::default_assert_handler;
  return detail::assert_handler_slot().exchange(handler, std::memory_order_acq_rel);
}

WEFT_END

#if WEFT_ENABLE_ASSERTS
#  define WEFT_ASSERT(condition)                                              \
    do {                                                                      \
      if (WEFT_UNLIKELY(!(condition)))                                        \
        ::weft::detail::assert_failed(#condition, __FILE__, __LINE__);        \
    } while (0)
#else
#  define WEFT_ASSERT(condition) ((void)sizeof(!(condition)))
#endif
