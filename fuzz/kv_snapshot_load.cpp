// fuzz/kv_snapshot_load.cpp - the weftd KV snapshot loader ("wkv1", docs/weftd.md) over
// hostile bytes: a follower loads what its leader streams to it, so the snapshot is outside
// input. A load must fail with a typed error and leave the store as it was, or succeed and
// then survive save() -> load() byte for byte. Lengths are checked before allocating, so
// -rss_limit_mb stays quiet however large the counts and lengths claim to be.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "../examples/weftd/kv.hpp"

namespace {

using snapshot_bytes = std::vector<std::uint8_t>;

weft::result<void> append_to_bytes(void* context, weft::byte_view bytes) noexcept {
  auto& out = *static_cast<snapshot_bytes*>(context);
  out.insert(out.end(), bytes.begin(), bytes.end());
  return weft::ok();
}

weft::result<std::size_t> copy_from_bytes(void* context, std::uint64_t offset, weft::mutable_byte_view out) noexcept {
  const auto& in = *static_cast<const weft::byte_view*>(context);
  if (offset >= in.size()) return std::size_t{0};
  const std::size_t n = std::min<std::size_t>(out.size(), in.size() - static_cast<std::size_t>(offset));
  std::memcpy(out.data(), in.data() + offset, n);
  return n;
}

snapshot_bytes save_store(const weftd::kv_store& store) {
  snapshot_bytes out;
  std::uint8_t buffer[61];  // odd size: values straddle flushes
  weft::runtime::snapshot_writer writer(weft::mutable_byte_view(buffer), &append_to_bytes, &out);
  if (!store.save(writer) || !writer.flush()) __builtin_trap();
  return out;
}

weft::result<void> load_store(weftd::kv_store& store, weft::byte_view bytes) {
  std::uint8_t buffer[37];  // odd size: fields straddle refills
  weft::runtime::snapshot_reader reader(weft::mutable_byte_view(buffer), bytes.size(), &copy_from_bytes, &bytes);
  return store.load(reader);
}

// Two pairs and two remembered ids, one of them longer than an inline slot.
snapshot_bytes baseline_snapshot() {
  snapshot_bytes out;
  std::uint8_t buffer[64];
  weft::runtime::snapshot_writer w(weft::mutable_byte_view(buffer), &append_to_bytes, &out);
  const auto str = [&](std::string_view s) {
    (void)w.write_u32(static_cast<std::uint32_t>(s.size()));
    (void)w.write(weftd::as_view(s));
  };
  (void)w.write_u32(0x31766b77);
  (void)w.write_u64(2);
  str("alpha");
  str("1");
  str("beta");
  str("");
  (void)w.write_u64(2);
  str("n1-7");
  (void)w.write_u64(7);
  str(std::string(60, 'r'));
  (void)w.write_u64(9);
  (void)w.flush();
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const snapshot_bytes baseline = baseline_snapshot();
  static weftd::kv_store store(0x5eed);
  static weftd::kv_store reloaded(0x5eed);
  static const bool ready = static_cast<bool>(load_store(store, baseline));
  static const snapshot_bytes baseline_saved = save_store(store);
  if (!ready) __builtin_trap();

  if (!load_store(store, weft::byte_view(data, size))) {
    if (save_store(store) != baseline_saved) __builtin_trap();  // a refused load changed state
    return 0;
  }
  const snapshot_bytes first = save_store(store);
  if (!load_store(reloaded, first)) __builtin_trap();
  if (save_store(reloaded) != first || reloaded.size() != store.size()) __builtin_trap();
  if (!load_store(store, baseline)) __builtin_trap();
  return 0;
}
