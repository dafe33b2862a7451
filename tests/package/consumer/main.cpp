// A downstream program: uses weft through find_package, add_subdirectory or the single
// header, and checks a few results so that a broken package fails loudly.
#ifdef WEFT_CONSUMER_SINGLE_HEADER
#include <weft/weft.hpp>  // resolved from single_include/ only
#else
#include <weft/weft.hpp>
#endif

#include <cstdio>

namespace {
weft::result<int> parse_digit(char c) noexcept {
  if (c < '0' || c > '9') return weft::error(weft::core_errc::invalid_argument, "parse_digit");
  return c - '0';
}
weft::result<int> sum_digits(const char* text) noexcept {
  int sum = 0;
  for (; *text != '\0'; ++text) {
    WEFT_TRY_ASSIGN(const int digit, parse_digit(*text));
    sum += digit;
  }
  return sum;
}
}  // namespace

int main() {
  const auto good = sum_digits("12345");
  const auto bad = sum_digits("12x45");
  // CRC-32C check value from RFC 3720 (iSCSI): "123456789" -> 0xE3069283.
  const auto crc = weft::crc32c(weft::as_bytes("123456789"));
  if (!good || *good != 15 || bad || !bad.error().is(weft::core_errc::invalid_argument) ||
      crc != 0xE3069283u) {
    std::puts("consumer: FAILED");
    return 1;
  }
  std::printf("consumer: weft %s works (crc32c=%08x)\n", WEFT_VERSION_STRING, crc);
  return 0;
}
