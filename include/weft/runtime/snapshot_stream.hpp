// weft/runtime/snapshot_stream.hpp - the byte streams a node hands its state machine to
// save a snapshot into, or to load one from: buffered, bounded, type-erased over the store.
// weft:hosted (part of the hosted runtime; it needs nothing hosted itself)
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "weft/config.hpp"
#include "weft/core/bytes.hpp"
#include "weft/core/endian.hpp"
#include "weft/core/result.hpp"
#include "weft/runtime/errors.hpp"

WEFT_BEGIN
namespace runtime {

/// Collects what a state machine saves in a fixed buffer and hands each full buffer to
/// the sink (the snapshot store), so a snapshot of any size costs one buffer of memory.
class snapshot_writer {
 public:
  using sink_fn = result<void> (*)(void* context, byte_view bytes) noexcept;

  snapshot_writer(mutable_byte_view buffer, sink_fn sink, void* context) noexcept
      : buffer_(buffer), sink_(sink), context_(context) {}

  [[nodiscard]] result<void> write(byte_view bytes) noexcept {
    while (!bytes.empty()) {
      if (used_ == buffer_.size()) WEFT_TRY(flush());
      const std::size_t n = std::min(bytes.size(), buffer_.size() - used_);
      std::memcpy(buffer_.data() + used_, bytes.data(), n);
      used_ += n;
      total_bytes_ += n;
      bytes = bytes.subspan(n);
    }
    return ok();
  }
  [[nodiscard]] result<void> write_u32(std::uint32_t value) noexcept {
    std::uint8_t bytes[4];
    store_le<std::uint32_t>(bytes, value);
    return write(byte_view(bytes));
  }
  [[nodiscard]] result<void> write_u64(std::uint64_t value) noexcept {
    std::uint8_t bytes[8];
    store_le<std::uint64_t>(bytes, value);
    return write(byte_view(bytes));
  }
  /// Hands what is still buffered to the sink; the node calls it after save_snapshot().
  [[nodiscard]] result<void> flush() noexcept {
    if (used_ == 0) return ok();
    const std::size_t n = used_;
    used_ = 0;
    return sink_(context_, byte_view(buffer_.data(), n));
  }
  [[nodiscard]] std::uint64_t total_bytes() const noexcept { return total_bytes_; }

 private:
  mutable_byte_view buffer_;
  sink_fn sink_;
  void* context_;
  std::size_t used_ = 0;
  std::uint64_t total_bytes_ = 0;
};

/// Reads a snapshot of known size through a fixed buffer refilled from the source.
class snapshot_reader {
 public:
  /// Fills `out` with bytes of the snapshot from `offset`; returns how many (0 at the end).
  using source_fn = result<std::size_t> (*)(void* context, std::uint64_t offset,
                                            mutable_byte_view out) noexcept;

  snapshot_reader(mutable_byte_view buffer, std::uint64_t size_bytes, source_fn source,
                  void* context) noexcept
      : buffer_(buffer), size_bytes_(size_bytes), source_(source), context_(context) {}

  /// Fills `out` exactly, or fails with snapshot_truncated when the snapshot ends first.
  [[nodiscard]] result<void> read(mutable_byte_view out) noexcept {
    while (!out.empty()) {
      if (position_ == filled_) WEFT_TRY(refill());
      const std::size_t n = std::min(out.size(), filled_ - position_);
      std::memcpy(out.data(), buffer_.data() + position_, n);
      position_ += n;
      consumed_ += n;
      out = out.subspan(n);
    }
    return ok();
  }
  [[nodiscard]] result<std::uint32_t> read_u32() noexcept {
    std::uint8_t bytes[4];
    WEFT_TRY(read(mutable_byte_view(bytes)));
    return load_le<std::uint32_t>(bytes);
  }
  [[nodiscard]] result<std::uint64_t> read_u64() noexcept {
    std::uint8_t bytes[8];
    WEFT_TRY(read(mutable_byte_view(bytes)));
    return load_le<std::uint64_t>(bytes);
  }
  /// Bytes not yet read: a loader checks a length field against it before allocating.
  [[nodiscard]] std::uint64_t remaining() const noexcept { return size_bytes_ - consumed_; }

 private:
  [[nodiscard]] result<void> refill() noexcept {
    const std::uint64_t offset = consumed_;
    if (offset >= size_bytes_) return error(runtime_errc::snapshot_truncated, "snapshot_reader: past the end");
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(buffer_.size(), size_bytes_ - offset));
    WEFT_TRY_ASSIGN(const std::size_t got, source_(context_, offset, buffer_.first(want)));
    if (got == 0) return error(runtime_errc::snapshot_truncated, "snapshot_reader: source ended early");
    position_ = 0;
    filled_ = got;
    return ok();
  }

  mutable_byte_view buffer_;
  std::uint64_t size_bytes_;
  source_fn source_;
  void* context_;
  std::size_t position_ = 0;
  std::size_t filled_ = 0;
  std::uint64_t consumed_ = 0;
};

}  // namespace runtime
WEFT_END
