// `weft log decode <file|->`: turns a binary log stream (weft/telemetry/binary_sink.hpp) back
// into text, one line per event, using the callsite registrations the stream carries.
// Damaged stretches are reported on stderr (`warning: offset ...`) and decoding carries on
// at the next intact frame; the exit status is then 1.
// `weft log sample <file>` writes a small stream (for trying decode; tests corrupt it).
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "cli.hpp"
#include "weft/core/time.hpp"
#include "weft/telemetry/binary_log.hpp"
#include "weft/telemetry/binary_sink.hpp"

namespace {

namespace wt = weft::telemetry;

constexpr std::size_t max_callsites = 65536;  // ids at or above are reported as unknown

struct print_visitor {
  std::size_t problems = 0;
  void on_event(const wt::decoded_event& e) {
    std::string line;
    wt::string_output out(line);
    wt::format_decoded_event(out, e);
    std::fwrite(line.data(), 1, line.size(), stdout);
  }
  void on_dropped(std::uint64_t count) {
    std::printf("-- %llu records dropped by the writer (queue full)\n",
                static_cast<unsigned long long>(count));
  }
  void on_problem(const wt::decode_problem& p) {
    ++problems;
    const auto text = describe(p.code);
    std::fprintf(stderr, "warning: offset %zu: %.*s (%zu bytes)\n", p.offset,
                 static_cast<int>(text.size()), text.data(), p.length_bytes);
  }
};

bool read_input(std::string_view name, std::vector<std::uint8_t>& bytes) {
  if (name == "-") {
    bytes.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    return true;
  }
  std::ifstream in{std::string(name), std::ios::binary};
  if (!in) return false;
  bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return true;
}

int decode(std::string_view input) {
  std::vector<std::uint8_t> bytes;
  if (!read_input(input, bytes)) return weft_cli::fail("cannot read " + std::string(input));
  std::vector<wt::decoded_callsite> table(max_callsites);
  print_visitor visitor;
  const auto summary = wt::decode_log_stream(bytes, table, visitor);
  std::fprintf(stderr, "%zu events, %zu frames, %zu problems, %zu bytes skipped\n",
               summary.events, summary.frames_ok, summary.problems, summary.skipped_bytes);
  return visitor.problems == 0 ? weft_cli::exit_ok : weft_cli::exit_failed;
}

struct file_output {
  std::FILE* file;
  weft::result<void> write(weft::byte_view b) noexcept {
    if (std::fwrite(b.data(), 1, b.size(), file) != b.size())
      return weft::error(weft::core_errc::capacity_exceeded, "fwrite");
    return weft::ok();
  }
};

int sample(std::string_view output) {
  std::FILE* file = std::fopen(std::string(output).c_str(), "wb");
  if (file == nullptr) return weft_cli::fail("cannot write " + std::string(output));
  weft::manual_clock clock(weft::time_point_from_ns(1'000'000));
  wt::binary_sink<weft::manual_clock> sink(clock);
  for (int term = 1; term <= 3; ++term) {
    WEFT_LOG_INFO(sink, "became leader", wt::kv("term", term), wt::kv("node", "n1"));
    clock.advance(weft::milliseconds(5));
    WEFT_LOG_WARN(sink, "slow fsync", wt::kv("duration_ms", 12.5 * term), wt::kv("ok", true));
  }
  file_output out{file};
  const bool written = sink.flush(out).has_value();
  const bool closed = std::fclose(file) == 0;
  if (!written || !closed) return weft_cli::fail("writing " + std::string(output) + " failed");
  return weft_cli::exit_ok;
}

int run_log(weft_cli::args arguments) {
  if (arguments.size() == 2 && arguments[0] == "decode") return decode(arguments[1]);
  if (arguments.size() == 2 && arguments[0] == "sample") return sample(arguments[1]);
  return weft_cli::fail("usage: weft log decode <file|->  |  weft log sample <file>");
}

const weft_cli::registration registered{
    {"log", "decode a binary log stream to text (log decode <file|->; log sample <file>)",
     &run_log}};

}  // namespace
