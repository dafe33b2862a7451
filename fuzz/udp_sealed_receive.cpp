// Fuzz the receive path of a sealed UDP transport (udp.hpp, udp_security::sealed): header
// parse, sender lookup, session and replay window, XChaCha20-Poly1305 open. A receiver
// (member 10) holds the keys of members 1 and 2; datagrams reach it over loopback from a
// plain socket, one at a time, through the real recvfrom path.
// At start-up six fixed senders seal a pool of datagrams to the receiver (deterministic:
// fixed keys, sessions and salts): member 1 in session 5 (1100 datagrams, more than the
// replay window), in session 6, and in session 5 with another salt; member 2; member 1's id
// with a foreign key; member 3, whom the receiver does not know. Each input is a program
// run against a fresh receiver; each op sends one datagram: raw bytes, a pool datagram as
// sealed, or one with a flipped bit, cut or extended, or raw bytes behind a sealed header.
// Checked for every datagram: it is either delivered or counted in exactly one drop counter;
// a delivered datagram is byte for byte one the pool holds from a sender whose key the
// receiver holds for its id, carrying that sender's payload, and is delivered at most once;
// the first authentic datagram of an input is delivered.
// Seeds: WEFT_UDP_SEALED_SEEDS=<dir> ./fuzz_udp_sealed_receive -runs=0 writes them to <dir>.
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "weft/transport/udp.hpp"

namespace {
namespace wt = weft::transport;
using x25519 = weft::crypto::libsodium::x25519;

constexpr wt::peer_id receiver_id = 10;
constexpr std::size_t max_ops = 64;
constexpr std::size_t max_raw_bytes = 1500;  // above the receiver's 1400: oversize is reachable

void require(bool condition) {
  if (!condition) __builtin_trap();
}

x25519::secret_key fixed_key(std::uint8_t b) {
  std::array<std::uint8_t, 32> raw{};
  raw.fill(b);
  return x25519::secret_key(raw);
}

void fill_with_context_byte(void* context, weft::mutable_byte_view out) noexcept {
  std::memset(out.data(), *static_cast<const std::uint8_t*>(context), out.size());
}

struct sender_spec {
  wt::peer_id id;
  std::uint8_t key_byte;
  std::uint64_t session;
  std::uint8_t salt_byte;
  std::size_t datagrams;
  bool honest;  // the receiver holds this key for this id
};
constexpr std::array<sender_spec, 6> senders{{
    {1, 1, 5, 0xa1, 1100, true},
    {1, 1, 6, 0xa2, 4, true},
    {1, 1, 5, 0xa3, 4, true},
    {2, 2, 1, 0xb1, 4, true},
    {1, 3, 9, 0xc1, 4, false},
    {3, 4, 1, 0xd1, 4, false},
}};

struct pooled {
  std::vector<std::uint8_t> bytes;
  std::string payload;
};

/// A loopback UDP socket that captures what the senders seal and injects into the receiver.
struct tap {
  int fd = -1;
  wt::ipv4_endpoint at{};
};

std::string payload_of(std::size_t sender, std::size_t index) {
  if (index == 0 && sender == 3) return {};  // an empty payload is a datagram too
  std::string text = "s" + std::to_string(sender) + "#" + std::to_string(index);
  text.append(index % 7, '.');
  return text;
}

tap open_tap() {
  tap t;
  t.fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  require(t.fd >= 0);
  const sockaddr_in any = wt::ipv4_endpoint::parse("127.0.0.1:0")->to_sockaddr();
  require(::bind(t.fd, reinterpret_cast<const sockaddr*>(&any), sizeof any) == 0);
  sockaddr_in bound{};
  socklen_t size = sizeof bound;
  require(::getsockname(t.fd, reinterpret_cast<sockaddr*>(&bound), &size) == 0);
  t.at = wt::ipv4_endpoint::from_sockaddr(bound);
  const timeval limit{2, 0};
  (void)::setsockopt(t.fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  return t;
}

void ignore_datagram(void*, wt::peer_id, wt::ipv4_endpoint, weft::byte_view, bool) noexcept {}

/// Seals each sender's datagrams to the receiver and captures them from the tap.
std::vector<std::vector<pooled>> seal_pool(weft::runtime::event_loop& loop, const tap& t) {
  const x25519::public_key receiver_key = x25519::public_key_of(fixed_key(0x10));
  std::vector<std::vector<pooled>> pool(senders.size());
  for (std::size_t s = 0; s < senders.size(); ++s) {
    const sender_spec& spec = senders[s];
    wt::udp_transport sender;
    std::uint8_t salt_byte = spec.salt_byte;  // read once, at open()
    sender.set_seal_identity({fixed_key(spec.key_byte), spec.session, &fill_with_context_byte, &salt_byte});
    wt::udp_options options;
    options.security = wt::udp_security::sealed;
    require(sender.open(loop, *wt::ipv4_endpoint::parse("127.0.0.1:0"), spec.id, options,
                        &ignore_datagram, nullptr).has_value());
    require(sender.set_peer(receiver_id, t.at, &receiver_key).has_value());
    for (std::size_t i = 0; i < spec.datagrams; ++i) {
      pooled p{std::vector<std::uint8_t>(2048), payload_of(s, i)};
      require(sender.send_datagram(receiver_id, weft::as_bytes(p.payload)).has_value());
      const auto got = ::recv(t.fd, p.bytes.data(), p.bytes.size(), 0);
      require(got > 0);
      p.bytes.resize(static_cast<std::size_t>(got));
      pool[s].push_back(std::move(p));
    }
  }
  return pool;
}

struct fixture {
  weft::runtime::event_loop loop;
  tap injector;
  std::vector<std::vector<pooled>> pool;

  fixture() {
    require(loop.init().has_value());
    injector = open_tap();
    pool = seal_pool(loop, injector);
  }
};

fixture& shared() {
  static fixture f;
  return f;
}

std::uint64_t handled(const wt::udp_counters& c) {
  return c.datagrams_received + c.dropped_malformed + c.dropped_version + c.dropped_oversize +
         c.dropped_mode_mismatch + c.dropped_unknown_sender + c.dropped_unauthenticated +
         c.dropped_replayed + c.dropped_stale_session;
}

struct delivery {
  bool happened = false;
  wt::peer_id from = 0;
  std::string payload;
};
void record_delivery(void* context, wt::peer_id from, wt::ipv4_endpoint, weft::byte_view payload,
                     bool known_peer) noexcept {
  auto& d = *static_cast<delivery*>(context);
  require(!d.happened && known_peer);  // one datagram at a time, from a keyed member
  d.happened = true;
  d.from = from;
  d.payload.assign(weft::as_chars(payload));
}

/// Reads the program's bytes; every read past the end yields 0.
struct program {
  weft::byte_view bytes;
  std::size_t at = 0;
  [[nodiscard]] bool done() const noexcept { return at >= bytes.size(); }
  std::uint8_t u8() noexcept { return done() ? 0 : bytes[at++]; }
  std::size_t u16() noexcept { return static_cast<std::size_t>(u8()) << 8 | u8(); }
  weft::byte_view take(std::size_t n) noexcept {
    const std::size_t available = done() ? 0 : std::min(n, bytes.size() - at);
    const weft::byte_view out = bytes.subspan(done() ? bytes.size() : at, available);
    at += available;
    return out;
  }
};

/// One fresh receiver and the program's datagrams, each sent and handled before the next.
class run {
 public:
  explicit run(fixture& f) : f_(f) {
    receiver_.set_seal_identity({fixed_key(0x10), 1, &fill_with_context_byte, &salt_});
    wt::udp_options options;
    options.security = wt::udp_security::sealed;
    options.max_peers = 4;
    require(receiver_.open(f.loop, *wt::ipv4_endpoint::parse("127.0.0.1:0"), receiver_id, options,
                           &record_delivery, &delivery_).has_value());
    for (wt::peer_id id : {wt::peer_id{1}, wt::peer_id{2}}) {
      const x25519::public_key key = x25519::public_key_of(fixed_key(static_cast<std::uint8_t>(id)));
      require(receiver_.set_peer(id, f.injector.at, &key).has_value());
    }
    for (const auto& of_sender : f.pool) delivered_.emplace_back(of_sender.size(), false);
  }

  void step(program& p) {
    const std::uint8_t op = p.u8() % 5;
    if (op == 0 || op == 4) {
      std::vector<std::uint8_t> datagram;
      if (op == 4)  // a sealed header naming one of members 0..3, then raw bytes
        datagram = {'W', 'D', wt::udp_transport::wire_version, wt::udp_transport::flag_sealed,
                    0, 0, 0, static_cast<std::uint8_t>(p.u8() % 4)};
      const weft::byte_view raw = p.take(p.u16() % (max_raw_bytes + 1));
      datagram.insert(datagram.end(), raw.begin(), raw.end());
      check(datagram, false);
      return;
    }
    const std::size_t s = p.u8() % senders.size();
    const std::size_t index = p.u16() % f_.pool[s].size();
    std::vector<std::uint8_t> datagram = f_.pool[s][index].bytes;
    if (op == 2) {  // one bit pattern flipped
      datagram[p.u16() % datagram.size()] ^= static_cast<std::uint8_t>(p.u8() | 1);
    } else if (op == 3) {  // cut short, or extended by the next program bytes
      const std::size_t cut = p.u16();
      if (cut % 2 == 0) {
        datagram.resize(cut / 2 % datagram.size());
      } else {
        const weft::byte_view more = p.take(cut / 2 % 64 + 1);
        datagram.insert(datagram.end(), more.begin(), more.end());
      }
    }
    check(datagram, op == 1 && senders[s].honest);
  }

 private:
  void send(const std::vector<std::uint8_t>& datagram) {
    const sockaddr_in to = receiver_.local_endpoint().to_sockaddr();
    require(::sendto(f_.injector.fd, datagram.data(), datagram.size(), 0,
                     reinterpret_cast<const sockaddr*>(&to), sizeof to) ==
            static_cast<ssize_t>(datagram.size()));
  }

  /// The pool entry (sender, index) holding exactly these bytes, if any: the sender is the
  /// one whose header, session and salt the datagram carries, the index its counter.
  const pooled* find_in_pool(const std::vector<std::uint8_t>& datagram, std::size_t& sender,
                             std::size_t& index) const {
    constexpr std::size_t counter_at = wt::udp_transport::header_size_bytes + 16;
    if (datagram.size() < counter_at + 8) return nullptr;
    index = static_cast<std::size_t>(weft::load_be<std::uint64_t>(datagram.data() + counter_at));
    for (sender = 0; sender < f_.pool.size(); ++sender) {
      const auto& of_sender = f_.pool[sender];
      if (index < of_sender.size() &&
          std::equal(datagram.begin(), datagram.begin() + counter_at, of_sender[0].bytes.begin()) &&
          of_sender[index].bytes == datagram)
        return &of_sender[index];
    }
    return nullptr;
  }

  /// Sends one datagram and checks its outcome; `honest_as_sealed`: an honest sender's pool
  /// datagram, unmodified.
  void check(const std::vector<std::uint8_t>& datagram, bool honest_as_sealed) {
    const std::uint64_t before = handled(receiver_.counters());
    const std::uint64_t received_before = receiver_.counters().datagrams_received;
    delivery_ = {};
    send(datagram);
    for (int turn = 0; turn < 1000 && handled(receiver_.counters()) == before; ++turn)
      require(f_.loop.run_once(weft::milliseconds(1)).has_value());
    // Exactly one outcome: delivered, or one drop counter.
    require(handled(receiver_.counters()) == before + 1);
    require(delivery_.happened == (receiver_.counters().datagrams_received == received_before + 1));
    if (!delivery_.happened) {
      require(!(honest_as_sealed && !any_delivered_));  // nothing yet to be stale or replayed
      return;
    }
    std::size_t s = 0, i = 0;
    const pooled* entry = find_in_pool(datagram, s, i);
    require(entry != nullptr && senders[s].honest);
    require(delivery_.from == senders[s].id && delivery_.payload == entry->payload);
    require(!delivered_[s][i]);
    delivered_[s][i] = true;
    any_delivered_ = true;
  }

  fixture& f_;
  std::uint8_t salt_ = 0x10;
  delivery delivery_;
  wt::udp_transport receiver_;
  std::vector<std::vector<bool>> delivered_;
  bool any_delivered_ = false;
};

void write_seed(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) return;
  std::fwrite(bytes.data(), 1, bytes.size(), file);
  std::fclose(file);
}

/// Seeds, one program per behaviour. Ops: 0 raw (u16 length, bytes); 1 pool datagram
/// (sender, u16 index); 2 flipped (sender, u16 index, u16 at, xor); 3 cut or extended
/// (sender, u16 index, u16 cut: even cuts to cut/2, odd appends cut/2 % 64 + 1 bytes);
/// 4 sealed header (member, u16 length, bytes).
void write_seeds(const std::string& dir) {
  write_seed(dir + "/deliver_then_replay", {1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 1});
  write_seed(dir + "/newer_session_then_stale", {1, 0, 0, 3, 1, 1, 0, 0, 1, 0, 0, 4, 1, 2, 0, 1});
  write_seed(dir + "/window_overflow", {1, 0, 4, 0x4b, 1, 0, 0, 2, 1, 0, 0, 90, 1, 0, 4, 0x40});
  write_seed(dir + "/member_2_empty_and_others", {1, 3, 0, 0, 1, 3, 0, 1, 1, 4, 0, 0, 1, 5, 0, 2});
  write_seed(dir + "/flip_and_cut", {2, 0, 0, 0, 0, 40, 0x80, 3, 0, 0, 0, 0, 30, 1, 0, 0, 5,
                                     3, 3, 0, 1, 0, 9, 7, 7, 7, 7, 7, 1, 3, 0, 1});
  std::vector<std::uint8_t> other_wire{0, 0, 12, 'W', 'D', 1, 1, 0, 0, 0, 1, 'o', 'l', 'd', '!',
                                       0, 0, 13, 'W', 'D', 2, 0, 0, 0, 0, 1, 'p', 'l', 'a', 'i', 'n',
                                       0, 0x05, 0xaa};  // then 1450 bytes: oversize
  other_wire.resize(other_wire.size() + 1450, 'W');
  write_seed(dir + "/version_mode_oversize", other_wire);
  write_seed(dir + "/raw_and_headers", {0, 0, 2, 'W', 'D', 4, 1, 0, 12, 'n', 'o', 't', ' ', 's', 'e',
                                        'a', 'l', 'e', 'd', ' ', '!', 0, 0, 0});
}
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* dir = std::getenv("WEFT_UDP_SEALED_SEEDS")) write_seeds(dir);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fixture& f = shared();
  run r(f);
  program p{weft::byte_view(data, size)};
  for (std::size_t ops = 0; ops < max_ops && !p.done(); ++ops) r.step(p);
  return 0;
}
