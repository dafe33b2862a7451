// RFC 9162 Merkle trees: every transparency-dev vector (valid and every wantErr mutation),
// and the tree's own proofs checked against a naive recursive reference.
#include "test_support.hpp"

#include <algorithm>
#include <filesystem>

#include "weft/crypto/merkle.hpp"
#include "weft/crypto/sodium.hpp"

namespace wc = weft::crypto;
using sha = wc::libsodium::sha256;
using digest = wc::merkle_digest<sha>;
using hashing = wc::merkle_hashing<sha>;

namespace {

// A proof off the wire: every element must parse as a digest (typed error otherwise).
weft::result<std::vector<digest>> to_proof(const nlohmann::json& array) {
  std::vector<digest> out;
  if (array.is_null()) return out;
  for (const auto& h : array) {
    WEFT_TRY_ASSIGN(auto d,
                    wc::parse_merkle_digest<sha>(crypto_test::base64(h.get<std::string>())));
    out.push_back(d);
  }
  return out;
}

std::vector<std::filesystem::path> json_files(const std::string& folder) {
  std::vector<std::filesystem::path> out;
  const auto root = crypto_test::vectors_dir() / folder;
  if (!std::filesystem::exists(root)) return out;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root))
    if (entry.path().extension() == ".json") out.push_back(entry.path());
  std::sort(out.begin(), out.end());
  return out;
}

nlohmann::json read_json(const std::filesystem::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

// Naive RFC 9162 MTH, recursive, straight from the text.
digest naive_root(const std::vector<digest>& leaves, std::size_t lo, std::size_t hi) {
  if (hi == lo) return hashing::empty_root();
  if (hi - lo == 1) return leaves[lo];
  std::size_t k = 1;
  while (k * 2 < hi - lo) k *= 2;
  return hashing::node(naive_root(leaves, lo, lo + k), naive_root(leaves, lo + k, hi));
}

}  // namespace

TEST_CASE("merkle inclusion vectors (transparency-dev)", "[crypto][merkle]") {
  const auto files = json_files("merkle/inclusion");
  if (files.empty()) {
    WARN("SKIPPED: merkle vectors not found under " << crypto_test::vectors_dir().string());
    return;
  }
  int accepted = 0, rejected = 0;
  for (const auto& file : files) {
    const auto j = read_json(file);
    INFO(file.string());
    const auto root = crypto_test::base64(j["root"].get<std::string>());
    const auto leaf = crypto_test::base64(j["leafHash"].get<std::string>());
    const auto proof = to_proof(j["proof"]);
    const auto verdict =
        proof.has_value()
            ? wc::verify_inclusion<sha>(j["leafIdx"].get<std::uint64_t>(),
                                        j["treeSize"].get<std::uint64_t>(), leaf, *proof, root)
            : weft::result<void>(proof.error());
    if (j["wantErr"].get<bool>()) {
      CHECK_FALSE(verdict.has_value());
      ++rejected;
    } else {
      CHECK(verdict.has_value());
      ++accepted;
    }
  }
  CHECK(accepted >= 5);
  CHECK(rejected >= 50);
  WARN("merkle inclusion vectors: " << accepted << " valid accepted, " << rejected
                                    << " wantErr rejected");
}

TEST_CASE("merkle consistency vectors (transparency-dev)", "[crypto][merkle]") {
  const auto files = json_files("merkle/consistency");
  if (files.empty()) {
    WARN("SKIPPED: merkle vectors not found under " << crypto_test::vectors_dir().string());
    return;
  }
  int accepted = 0, rejected = 0;
  for (const auto& file : files) {
    const auto j = read_json(file);
    INFO(file.string());
    const auto root1 = crypto_test::base64(j["root1"].get<std::string>());
    const auto root2 = crypto_test::base64(j["root2"].get<std::string>());
    const auto proof = to_proof(j["proof"]);
    const auto verdict =
        proof.has_value()
            ? wc::verify_consistency<sha>(j["size1"].get<std::uint64_t>(),
                                          j["size2"].get<std::uint64_t>(), root1, root2, *proof)
            : weft::result<void>(proof.error());
    if (j["wantErr"].get<bool>()) {
      CHECK_FALSE(verdict.has_value());
      ++rejected;
    } else {
      CHECK(verdict.has_value());
      ++accepted;
    }
  }
  CHECK(accepted >= 5);
  CHECK(rejected >= 50);
  WARN("merkle consistency vectors: " << accepted << " valid accepted, " << rejected
                                      << " wantErr rejected");
}

TEST_CASE("merkle tree reproduces the vectors' tree of 8 leaves", "[crypto][merkle]") {
  // The RFC 6962 reference leaves used by transparency-dev's test data.
  const char* leaves_hex[] = {"", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                              "606162636465666768696a6b6c6d6e6f"};
  auto tree = wc::merkle_tree<sha>::create({.max_leaves = 8});
  REQUIRE(tree.has_value());
  for (const char* h : leaves_hex) REQUIRE(tree->append(crypto_test::hex(h)).has_value());
  CHECK(weft::to_hex(tree->root()) ==
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328");
  CHECK(weft::to_hex(*tree->root_at(1)) ==
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
  CHECK(tree->append(crypto_test::hex("00")).error().is(wc::crypto_errc::merkle_tree_full));
  auto doc = crypto_test::load_vector("merkle/consistency/1/happy-path.json");
  if (!doc) return;
  const auto expected = to_proof((*doc)["proof"]);
  REQUIRE(expected.has_value());
  auto ours = tree->consistency_proof(1, 8);
  REQUIRE(ours.has_value());
  REQUIRE(ours->size() == expected->size());
  for (std::size_t i = 0; i < expected->size(); ++i) CHECK((*ours)[i] == (*expected)[i]);
}

TEST_CASE("merkle tree agrees with the naive definition for every size to 70",
          "[crypto][merkle]") {
  auto tree = wc::merkle_tree<sha>::create({.max_leaves = 70});
  REQUIRE(tree.has_value());
  std::vector<digest> leaves;
  CHECK(tree->root() == hashing::empty_root());
  for (std::uint32_t i = 0; i < 70; ++i) {
    const std::uint8_t data[4] = {static_cast<std::uint8_t>(i), 1, 2, 3};
    REQUIRE(tree->append(data).has_value());
    leaves.push_back(hashing::leaf(data));
  }
  for (std::uint64_t n = 1; n <= 70; ++n) {
    const auto root = naive_root(leaves, 0, n);
    REQUIRE(*tree->root_at(n) == root);
    for (std::uint64_t m = 0; m < n; ++m) {
      auto proof = tree->inclusion_proof(m, n);
      REQUIRE(proof.has_value());
      const std::span<const digest> p(proof->begin(), proof->size());
      REQUIRE(wc::verify_inclusion<sha>(m, n, leaves[m], p, root).has_value());
      if (n > 1)  // a different leaf never verifies at this position
        CHECK_FALSE(wc::verify_inclusion<sha>(m, n, leaves[(m + 1) % n], p, root).has_value());
      const auto old_root = naive_root(leaves, 0, m + 1);
      auto consistency = tree->consistency_proof(m + 1, n);
      REQUIRE(consistency.has_value());
      const std::span<const digest> c(consistency->begin(), consistency->size());
      REQUIRE(wc::verify_consistency<sha>(m + 1, n, old_root, root, c).has_value());
      if (!c.empty()) {
        auto broken = *consistency;
        broken[broken.size() - 1][0] ^= 1;
        const std::span<const digest> b(broken.begin(), broken.size());
        CHECK_FALSE(wc::verify_consistency<sha>(m + 1, n, old_root, root, b).has_value());
      }
    }
  }
  CHECK(tree->inclusion_proof(70, 70).error().is(wc::crypto_errc::merkle_bad_index));
  CHECK(tree->consistency_proof(5, 71).error().is(wc::crypto_errc::merkle_bad_size));
  CHECK(wc::merkle_tree<sha>::create({.max_leaves = 0}).error().is(weft::core_errc::invalid_options));
}
