// quickstart: weft's composition in one screen. Policies (clock, random) are types the
// product picks; fallible calls return weft::result; nothing throws.
#include <cstdio>

#include "weft/weft.hpp"

namespace {
// What this "hardware" supports: a product swaps these for its own types.
struct demo_stack {
  using clock = weft::manual_clock;
  using random = weft::xoshiro256;
};
static_assert(weft::clock<demo_stack::clock>, "see docs/requirements/clock.md");
static_assert(weft::random_source<demo_stack::random>, "see docs/requirements/random.md");

// A bounded outbox: full means backpressure, never growth.
template <class Stack>
struct sensor_node {
  typename Stack::clock clock{};
  typename Stack::random random{42};
  weft::ring_buffer<std::uint32_t, 4> outbox{};

  weft::result<void> sample() noexcept {
    const auto reading = static_cast<std::uint32_t>(weft::uniform_below(random, 1000));
    WEFT_TRY(outbox.push_back(reading));
    clock.advance(weft::milliseconds(250));
    return weft::ok();
  }
};
}  // namespace

int main() {
  sensor_node<demo_stack> node;
  for (int i = 0; i < 6; ++i) {
    const auto r = node.sample();
    if (!r) {
      const auto message = r.error().message();
      std::printf("sample %d refused: %.*s (%s) - the caller decides what to drop\n", i,
                  static_cast<int>(message.size()), message.data(), r.error().where());
      continue;
    }
    std::printf("sample %d queued at t=%lld ms\n", i,
                static_cast<long long>(weft::to_ns(node.clock.now()) / 1'000'000));
  }
  std::uint32_t crc = 0;
  while (!node.outbox.empty()) {
    const std::uint32_t v = node.outbox.front();
    crc = weft::crc32c_extend(crc, weft::byte_view(reinterpret_cast<const std::uint8_t*>(&v), 4));
    node.outbox.pop_front();
  }
  std::printf("outbox drained, crc32c=%08x (same seed, same output, on every run)\n", crc);
  return 0;
}
