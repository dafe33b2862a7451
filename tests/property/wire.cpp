// Property tests for weft/wire: the CBOR codec round-trips every value, re-encodes every
// input the strict decoder accepts to the same bytes, the typed layer round-trips
// messages, and frames survive any chunking.
#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "weft/core/static_vector.hpp"
#include "weft/wire/cbor.hpp"
#include "weft/wire/cbor_value.hpp"
#include "weft/wire/diagnostic.hpp"
#include "weft/wire/frame.hpp"
#include "weft/wire/schema.hpp"

namespace wire = weft::wire;
using wire::cbor_value;

namespace {

std::vector<std::uint8_t> encode_or_fail(const cbor_value& v) {
  auto bytes = wire::to_cbor(v);
  RC_ASSERT(bytes.has_value());
  return *bytes;
}

std::string random_utf8() {
  const auto count = *rc::gen::inRange<std::size_t>(0, 12);
  std::string out;
  for (std::size_t i = 0; i < count; ++i) {
    std::uint32_t cp = 0;
    switch (*rc::gen::inRange(0, 4)) {
      case 0: cp = *rc::gen::inRange<std::uint32_t>(0, 0x80); break;
      case 1: cp = *rc::gen::inRange<std::uint32_t>(0x80, 0x800); break;
      case 2: cp = *rc::gen::inRange<std::uint32_t>(0x800, 0xd800); break;
      default: cp = *rc::gen::inRange<std::uint32_t>(0x10000, 0x110000); break;
    }
    auto put = [&](std::uint32_t b) { out += static_cast<char>(static_cast<unsigned char>(b)); };
    if (cp < 0x80) put(cp);
    else if (cp < 0x800) { put(0xc0 | (cp >> 6)); put(0x80 | (cp & 0x3f)); }
    else if (cp < 0x10000) { put(0xe0 | (cp >> 12)); put(0x80 | ((cp >> 6) & 0x3f)); put(0x80 | (cp & 0x3f)); }
    else { put(0xf0 | (cp >> 18)); put(0x80 | ((cp >> 12) & 0x3f)); put(0x80 | ((cp >> 6) & 0x3f)); put(0x80 | (cp & 0x3f)); }
  }
  return out;
}

double random_double() {
  switch (*rc::gen::inRange(0, 4)) {
    case 0: return std::bit_cast<double>(*rc::gen::arbitrary<std::uint64_t>());
    case 1: return static_cast<double>(std::bit_cast<float>(*rc::gen::arbitrary<std::uint32_t>()));
    case 2: {  // a half: sign, exponent, mantissa
      const auto half = *rc::gen::arbitrary<std::uint16_t>();
      const auto v = wire::decode_value(std::vector<std::uint8_t>{
          0xf9, static_cast<std::uint8_t>(half >> 8), static_cast<std::uint8_t>(half & 0xff)});
      // Only the canonical NaN half is accepted; the others stand for NaN all the same.
      return v ? v->float_value : std::bit_cast<double>(0x7ff8000000000001ull);
    }
    default: return static_cast<double>(*rc::gen::inRange(-100000, 100000)) / 8.0;
  }
}

std::uint64_t random_argument() {
  const auto bits = *rc::gen::inRange(0, 65);
  if (bits == 0) return 0;
  const auto v = *rc::gen::arbitrary<std::uint64_t>();
  return bits == 64 ? v : v & ((std::uint64_t{1} << bits) - 1);
}

cbor_value random_value(int depth) {
  const int kinds = depth > 0 ? 9 : 6;
  switch (*rc::gen::inRange(0, kinds)) {
    case 0: return cbor_value::from_uint(random_argument());
    case 1: return cbor_value::from_negative(random_argument());
    case 2: return cbor_value::from_bytes(*rc::gen::container<std::vector<std::uint8_t>>(
                *rc::gen::inRange<std::size_t>(0, 40), rc::gen::arbitrary<std::uint8_t>()));
    case 3: return cbor_value::from_text(random_utf8());
    case 4: {
      const auto kind = *rc::gen::inRange(0, 4);
      if (kind == 0) return cbor_value::from_bool(*rc::gen::arbitrary<bool>());
      if (kind == 1) return cbor_value::from_simple(wire::simple_null);
      if (kind == 2) return cbor_value::from_simple(*rc::gen::inRange<std::uint64_t>(0, 24));
      return cbor_value::from_simple(*rc::gen::inRange<std::uint64_t>(32, 256));
    }
    case 5: return cbor_value::from_float(random_double());
    case 6: {
      std::vector<cbor_value> items(*rc::gen::inRange<std::size_t>(0, 5));
      for (auto& item : items) item = random_value(depth - 1);
      return cbor_value::from_array(std::move(items));
    }
    case 7: {
      // Keys distinct by their encoding; any order (the encoder sorts).
      std::vector<cbor_value> children;
      std::vector<std::vector<std::uint8_t>> seen;
      const auto pairs = *rc::gen::inRange<std::size_t>(0, 5);
      for (std::size_t i = 0; i < pairs; ++i) {
        cbor_value key = random_value(depth - 1);
        auto encoded = encode_or_fail(key);
        if (std::find(seen.begin(), seen.end(), encoded) != seen.end()) continue;
        seen.push_back(encoded);
        children.push_back(std::move(key));
        children.push_back(random_value(depth - 1));
      }
      return cbor_value::from_map(std::move(children));
    }
    default: return cbor_value::from_tag(random_argument(), random_value(depth - 1));
  }
}

/// The same value with every map's pairs in deterministic (encoded key) order.
cbor_value sorted(const cbor_value& v) {
  cbor_value out = v;
  for (auto& child : out.children) child = sorted(child);
  if (out.type != wire::cbor_type::map) return out;
  std::vector<std::pair<std::vector<std::uint8_t>, std::size_t>> order;
  for (std::size_t i = 0; i < out.children.size(); i += 2)
    order.emplace_back(*wire::to_cbor(out.children[i]), i);
  std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    // bytewise, then shorter first (a hand loop: g++ 12 warns falsely on vector operator<)
    for (std::size_t k = 0; k < a.first.size() && k < b.first.size(); ++k)
      if (a.first[k] != b.first[k]) return a.first[k] < b.first[k];
    return a.first.size() < b.first.size();
  });
  std::vector<cbor_value> children;
  for (const auto& [key, i] : order) {
    children.push_back(out.children[i]);
    children.push_back(out.children[i + 1]);
  }
  out.children = std::move(children);
  return out;
}

struct sample_entry {
  std::uint64_t index = 0;
  weft::static_vector<std::uint8_t, 16> payload;
  static constexpr void fields(auto& v, auto& self) {
    v(1, self.index);
    v(2, self.payload);
  }
  friend bool operator==(const sample_entry&, const sample_entry&) = default;
};

struct sample_message {
  std::uint64_t term = 0;
  std::int64_t offset = 0;
  bool flag = false;
  std::optional<std::int16_t> small;
  weft::static_vector<sample_entry, 8> entries;
  std::optional<double> ratio;
  std::string name;
  static constexpr void fields(auto& v, auto& self) {
    v(0, self.term);
    v(1, self.offset);
    v(2, self.flag);
    v(3, self.small);
    v(4, self.entries);
    v(5, self.ratio);
    v(-1, self.name);
  }
};

}  // namespace

TEST_CASE("cbor value trees round-trip", "[wire][cbor][property]") {
  rc::prop("decode(encode(v)) == v, with maps in key order", [] {
    const cbor_value v = random_value(*rc::gen::inRange(0, 4));
    const auto bytes = encode_or_fail(v);
    const auto back = wire::decode_value(bytes);
    RC_ASSERT(back.has_value());
    RC_ASSERT(*back == sorted(v));
    RC_ASSERT(encode_or_fail(*back) == bytes);
  });
  rc::prop("diagnostic notation round-trips", [] {
    const cbor_value v = sorted(random_value(*rc::gen::inRange(0, 4)));
    const auto parsed = wire::parse_diagnostic(wire::to_diagnostic(v));
    RC_ASSERT(parsed.has_value());
    RC_ASSERT(encode_or_fail(*parsed) == encode_or_fail(v));
  });
}

TEST_CASE("every input the strict decoder accepts re-encodes to itself",
          "[wire][cbor][property]") {
  rc::prop("random bytes", [](const std::vector<std::uint8_t>& input) {
    const auto decoded = wire::decode_value(input);
    if (!decoded) return;  // rejected inputs carry a code; nothing more to check
    RC_ASSERT(encode_or_fail(*decoded) == input);
  });
  rc::prop("mutated valid encodings", [] {
    auto bytes = encode_or_fail(random_value(3));
    const auto flips = *rc::gen::inRange(1, 4);
    for (int i = 0; i < flips; ++i) {
      const auto at = *rc::gen::inRange<std::size_t>(0, bytes.size());
      bytes[at] = *rc::gen::arbitrary<std::uint8_t>();
    }
    const auto decoded = wire::decode_value(bytes);
    if (decoded) {
      RC_ASSERT(encode_or_fail(*decoded) == bytes);
    } else {
      RC_ASSERT(!wire::validate_cbor(bytes).has_value());
    }
  });
}

TEST_CASE("typed messages round-trip", "[wire][schema][property]") {
  rc::prop("decode<T>(encode(m)) == m", [] {
    sample_message m;
    m.term = *rc::gen::arbitrary<std::uint64_t>();
    m.offset = *rc::gen::arbitrary<std::int64_t>();
    m.flag = *rc::gen::arbitrary<bool>();
    if (*rc::gen::arbitrary<bool>()) m.small = *rc::gen::arbitrary<std::int16_t>();
    const auto count = *rc::gen::inRange<std::size_t>(0, 9);
    for (std::size_t i = 0; i < count; ++i) {
      sample_entry e;
      e.index = *rc::gen::arbitrary<std::uint64_t>();
      const auto size = *rc::gen::inRange<std::size_t>(0, 17);
      for (std::size_t k = 0; k < size; ++k) (void)e.payload.push_back(*rc::gen::arbitrary<std::uint8_t>());
      (void)m.entries.push_back(e);
    }
    if (*rc::gen::arbitrary<bool>()) m.ratio = static_cast<double>(*rc::gen::arbitrary<std::int32_t>()) / 4.0;
    m.name = random_utf8();

    std::vector<std::uint8_t> buffer(wire::encoded_size(m));
    const auto bytes = wire::encode(m, weft::mutable_byte_view(buffer));
    RC_ASSERT(bytes.has_value());
    RC_ASSERT(bytes->size() == buffer.size());
    RC_ASSERT(wire::validate_cbor(*bytes).has_value());
    const auto back = wire::decode<sample_message>(*bytes);
    RC_ASSERT(back.has_value());
    RC_ASSERT(back->term == m.term);
    RC_ASSERT(back->offset == m.offset);
    RC_ASSERT(back->flag == m.flag);
    RC_ASSERT(back->small == m.small);
    RC_ASSERT(back->entries == m.entries);
    RC_ASSERT(back->ratio == m.ratio);
    RC_ASSERT(back->name == m.name);
    // The generic tree agrees with the typed layer on the bytes.
    RC_ASSERT(encode_or_fail(*wire::decode_value(*bytes)) ==
              std::vector<std::uint8_t>(bytes->begin(), bytes->end()));
  });
}

TEST_CASE("frames survive any chunking", "[wire][frame][property]") {
  rc::prop("payloads come back in order", [](const std::vector<std::vector<std::uint8_t>>& payloads) {
    wire::frame_options options{.max_payload_size_bytes = 4096};
    std::vector<std::uint8_t> stream;
    std::vector<std::vector<std::uint8_t>> sent;
    for (const auto& p : payloads) {
      if (p.size() > options.max_payload_size_bytes) continue;
      std::vector<std::uint8_t> frame(wire::frame_header_size_bytes + p.size());
      RC_ASSERT(wire::encode_frame(p, weft::mutable_byte_view(frame), options).has_value());
      stream.insert(stream.end(), frame.begin(), frame.end());
      sent.push_back(p);
    }
    std::vector<std::uint8_t> storage(wire::frame_header_size_bytes + 4096);
    wire::frame_decoder decoder(storage, options);
    std::vector<std::vector<std::uint8_t>> received;
    std::size_t offset = 0;
    while (offset < stream.size()) {
      const auto chunk = *rc::gen::inRange<std::size_t>(1, 200);
      const auto n = std::min(chunk, stream.size() - offset);
      const auto taken = decoder.feed(weft::byte_view(stream).subspan(offset, n));
      RC_ASSERT(taken.has_value());
      offset += *taken;
      for (;;) {
        auto payload = decoder.next();
        RC_ASSERT(payload.has_value());
        if (!payload->has_value()) break;
        received.emplace_back((*payload)->begin(), (*payload)->end());
      }
    }
    RC_ASSERT(received == sent);
    RC_ASSERT(decoder.finish().has_value());
  });
}
