// weft merkle root|prove|verify: RFC 9162 Merkle trees (SHA-256) over hex leaves read one per
// line from stdin. The logic lives in weft/crypto/merkle.hpp (unit tested there).
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli.hpp"
#include "weft/crypto/merkle.hpp"
#include "weft/crypto/sodium.hpp"

namespace {

namespace wc = weft::crypto;
using sha = wc::libsodium::sha256;
using digest = wc::merkle_digest<sha>;

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

/// Leaves from stdin (hex, one per line; blank lines and surrounding spaces ignored).
std::optional<wc::merkle_tree<sha>> read_tree(std::string& problem) {
  std::vector<std::vector<std::uint8_t>> leaves;
  std::string line;
  std::size_t line_number = 0;
  while (std::getline(std::cin, line)) {
    ++line_number;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    const auto start = line.find_first_not_of(' ');
    if (start == std::string::npos) continue;
    auto leaf = hex_bytes(std::string_view(line).substr(start));
    if (!leaf) {
      problem = "line " + std::to_string(line_number) + " is not hex";
      return std::nullopt;
    }
    leaves.push_back(std::move(*leaf));
  }
  wc::merkle_options options;
  options.max_leaves = leaves.empty() ? 1 : leaves.size();
  auto tree = wc::merkle_tree<sha>::create(options);
  if (!tree) {
    problem = std::string(tree.error().message());
    return std::nullopt;
  }
  for (const auto& leaf : leaves) {
    if (auto appended = tree->append(leaf); !appended) {
      problem = std::string(appended.error().message());
      return std::nullopt;
    }
  }
  return std::move(*tree);
}

std::optional<std::uint64_t> number(std::string_view text) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    const std::uint64_t digit = static_cast<std::uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

int root(weft_cli::args arguments) {
  if (arguments.size() != 1) return weft_cli::fail("usage: weft merkle root < leaves");
  std::string problem;
  auto tree = read_tree(problem);
  if (!tree) return weft_cli::fail(problem);
  std::printf("%s\n", weft::to_hex(tree->root()).c_str());
  return weft_cli::exit_ok;
}

int prove(weft_cli::args arguments) {
  if (arguments.size() != 2) return weft_cli::fail("usage: weft merkle prove INDEX < leaves");
  const auto index = number(arguments[1]);
  if (!index) return weft_cli::fail("INDEX is not a non-negative integer");
  std::string problem;
  auto tree = read_tree(problem);
  if (!tree) return weft_cli::fail(problem);
  auto proof = tree->inclusion_proof(*index, tree->size());
  if (!proof) return fail_with(proof.error());
  for (const auto& h : *proof) std::printf("%s\n", weft::to_hex(h).c_str());
  return weft_cli::exit_ok;
}

int verify(weft_cli::args arguments) {
  std::optional<std::uint64_t> index, size;
  std::optional<std::vector<std::uint8_t>> leaf, root_hash;
  std::vector<digest> path;
  for (std::size_t i = 1; i < arguments.size(); ++i) {
    const std::string_view a = arguments[i];
    const bool has_value = i + 1 < arguments.size();
    if (a == "--index" && has_value) index = number(arguments[++i]);
    else if (a == "--size" && has_value) size = number(arguments[++i]);
    else if (a == "--leaf" && has_value) leaf = hex_bytes(arguments[++i]);
    else if (a == "--root" && has_value) root_hash = hex_bytes(arguments[++i]);
    else if (a.starts_with("--")) return weft_cli::fail("unknown option " + std::string(a));
    else {
      auto h = hex_bytes(a);
      if (!h) return weft_cli::fail("audit path hash is not hex");
      auto d = wc::parse_merkle_digest<sha>(*h);
      if (!d) return fail_with(d.error());
      path.push_back(*d);
    }
  }
  if (!index || !size || !leaf || !root_hash)
    return weft_cli::fail(
        "usage: weft merkle verify --index I --size N --leaf HEX --root HEX [HASH...]");
  const auto leaf_hash = wc::merkle_hashing<sha>::leaf(*leaf);
  auto verdict = wc::verify_inclusion<sha>(*index, *size, leaf_hash, path, *root_hash);
  if (!verdict) return fail_with(verdict.error());
  std::printf("ok\n");
  return weft_cli::exit_ok;
}

int run_merkle(weft_cli::args arguments) {
  if (!wc::sodium::initialize()) return weft_cli::fail("libsodium failed to initialise");
  if (!arguments.empty() && arguments[0] == "root") return root(arguments);
  if (!arguments.empty() && arguments[0] == "prove") return prove(arguments);
  if (!arguments.empty() && arguments[0] == "verify") return verify(arguments);
  return weft_cli::fail("usage: weft merkle root|prove INDEX|verify ... (leaves as hex lines on stdin)");
}

const weft_cli::registration registered{
    {"merkle", "RFC 9162 Merkle trees (SHA-256): root, prove INDEX, verify an audit path",
     &run_merkle}};

}  // namespace
