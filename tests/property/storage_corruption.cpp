// tests/property/storage_corruption.cpp - the WAL against damaged real files. A WAL of K
// records is written (synced in batches) to a temp directory; then (a) its last segment
// is cut at every byte offset and (b) single bits are flipped at sampled offsets across
// all segments. Every reopen must yield exactly an acknowledged prefix of what was written
// (never different bytes) or a typed hard error; cuts lose only what lies past the cut, and
// after a clean close (a synced sync marker last) a flip never shortens the log.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "weft/core/random.hpp"
#include "weft/storage/posix_file_system.hpp"
#include "weft/storage/wal.hpp"

namespace st = weft::storage;

namespace {
using blob = std::vector<std::uint8_t>;

std::string make_temp_dir(const char* base) {
  std::string pattern = std::string(base) + "/weft-storage-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) return {};
  return pattern;
}
std::string scratch_base() {  // trials run thousands of fsyncs: tmpfs when the host has one
  struct stat sb {};
  if (::stat("/dev/shm", &sb) == 0 && S_ISDIR(sb.st_mode) && ::access("/dev/shm", W_OK) == 0)
    return "/dev/shm";
  return "/tmp";
}
void write_file(const std::string& path, const blob& data) {
  FILE* f = std::fopen(path.c_str(), "wb");
  REQUIRE(f != nullptr);
  if (!data.empty()) REQUIRE(std::fwrite(data.data(), 1, data.size(), f) == data.size());
  std::fclose(f);
}
blob read_file(const std::string& path) {
  blob out;
  FILE* f = std::fopen(path.c_str(), "rb");
  REQUIRE(f != nullptr);
  std::uint8_t buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.insert(out.end(), buf, buf + n);
  std::fclose(f);
  return out;
}
void clear_dir(const std::string& dir, const std::map<std::string, blob>& files) {
  for (const auto& [name, data] : files) ::unlink((dir + "/" + name).c_str());
  ::rmdir(dir.c_str());
}

st::wal_options options() {
  st::wal_options o;
  o.segment_size_bytes = 4096;
  o.max_record_size_bytes = 512;
  o.write_buffer_size_bytes = 4096;
  o.max_entries = 1024;
  o.max_segments = 64;
  return o;
}

struct record {
  std::uint64_t term;
  std::string payload;
};

struct corpus {
  std::vector<record> written;         // index i+1 -> written[i]
  std::map<std::string, blob> files;   // the directory after a clean close
  std::string last_segment;
};

// Fills c.files from the directory through the file_system's list().
void load_files(corpus& c, const std::string& dir) {
  st::posix_file_system fs;
  REQUIRE(fs.attach(dir.c_str()));
  std::vector<std::string> names;
  REQUIRE(fs.list([](void* ctx, std::string_view name) noexcept {
                    static_cast<std::vector<std::string>*>(ctx)->emplace_back(name);
                  }, &names));
  for (const auto& n : names) c.files[n] = read_file(dir + "/" + n);
  c.last_segment = c.files.rbegin()->first;
}

struct outcome {
  bool opened = false;
  weft::error failure{};
  std::vector<record> recovered;
};

outcome reopen(const std::string& dir) {
  outcome out;
  st::posix_file_system fs;
  REQUIRE(fs.attach(dir.c_str()));
  st::wal<st::posix_file_system> log(fs, options());
  st::recovery_report report;
  auto opened = log.open(report);
  if (!opened) {
    out.failure = opened.error();
    return out;
  }
  out.opened = true;
  REQUIRE(log.first_index() == 1);
  auto read = log.read_range(1, log.last_index() + 1,
                             [](void* ctx, const st::log_entry_view& e) noexcept {
                               static_cast<std::vector<record>*>(ctx)->push_back(
                                   {e.term, std::string(weft::as_chars(e.payload))});
                               return true;
                             },
                             &out.recovered);
  REQUIRE(read);
  return out;
}

bool is_prefix(const std::vector<record>& got, const std::vector<record>& written) {
  if (got.size() > written.size()) return false;
  for (std::size_t i = 0; i < got.size(); ++i)
    if (got[i].term != written[i].term || got[i].payload != written[i].payload) return false;
  return true;
}

bool typed_storage_error(const weft::error& e) {
  return e.domain().name == "storage" || e.domain().name == "fs";
}

// End offsets of the entry records inside the last segment, by walking its (undamaged)
// records (sync markers and other records in between hold no entry).
std::vector<std::uint64_t> entry_ends(const blob& seg) {
  std::vector<std::uint64_t> ends;
  std::uint64_t at = st::detail::segment_header_size;
  st::detail::record_header h;
  while (at + 48 <= seg.size() &&
         st::detail::decode_record_header(weft::byte_view(seg).subspan(at, 48), 512, h)) {
    at += st::detail::record_size(h.payload_length);
    if (h.type == st::detail::record_type::entry) ends.push_back(at);
  }
  return ends;
}
}  // namespace

TEST_CASE("wal recovery: the last segment cut at every byte offset", "[storage][corruption]") {
  corpus c;
  {
    const std::string dir = make_temp_dir("/tmp");
    REQUIRE(!dir.empty());
    st::posix_file_system fs;
    REQUIRE(fs.attach(dir.c_str()));
    st::wal<st::posix_file_system> log(fs, options());
    st::recovery_report report;
    REQUIRE(log.open(report));
    weft::xoshiro256 rng(42);
    for (std::uint64_t index = 1; index <= 140; ++index) {
      std::string payload(static_cast<std::size_t>(rng.next_u64() % 200), 'q');
      REQUIRE(log.append(index, 1 + index / 30, weft::as_bytes(payload)));
      c.written.push_back({1 + index / 30, payload});
      if (index % 5 == 0) REQUIRE(log.sync());
    }
    REQUIRE(log.close());
    fs.detach();
    load_files(c, dir);
    clear_dir(dir, c.files);
  }
  REQUIRE(c.files.size() >= 4);  // several segments, so the cut is in a later one
  const blob& last = c.files[c.last_segment];
  const std::vector<std::uint64_t> ends = entry_ends(last);
  const std::size_t before_last = c.written.size() - ends.size();
  const std::string dir = make_temp_dir(scratch_base().c_str());
  REQUIRE(!dir.empty());
  for (const auto& [name, data] : c.files) write_file(dir + "/" + name, data);
  std::size_t hard_errors = 0;
  for (std::size_t cut = 0; cut <= last.size(); ++cut) {
    write_file(dir + "/" + c.last_segment, blob(last.begin(), last.begin() + static_cast<std::ptrdiff_t>(cut)));
    const outcome o = reopen(dir);
    if (!o.opened) {
      INFO("cut " << cut << ": " << o.failure.message());
      REQUIRE(typed_storage_error(o.failure));
      REQUIRE(cut < st::detail::segment_header_size);  // only a cut header is refused
      ++hard_errors;
      continue;
    }
    INFO("cut " << cut);
    REQUIRE(is_prefix(o.recovered, c.written));
    std::size_t whole = 0;
    while (whole < ends.size() && ends[whole] <= cut) ++whole;
    if (cut >= st::detail::segment_header_size) REQUIRE(o.recovered.size() == before_last + whole);
    else REQUIRE(o.recovered.size() == before_last);  // zero-length cut: torn creation removed
  }
  CHECK(hard_errors < st::detail::segment_header_size);
  clear_dir(dir, c.files);
}

TEST_CASE("wal recovery: single bit flips across all segments", "[storage][corruption]") {
  corpus c;
  {
    const std::string dir = make_temp_dir("/tmp");
    REQUIRE(!dir.empty());
    st::posix_file_system fs;
    REQUIRE(fs.attach(dir.c_str()));
    st::wal<st::posix_file_system> log(fs, options());
    st::recovery_report report;
    REQUIRE(log.open(report));
    weft::xoshiro256 rng(7);
    std::uint64_t index = 1;
    while (index <= 140) {
      const auto batch = 1 + rng.next_u64() % 12;
      for (std::uint64_t b = 0; b < batch; ++b, ++index) {
        std::string payload(static_cast<std::size_t>(rng.next_u64() % 200), '\0');
        for (char& ch : payload) ch = static_cast<char>(rng.next_u64());
        REQUIRE(log.append(index, 1 + index / 30, weft::as_bytes(payload)));
        c.written.push_back({1 + index / 30, payload});
      }
      REQUIRE(log.sync());
    }
    REQUIRE(log.close());
    fs.detach();
    load_files(c, dir);
    clear_dir(dir, c.files);
  }
  const std::string dir = make_temp_dir(scratch_base().c_str());
  REQUIRE(!dir.empty());
  for (const auto& [name, data] : c.files) write_file(dir + "/" + name, data);
  std::vector<std::string> names;
  std::uint64_t total_bytes = 0;
  for (const auto& [name, data] : c.files) {
    names.push_back(name);
    total_bytes += data.size();
  }
  weft::xoshiro256 rng(20261122);
  std::size_t hard = 0, full = 0, shortened = 0;
  for (int trial = 0; trial < 2500; ++trial) {
    // Half the flips land in the bytes that hold records and headers, half anywhere.
    const std::string& name = names[rng.next_u64() % names.size()];
    const blob& original = c.files[name];
    const std::uint64_t span = trial % 2 == 0 ? std::min<std::uint64_t>(original.size(), 1200) : original.size();
    const std::uint64_t offset = rng.next_u64() % span;
    const int bit = static_cast<int>(rng.next_u64() % 8);
    blob damaged = original;
    damaged[offset] ^= static_cast<std::uint8_t>(1u << bit);
    write_file(dir + "/" + name, damaged);
    const outcome o = reopen(dir);
    INFO("trial " << trial << " file " << name << " offset " << offset << " bit " << bit);
    if (!o.opened) {
      REQUIRE(typed_storage_error(o.failure));
      ++hard;
    } else {
      REQUIRE(is_prefix(o.recovered, c.written));
      if (o.recovered.size() == c.written.size()) {
        ++full;
      } else {
        // A clean close synced a marker after the final batch, so damage to any entry
        // is proven acknowledged: a hard error, never a shortened log.
        ++shortened;
      }
    }
    write_file(dir + "/" + name, original);  // recovery may have repaired it: restore all
    for (const auto& [n, data] : c.files) write_file(dir + "/" + n, data);
  }
  INFO("hard " << hard << " full " << full << " shortened " << shortened << " bytes " << total_bytes);
  CHECK(shortened == 0);
  CHECK(hard > 100);  // damage to acknowledged records is caught, not absorbed
  CHECK(full > 100);
  clear_dir(dir, c.files);
}
