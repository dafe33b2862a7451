// Fuzz the Raft message codec and core: the input is a sequence of operations, each
// either a tick or a length-prefixed CBOR message that is decoded (hostile bytes) and
// stepped into one of three cores (a leader and two followers of a live group). After
// every operation the cores must hold their invariants; decoded messages must re-encode to
// the exact input bytes (deterministic CBOR round trip).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "weft/consensus/raft/codec.hpp"
#include "weft/consensus/raft/raft.hpp"

namespace {

using namespace weft::raft;

[[noreturn]] void broken() { __builtin_trap(); }

struct group {
  std::vector<std::unique_ptr<core>> cores;

  group() {
    configuration config;
    for (node_id id = 1; id <= 3; ++id) {
      member m;
      m.id = id;
      (void)config.members.push_back(m);
    }
    for (node_id id = 1; id <= 3; ++id) {
      options o;
      o.id = id;
      o.max_log_entries_in_memory = 256;
      o.max_log_bytes_in_memory = 1u << 16;
      o.max_bytes_per_entry = 1024;
      o.max_bytes_per_message = 8192;
      o.max_inflight_bytes = 1u << 15;
      o.max_messages_per_ready = 64;
      o.max_pending_reads = 8;
      o.max_snapshot_chunk_bytes = 256;
      auto created = core::create(o, weft::xoshiro256(id));
      if (!created) broken();
      cores.push_back(std::make_unique<core>(std::move(*created)));
      if (!cores.back()->bootstrap(config)) broken();
    }
    for (int t = 0; t < 200 && cores[0]->current_role() != role::leader; ++t) {
      cores[0]->tick();
      drain_all();
    }
  }
  void drain(core& n, bool deliver) {
    for (int guard = 0; guard < 16 && n.has_ready(); ++guard) {
      ready_batch rb = n.ready();
      if (!rb.must_persist.entries.empty()) {
        const entry_ref last = rb.must_persist.entries.at(rb.must_persist.entries.size() - 1);
        n.persisted(last.index, last.term);
      }
      if (deliver) {
        for (const message& m : rb.send_now)
          if (m.to >= 1 && m.to <= 3 && m.type != message_type::install_snapshot) cores[m.to - 1]->step(m);
        for (const message& m : rb.send_after_persist)
          if (m.to >= 1 && m.to <= 3) cores[m.to - 1]->step(m);
      }
      n.advance();
    }
  }
  void drain_all() {
    for (int round = 0; round < 8; ++round)
      for (auto& c : cores) drain(*c, true);
  }
  void check() const {
    for (const auto& c : cores) {
      if (c->applied_index() > c->commit_index()) broken();
      if (c->commit_index() > c->last_index()) broken();
      if (c->persisted_index() > c->last_index()) broken();
    }
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  group g;
  message_codec codec, recodec;
  std::vector<std::uint8_t> buffer(1 << 16);
  std::size_t at = 0;
  while (at < size) {
    const std::uint8_t op = data[at++];
    core& target = *g.cores[op % 3];
    if ((op & 0x80) != 0) {
      target.tick();
    } else {
      if (at + 2 > size) break;
      const std::size_t len = (std::size_t{data[at]} << 8) | data[at + 1];
      at += 2;
      if (len > size - at) break;
      const weft::byte_view bytes(data + at, len);
      at += len;
      auto decoded = codec.decode(bytes);
      if (decoded) {
        auto again = recodec.encode(*decoded, buffer);
        if (!again) broken();
        if (!weft::equal_bytes(*again, bytes)) broken();  // deterministic round trip
        target.step(*decoded);
      }
    }
    g.drain(target, (op & 0x40) != 0);
    g.check();
  }
  return 0;
}
