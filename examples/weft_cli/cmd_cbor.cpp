// weft cbor decode HEX | weft cbor encode DIAG: deterministic CBOR <-> diagnostic notation.
// `-` reads the argument from stdin. The logic lives in weft/wire/diagnostic.hpp, where the
// unit tests exercise it; this file only maps results to output and exit codes.
#include <cstdio>
#include <string>
#include <string_view>

#include "cli.hpp"
#include "weft/wire/diagnostic.hpp"

namespace {

int usage() {
  return weft_cli::fail(
      "usage: weft cbor decode <hex|-> | weft cbor encode <diagnostic|->");
}

int report(const weft::result<std::string>& converted) {
  if (!converted) {
    const weft::error& e = converted.error();
    std::string message(e.message());
    if (*e.where() != '\0') {
      message += " (";
      message += e.where();
      message += ')';
    }
    return weft_cli::fail(message);
  }
  std::printf("%s\n", converted->c_str());
  return weft_cli::exit_ok;
}

int run_cbor(weft_cli::args arguments) {
  if (arguments.size() != 2) return usage();
  const std::string input = weft_cli::argument_or_stdin(arguments[1]);
  if (arguments[0] == "decode") return report(weft::wire::diagnostic_from_hex(input));
  if (arguments[0] == "encode") return report(weft::wire::hex_from_diagnostic(input));
  return usage();
}

const weft_cli::registration registered{
    {"cbor", "deterministic CBOR: decode HEX to diagnostic notation, encode DIAG to hex",
     &run_cbor}};

}  // namespace
