// weft/wire/frame.hpp - stream framing: a big-endian u32 body length, a big-endian u32
// CRC32C over the length bytes and the body, then the body: the payload, preceded by an
// optional W3C trace-context field when bit 31 of the length word is set. A maximum size
// bounds every body; the incremental decoder works in caller memory and never allocates.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

#include "weft/config.hpp"
#include "weft/core/bytes.hpp"
#include "weft/core/crc32c.hpp"
#include "weft/core/endian.hpp"
#include "weft/core/result.hpp"

WEFT_BEGIN
namespace wire {

enum class frame_errc : std::uint16_t {
  ok = 0,
  frame_too_large = 1,   // the header announces more than max_payload_size_bytes
  bad_checksum = 2,      // the CRC32C does not match the length and payload
  buffer_too_small = 3,  // the output (encode) or the decoder's storage cannot hold a frame
  invalid_options = 4,   // frame_options::validate() failed
  truncated = 5,         // the stream ended inside a frame
  bad_trace_field = 6,   // the trace-context field is short, of an unknown version, or zero
};

constexpr std::string_view describe(frame_errc code) noexcept {
  switch (code) {
    case frame_errc::ok: return "ok";
    case frame_errc::frame_too_large: return "frame larger than the maximum payload size";
    case frame_errc::bad_checksum: return "frame checksum mismatch";
    case frame_errc::buffer_too_small: return "buffer too small for the frame";
    case frame_errc::invalid_options: return "invalid frame options";
    case frame_errc::truncated: return "stream ended inside a frame";
    case frame_errc::bad_trace_field: return "bad trace-context field in a frame";
  }
  return "unknown frame error";
}

}  // namespace wire
WEFT_END

WEFT_ERROR_DOMAIN(weft::wire::frame_errc, "frame")

WEFT_BEGIN
namespace wire {

/// Bytes before the body: length word (4) and CRC32C (4).
inline constexpr std::size_t frame_header_size_bytes = 8;

/// Length word bit 31: the body starts with a trace-context field (frame_trace_field).
/// Decoders that predate it see a length above any maximum and refuse the frame.
inline constexpr std::uint32_t frame_trace_flag = 0x80000000u;
/// W3C Trace Context in binary form: version (0), trace id (16), span id (8), flags (1).
/// Carried opaquely here (weft/telemetry/trace.hpp converts); decoded strictly: version 0
/// only, trace id and span id not all zero.
inline constexpr std::size_t frame_trace_field_size_bytes = 26;
using frame_trace_field = std::array<std::uint8_t, frame_trace_field_size_bytes>;

/// The body (trace field, when present, plus payload) is bounded by max_payload_size_bytes,
/// so a decoder's storage is header + max_payload_size_bytes with or without the field.
struct frame_options {
  std::size_t max_payload_size_bytes = 1u << 20;

  [[nodiscard]] constexpr result<void> validate() const noexcept {
    if (max_payload_size_bytes == 0 || max_payload_size_bytes >= frame_trace_flag)
      return error(frame_errc::invalid_options, "frame_options.max_payload_size_bytes");
    return ok();
  }
};

namespace detail {
[[nodiscard]] inline std::uint32_t frame_checksum(const std::uint8_t* length_bytes,
                                                  byte_view payload) noexcept {
  return crc32c_extend(crc32c(byte_view(length_bytes, 4)), payload);
}
[[nodiscard]] inline bool valid_trace_field(byte_view field) noexcept {
  bool trace_nonzero = false, span_nonzero = false;
  for (std::size_t i = 1; i < 17; ++i) trace_nonzero = trace_nonzero || field[i] != 0;
  for (std::size_t i = 17; i < 25; ++i) span_nonzero = span_nonzero || field[i] != 0;
  return field[0] == 0 && trace_nonzero && span_nonzero;
}
}  // namespace detail

/// Appends one frame holding `payload` to `out`, with a trace-context field when `trace`
/// is given (it must be valid: version 0, non-zero ids).
inline result<void> encode_frame(byte_view payload, byte_writer& out,
                                 const frame_options& options = {},
                                 const frame_trace_field* trace = nullptr) noexcept {
  WEFT_TRY(options.validate());
  const byte_view field = trace != nullptr ? byte_view(*trace) : byte_view{};
  if (trace != nullptr && !detail::valid_trace_field(field))
    return error(frame_errc::bad_trace_field, "encode_frame");
  const std::size_t body = field.size() + payload.size();
  if (body > options.max_payload_size_bytes)
    return error(frame_errc::frame_too_large, "encode_frame");
  if (out.remaining() < frame_header_size_bytes + body)
    return error(frame_errc::buffer_too_small, "encode_frame");
  std::uint8_t header[frame_header_size_bytes];
  const std::uint32_t flag = trace != nullptr ? frame_trace_flag : 0;
  store_be<std::uint32_t>(header, static_cast<std::uint32_t>(body) | flag);
  const std::uint32_t crc = crc32c_extend(detail::frame_checksum(header, field), payload);
  store_be<std::uint32_t>(header + 4, crc);
  (void)out.put(byte_view(header, frame_header_size_bytes));  // room checked above
  (void)out.put(field);
  (void)out.put(payload);
  return ok();
}

/// Writes one frame at the start of `out`; returns the frame's bytes.
inline result<byte_view> encode_frame(byte_view payload, mutable_byte_view out,
                                      const frame_options& options = {},
                                      const frame_trace_field* trace = nullptr) noexcept {
  byte_writer writer(out);
  WEFT_TRY(encode_frame(payload, writer, options, trace));
  return writer.written();
}

/// What the bytes received so far hold.
struct frame_scan {
  bool complete = false;
  byte_view payload{};               // complete: the payload, a view into the scanned bytes
  std::size_t frame_size_bytes = 0;  // complete: header + payload, the bytes to consume
  std::size_t bytes_needed = 0;      // incomplete: at least this many more bytes
  bool has_trace = false;            // complete: the frame carried a trace-context field
  frame_trace_field trace{};         // complete and has_trace: that field
};

/// Looks for one frame at the start of `buffered`. An oversize length is refused as soon
/// as the header is in, before waiting for (or buffering) its payload.
[[nodiscard]] inline result<frame_scan> scan_frame(byte_view buffered,
                                                   const frame_options& options = {}) noexcept {
  WEFT_TRY(options.validate());
  frame_scan scan;
  if (buffered.size() < frame_header_size_bytes) {
    scan.bytes_needed = frame_header_size_bytes - buffered.size();
    return scan;
  }
  const std::uint32_t word = load_be<std::uint32_t>(buffered.data());
  const bool has_trace = (word & frame_trace_flag) != 0;
  const std::uint32_t length = word & ~frame_trace_flag;
  if (length > options.max_payload_size_bytes)
    return error(frame_errc::frame_too_large, "scan_frame");
  if (has_trace && length < frame_trace_field_size_bytes)
    return error(frame_errc::bad_trace_field, "scan_frame: short");
  const std::size_t total = frame_header_size_bytes + length;
  if (buffered.size() < total) {
    scan.bytes_needed = total - buffered.size();
    return scan;
  }
  const byte_view body = buffered.subspan(frame_header_size_bytes, length);
  const std::uint32_t expected = load_be<std::uint32_t>(buffered.data() + 4);
  if (detail::frame_checksum(buffered.data(), body) != expected)
    return error(frame_errc::bad_checksum, "scan_frame");
  const std::size_t field_size = has_trace ? frame_trace_field_size_bytes : 0;
  if (has_trace) {
    if (!detail::valid_trace_field(body.first(field_size)))
      return error(frame_errc::bad_trace_field, "scan_frame");
    std::memcpy(scan.trace.data(), body.data(), field_size);
  }
  scan.complete = true;
  scan.has_trace = has_trace;
  scan.payload = body.subspan(field_size);
  scan.frame_size_bytes = total;
  return scan;
}

/// Incremental decoder over caller-provided storage (at least header + max payload bytes).
/// feed() what the stream delivered, then call next() until it yields nothing; or take()
/// frames straight out of what the stream delivered. A payload view stays valid until the
/// next feed(), take() or reset(). Errors are sticky until reset().
class frame_decoder {
 public:
  frame_decoder(mutable_byte_view storage, const frame_options& options = {}) noexcept
      : storage_(storage), options_(options) {
    if (auto valid = options.validate(); !valid) fail(valid.error());
    else if (storage.size() < frame_header_size_bytes + options.max_payload_size_bytes)
      fail(error(frame_errc::buffer_too_small, "frame_decoder storage"));
  }

  /// Copies as much of `bytes` as fits; returns how many were taken. Take frames with
  /// next() and feed the rest again.
  result<std::size_t> feed(byte_view bytes) noexcept {
    if (failed_) return failure_;
    compact();
    const std::size_t room = storage_.size() - filled_;
    const std::size_t taken = bytes.size() < room ? bytes.size() : room;
    if (taken > 0) std::memcpy(storage_.data() + filled_, bytes.data(), taken);
    filled_ += taken;
    return taken;
  }

  /// The next complete payload, or nothing when more bytes are needed.
  result<std::optional<byte_view>> next() noexcept {
    if (failed_) return failure_;
    auto scan = scan_frame(buffered(), options_);
    if (!scan) {
      fail(scan.error());
      return scan.error();
    }
    if (!scan->complete) return std::optional<byte_view>{};
    consumed_ += scan->frame_size_bytes;
    has_trace_ = scan->has_trace;
    trace_ = scan->trace;
    return std::optional<byte_view>{scan->payload};
  }

  /// Takes the next frame from the front of `bytes` and advances `bytes` past what it
  /// used. With nothing buffered, a whole frame is returned as a view into `bytes` (no
  /// copy); only a frame cut by the end of `bytes` is buffered, and then only the bytes it
  /// lacks are copied, so the frames after it are again read in place. Nothing is returned
  /// once `bytes` is used up. The view stays valid until the next take(), feed() or
  /// reset() (and, when it points into `bytes`, as long as those bytes do).
  result<std::optional<byte_view>> take(byte_view& bytes) noexcept {
    if (failed_) return failure_;
    if (buffered_bytes() == 0) {
      filled_ = consumed_ = 0;
      if (bytes.empty()) return std::optional<byte_view>{};
      auto scan = scan_frame(bytes, options_);
      if (!scan) return fail_scan(scan.error());
      if (scan->complete) {
        bytes = bytes.subspan(scan->frame_size_bytes);
        return std::optional<byte_view>{accept(*scan)};
      }
      // Shorter than its frame, which the storage holds whole (scan_frame checked the size).
      std::memcpy(storage_.data(), bytes.data(), bytes.size());
      filled_ = bytes.size();
      bytes = {};
      return std::optional<byte_view>{};
    }
    compact();
    for (;;) {
      auto scan = scan_frame(buffered(), options_);
      if (!scan) return fail_scan(scan.error());
      if (scan->complete) {
        consumed_ += scan->frame_size_bytes;
        return std::optional<byte_view>{accept(*scan)};
      }
      if (bytes.empty()) return std::optional<byte_view>{};
      const std::size_t taken = scan->bytes_needed < bytes.size() ? scan->bytes_needed : bytes.size();
      std::memcpy(storage_.data() + filled_, bytes.data(), taken);
      filled_ += taken;
      bytes = bytes.subspan(taken);
    }
  }

  /// The trace-context field of the payload next() or take() last returned, or null.
  [[nodiscard]] const frame_trace_field* trace() const noexcept {
    return has_trace_ ? &trace_ : nullptr;
  }

  /// At the end of the stream: fails if a partial frame is left over.
  [[nodiscard]] result<void> finish() const noexcept {
    if (failed_) return failure_;
    if (filled_ != consumed_) return error(frame_errc::truncated, "frame_decoder.finish");
    return ok();
  }

  /// Forgets buffered bytes and any error (a new connection).
  void reset() noexcept {
    filled_ = consumed_ = 0;
    if (failure_.is(frame_errc::invalid_options) || failure_.is(frame_errc::buffer_too_small))
      return;  // a construction error stays
    failed_ = false;
  }

  [[nodiscard]] std::size_t buffered_bytes() const noexcept { return filled_ - consumed_; }

 private:
  [[nodiscard]] byte_view buffered() const noexcept {
    return byte_view(storage_.data() + consumed_, filled_ - consumed_);
  }
  byte_view accept(const frame_scan& scan) noexcept {
    has_trace_ = scan.has_trace;
    if (scan.has_trace) trace_ = scan.trace;
    return scan.payload;
  }
  weft::error fail_scan(const weft::error& e) noexcept {
    fail(e);
    return e;
  }
  void compact() noexcept {
    if (consumed_ == 0) return;
    const std::size_t left = filled_ - consumed_;
    if (left > 0) std::memmove(storage_.data(), storage_.data() + consumed_, left);
    filled_ = left;
    consumed_ = 0;
  }
  void fail(const weft::error& e) noexcept {
    failed_ = true;
    failure_ = e;
  }

  mutable_byte_view storage_;
  frame_options options_;
  std::size_t filled_ = 0;
  std::size_t consumed_ = 0;
  bool failed_ = false;
  bool has_trace_ = false;
  frame_trace_field trace_{};
  weft::error failure_{};
};

}  // namespace wire
WEFT_END
