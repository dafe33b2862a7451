// Fuzz the binary log stream decoder and the trace-context parsers. The first byte picks:
//   0: the rest is a raw stream for decode_log_stream (frames rarely survive the CRC);
//   1: the rest is split into payloads (a length byte each) that are framed with a correct
//      CRC first, so that the record decoders (callsite, event, dropped) see them;
//   2: the rest is a traceparent header value; 3: the rest is a binary trace context.
// Checks: every problem lies inside the stream, counts add up, each decoded event formats,
// and whatever parses formats back to the same bytes (round trip).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "weft/core/bytes.hpp"
#include "weft/telemetry/binary_log.hpp"
#include "weft/telemetry/trace.hpp"

namespace wt = weft::telemetry;

namespace {
[[noreturn]] void broken() { __builtin_trap(); }

struct checking_visitor {
  std::size_t stream_bytes = 0;
  std::size_t events = 0, problems = 0;
  std::uint64_t dropped = 0;
  std::string line;
  void on_event(const wt::decoded_event& e) {
    ++events;
    line.clear();
    wt::string_output out(line);
    wt::format_decoded_event(out, e);
    if (line.empty() || line.back() != '\n') broken();
    if (line.find('\n') != line.size() - 1) broken();  // one line per event, always
  }
  void on_dropped(std::uint64_t n) { dropped += n; }
  void on_problem(const wt::decode_problem& p) {
    ++problems;
    if (p.length_bytes == 0 || p.offset > stream_bytes ||
        p.length_bytes > stream_bytes - p.offset)
      broken();
  }
};

void decode_and_check(weft::byte_view stream) {
  std::vector<wt::decoded_callsite> table(64);
  checking_visitor v;
  v.stream_bytes = stream.size();
  const wt::decode_summary s = wt::decode_log_stream(stream, table, v);
  if (s.events != v.events || s.problems != v.problems || s.dropped_by_writer != v.dropped)
    broken();
  if (s.skipped_bytes > stream.size() || s.events > s.frames_ok) broken();
  if (s.frames_ok * wt::frame_overhead_bytes + s.skipped_bytes > stream.size()) broken();
  if (s.crc_bytes > stream.size()) broken();  // each byte hashed at most once: linear work
}

// Frames each piece of `rest` (length byte, then that many bytes) with a valid CRC.
std::vector<std::uint8_t> frame_pieces(weft::byte_view rest) {
  std::vector<std::uint8_t> stream;
  std::size_t at = 0;
  while (at < rest.size()) {
    const std::size_t want = rest[at++];
    const std::size_t n = want < rest.size() - at ? want : rest.size() - at;
    if (n == 0) break;  // an empty payload is not a frame the writer makes
    const std::size_t start = stream.size();
    stream.resize(start + n + wt::frame_overhead_bytes);
    for (std::size_t i = 0; i < n; ++i) stream[start + 4 + i] = rest[at + i];
    wt::detail::seal_frame(stream.data() + start, n);
    at += n;
  }
  return stream;
}

void traceparent_round_trip(std::string_view text) {
  const auto parsed = wt::parse_traceparent(text);
  if (!parsed) return;
  if (!parsed->valid()) broken();
  const auto formatted = wt::format_traceparent(*parsed);
  const std::string_view again(formatted.data(), formatted.size());
  const auto reparsed = wt::parse_traceparent(again);
  if (!reparsed || reparsed->trace != parsed->trace || reparsed->span != parsed->span ||
      reparsed->flags != parsed->flags)
    broken();
  // Version 00 is accepted only in its exact lowercase form, so it formats back verbatim.
  if (text.substr(0, 2) == "00" && again != text) broken();
}

void binary_context_round_trip(weft::byte_view bytes) {
  weft::byte_reader in(bytes);
  const auto decoded = wt::decode_trace_context(in);
  if (!decoded) return;
  std::uint8_t buffer[wt::trace_context_binary_size];
  weft::byte_writer out{weft::mutable_byte_view(buffer)};
  if (!wt::encode_trace_context(*decoded, out) || out.size() != sizeof buffer) broken();
  for (std::size_t i = 0; i < sizeof buffer; ++i)
    if (buffer[i] != bytes[i]) broken();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const weft::byte_view rest(data + 1, size - 1);
  switch (data[0] % 4) {
    case 0: decode_and_check(rest); break;
    case 1: {
      const auto stream = frame_pieces(rest);
      decode_and_check(stream);
      break;
    }
    case 2:
      traceparent_round_trip(std::string_view(reinterpret_cast<const char*>(rest.data()), rest.size()));
      break;
    default: binary_context_round_trip(rest); break;
  }
  return 0;
}
