// Stream frames (weft/wire/frame.hpp): layout, incremental decoding, and every error.
#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "weft/core/bytes.hpp"
#include "weft/wire/frame.hpp"

namespace wire = weft::wire;
using wire::frame_errc;

namespace {

// Bit-at-a-time CRC-32C, written independently of weft::crc32c.
std::uint32_t reference_crc32c(const std::vector<std::uint8_t>& bytes) {
  std::uint32_t crc = 0xffffffffu;
  for (const std::uint8_t b : bytes) {
    crc ^= b;
    for (int k = 0; k < 8; ++k) crc = (crc & 1u) ? (crc >> 1) ^ 0x82f63b78u : crc >> 1;
  }
  return ~crc;
}

std::vector<std::uint8_t> frame_of(const std::string& payload, wire::frame_options options = {}) {
  std::vector<std::uint8_t> out(wire::frame_header_size_bytes + payload.size());
  auto written = wire::encode_frame(weft::as_bytes(payload), weft::mutable_byte_view(out), options);
  REQUIRE(written);
  REQUIRE(written->size() == out.size());
  return out;
}

}  // namespace

TEST_CASE("a frame is length, CRC32C over length and payload, payload", "[wire][frame]") {
  CHECK(reference_crc32c({'1', '2', '3', '4', '5', '6', '7', '8', '9'}) == 0xe3069283u);
  const auto frame = frame_of("hello");
  CHECK(weft::to_hex(weft::byte_view(frame).first(4)) == "00000005");
  std::vector<std::uint8_t> covered = {0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o'};
  CHECK(weft::load_be<std::uint32_t>(frame.data() + 4) == reference_crc32c(covered));
  CHECK(weft::as_chars(weft::byte_view(frame).subspan(8)) == "hello");

  const auto scan = wire::scan_frame(frame);
  REQUIRE(scan);
  CHECK(scan->complete);
  CHECK(scan->frame_size_bytes == frame.size());
  CHECK(weft::as_chars(scan->payload) == "hello");
  // Empty payloads are frames too.
  const auto empty = frame_of("");
  CHECK(wire::scan_frame(empty)->complete);
}

TEST_CASE("partial frames wait for more bytes", "[wire][frame]") {
  const auto frame = frame_of("abcdef");
  for (std::size_t cut = 0; cut < frame.size(); ++cut) {
    const auto scan = wire::scan_frame(weft::byte_view(frame).first(cut));
    REQUIRE(scan);
    CHECK_FALSE(scan->complete);
    CHECK(scan->bytes_needed == (cut < 8 ? 8 - cut : frame.size() - cut));
  }
}

TEST_CASE("the incremental decoder yields every payload whatever the chunking",
          "[wire][frame]") {
  const std::vector<std::string> payloads = {"one", "", std::string(300, 'x'), "four"};
  std::vector<std::uint8_t> stream;
  for (const auto& p : payloads) {
    const auto f = frame_of(p);
    stream.insert(stream.end(), f.begin(), f.end());
  }
  for (const std::size_t chunk : {std::size_t{1}, std::size_t{3}, std::size_t{7},
                                  std::size_t{64}, stream.size()}) {
    INFO("chunk " << chunk);
    wire::frame_options options{.max_payload_size_bytes = 512};
    std::vector<std::uint8_t> storage(wire::frame_header_size_bytes + 512);
    wire::frame_decoder decoder(storage, options);
    std::vector<std::string> seen;
    std::size_t offset = 0;
    while (offset < stream.size()) {
      const std::size_t n = std::min(chunk, stream.size() - offset);
      auto taken = decoder.feed(weft::byte_view(stream).subspan(offset, n));
      REQUIRE(taken);
      offset += *taken;
      for (;;) {
        auto payload = decoder.next();
        REQUIRE(payload);
        if (!payload->has_value()) break;
        seen.emplace_back(weft::as_chars(**payload));
      }
    }
    CHECK(seen == payloads);
    CHECK(decoder.finish());
  }
}

TEST_CASE("take() reads whole frames in place and buffers only a frame cut by a read",
          "[wire][frame]") {
  const std::vector<std::string> payloads = {"one", "", std::string(300, 'x'), "four",
                                             std::string(40, 'y')};
  std::vector<std::uint8_t> stream;
  for (const auto& p : payloads) {
    const auto f = frame_of(p);
    stream.insert(stream.end(), f.begin(), f.end());
  }
  wire::frame_trace_field trace{};
  trace[1] = 7;
  trace[17] = 9;
  std::vector<std::uint8_t> traced(wire::frame_header_size_bytes + trace.size() + 5);
  REQUIRE(wire::encode_frame(weft::as_bytes("trace"), weft::mutable_byte_view(traced), {}, &trace));
  stream.insert(stream.end(), traced.begin(), traced.end());
  for (const std::size_t chunk : {std::size_t{1}, std::size_t{3}, std::size_t{7},
                                  std::size_t{64}, std::size_t{100}, stream.size()}) {
    INFO("chunk " << chunk);
    wire::frame_options options{.max_payload_size_bytes = 512};
    std::vector<std::uint8_t> storage(wire::frame_header_size_bytes + 512);
    wire::frame_decoder decoder(storage, options);
    std::vector<std::string> seen;
    std::size_t in_place = 0;
    bool last_traced = false;
    for (std::size_t offset = 0; offset < stream.size(); offset += chunk) {
      weft::byte_view bytes = weft::byte_view(stream).subspan(offset, std::min(chunk, stream.size() - offset));
      const weft::byte_view read = bytes;
      for (;;) {
        auto payload = decoder.take(bytes);
        REQUIRE(payload);
        if (!payload->has_value()) break;
        seen.emplace_back(weft::as_chars(**payload));
        const auto* at = (*payload)->data();
        if (!(*payload)->empty() && at >= read.data() && at < read.data() + read.size()) ++in_place;
        last_traced = decoder.trace() != nullptr && *decoder.trace() == trace;
      }
      CHECK(bytes.empty());  // every byte was delivered or buffered
    }
    std::vector<std::string> expected = payloads;
    expected.emplace_back("trace");
    CHECK(seen == expected);
    CHECK(last_traced);
    CHECK(decoder.finish());
    // In one read every non-empty payload is a view into the read itself.
    if (chunk == stream.size()) CHECK(in_place == expected.size() - 1);
    if (chunk == 1) CHECK(in_place == 0);
  }
}

TEST_CASE("take() refuses what next() refuses, and its errors stick", "[wire][frame]") {
  wire::frame_options options{.max_payload_size_bytes = 16};
  std::vector<std::uint8_t> storage(wire::frame_header_size_bytes + 16);
  const auto frame = frame_of("payload", options);
  auto bad = frame;
  bad.back() ^= 0xff;
  for (const std::size_t cut : {std::size_t{0}, std::size_t{3}, std::size_t{9}}) {
    INFO("cut " << cut);
    wire::frame_decoder decoder(storage, options);
    weft::byte_view head = weft::byte_view(bad).first(cut);
    REQUIRE(decoder.take(head));
    weft::byte_view rest = weft::byte_view(bad).subspan(cut);
    CHECK(decoder.take(rest).error().is(frame_errc::bad_checksum));
    weft::byte_view good = frame;
    CHECK(decoder.take(good).error().is(frame_errc::bad_checksum));  // sticky
  }
  wire::frame_decoder decoder(storage, options);
  std::array<std::uint8_t, 8> oversize{0, 0, 0, 17, 0, 0, 0, 0};
  weft::byte_view header = oversize;
  CHECK(decoder.take(header).error().is(frame_errc::frame_too_large));
  decoder.reset();
  weft::byte_view part = weft::byte_view(frame).first(10);
  REQUIRE(decoder.take(part));
  CHECK(part.empty());
  CHECK(decoder.finish().error().is(frame_errc::truncated));
}

TEST_CASE("frame errors are distinct and sticky", "[wire][frame]") {
  wire::frame_options options{.max_payload_size_bytes = 16};
  // Oversize: refused from the header alone, before any payload arrives.
  std::array<std::uint8_t, 8> header{0, 0, 0, 17, 0, 0, 0, 0};
  CHECK(wire::scan_frame(header, options).error().is(frame_errc::frame_too_large));
  // Corruption anywhere is a checksum mismatch.
  const auto frame = frame_of("payload", options);
  for (std::size_t i = 4; i < frame.size(); ++i) {
    auto bad = frame;
    bad[i] ^= 0x01;
    INFO("flipped byte " << i);
    CHECK(wire::scan_frame(bad, options).error().is(frame_errc::bad_checksum));
  }
  auto shorter = frame;
  shorter[3] = 6;  // a smaller length in range: the CRC covers the length too
  CHECK(wire::scan_frame(shorter, options).error().is(frame_errc::bad_checksum));

  std::vector<std::uint8_t> storage(wire::frame_header_size_bytes + 16);
  wire::frame_decoder decoder(storage, options);
  auto bad = frame;
  bad.back() ^= 0xff;
  REQUIRE(decoder.feed(bad));
  CHECK(decoder.next().error().is(frame_errc::bad_checksum));
  CHECK(decoder.feed(frame).error().is(frame_errc::bad_checksum));  // sticky
  decoder.reset();
  REQUIRE(decoder.feed(weft::byte_view(frame).first(10)));
  CHECK_FALSE(decoder.next()->has_value());
  CHECK(decoder.finish().error().is(frame_errc::truncated));

  // Construction and encoding limits.
  std::vector<std::uint8_t> tiny(10);
  wire::frame_decoder small(tiny, options);
  CHECK(small.feed(frame).error().is(frame_errc::buffer_too_small));
  CHECK(wire::scan_frame(frame, {.max_payload_size_bytes = 0})
            .error()
            .is(frame_errc::invalid_options));
  std::array<std::uint8_t, 10> out{};
  CHECK(wire::encode_frame(weft::as_bytes("0123456789abcdefX"), out, options)
            .error()
            .is(frame_errc::frame_too_large));
  CHECK(wire::encode_frame(weft::as_bytes("0123"), out, options)
            .error()
            .is(frame_errc::buffer_too_small));
}
