// The `weft` tool's plumbing: subcommand registration, argument access and the exit-code
// convention (0 success, 1 a check that did not pass, 2 bad input with one `error:` line).
#pragma once

#include <cstdio>
#include <iostream>
#include <iterator>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace weft_cli {

inline constexpr int exit_ok = 0;
inline constexpr int exit_failed = 1;
inline constexpr int exit_bad_input = 2;

using args = std::span<const std::string_view>;
using command_fn = int (*)(args arguments);

struct command {
  std::string_view name;     // first word after `weft`
  std::string_view summary;  // one line for `weft --help`
  command_fn run;
};

inline std::vector<command>& registry() {
  static std::vector<command> commands;
  return commands;
}

/// `static const weft_cli::registration r{{"cbor", "…", &run_cbor}};` in a cmd_*.cpp file.
struct registration {
  explicit registration(command c) { registry().push_back(c); }
};

/// Prints `error: <message>` on stderr and returns exit_bad_input.
inline int fail(std::string_view message) {
  std::fprintf(stderr, "error: %.*s\n", static_cast<int>(message.size()), message.data());
  return exit_bad_input;
}

/// The argument itself, or all of stdin when the argument is `-` (trailing newlines cut).
inline std::string argument_or_stdin(std::string_view argument) {
  if (argument != "-") return std::string(argument);
  std::string text{std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

}  // namespace weft_cli
