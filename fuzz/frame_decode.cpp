// Fuzz the frame codec: the first byte picks a chunk size, the rest is a byte stream fed
// to frame_decoder. Every payload it yields must re-frame (with its trace-context field,
// if any) to the bytes it consumed, and
// scan_frame over the whole stream must agree on the first frame. A second decoder takes
// frames with take() (in place) from the same chunks and must yield the same payloads,
// trace fields and error.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "weft/core/bytes.hpp"
#include "weft/wire/frame.hpp"

namespace {
[[noreturn]] void broken() { __builtin_trap(); }

struct taken_frame {
  std::vector<std::uint8_t> payload;
  std::optional<weft::wire::frame_trace_field> trace;
  bool operator==(const taken_frame&) const = default;
};

taken_frame copy_of(weft::byte_view payload, const weft::wire::frame_trace_field* trace) {
  taken_frame f{std::vector<std::uint8_t>(payload.begin(), payload.end()), std::nullopt};
  if (trace != nullptr) f.trace = *trace;
  return f;
}

/// The frames take() yields from `stream` cut into `chunk`-byte reads, and its error.
std::vector<taken_frame> take_all(weft::byte_view stream, std::size_t chunk,
                                  const weft::wire::frame_options& options,
                                  std::optional<weft::error>& failure) {
  std::vector<std::uint8_t> storage(weft::wire::frame_header_size_bytes + options.max_payload_size_bytes);
  weft::wire::frame_decoder decoder(storage, options);
  std::vector<taken_frame> frames;
  for (std::size_t offset = 0; offset < stream.size(); offset += chunk) {
    weft::byte_view bytes = stream.subspan(offset, chunk < stream.size() - offset ? chunk : stream.size() - offset);
    for (;;) {
      const auto payload = decoder.take(bytes);
      if (!payload) {
        failure = payload.error();
        return frames;
      }
      if (!payload->has_value()) break;
      frames.push_back(copy_of(**payload, decoder.trace()));
    }
    if (!bytes.empty()) broken();  // take() uses every byte it is given
  }
  return frames;
}
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
  std::optional<weft::error> failure;
  std::vector<taken_frame> delivered;
  while (offset < stream.size() && !failed) {
    const std::size_t n = chunk < stream.size() - offset ? chunk : stream.size() - offset;
    const auto taken = decoder.feed(stream.subspan(offset, n));
    if (!taken) break;
    offset += *taken;
    for (;;) {
      const auto payload = decoder.next();
      if (!payload) {
        failed = true;
        failure = payload.error();
        if (frames == 0 && (first || !(first.error() == payload.error()))) broken();
        break;
      }
      if (!payload->has_value()) break;
      const weft::byte_view got = **payload;
      delivered.push_back(copy_of(got, decoder.trace()));
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
  // feed() stops taking bytes after an error, so compare take() only up to that error.
  std::optional<weft::error> take_failure;
  const auto taken = take_all(stream, chunk, options, take_failure);
  if (!(taken == delivered)) broken();
  if (failure.has_value() != take_failure.has_value()) broken();
  if (failure && !(*failure == *take_failure)) broken();
  return 0;
}
