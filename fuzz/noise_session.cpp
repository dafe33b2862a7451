// Fuzz the receiving end of an established Noise_XX stream session (noise_session.hpp).
// Two ends with fixed keys finish the handshake in memory (deterministic, so frames sealed
// here are the same in every run and the seed corpus holds valid ones). Input byte 0 picks
// the options, the mode and the feed chunk size; the rest is either raw stream bytes for
// the responder, or a mutation program (flip/truncate/extend/swap) applied to a valid
// sealed frame. Checked: every refusal is one of the documented crypto_errc codes and
// bumps exactly one refusal counter; an accepted frame is one the initiator sealed, in
// order; a payload never exceeds max_payload_bytes; after refused frames that ended on a
// frame boundary the next valid frame opens (a refusal changes no state), or is a replay
// if the mutated copy was accepted.
// Seeds: WEFT_NOISE_SESSION_SEEDS=<dir> ./fuzz_noise_session -runs=0 writes them to <dir>.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "weft/crypto/noise_session.hpp"
#include "weft/crypto/sodium.hpp"

namespace {
namespace wc = weft::crypto;
namespace ls = weft::crypto::libsodium;
using suite = wc::noise_suite<ls::x25519, ls::chacha20poly1305_ietf, ls::blake2b512>;
using session = wc::noise_session<suite>;
using E = wc::crypto_errc;

constexpr std::size_t presealed_frames = 3;
constexpr std::uint8_t option_small_frames = 0x01;  // max_frame_body_bytes 128, rekey every 2
constexpr std::uint8_t option_mutate = 0x02;        // input is a mutation program
constexpr unsigned chunk_shift = 2;                 // bits 2..5: feed chunk size (0 = whole)
constexpr std::uint8_t option_in_place = 0x40;      // try open_in_place before each feed

void require(bool condition) {
  if (!condition) __builtin_trap();
}

ls::x25519::secret_key fixed_key(std::uint8_t b) {
  std::array<std::uint8_t, 32> raw{};
  raw.fill(b);
  return ls::x25519::secret_key(raw);
}

wc::noise_session_options options_for(std::uint8_t config) {
  if (config & option_small_frames) return {.max_frame_body_bytes = 128, .rekey_interval_frames = 2};
  return {};
}

std::string payload_text(std::size_t index) { return "weft fuzz frame " + std::to_string(index); }

struct connected {
  session initiator, responder;
};

std::optional<connected> connect(const wc::noise_session_options& options) {
  const auto prologue = weft::as_bytes("weft fuzz");
  auto i = session::create(options, wc::noise_role::initiator, fixed_key(1), fixed_key(2), prologue);
  auto r = session::create(options, wc::noise_role::responder, fixed_key(3), fixed_key(4), prologue);
  if (!i || !r) return std::nullopt;
  connected c{std::move(*i), std::move(*r)};
  std::vector<std::uint8_t> frame(256), payload(256);
  for (int step = 0; step < 3; ++step) {
    session& from = step % 2 == 0 ? c.initiator : c.responder;
    session& to = step % 2 == 0 ? c.responder : c.initiator;
    auto n = from.write_handshake({}, frame);
    if (!n) return std::nullopt;
    auto used = to.feed(weft::byte_view(frame).first(*n));
    if (!used || *used != *n || !to.frame_buffered() || !to.next_frame(payload)) return std::nullopt;
  }
  if (!c.initiator.established() || !c.responder.established()) return std::nullopt;
  return c;
}

std::vector<std::uint8_t> seal(session& s, std::size_t index) {
  std::vector<std::uint8_t> frame(256);
  auto n = s.seal(weft::as_bytes(payload_text(index)), frame);
  require(n.has_value());
  frame.resize(*n);
  return frame;
}

std::uint64_t refusals(const wc::noise_session_counters& c) {
  return c.refused_tampered + c.refused_replayed + c.refused_out_of_order + c.refused_oversized +
         c.refused_malformed;
}

bool documented_refusal(const weft::error& e) {
  return e.is(E::noise_message_too_large) || e.is(E::noise_malformed) || e.is(E::replayed) ||
         e.is(E::noise_out_of_order) || e.is(E::authentication_failed);
}

/// The responder's side of the stream: feeds bytes in chunks and opens each whole frame.
struct receiver {
  session& s;
  std::size_t opened = 0;          // frames accepted (they carry nonces 0, 1, ...)
  std::size_t partial_bytes = 0;   // bytes of an unfinished frame held in the session
  bool closed = false;             // a feed() refusal: the transport would close
  bool in_place = false;           // open whole frames with open_in_place, as tcp does
  std::vector<std::uint8_t> payload;

  explicit receiver(session& into) : s(into), payload(70000) {}

  void open_buffered() {
    const std::uint64_t before = refusals(s.counters());
    auto n = s.next_frame(payload);
    partial_bytes = 0;
    if (!n) {
      require(documented_refusal(n.error()));
      require(refusals(s.counters()) == before + 1);
      return;
    }
    require(refusals(s.counters()) == before);
    require(*n <= s.max_payload_bytes());
    // Only the initiator's frames authenticate, and only in order.
    require(weft::equal_bytes(weft::byte_view(payload).first(*n), weft::as_bytes(payload_text(opened))));
    ++opened;
  }

  /// open_in_place on a copy of `piece`: the bytes it used (0: feed them instead).
  std::size_t open_whole(weft::byte_view piece) {
    std::vector<std::uint8_t> copy(piece.begin(), piece.end());
    const std::uint64_t before = refusals(s.counters());
    auto opened_frame = s.open_in_place(copy);
    if (!opened_frame) {
      require(documented_refusal(opened_frame.error()));
      require(refusals(s.counters()) == before + 1);
      if (opened_frame.error().is(E::noise_message_too_large)) closed = true;
      return closed ? 0 : wc::noise_frame_header_bytes + ((std::size_t{piece[0]} << 8) | piece[1]);
    }
    require(refusals(s.counters()) == before);
    if (!*opened_frame) return 0;
    const auto plain = (*opened_frame)->plaintext;
    require(plain.size() <= s.max_payload_bytes());
    require(weft::equal_bytes(plain, weft::as_bytes(payload_text(opened))));
    ++opened;
    return (*opened_frame)->frame_size_bytes;
  }

  void take(weft::byte_view bytes, std::size_t chunk) {
    while (!bytes.empty() && !closed) {
      const auto piece = bytes.first(chunk == 0 ? bytes.size() : std::min(chunk, bytes.size()));
      if (in_place && partial_bytes == 0) {
        const std::size_t used = open_whole(piece);
        if (closed) return;
        if (used > 0) {
          require(used <= piece.size());
          bytes = bytes.subspan(used);
          continue;
        }
      }
      const std::uint64_t before = refusals(s.counters());
      auto used = s.feed(piece);
      if (!used) {
        require(used.error().is(E::noise_message_too_large));
        require(s.counters().refused_oversized > 0 && refusals(s.counters()) == before + 1);
        closed = true;
        return;
      }
      require(*used <= piece.size());
      partial_bytes += *used;
      bytes = bytes.subspan(*used);
      if (s.frame_buffered()) open_buffered();
    }
  }
};

/// Applies the input's mutation program to a copy of `frame`: each op is 3 bytes.
std::vector<std::uint8_t> mutate(std::vector<std::uint8_t> frame, weft::byte_view program) {
  constexpr std::size_t max_frame_bytes = 70000;
  for (std::size_t at = 0; at + 3 <= program.size(); at += 3) {
    const std::uint8_t op = program[at], a = program[at + 1], b = program[at + 2];
    const std::size_t size = frame.size();
    switch (op % 5) {
      case 0:  // flip bits
        if (size) frame[a % size] ^= static_cast<std::uint8_t>(b | 1);
        break;
      case 1:  // truncate
        frame.resize(size == 0 ? 0 : a % size);
        break;
      case 2:  // extend with the next program bytes
        if (size + 2 <= max_frame_bytes) {
          frame.push_back(a);
          frame.push_back(b);
        }
        break;
      case 3:  // reorder two bytes
        if (size) std::swap(frame[a % size], frame[b % size]);
        break;
      case 4:  // rewrite the length prefix to match the body (keeps the stream in step)
        if (size >= 2) {
          const std::size_t body = std::min<std::size_t>(size - 2, 0xffff);
          frame[0] = static_cast<std::uint8_t>(body >> 8);
          frame[1] = static_cast<std::uint8_t>(body);
        }
        break;
    }
  }
  return frame;
}

void run_raw(connected& c, weft::byte_view stream, std::size_t chunk, bool in_place) {
  std::vector<std::vector<std::uint8_t>> sealed;
  for (std::size_t i = 0; i < presealed_frames; ++i) sealed.push_back(seal(c.initiator, i));
  receiver r(c.responder);
  r.in_place = in_place;
  r.take(stream, chunk);
  if (r.closed || r.partial_bytes != 0) return;  // stream out of step: only closing is right
  // On a frame boundary a refusal changed nothing: the next valid frame opens if every
  // earlier one was accepted, else it is ahead of the expected nonce.
  const auto next = seal(c.initiator, presealed_frames);
  const std::uint64_t out_of_order_before = c.responder.counters().refused_out_of_order;
  const std::size_t opened_before = r.opened;
  r.take(next, 0);
  if (opened_before == presealed_frames) {
    require(r.opened == opened_before + 1);
  } else {
    require(c.responder.counters().refused_out_of_order == out_of_order_before + 1);
  }
}

void run_mutated(connected& c, weft::byte_view program, std::size_t chunk, bool in_place) {
  const auto valid = seal(c.initiator, 0);
  receiver r(c.responder);
  r.in_place = in_place;
  r.take(mutate(valid, program), chunk);
  if (r.closed || r.partial_bytes != 0) {
    r.take(valid, chunk);  // absorbed into the unfinished frame: any outcome but a crash
    return;
  }
  const std::uint64_t replayed_before = c.responder.counters().refused_replayed;
  const std::size_t opened_before = r.opened;
  r.take(valid, chunk);
  if (opened_before == 1) {  // the mutation left an equivalent frame: now it is a replay
    require(c.responder.counters().refused_replayed == replayed_before + 1);
  } else {
    require(r.opened == 1);
  }
}

void write_seed(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return;
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
}

/// Seeds: the presealed frames as a raw stream (both option sets), and mutation programs.
void write_seeds(const std::string& dir) {
  for (std::uint8_t config : {std::uint8_t{0x00}, std::uint8_t{option_small_frames | (3u << chunk_shift)}}) {
    auto c = connect(options_for(config));
    if (!c) return;
    std::vector<std::uint8_t> stream{config};
    for (std::size_t i = 0; i < presealed_frames; ++i) {
      const auto frame = seal(c->initiator, i);
      stream.insert(stream.end(), frame.begin(), frame.end());
    }
    write_seed(dir + "/raw_frames_" + std::to_string(config), stream);
  }
  write_seed(dir + "/mutate_flip_tag", {option_mutate, 0, 40, 0x80});
  write_seed(dir + "/mutate_truncate_reframe", {option_mutate, 1, 30, 0, 4, 0, 0});
  write_seed(dir + "/mutate_extend_swap", {option_mutate, 2, 7, 9, 3, 2, 12, 4, 0, 0});
}
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* dir = std::getenv("WEFT_NOISE_SESSION_SEEDS")) write_seeds(dir);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t config = data[0];
  const weft::byte_view rest(data + 1, size - 1);
  auto c = connect(options_for(config));
  require(c.has_value());  // fixed keys: the handshake cannot fail
  const std::size_t chunk = (config >> chunk_shift) & 0x0f;
  const bool in_place = (config & option_in_place) != 0;
  if (config & option_mutate)
    run_mutated(*c, rest, chunk, in_place);
  else
    run_raw(*c, rest, chunk, in_place);
  return 0;
}
