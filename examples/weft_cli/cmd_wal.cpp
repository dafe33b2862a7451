// `weft wal verify DIR`: runs WAL recovery read-only (nothing is repaired or created) and
// says whether the log is intact (exit 0), ends in a torn tail that opening the WAL for
// writing would cut off (exit 1, a `torn tail:` line), or is damaged before its tail (exit 2,
// `error: FILE:OFFSET: reason`).
// `weft wal dump DIR`: one line per record, walking each segment's records in order.
// `weft wal sample DIR [--records N]` writes a small multi-segment WAL (for trying verify
// and dump, with one truncate record halfway; the CLI tests corrupt it).
#include <algorithm>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "cli.hpp"
#include "weft/storage/detail/wal_format.hpp"
#include "weft/storage/posix_file_system.hpp"
#include "weft/storage/wal.hpp"

namespace {

namespace ws = weft::storage;
namespace wf = weft::storage::detail;

constexpr std::size_t payload_hex_prefix_bytes = 8;
constexpr std::uint64_t sample_segment_size_bytes = 4096;  // small: a few records per segment

std::string error_text(const weft::error& e) {
  std::string text(e.message());
  if (*e.where() != '\0') text += std::string(" (") + e.where() + ")";
  return text;
}

ws::posix_file_system_options reader_fs_options() {
  ws::posix_file_system_options fs;
  fs.create_directory = false;
  return fs;
}

int verify(const std::string& directory) {
  ws::wal_options options;
  options.read_only = true;
  options.max_segments = std::size_t{1} << 16;  // sealed segments are opened one at a time
  ws::posix_file_system fs(reader_fs_options());
  if (auto attached = fs.attach(directory.c_str()); !attached)
    return weft_cli::fail(directory + ": " + error_text(attached.error()));
  ws::wal<ws::posix_file_system> log(fs, options);
  ws::recovery_report report;
  if (auto opened = log.open(report); !opened) {
    const std::string reason = report.reason.empty() ? error_text(opened.error())
                                                     : std::string(report.reason);
    return weft_cli::fail(directory + "/" + std::string(report.file_name()) + ":" +
                          std::to_string(report.offset) + ": " + reason);
  }
  std::printf("%llu segments, %llu records, entries %llu..%llu\n",
              static_cast<unsigned long long>(report.segments),
              static_cast<unsigned long long>(report.records),
              static_cast<unsigned long long>(log.first_index()),
              static_cast<unsigned long long>(log.last_index()));
  if (report.torn_tails_repaired == 0 && report.torn_segments_removed == 0)
    return weft_cli::exit_ok;
  std::printf("torn tail: %s/%s:%llu: %.*s; %llu bytes (repairable: opening the WAL for "
              "writing cuts them off)\n",
              directory.c_str(), report.file, static_cast<unsigned long long>(report.offset),
              static_cast<int>(report.reason.size()), report.reason.data(),
              static_cast<unsigned long long>(report.torn_bytes_discarded));
  return weft_cli::exit_failed;
}

std::string_view kind_name(wf::record_type type) {
  switch (type) {
    case wf::record_type::entry: return "entry";
    case wf::record_type::truncate: return "truncate";
    case wf::record_type::compact: return "compact";
    case wf::record_type::sync_marker: return "sync_marker";
  }
  return "unknown";
}

void print_record(const std::string& file, std::uint64_t offset, const wf::record_header& h,
                  weft::byte_view payload) {
  const auto prefix = payload.first(std::min(payload.size(), payload_hex_prefix_bytes));
  const std::string hex = weft::to_hex(prefix);
  const char* more = payload.size() > prefix.size() ? "..." : "";
  if (h.type == wf::record_type::entry)
    std::printf("%s %llu seq=%llu entry index=%llu term=%llu length=%u payload=%s%s\n",
                file.c_str(), static_cast<unsigned long long>(offset),
                static_cast<unsigned long long>(h.sequence),
                static_cast<unsigned long long>(h.index), static_cast<unsigned long long>(h.term),
                h.payload_length, hex.c_str(), more);
  else if (h.type == wf::record_type::sync_marker)
    std::printf("%s %llu seq=%llu sync_marker synced_through=%llu\n", file.c_str(),
                static_cast<unsigned long long>(offset), static_cast<unsigned long long>(h.sequence),
                static_cast<unsigned long long>(h.synced_through));
  else
    std::printf("%s %llu seq=%llu %.*s from_index=%llu\n", file.c_str(),
                static_cast<unsigned long long>(offset), static_cast<unsigned long long>(h.sequence),
                static_cast<int>(kind_name(h.type).size()), kind_name(h.type).data(),
                static_cast<unsigned long long>(h.index));
}

// Walks one segment's records while they decode and their sequences follow on; returns the
// offset where the walk stopped (the end of the records, or the first damaged one).
std::uint64_t dump_segment(const std::string& file, const std::vector<std::uint8_t>& bytes,
                           std::uint64_t& next_sequence) {
  const weft::byte_view all(bytes.data(), bytes.size());
  wf::segment_header header;
  if (wf::decode_segment_header(all, header) != wf::header_verdict::ok) return 0;
  if (next_sequence == 0) next_sequence = header.first_sequence;
  const std::uint64_t limit = std::min<std::uint64_t>(bytes.size(), header.segment_size);
  std::uint64_t offset = wf::segment_header_size;
  wf::record_header h;
  while (offset + wf::record_header_size <= limit &&
         wf::decode_record_header(all.subspan(offset), std::size_t{1} << 30, h) &&
         h.sequence == next_sequence && offset + wf::record_size(h.payload_length) <= limit) {
    const auto payload = all.subspan(offset + wf::record_header_size, h.payload_length);
    if (!wf::payload_matches(h, payload)) break;
    print_record(file, offset, h, payload);
    ++next_sequence;
    offset += wf::record_size(h.payload_length);
  }
  return offset;
}

int dump(const std::string& directory) {
  ws::posix_file_system fs(reader_fs_options());
  if (auto attached = fs.attach(directory.c_str()); !attached)
    return weft_cli::fail(directory + ": " + error_text(attached.error()));
  std::vector<std::uint64_t> numbers;
  auto listed = fs.list(
      [](void* context, std::string_view name) noexcept {
        std::uint64_t number = 0;
        if (wf::parse_segment_name(name, number))
          static_cast<std::vector<std::uint64_t>*>(context)->push_back(number);
      },
      &numbers);
  if (!listed) return weft_cli::fail(directory + ": " + error_text(listed.error()));
  std::sort(numbers.begin(), numbers.end());
  std::uint64_t next_sequence = 0;
  for (const std::uint64_t number : numbers) {
    char name[wf::segment_name_size + 1];
    wf::format_segment_name(number, name);
    std::ifstream in(directory + "/" + name, std::ios::binary);
    const std::vector<std::uint8_t> bytes{std::istreambuf_iterator<char>(in),
                                          std::istreambuf_iterator<char>()};
    const std::uint64_t stopped = dump_segment(name, bytes, next_sequence);
    if (stopped == 0) std::printf("%s 0 segment header unreadable\n", name);
  }
  return weft_cli::exit_ok;
}

int sample(const std::string& directory, std::uint64_t records) {
  ws::posix_file_system fs;
  if (auto attached = fs.attach(directory.c_str()); !attached)
    return weft_cli::fail(directory + ": " + error_text(attached.error()));
  ws::wal_options options;
  options.segment_size_bytes = sample_segment_size_bytes;
  options.max_record_size_bytes = 1024;
  options.write_buffer_size_bytes = 4096;
  options.preallocation = ws::preallocation_mode::zero_fill;
  ws::wal<ws::posix_file_system> log(fs, options);
  ws::recovery_report report;
  auto result = log.open(report);
  std::vector<std::uint8_t> payload(100);
  for (std::uint64_t i = 0; result && i < records; ++i) {
    for (std::size_t k = 0; k < payload.size(); ++k)
      payload[k] = static_cast<std::uint8_t>(i * 7 + k);
    if (i == records / 2 && log.last_index() > 2) {  // a conflicting suffix, as Raft cuts one
      auto cut = log.truncate_suffix(log.last_index() - 1);
      if (!cut) result = cut.error();
    }
    const std::uint64_t index = log.last_index() + 1;
    auto appended = log.append(index, 1 + index / 16, weft::byte_view(payload));
    if (!appended) result = appended.error();
    if (result && i % 4 == 3) {  // group commit: a sync every four appends
      auto synced = log.sync();
      if (!synced) result = synced.error();
    }
  }
  if (result) result = log.close();
  if (!result) return weft_cli::fail(directory + ": " + error_text(result.error()));
  return weft_cli::exit_ok;
}

bool parse_count(std::string_view text, std::uint64_t& out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc{} && end == text.data() + text.size() && out > 0 && out <= 1'000'000;
}

int run_wal(weft_cli::args arguments) {
  if (arguments.size() == 2 && arguments[0] == "verify") return verify(std::string(arguments[1]));
  if (arguments.size() == 2 && arguments[0] == "dump") return dump(std::string(arguments[1]));
  if (arguments.size() >= 2 && arguments[0] == "sample") {
    std::uint64_t records = 100;
    if (arguments.size() == 4 && arguments[2] == "--records") {
      if (!parse_count(arguments[3], records))
        return weft_cli::fail("--records: a count in [1, 1000000], not '" +
                              std::string(arguments[3]) + "'");
    } else if (arguments.size() != 2) {
      return weft_cli::fail("usage: weft wal sample DIR [--records N]");
    }
    return sample(std::string(arguments[1]), records);
  }
  return weft_cli::fail("usage: weft wal verify DIR  |  weft wal dump DIR  |  "
                        "weft wal sample DIR [--records N]");
}

const weft_cli::registration registered{
    {"wal", "check or list a write-ahead log directory (wal verify DIR; wal dump DIR)",
     &run_wal}};

}  // namespace
