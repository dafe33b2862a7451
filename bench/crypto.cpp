// bench_crypto: the cost of weft's COSE envelopes and Merkle trees over the primitives they
// wrap. Each weft operation runs next to the raw libsodium call(s) doing the same crypto,
// and the table at the end prints the overhead (COSE) and the throughput ratio (Merkle).
//   ./bench_crypto                      # all
//   ./bench_crypto --benchmark_filter=merkle
#include <benchmark/benchmark.h>
#include <sodium.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "weft/crypto/cose.hpp"
#include "weft/crypto/merkle.hpp"
#include "weft/crypto/sodium.hpp"

namespace {

namespace wc = weft::crypto;
namespace ls = weft::crypto::libsodium;
using ed = ls::ed25519;
using chacha = ls::chacha20poly1305_ietf;
using sha = ls::sha256;

constexpr std::size_t sizes[] = {64, 1024, 65536};
constexpr std::size_t merkle_leaves = 1'000'000;

struct fixture {
  ed::secret_key sk;
  ed::public_key pk{};
  chacha::key key;
  std::array<std::uint8_t, 12> iv{};
  std::map<std::size_t, std::vector<std::uint8_t>> payload, signed_msg, sealed_msg;
  std::vector<std::uint8_t> out = std::vector<std::uint8_t>(70000);
  std::vector<std::uint8_t> scratch = std::vector<std::uint8_t>(70000);
  /// The Enc_structure COSE_Encrypt0 authenticates (["Encrypt0", {1: 24}, h''], 16 bytes):
  /// the raw_*_aad peers pass it so they do exactly the crypto the envelope does.
  std::vector<std::uint8_t> enc_structure;
  /// The Sig_structure COSE_Sign1 signs for each payload (["Signature1", {1: -8}, h'',
  /// payload]): the raw_*_tbs peers sign and verify exactly the bytes Ed25519 sees.
  std::map<std::size_t, std::vector<std::uint8_t>> to_be_signed;
  fixture() {
    std::array<std::uint8_t, 32> seed{};
    seed.fill(3);
    sk = ed::secret_key_from_seed(seed);
    pk = ed::public_key_of(sk);
    key = chacha::key(seed);
    for (std::size_t n : sizes) {
      payload[n] = std::vector<std::uint8_t>(n, 0x5a);
      auto s = wc::cose::sign1<ed>(sk, payload[n], {}, out, scratch);
      signed_msg[n].assign(s->begin(), s->end());
      auto e = wc::cose::encrypt0<chacha>(key, iv, payload[n], {}, out);
      sealed_msg[n].assign(e->begin(), e->end());
      const auto decoded = wc::cose::decode_sign1(signed_msg[n]);
      const auto tbs = wc::cose::detail::sig_structure(decoded->protected_bytes, {},
                                                       decoded->payload, scratch);
      to_be_signed[n].assign(tbs->begin(), tbs->end());
    }
    const auto decoded = wc::cose::decode_encrypt0(sealed_msg[64]);
    std::array<std::uint8_t, 64> buffer{};
    const auto aad = wc::cose::detail::enc_structure(decoded->protected_bytes, {}, buffer);
    enc_structure.assign(aad->begin(), aad->end());
  }
};

fixture& fx() {
  static fixture f;
  return f;
}

void cose_sign(benchmark::State& state) {
  auto& f = fx();
  const auto& p = f.payload[static_cast<std::size_t>(state.range(0))];
  for (auto _ : state) {
    auto m = wc::cose::sign1<ed>(f.sk, p, {}, f.out, f.scratch);
    benchmark::DoNotOptimize(m);
  }
}
void raw_sign(benchmark::State& state) {
  auto& f = fx();
  const auto& p = f.payload[static_cast<std::size_t>(state.range(0))];
  std::array<std::uint8_t, 64> sig{};
  for (auto _ : state) {
    crypto_sign_ed25519_detached(sig.data(), nullptr, p.data(), p.size(), f.sk.expose().data());
    benchmark::DoNotOptimize(sig);
  }
}
void raw_sign_tbs(benchmark::State& state) {
  auto& f = fx();
  const auto& m = f.to_be_signed[static_cast<std::size_t>(state.range(0))];
  std::array<std::uint8_t, 64> sig{};
  for (auto _ : state) {
    crypto_sign_ed25519_detached(sig.data(), nullptr, m.data(), m.size(), f.sk.expose().data());
    benchmark::DoNotOptimize(sig);
  }
}
void raw_verify_tbs(benchmark::State& state) {
  auto& f = fx();
  const auto& m = f.to_be_signed[static_cast<std::size_t>(state.range(0))];
  std::array<std::uint8_t, 64> sig{};
  crypto_sign_ed25519_detached(sig.data(), nullptr, m.data(), m.size(), f.sk.expose().data());
  for (auto _ : state) {
    int r = crypto_sign_ed25519_verify_detached(sig.data(), m.data(), m.size(), f.pk.data());
    if (r != 0) state.SkipWithError("raw verify failed");
    benchmark::DoNotOptimize(r);
  }
}
void cose_verify(benchmark::State& state) {
  auto& f = fx();
  const auto& m = f.signed_msg[static_cast<std::size_t>(state.range(0))];
  for (auto _ : state) {
    auto r = wc::cose::verify_sign1<ed>(f.pk, m, {}, f.scratch);
    if (!r) state.SkipWithError("verify failed");
    benchmark::DoNotOptimize(r);
  }
}
void raw_verify(benchmark::State& state) {
  auto& f = fx();
  const auto& p = f.payload[static_cast<std::size_t>(state.range(0))];
  std::array<std::uint8_t, 64> sig{};
  crypto_sign_ed25519_detached(sig.data(), nullptr, p.data(), p.size(), f.sk.expose().data());
  for (auto _ : state) {
    int r = crypto_sign_ed25519_verify_detached(sig.data(), p.data(), p.size(), f.pk.data());
    benchmark::DoNotOptimize(r);
  }
}
void cose_encrypt(benchmark::State& state) {
  auto& f = fx();
  const auto& p = f.payload[static_cast<std::size_t>(state.range(0))];
  for (auto _ : state) {
    auto m = wc::cose::encrypt0<chacha>(f.key, f.iv, p, {}, f.out);
    benchmark::DoNotOptimize(m);
  }
}
void raw_encrypt(benchmark::State& state) {
  auto& f = fx();
  const auto& p = f.payload[static_cast<std::size_t>(state.range(0))];
  std::array<std::uint8_t, 16> tag{};
  for (auto _ : state) {
    crypto_aead_chacha20poly1305_ietf_encrypt_detached(f.out.data(), tag.data(), nullptr,
                                                       p.data(), p.size(), nullptr, 0, nullptr,
                                                       f.iv.data(), f.key.expose().data());
    benchmark::DoNotOptimize(tag);
  }
}
void raw_encrypt_aad(benchmark::State& state) {
  auto& f = fx();
  const auto& p = f.payload[static_cast<std::size_t>(state.range(0))];
  std::array<std::uint8_t, 16> tag{};
  for (auto _ : state) {
    crypto_aead_chacha20poly1305_ietf_encrypt_detached(
        f.out.data(), tag.data(), nullptr, p.data(), p.size(), f.enc_structure.data(),
        f.enc_structure.size(), nullptr, f.iv.data(), f.key.expose().data());
    benchmark::DoNotOptimize(tag);
  }
}
void cose_decrypt(benchmark::State& state) {
  auto& f = fx();
  const auto& m = f.sealed_msg[static_cast<std::size_t>(state.range(0))];
  for (auto _ : state) {
    auto n = wc::cose::decrypt0<chacha>(f.key, m, {}, f.out);
    if (!n) state.SkipWithError("decrypt failed");
    benchmark::DoNotOptimize(n);
  }
}
void raw_decrypt(benchmark::State& state) {
  auto& f = fx();
  const auto& p = f.payload[static_cast<std::size_t>(state.range(0))];
  std::vector<std::uint8_t> ct(p.size());
  std::array<std::uint8_t, 16> tag{};
  crypto_aead_chacha20poly1305_ietf_encrypt_detached(ct.data(), tag.data(), nullptr, p.data(),
                                                     p.size(), nullptr, 0, nullptr, f.iv.data(),
                                                     f.key.expose().data());
  for (auto _ : state) {
    int r = crypto_aead_chacha20poly1305_ietf_decrypt_detached(
        f.out.data(), nullptr, ct.data(), ct.size(), tag.data(), nullptr, 0, f.iv.data(),
        f.key.expose().data());
    benchmark::DoNotOptimize(r);
  }
}

void raw_decrypt_aad(benchmark::State& state) {
  auto& f = fx();
  const auto& p = f.payload[static_cast<std::size_t>(state.range(0))];
  std::vector<std::uint8_t> ct(p.size());
  std::array<std::uint8_t, 16> tag{};
  const auto& aad = f.enc_structure;
  crypto_aead_chacha20poly1305_ietf_encrypt_detached(ct.data(), tag.data(), nullptr, p.data(),
                                                     p.size(), aad.data(), aad.size(), nullptr,
                                                     f.iv.data(), f.key.expose().data());
  for (auto _ : state) {
    int r = crypto_aead_chacha20poly1305_ietf_decrypt_detached(
        f.out.data(), nullptr, ct.data(), ct.size(), tag.data(), aad.data(), aad.size(),
        f.iv.data(), f.key.expose().data());
    if (r != 0) state.SkipWithError("raw decrypt failed");
    benchmark::DoNotOptimize(r);
  }
}

const std::vector<std::array<std::uint8_t, 32>>& leaves() {
  static const auto data = [] {
    std::vector<std::array<std::uint8_t, 32>> v(merkle_leaves);
    for (std::size_t i = 0; i < v.size(); ++i)
      for (std::size_t b = 0; b < 32; ++b) v[i][b] = static_cast<std::uint8_t>(i * 31 + b);
    return v;
  }();
  return data;
}

void merkle_build(benchmark::State& state) {
  const auto& data = leaves();
  for (auto _ : state) {
    auto tree = wc::merkle_tree<sha>::create({.max_leaves = merkle_leaves});
    for (const auto& leaf : data) (void)tree->append(leaf);
    auto root = tree->root();
    benchmark::DoNotOptimize(root);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(merkle_leaves));
}
/// What the issue names as the reference: SHA-256 of each 32-byte leaf, nothing else.
void merkle_raw_leaf_sha256(benchmark::State& state) {
  const auto& data = leaves();
  std::array<std::uint8_t, 32> out{};
  for (auto _ : state) {
    for (const auto& leaf : data) {
      crypto_hash_sha256(out.data(), leaf.data(), leaf.size());
      benchmark::DoNotOptimize(out);
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(merkle_leaves));
}
/// The floor for any RFC 9162 tree: n leaf hashes of 33 bytes and n - 1 node hashes of
/// 65 bytes (two SHA-256 blocks each), raw, with no tree bookkeeping.
void merkle_raw_all_hashes(benchmark::State& state) {
  const auto& data = leaves();
  std::array<std::uint8_t, 33> leaf_in{};
  std::array<std::uint8_t, 65> node_in{};
  std::array<std::uint8_t, 32> out{};
  for (auto _ : state) {
    for (const auto& leaf : data) {
      std::memcpy(leaf_in.data() + 1, leaf.data(), 32);
      crypto_hash_sha256(out.data(), leaf_in.data(), leaf_in.size());
      benchmark::DoNotOptimize(out);
    }
    for (std::size_t i = 1; i < merkle_leaves; ++i) {
      node_in[1] = static_cast<std::uint8_t>(i);
      crypto_hash_sha256(out.data(), node_in.data(), node_in.size());
      benchmark::DoNotOptimize(out);
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(merkle_leaves));
}

class recording_reporter : public benchmark::ConsoleReporter {
 public:
  std::map<std::string, double> ns;
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const auto& run : runs) {
      const bool median = run.run_type == Run::RT_Aggregate && run.aggregate_name == "median";
      const std::string name = run.benchmark_name();
      if (median) ns[name] = run.GetAdjustedCPUTime();
      else if (run.run_type == Run::RT_Iteration) ns.try_emplace(name, run.GetAdjustedCPUTime());
    }
  }
};

}  // namespace

/// `bench_crypto --loop OP SIZE N` runs one operation N times and nothing else, for
/// instruction counting under valgrind (deterministic where the shared machine's timing is
/// not): per-op instructions = (count at 2N - count at N) / N. OP: cose_sign, raw_sign,
/// cose_verify, raw_verify, cose_encrypt, raw_encrypt, cose_decrypt, raw_decrypt,
/// raw_encrypt_aad, raw_decrypt_aad, raw_sign_tbs, raw_verify_tbs; merkle_build, merkle_raw_leaf_sha256,
/// merkle_raw_all_hashes (one iteration = 1,000,000 leaves; SIZE is ignored but must be 64).
int run_loop(const std::string& op, std::size_t size, long count) {
  static const std::map<std::string, void (*)(benchmark::State&)> ops = {
      {"cose_sign", cose_sign},       {"raw_sign", raw_sign},
      {"cose_verify", cose_verify},   {"raw_verify", raw_verify},
      {"cose_encrypt", cose_encrypt}, {"raw_encrypt", raw_encrypt},
      {"cose_decrypt", cose_decrypt}, {"raw_decrypt", raw_decrypt},
      {"raw_encrypt_aad", raw_encrypt_aad}, {"raw_decrypt_aad", raw_decrypt_aad},
      {"raw_sign_tbs", raw_sign_tbs},   {"raw_verify_tbs", raw_verify_tbs},
      {"merkle_build", merkle_build}, {"merkle_raw_leaf_sha256", merkle_raw_leaf_sha256},
      {"merkle_raw_all_hashes", merkle_raw_all_hashes}};
  const auto it = ops.find(op);
  if (it == ops.end() || fx().payload.count(size) == 0) return 2;
  if (count == 0) return 0;
  auto* bench = benchmark::RegisterBenchmark("loop", it->second);
  bench->Arg(static_cast<std::int64_t>(size))->Iterations(count);
  const char* args[] = {"bench_crypto", "--benchmark_filter=^loop"};
  int argc = 2;
  benchmark::Initialize(&argc, const_cast<char**>(args));
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}

int main(int argc, char** argv) {
  if (sodium_init() < 0) return 1;
  if (argc == 5 && std::string(argv[1]) == "--loop") {
    (void)fx();
    return run_loop(argv[2], std::stoul(argv[3]), std::stol(argv[4]));
  }
  benchmark::Initialize(&argc, argv);
  for (std::size_t n : sizes) {
    const auto arg = static_cast<std::int64_t>(n);
    benchmark::RegisterBenchmark("sign/cose", cose_sign)->Arg(arg);
    benchmark::RegisterBenchmark("sign/raw", raw_sign)->Arg(arg);
    benchmark::RegisterBenchmark("sign/raw_aad", raw_sign_tbs)->Arg(arg);
    benchmark::RegisterBenchmark("verify/cose", cose_verify)->Arg(arg);
    benchmark::RegisterBenchmark("verify/raw", raw_verify)->Arg(arg);
    benchmark::RegisterBenchmark("verify/raw_aad", raw_verify_tbs)->Arg(arg);
    benchmark::RegisterBenchmark("encrypt/cose", cose_encrypt)->Arg(arg);
    benchmark::RegisterBenchmark("encrypt/raw", raw_encrypt)->Arg(arg);
    benchmark::RegisterBenchmark("encrypt/raw_aad", raw_encrypt_aad)->Arg(arg);
    benchmark::RegisterBenchmark("decrypt/cose", cose_decrypt)->Arg(arg);
    benchmark::RegisterBenchmark("decrypt/raw", raw_decrypt)->Arg(arg);
    benchmark::RegisterBenchmark("decrypt/raw_aad", raw_decrypt_aad)->Arg(arg);
  }
  benchmark::RegisterBenchmark("merkle/build_1M", merkle_build)->Iterations(3)->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("merkle/raw_leaf_sha256_1M", merkle_raw_leaf_sha256)->Iterations(3)->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("merkle/raw_all_hashes_1M", merkle_raw_all_hashes)->Iterations(3)->Unit(benchmark::kMillisecond);
  recording_reporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  const auto find = [&](const std::string& name) {
    for (const auto& [k, v] : reporter.ns)
      if (k.rfind(name, 0) == 0) return v;
    return 0.0;
  };
  // raw: the bare libsodium call on the payload. raw+fmt: the same call on the bytes the
  // format makes the primitive process (Encrypt0: the 16-byte Enc_structure as AAD; Sign1:
  // the Sig_structure instead of the payload), i.e. the same crypto; the gap to it is weft's
  // own code, the gap from raw to raw+fmt is what COSE itself costs.
  std::printf("\n%-8s %8s %12s %12s %10s %12s %10s %10s\n", "op", "bytes", "cose cpu ns",
              "raw cpu ns", "overhead", "raw+fmt ns", "format", "weft code");
  for (const char* op : {"sign", "verify", "encrypt", "decrypt"})
    for (std::size_t n : sizes) {
      char cose_name[64], raw_name[64], fmt_name[64];  // snprintf: GCC 12 warns falsely on concat
      std::snprintf(cose_name, sizeof cose_name, "%s/cose/%zu", op, n);
      std::snprintf(raw_name, sizeof raw_name, "%s/raw/%zu", op, n);
      std::snprintf(fmt_name, sizeof fmt_name, "%s/raw_aad/%zu", op, n);
      const double c = find(cose_name);
      const double r = find(raw_name);
      const double a = find(fmt_name);
      if (c <= 0.0 || r <= 0.0) continue;
      std::printf("%-8s %8zu %12.0f %12.0f %9.1f%%", op, n, c, r, (c / r - 1.0) * 100.0);
      if (a > 0.0) std::printf(" %12.0f %9.1f%% %9.1f%%", a, (a / r - 1.0) * 100.0, (c - a) / r * 100.0);
      std::printf("\n");
    }
  const double build = find("merkle/build_1M"), leaf_only = find("merkle/raw_leaf_sha256_1M"),
               floor = find("merkle/raw_all_hashes_1M");
  if (build > 0.0 && leaf_only > 0.0 && floor > 0.0) {
    // (a) is the ratio; RFC 9162 caps it near n / (3n - 2) = 33% (docs/crypto.md).
    // (b) compares with as many SHA-256 compressions done raw, over strings of the tree's
    // lengths (not its bytes): what weft's tree adds on top of the hashing.
    std::printf("\nmerkle 1M leaves: build %.1f ms; (a) raw SHA-256 of the 32-byte leaves %.1f ms: "
                "build throughput %.1f%% of it (RFC 9162 ceiling ~33.9%%); (b) raw SHA-256 of the "
                "3n-2 strings of the tree's lengths (33 and 65 bytes) %.1f ms: %.1f%% of it\n",
                build, leaf_only, 100.0 * leaf_only / build, floor, 100.0 * floor / build);
  }
  benchmark::Shutdown();
  return 0;
}
