// weft/wire/frame.hpp - stream framing: a big-endian u32 payload length, a big-endian u32
// CRC32C over the length bytes and the payload, then the payload. A maximum payload size
// bounds every frame; the incremental decoder works in caller memory and never allocates.
#pragma once

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
};

constexpr std::string_view describe(frame_errc code) noexcept {
  switch (code) {
    case frame_errc::ok: return "ok";
    case frame_errc::frame_too_large: return "frame larger than the maximum payload size";
    case frame_errc::bad_checksum: return "frame checksum mismatch";
    case frame_errc::buffer_too_small: return "buffer too small for the frame";
    case frame_errc::invalid_options: return "invalid frame options";
    case frame_errc::truncated: return "stream ended inside a frame";
  }
  return "unknown frame error";
}

}  // namespace wire
WEFT_END

WEFT_ERROR_DOMAIN(weft::wire::frame_errc, "frame")

WEFT_BEGIN
namespace wire {

/// Bytes before the payload: length (4) and CRC32C (4).
inline constexpr std::size_t frame_header_size_bytes = 8;

struct frame_options {
  std::size_t max_payload_size_bytes = 1u << 20;

  [[nodiscard]] constexpr result<void> validate() const noexcept {
    if (max_payload_size_bytes == 0 || max_payload_size_bytes > 0xffffffffu)
      return error(frame_errc::invalid_options, "frame_options.max_payload_size_bytes");
    return ok();
  }
};

namespace detail {
[[nodiscard]] inline std::uint32_t frame_checksum(const std::uint8_t* length_bytes,
                                                  byte_view payload) noexcept {
  return crc32c_extend(crc32c(byte_view(length_bytes, 4)), payload);
}
}  // namespace detail

/// Appends one frame holding `payload` to `out`.
inline result<void> encode_frame(byte_view payload, byte_writer& out,
                                 const frame_options& options = {}) noexcept {
  WEFT_TRY(options.validate());
  if (payload.size() > options.max_payload_size_bytes)
    return error(frame_errc::frame_too_large, "encode_frame");
  if (out.remaining() < frame_header_size_bytes + payload.size())
    return error(frame_errc::buffer_too_small, "encode_frame");
  std::uint8_t header[frame_header_size_bytes];
  store_be<std::uint32_t>(header, static_cast<std::uint32_t>(payload.size()));
  store_be<std::uint32_t>(header + 4, detail::frame_checksum(header, payload));
  (void)out.put(byte_view(header, frame_header_size_bytes));  // room checked above
  (void)out.put(payload);
  return ok();
}

/// Writes one frame at the start of `out`; returns the frame's bytes.
inline result<byte_view> encode_frame(byte_view payload, mutable_byte_view out,
                                      const frame_options& options = {}) noexcept {
  byte_writer writer(out);
  WEFT_TRY(encode_frame(payload, writer, options));
  return writer.written();
}

/// What the bytes received so far hold.
struct frame_scan {
  bool complete = false;
  byte_view payload{};               // complete: the payload, a view into the scanned bytes
  std::size_t frame_size_bytes = 0;  // complete: header + payload, the bytes to consume
  std::size_t bytes_needed = 0;      // incomplete: at least this many more bytes
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
  const std::uint32_t length = load_be<std::uint32_t>(buffered.data());
  if (length > options.max_payload_size_bytes)
    return error(frame_errc::frame_too_large, "scan_frame");
  const std::size_t total = frame_header_size_bytes + length;
  if (buffered.size() < total) {
    scan.bytes_needed = total - buffered.size();
    return scan;
  }
  const byte_view payload = buffered.subspan(frame_header_size_bytes, length);
  const std::uint32_t expected = load_be<std::uint32_t>(buffered.data() + 4);
  if (detail::frame_checksum(buffered.data(), payload) != expected)
    return error(frame_errc::bad_checksum, "scan_frame");
  scan.complete = true;
  scan.payload = payload;
  scan.frame_size_bytes = total;
  return scan;
}

/// Incremental decoder over caller-provided storage (at least header + max payload bytes).
/// feed() what the stream delivered, then call next() until it yields nothing. A payload
/// view stays valid until the next feed() or reset(). Errors are sticky until reset().
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
    return std::optional<byte_view>{scan->payload};
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
  weft::error failure_{};
};

}  // namespace wire
WEFT_END
