// weft admit admin|member: provisions a mesh's keys into files. `admin` makes the admin
// Ed25519 key; `member` makes a member's Ed25519 key (its SWIM identity and, as X25519,
// its Noise static key) and the admin-signed admission statement naming it
// (weft/membership/swim/sodium_admission.hpp). Seeds are written 0600 as 64 hex digits, public
// keys and statements as hex: the forms weftd's [security] config reads (docs/weftd.md).
#include <sys/stat.h>

#include <array>
#include <charconv>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>

#include "cli.hpp"
#include "weft/crypto/sodium.hpp"
#include "weft/membership/swim/sodium_admission.hpp"

namespace {

namespace ls = weft::crypto::libsodium;
using seed_bytes = std::array<std::uint8_t, ls::ed25519::seed_size>;

constexpr std::string_view usage =
    "usage: weft admit admin --out DIR | weft admit member --id N --admin DIR/admin.seed "
    "--out DIR [--epoch E]";

std::optional<std::string_view> option(weft_cli::args arguments, std::string_view name) {
  for (std::size_t i = 1; i + 1 < arguments.size(); ++i)
    if (arguments[i] == name) return arguments[i + 1];
  return std::nullopt;
}

bool options_known(weft_cli::args arguments, std::initializer_list<std::string_view> known) {
  for (std::size_t i = 1; i < arguments.size(); i += 2) {
    bool ok = i + 1 < arguments.size();
    bool listed = false;
    for (auto k : known) listed = listed || k == arguments[i];
    if (!ok || !listed) return false;
  }
  return true;
}

/// Writes `text` and a newline to `path`; `secret` files are made 0600 before the write.
bool write_file(const std::string& path, const std::string& text, bool secret) {
  std::ofstream out(path, std::ios::trunc);
  if (!out) return false;
  if (secret && ::chmod(path.c_str(), 0600) != 0) return false;
  out << text << "\n";
  return static_cast<bool>(out);
}

std::optional<seed_bytes> read_seed(const std::string& path) {
  std::ifstream in(path);
  std::string hex;
  if (!in || !(in >> hex) || hex.size() != 64) return std::nullopt;
  seed_bytes seed{};
  auto n = weft::from_hex(hex, seed);
  if (!n || *n != seed.size()) return std::nullopt;
  return seed;
}

/// A fresh seed into <out>/<name>.seed and its public key into <out>/<name>.pub.
std::optional<ls::ed25519::public_key> make_key(const std::string& out, const std::string& name,
                                                seed_bytes& seed) {
  ls::random_source{}.fill(seed);
  const auto public_key = ls::ed25519::public_key_of(ls::ed25519::secret_key_from_seed(seed));
  if (!write_file(out + "/" + name + ".seed", weft::to_hex(seed), true) ||
      !write_file(out + "/" + name + ".pub", weft::to_hex(public_key), false))
    return std::nullopt;
  return public_key;
}

int make_admin(weft_cli::args arguments) {
  const auto out = option(arguments, "--out");
  if (!out || !options_known(arguments, {"--out"})) return weft_cli::fail(usage);
  seed_bytes seed{};
  const auto public_key = make_key(std::string(*out), "admin", seed);
  weft::crypto::detail::secure_wipe(seed.data(), seed.size());
  if (!public_key) return weft_cli::fail("cannot write admin.seed or admin.pub under --out");
  std::printf("%s\n", weft::to_hex(*public_key).c_str());
  return weft_cli::exit_ok;
}

std::optional<std::uint64_t> number(std::optional<std::string_view> text, std::uint64_t fallback) {
  if (!text) return fallback;
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (ec != std::errc{} || end != text->data() + text->size()) return std::nullopt;
  return value;
}

int make_member(weft_cli::args arguments) {
  const auto out = option(arguments, "--out");
  const auto admin_path = option(arguments, "--admin");
  const auto id = number(option(arguments, "--id"), 0);
  const auto epoch = number(option(arguments, "--epoch"), 1);
  if (!out || !admin_path || !options_known(arguments, {"--out", "--admin", "--id", "--epoch"}))
    return weft_cli::fail(usage);
  if (!id || *id == 0 || *id >= (std::uint64_t{1} << 31)) return weft_cli::fail("--id must be in [1, 2^31)");
  if (!epoch) return weft_cli::fail("--epoch must be an unsigned integer");
  auto admin_seed = read_seed(std::string(*admin_path));
  if (!admin_seed) return weft_cli::fail("--admin must name a file holding a 64-hex-digit seed");
  const weft::swim::admission_authority authority(ls::ed25519::secret_key_from_seed(*admin_seed));
  weft::crypto::detail::secure_wipe(admin_seed->data(), admin_seed->size());
  const std::string name = "member-" + std::to_string(*id);
  seed_bytes seed{};
  const auto public_key = make_key(std::string(*out), name, seed);
  weft::crypto::detail::secure_wipe(seed.data(), seed.size());
  if (!public_key) return weft_cli::fail("cannot write the member's files under --out");
  std::array<std::uint8_t, weft::swim::max_signed_admission_bytes> statement{}, scratch{};
  auto issued = authority.issue(*id, *public_key, *epoch, statement, scratch);
  if (!issued) return weft_cli::fail(issued.error().message());
  if (!write_file(std::string(*out) + "/" + name + ".statement", weft::to_hex(*issued), false))
    return weft_cli::fail("cannot write the statement under --out");
  std::printf("%s\n", weft::to_hex(*public_key).c_str());
  return weft_cli::exit_ok;
}

int run_admit(weft_cli::args arguments) {
  if (!weft::crypto::sodium::initialize()) return weft_cli::fail("libsodium failed to initialise");
  if (arguments.empty()) return weft_cli::fail(usage);
  if (arguments[0] == "admin") return make_admin(arguments);
  if (arguments[0] == "member") return make_member(arguments);
  return weft_cli::fail(usage);
}

const weft_cli::registration registered{
    {"admit", "make an admin key, member keys and signed admission statements (files)", &run_admit}};

}  // namespace
