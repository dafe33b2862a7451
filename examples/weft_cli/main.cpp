// weft - the command-line tool. Subcommands register themselves from cmd_*.cpp files.
#include <algorithm>
#include <cstdio>
#include <string_view>
#include <vector>

#include "cli.hpp"
#include "weft/config.hpp"

namespace {
int usage(std::FILE* out) {
  std::fprintf(out, "usage: weft <command> [arguments]\n\ncommands:\n");
  auto commands = weft_cli::registry();
  std::sort(commands.begin(), commands.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  for (const auto& c : commands)
    std::fprintf(out, "  %-10.*s %.*s\n", static_cast<int>(c.name.size()), c.name.data(),
                 static_cast<int>(c.summary.size()), c.summary.data());
  return out == stdout ? weft_cli::exit_ok : weft_cli::exit_bad_input;
}
}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string_view> arguments(argv + 1, argv + argc);
  if (arguments.empty()) return usage(stderr);
  if (arguments[0] == "--help" || arguments[0] == "-h") return usage(stdout);
  if (arguments[0] == "--version") {
    std::printf("weft %s\n", WEFT_VERSION_STRING);
    return weft_cli::exit_ok;
  }
  for (const auto& c : weft_cli::registry())
    if (c.name == arguments[0]) return c.run(weft_cli::args(arguments).subspan(1));
  std::fprintf(stderr, "error: unknown command '%.*s' (try weft --help)\n",
               static_cast<int>(arguments[0].size()), arguments[0].data());
  return weft_cli::exit_bad_input;
}
