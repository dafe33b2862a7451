// Fuzz the frame codec: the first byte picks a chunk size, the rest is a byte stream fed
// to frame_decoder. Every payload it yields must re-frame (with its trace-context field,
// if any) to the bytes it consumed, and
// scan_frame over the whole stream must agree on the first frame.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "weft/core/bytes.hpp"
#include "weft/wire/frame.hpp"

namespace {
[[noreturn]] void broken() { __builtin_trap(); }
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t chunk = static_cast<std::size_t>(data[0] % 64) + 1;
  const weft::byte_view stream(data + 1, size - 1);
  const weft::wire::frame_options options{.max_payload_size_bytes = 256};

  const auto first = weft::wire::scan_frame(stream, options);
  std::vector<std::uint8_t> storage(weft::wire::frame_header_size_bytes + 256);
  weft::wire::frame_decoder decoder(storage, options);
  std::size_t offset = 0;
  std::size_t frames = 0;
  std::size_t framed_bytes = 0;
  bool failed = false;
  while (offset < stream.size() && !failed) {
    const std::size_t n = chunk < stream.size() - offset ? chunk : stream.size() - offset;
    const auto taken = decoder.feed(stream.subspan(offset, n));
    if (!taken) break;
    offset += *taken;
    for (;;) {
      const auto payload = decoder.next();
      if (!payload) {
        failed = true;
        if (frames == 0 && (first || !(first.error() == payload.error()))) broken();
        break;
      }
      if (!payload->has_value()) break;
      const weft::byte_view got = **payload;
      if (frames == 0 && (!first || !first->complete || !weft::equal_bytes(first->payload, got)))
        broken();
      std::vector<std::uint8_t> reframed(weft::wire::frame_header_size_bytes +
                                         weft::wire::frame_trace_field_size_bytes + got.size());
      const auto written = weft::wire::encode_frame(got, weft::mutable_byte_view(reframed),
                                                    options, decoder.trace());
      if (!written) broken();
      if (!weft::equal_bytes(*written, stream.subspan(framed_bytes, written->size()))) broken();
      framed_bytes += written->size();
      ++frames;
    }
  }
  if (!failed && frames == 0 && first && first->complete) broken();
  return 0;
}
