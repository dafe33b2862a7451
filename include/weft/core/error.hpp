// weft/core/error.hpp - error codes grouped by module, without heap, exceptions or RTTI.
//
// Each module declares `enum class <module>_errc : std::uint16_t` and registers it with
// WEFT_ERROR_DOMAIN; `weft::error` then carries the domain, the code and a static string
// naming where the error was raised. docs/errors.md lists every code.
#pragma once

#include <cstdint>
#include <string_view>
#include <type_traits>

#include "weft/config.hpp"

WEFT_BEGIN

/// A family of error codes: one per module. Compared by address.
struct error_domain {
  std::string_view name;
  std::string_view (*describe)(std::uint16_t code) noexcept;
};

/// Specialised by WEFT_ERROR_DOMAIN for every module's code enum.
template <class E>
struct error_domain_of;

template <class E>
concept error_code_enum = std::is_enum_v<E> && requires { error_domain_of<E>::domain; };

/// A failure: which module, which code, and where it was raised (a static string).
class error {
 public:
  constexpr error() noexcept = default;
  constexpr error(const error_domain& domain, std::uint16_t code, const char* where) noexcept
      : domain_(&domain), code_(code), where_(where) {}

  template <error_code_enum E>
  constexpr error(E code, const char* where = "") noexcept  // NOLINT: implicit by design
      : error(error_domain_of<E>::domain, static_cast<std::uint16_t>(code), where) {}

  [[nodiscard]] constexpr const error_domain& domain() const noexcept { return *domain_; }
  [[nodiscard]] constexpr std::uint16_t code() const noexcept { return code_; }
  [[nodiscard]] constexpr const char* where() const noexcept { return where_; }
  [[nodiscard]] std::string_view message() const noexcept { return domain_->describe(code_); }

  template <error_code_enum E>
  [[nodiscard]] constexpr bool is(E code) const noexcept {
    return domain_ == &error_domain_of<E>::domain && code_ == static_cast<std::uint16_t>(code);
  }

  friend constexpr bool operator==(const error& a, const error& b) noexcept {
    return a.domain_ == b.domain_ && a.code_ == b.code_;
  }

 private:
  static std::string_view describe_generic(std::uint16_t) noexcept { return "unknown error"; }
  static constexpr error_domain unknown_domain_{"unknown", &describe_generic};
  const error_domain* domain_ = &unknown_domain_;
  std::uint16_t code_ = 0;
  const char* where_ = "";
};

template <error_code_enum E>
constexpr bool operator==(const error& a, E code) noexcept {
  return a.is(code);
}

WEFT_END

/// Registers `Enum` (a `std::uint16_t` enum with a `describe(Enum)` function found by ADL)
/// as the error domain `name`. Use at global scope, after the enum and describe().
#define WEFT_ERROR_DOMAIN(Enum, name_literal)                                         \
  WEFT_BEGIN                                                                          \
  template <>                                                                         \
  struct error_domain_of<Enum> {                                                      \
    static std::string_view describe_code(std::uint16_t code) noexcept {              \
      return describe(static_cast<Enum>(code));                                       \
    }                                                                                 \
    static constexpr error_domain domain{name_literal, &describe_code};               \
  };                                                                                  \
  WEFT_END

WEFT_BEGIN
/// Errors of the core vocabulary itself.
enum class core_errc : std::uint16_t {
  ok = 0,
  capacity_exceeded = 1,   // a fixed-capacity container or buffer is full
  out_of_range = 2,        // an index or length is beyond the end
  invalid_argument = 3,    // an argument is outside its documented domain
  invalid_hex = 4,         // a hex string has an odd length or a non-hex digit
  invalid_options = 5,     // an options struct failed validate()
  truncated = 6,           // a reader ran out of bytes
};

constexpr std::string_view describe(core_errc code) noexcept {
  switch (code) {
    case core_errc::ok: return "ok";
    case core_errc::capacity_exceeded: return "capacity exceeded";
    case core_errc::out_of_range: return "out of range";
    case core_errc::invalid_argument: return "invalid argument";
    case core_errc::invalid_hex: return "invalid hex string";
    case core_errc::invalid_options: return "invalid options";
    case core_errc::truncated: return "truncated input";
  }
  return "unknown core error";
}
WEFT_END
WEFT_ERROR_DOMAIN(weft::core_errc, "core")
