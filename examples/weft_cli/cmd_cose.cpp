// weft cose sign|verify|encrypt|decrypt: COSE_Sign1 (EdDSA/Ed25519) and COSE_Encrypt0
// (ChaCha20/Poly1305) from the command line. The logic lives in weft/crypto/cose.hpp (unit
// tested there); this file parses arguments and maps results to output and exit codes.
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli.hpp"
#include "weft/crypto/cose.hpp"
#include "weft/crypto/sodium.hpp"

namespace {

namespace wc = weft::crypto;
namespace ls = weft::crypto::libsodium;

struct parsed {
  std::vector<std::pair<std::string_view, std::string_view>> options;
  std::vector<std::string_view> positional;
  std::optional<std::string_view> get(std::string_view name) const {
    for (const auto& [k, v] : options)
      if (k == name) return v;
    return std::nullopt;
  }
};

std::optional<parsed> parse(weft_cli::args arguments, std::initializer_list<std::string_view> known) {
  parsed out;
  for (std::size_t i = 1; i < arguments.size(); ++i) {
    const std::string_view a = arguments[i];
    if (a.starts_with("--")) {
      bool ok = false;
      for (auto k : known) ok = ok || k == a;
      if (!ok || i + 1 >= arguments.size()) return std::nullopt;
      out.options.emplace_back(a, arguments[++i]);
    } else {
      out.positional.push_back(a);
    }
  }
  return out;
}

std::optional<std::vector<std::uint8_t>> hex_bytes(std::string_view text) {
  std::vector<std::uint8_t> out(text.size() / 2 + 1);
  auto n = weft::from_hex(text, out);
  if (!n) return std::nullopt;
  out.resize(*n);
  return out;
}

int fail_with(const weft::error& e) {
  std::string message(e.message());
  if (*e.where() != '\0') message += std::string(" (") + e.where() + ")";
  return weft_cli::fail(message);
}

int print_hex(weft::byte_view bytes) {
  std::printf("%s\n", weft::to_hex(bytes).c_str());
  return weft_cli::exit_ok;
}

int sign(const parsed& p) {
  const auto key = p.get("--key"), payload = p.get("--payload");
  if (!key || !payload || !p.positional.empty())
    return weft_cli::fail("usage: weft cose sign --key HEX --payload HEX [--kid TEXT]");
  auto seed = hex_bytes(*key);
  if (!seed || seed->size() != ls::ed25519::seed_size)
    return weft_cli::fail("--key must be a 32-byte Ed25519 seed in hex");
  const auto data = hex_bytes(*payload);
  if (!data) return weft_cli::fail("--payload is not hex");
  auto secret = ls::ed25519::secret_key_from_seed(
      std::span<const std::uint8_t, 32>(seed->data(), ls::ed25519::seed_size));
  weft::crypto::detail::secure_wipe(seed->data(), seed->size());  // the key lives on in `secret`
  wc::cose::encode_options options;
  const auto kid = p.get("--kid");
  if (kid) options.kid = weft::as_bytes(*kid);
  std::vector<std::uint8_t> out(data->size() + 256 + (kid ? kid->size() : 0));
  std::vector<std::uint8_t> scratch(wc::cose::sig_structure_size(data->size(), 0));
  auto message = wc::cose::sign1<ls::ed25519>(secret, *data, options, out, scratch);
  if (!message) return fail_with(message.error());
  return print_hex(*message);
}

int verify(const parsed& p) {
  const auto pub = p.get("--pub");
  if (!pub || p.positional.size() != 1)
    return weft_cli::fail("usage: weft cose verify --pub HEX COSE_HEX");
  const auto pk_bytes = hex_bytes(*pub);
  if (!pk_bytes) return weft_cli::fail("--pub is not hex");
  auto pk = ls::ed25519::parse_public_key(*pk_bytes);
  if (!pk) return fail_with(pk.error());
  const auto message = hex_bytes(weft_cli::argument_or_stdin(p.positional[0]));
  if (!message) return weft_cli::fail("COSE message is not hex");
  std::vector<std::uint8_t> scratch(wc::cose::sig_structure_size(message->size(), 0));
  auto payload = wc::cose::verify_sign1<ls::ed25519>(*pk, *message, {}, scratch);
  if (!payload) return fail_with(payload.error());
  return print_hex(*payload);
}

std::optional<ls::chacha20poly1305_ietf::key> aead_key(const parsed& p) {
  const auto key = p.get("--key");
  if (!key) return std::nullopt;
  auto raw = hex_bytes(*key);
  if (!raw) return std::nullopt;
  auto k = ls::chacha20poly1305_ietf::key::from(*raw);
  weft::crypto::detail::secure_wipe(raw->data(), raw->size());
  if (!k) return std::nullopt;
  return std::move(*k);
}

int encrypt(const parsed& p) {
  auto key = aead_key(p);
  const auto payload = p.get("--payload");
  if (!key || !payload || !p.positional.empty())
    return weft_cli::fail("usage: weft cose encrypt --key HEX(32 bytes) --payload HEX [--aad HEX]");
  const auto data = hex_bytes(*payload);
  const auto aad = hex_bytes(p.get("--aad").value_or(""));
  if (!data || !aad) return weft_cli::fail("--payload/--aad is not hex");
  ls::random_source random;
  std::array<std::uint8_t, ls::chacha20poly1305_ietf::nonce_size> iv{};
  random.fill(iv);
  wc::cose::encode_options options;
  options.external_aad = *aad;
  std::vector<std::uint8_t> out(data->size() + 64);
  auto message = wc::cose::encrypt0<ls::chacha20poly1305_ietf>(*key, iv, *data, options, out);
  if (!message) return fail_with(message.error());
  return print_hex(*message);
}

int decrypt(const parsed& p) {
  auto key = aead_key(p);
  if (!key || p.positional.size() != 1)
    return weft_cli::fail("usage: weft cose decrypt --key HEX(32 bytes) [--aad HEX] COSE_HEX");
  const auto aad = hex_bytes(p.get("--aad").value_or(""));
  const auto message = hex_bytes(weft_cli::argument_or_stdin(p.positional[0]));
  if (!message || !aad) return weft_cli::fail("COSE message/--aad is not hex");
  std::vector<std::uint8_t> plain(message->size());
  auto n = wc::cose::decrypt0<ls::chacha20poly1305_ietf>(*key, *message, *aad, plain);
  if (!n) return fail_with(n.error());
  return print_hex(weft::byte_view(plain).first(*n));
}

int run_cose(weft_cli::args arguments) {
  if (!wc::sodium::initialize()) return weft_cli::fail("libsodium failed to initialise");
  if (arguments.empty())
    return weft_cli::fail("usage: weft cose sign|verify|encrypt|decrypt ... (see docs/crypto.md)");
  const auto p = parse(arguments, {"--key", "--payload", "--kid", "--pub", "--aad"});
  if (!p) return weft_cli::fail("unknown option or option without a value");
  if (arguments[0] == "sign") return sign(*p);
  if (arguments[0] == "verify") return verify(*p);
  if (arguments[0] == "encrypt") return encrypt(*p);
  if (arguments[0] == "decrypt") return decrypt(*p);
  return weft_cli::fail("usage: weft cose sign|verify|encrypt|decrypt ...");
}

const weft_cli::registration registered{
    {"cose", "COSE_Sign1 (Ed25519) sign/verify, COSE_Encrypt0 (ChaCha20/Poly1305) encrypt/decrypt",
     &run_cose}};

}  // namespace
