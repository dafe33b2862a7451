// Shared helpers for the crypto tests: vector loading and hex/base64 decoding.
#pragma once

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "weft/core/bytes.hpp"

namespace crypto_test {

using bytes = std::vector<std::uint8_t>;

inline std::filesystem::path vectors_dir() { return std::filesystem::path(WEFT_VECTORS_DIR); }

/// The parsed JSON file under the vectors folder, or nullopt (after a loud WARN) if absent.
inline std::optional<nlohmann::json> load_vector(const std::string& relative) {
  const auto path = vectors_dir() / relative;
  std::ifstream in(path);
  if (!in) {
    WARN("SKIPPED: test vectors not found at " << path.string());
    return std::nullopt;
  }
  return nlohmann::json::parse(in);
}

inline bytes hex(const std::string& text) {
  bytes out(text.size() / 2 + 1);
  auto n = weft::from_hex(text, out);
  REQUIRE(n.has_value());
  out.resize(*n);
  return out;
}

inline bytes base64(const std::string& text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
  };
  bytes out;
  unsigned buffer = 0;
  int bits = 0;
  for (char c : text) {
    if (c == '=') break;
    const int v = value(c);
    REQUIRE(v >= 0);
    buffer = (buffer << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::uint8_t>((buffer >> bits) & 0xff));
    }
  }
  return out;
}

}  // namespace crypto_test
