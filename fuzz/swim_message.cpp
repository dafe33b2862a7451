// fuzz_swim_message: arbitrary bytes decoded as a SWIM datagram and as a push-pull stream
// message, then stepped into a live core (with two known peers). Nothing may assert, leak
// or grow without bound; every refusal is a swim_errc.
#include <cstddef>
#include <cstdint>

#include "weft/membership/swim/swim.hpp"

using namespace weft;
using namespace weft::swim;

namespace {
core make(node_id id, std::uint64_t seed) {
  const test_admission_scheme anchor(0xa11ce);
  const test_admission_scheme me(1000 + id);
  identity self;
  self.id = id;
  self.addr = static_cast<address>(id);
  self.admission = *admit(anchor, id, me.public_key());
  const byte_view anchors[] = {anchor.public_key()};
  options o;
  o.max_members = 16;
  o.max_broadcasts = 16;
  o.max_stream_message_bytes = 4096;
  o.mtu_bytes = 512;
  return std::move(*core::create(o, self, me, xoshiro256(seed), anchors));
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const core peer2 = make(2, 2);
  static const core peer3 = make(3, 3);
  core k = make(1, 1);
  time_point now{};
  (void)k.bootstrap(now);
  (void)k.add_member(now, peer2.self_claim());
  (void)k.add_member(now, peer3.self_claim());
  const byte_view input(data, size);
  // The whole input as one datagram and as one stream message, then in slices.
  (void)k.step(now, 2, input);
  (void)k.step_stream(now, 3, input);
  for (std::size_t at = 0; at < size;) {
    const std::size_t n = std::min<std::size_t>(1 + data[at] % 200, size - at);
    now += milliseconds(300);
    (void)k.step(now, 2, input.subspan(at, n));
    k.tick(now);
    k.clear_outputs();
    at += n;
  }
  if (k.member_count() > k.config().max_members) __builtin_trap();
  return 0;
}
