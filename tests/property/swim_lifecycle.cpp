// Property tests for the SWIM lifecycle table and the wire schema.
#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include <array>
#include <cstdint>
#include <vector>

#include "weft/membership/swim/lifecycle.hpp"
#include "weft/membership/swim/messages.hpp"

using namespace weft;
using namespace weft::swim;

TEST_CASE("swim lifecycle invariants over random event sequences", "[swim][property]") {
  rc::prop("incarnations never go back; dead never becomes suspect; counts add up",
           [](const std::vector<std::pair<std::uint8_t, std::uint8_t>>& steps) {
             lifecycle_guard guard(16);
             member_state s = member_state::absent;
             std::uint64_t inc = 0;
             for (auto [ev, delta] : steps) {
               const auto e = static_cast<member_event>(ev % member_event_count);
               const std::uint64_t claimed = inc + (delta % 24) - std::min<std::uint64_t>(inc, 3);
               const member_state before = s;
               const std::uint64_t before_inc = inc;
               auto r = guard.apply(s, inc, e, claimed);
               RC_ASSERT(inc >= before_inc);
               if (!r) {
                 RC_ASSERT(s == before);
                 RC_ASSERT(inc == before_inc);
                 continue;
               }
               RC_ASSERT(!(before == member_state::dead && s == member_state::suspect));
               RC_ASSERT(!(before == member_state::left && s == member_state::leaving));
               if ((before == member_state::dead || before == member_state::left) &&
                   s != before)
                 RC_ASSERT(inc > before_inc);  // rejoin only under a higher incarnation
               RC_ASSERT(s != member_state::absent);
             }
             RC_ASSERT(guard.applied() + guard.refused_total() == steps.size());
           });
}

TEST_CASE("swim claims round-trip through the CBOR schema", "[swim][property]") {
  rc::prop("decode(encode(claim)) == claim, and encoding is deterministic",
           [](std::uint8_t kind, std::uint64_t subject, std::uint64_t inc, std::uint64_t from,
              std::uint32_t addr, const std::vector<std::uint8_t>& key) {
             member_claim c;
             c.kind = static_cast<item_kind>(1 + kind % 4);
             c.subject = subject;
             c.incarnation = inc;
             c.from = (c.kind == item_kind::alive || c.kind == item_kind::leave) ? subject : from;
             if (c.kind == item_kind::alive) {
               c.addr = addr;
               RC_ASSERT(c.key.assign(byte_view(key.data(), std::min<std::size_t>(key.size(), 32))));
               c.admitter = from;
               c.admission_epoch = inc ^ from;
               RC_ASSERT(c.admission.assign(byte_view(key.data(), std::min<std::size_t>(key.size(), 16))));
             }
             RC_ASSERT(c.signature.assign(byte_view(key.data(), std::min<std::size_t>(key.size(), 64))));
             std::array<std::uint8_t, 512> a{}, b{};
             byte_writer wa(a), wb(b);
             RC_ASSERT(encode_claim(wa, c));
             RC_ASSERT(encode_claim(wb, c));
             RC_ASSERT(equal_bytes(wa.written(), wb.written()));
             byte_reader r(wa.written());
             gossip_item out;
             RC_ASSERT(decode_item(r, out));
             RC_ASSERT(r.empty());
             RC_ASSERT(out.kind == c.kind);
             RC_ASSERT(out.claim.subject == c.subject);
             RC_ASSERT(out.claim.incarnation == c.incarnation);
             RC_ASSERT(out.claim.from == c.from);
             RC_ASSERT(out.claim.addr == c.addr);
             RC_ASSERT(equal_bytes(out.claim.key.view(), c.key.view()));
             RC_ASSERT(equal_bytes(out.claim.signature.view(), c.signature.view()));
             RC_ASSERT(out.claim.admission_epoch == c.admission_epoch);
             RC_ASSERT(encoded_claim_size(c) == wa.size());
             // The compact form: same fields, key and admission left out, size predicted.
             byte_writer wc(b);
             RC_ASSERT(encode_claim(wc, c, false, true));
             RC_ASSERT(encoded_claim_size(c, true) == wc.size());
             byte_reader rc_reader(wc.written());
             RC_ASSERT(decode_item(rc_reader, out));
             RC_ASSERT(out.claim.subject == c.subject);
             if (c.kind == item_kind::alive) {
               RC_ASSERT(out.claim.key.size == 0);
               RC_ASSERT(out.claim.admission.size == 0);
               RC_ASSERT(out.claim.admission_epoch == c.admission_epoch);
             }
           });
}
