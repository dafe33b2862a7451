// Fuzz the strict CBOR decoder: any bytes either fail with a cbor_errc or decode to a value
// whose deterministic re-encoding is exactly the input (round-trip fuzzing). The typed
// layer and the pull reader's skip path must agree with the value-tree decoder.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "weft/core/static_vector.hpp"
#include "weft/wire/cbor.hpp"
#include "weft/wire/cbor_value.hpp"
#include "weft/wire/diagnostic.hpp"
#include "weft/wire/schema.hpp"

namespace {

struct fuzz_entry {
  std::uint64_t index = 0;
  weft::byte_view payload;
  static constexpr void fields(auto& v, auto& self) {
    v(1, self.index);
    v(2, self.payload);
  }
};

struct fuzz_message {
  std::int64_t term = 0;
  std::optional<std::string_view> name;
  weft::static_vector<fuzz_entry, 4> entries;
  std::optional<double> ratio;
  static constexpr weft::wire::unknown_keys unknown_key_policy = weft::wire::unknown_keys::skip;
  static constexpr void fields(auto& v, auto& self) {
    v(0, self.term);
    v(1, self.name);
    v(2, self.entries);
    v(3, self.ratio);
  }
};

[[noreturn]] void broken() { __builtin_trap(); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const weft::byte_view input(data, size);
  weft::wire::decode_limits limits;
  limits.max_depth = 16;
  limits.max_items = 4096;
  limits.max_string_bytes = 4096;
  limits.max_total_bytes = 1 << 16;

  const auto checked = weft::wire::validate_cbor(input, limits);
  const auto value = weft::wire::decode_value(input, limits);
  if (checked.has_value() != value.has_value()) broken();
  if (value) {
    const auto again = weft::wire::to_cbor(*value);
    if (!again || !weft::equal_bytes(*again, input)) broken();
    const auto diagnostic = weft::wire::to_diagnostic(*value);
    const auto parsed = weft::wire::parse_diagnostic(diagnostic);
    if (!parsed || !(*parsed == *value)) broken();
  } else if (checked.error() != value.error()) {
    broken();
  }

  fuzz_message message;
  if (weft::wire::decode_into(input, message, limits)) {
    if (!checked) broken();  // the typed layer never accepts what the reader refuses
    std::vector<std::uint8_t> buffer(weft::wire::encoded_size(message));
    if (!weft::wire::encode(message, weft::mutable_byte_view(buffer))) broken();
    if (!weft::wire::decode<fuzz_message>(buffer, limits)) broken();
  }
  return 0;
}
